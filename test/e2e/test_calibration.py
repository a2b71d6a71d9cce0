"""Calibration, GPTQ, per-layer precision under a budget, and the report.

The model is models.outlier_mlp: a residual MLP whose MatMuls see 4 outlier
input channels (25x) and whose layer fc2 has heavy-tailed weights. Inputs are
correlated channels (models.correlated_inputs). Quality is always checked on
held-out samples by running the compiled binaries against onnxruntime on the
float model, not only through the compiler's own report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest

import harness
import models

CALIBRATION_SAMPLES = 32
HELD_OUT_SAMPLES = 12


@dataclass
class Workspace:
    dir: Path
    model: Path
    calibration: Path
    calibration_inputs: np.ndarray
    held_out: np.ndarray
    reference: list[np.ndarray]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("calibration")
    model = models.outlier_mlp()
    path = root / "outlier_mlp.onnx"
    onnx.save(model, path)
    calibration_inputs = models.correlated_inputs(model, CALIBRATION_SAMPLES, seed=1)
    np.savez(root / "calibration.npz", x=calibration_inputs)
    held_out = models.correlated_inputs(model, HELD_OUT_SAMPLES, seed=2)
    reference = [harness.ort_run(path, {"x": sample})["y"] for sample in held_out]
    return Workspace(root, path, root / "calibration.npz", calibration_inputs, held_out,
                     reference)


def compile_and_report(compiler: Path, work: Workspace, name: str, **flags) -> tuple[Path, dict]:
    exe = work.dir / name
    report = work.dir / f"{name}.json"
    harness.compile_ok(compiler, work.model, exe, calibration=work.calibration,
                       report=report, **flags)
    return exe, json.loads(report.read_text())


def measured_sqnr(exe: Path, work: Workspace, inputs: np.ndarray,
                  reference: list[np.ndarray]) -> float:
    """SQNR of the binary's output against onnxruntime's over all samples."""
    noise = signal = 0.0
    for i, (sample, ref) in enumerate(zip(inputs, reference)):
        out = harness.run_executable(exe, {"x": sample}, work.dir / f"{exe.name}-run{i}",
                                     ["y"])["y"].astype(np.float64)
        noise += float(np.sum((out - ref) ** 2))
        signal += float(np.sum(ref.astype(np.float64) ** 2))
    return 10 * np.log10(signal / noise)


def held_out_sqnr(exe: Path, work: Workspace) -> float:
    return measured_sqnr(exe, work, work.held_out, work.reference)


def test_gptq_beats_rtn_on_outlier_channels(nibble_compile, work):
    rtn, rtn_report = compile_and_report(nibble_compile, work, "rtn", quantize="int4",
                                         method="rtn")
    gptq, gptq_report = compile_and_report(nibble_compile, work, "gptq", quantize="int4",
                                           method="gptq")
    assert rtn_report["method"] == "rtn" and gptq_report["method"] == "gptq"
    # Same scheme, same bytes: only the rounding differs.
    assert gptq_report["weight_bytes"] == rtn_report["weight_bytes"]
    rtn_db, gptq_db = held_out_sqnr(rtn, work), held_out_sqnr(gptq, work)
    # Measured: about 11 dB (RTN) and 20 dB (GPTQ) on this model.
    assert gptq_db > rtn_db + 4.0, f"GPTQ {gptq_db:.2f} dB vs RTN {rtn_db:.2f} dB"
    assert gptq_report["end_to_end"]["sqnr_db"] > rtn_report["end_to_end"]["sqnr_db"] + 4.0


@pytest.mark.parametrize("group_size", [32, 128])
def test_auto_beats_uniform_int4_at_equal_bytes(nibble_compile, work, group_size):
    uniform, uniform_report = compile_and_report(
        nibble_compile, work, f"uniform{group_size}", quantize="int4", group_size=group_size)
    ratio = uniform_report["weight_bytes"] / uniform_report["float_weight_bytes"]
    auto, auto_report = compile_and_report(nibble_compile, work, f"auto{group_size}",
                                           quantize="auto", budget=f"size={ratio:.6f}")
    assert auto_report["weight_bytes"] <= uniform_report["weight_bytes"]
    precisions = {layer["name"]: layer["precision"] for layer in auto_report["layers"]}
    assert len(set(precisions.values())) > 1, f"auto chose one precision: {precisions}"
    # The heavy-tailed layer is the one that deserves more bits.
    fc2 = next(layer for layer in auto_report["layers"] if layer["name"] == "fc2")
    assert fc2["weight_bytes"] == max(layer["weight_bytes"] for layer in auto_report["layers"])
    uniform_db, auto_db = held_out_sqnr(uniform, work), held_out_sqnr(auto, work)
    # Measured: +1.2 dB at both sizes.
    assert auto_db > uniform_db + 0.5, f"auto {auto_db:.2f} dB vs uniform {uniform_db:.2f} dB"


def test_sqnr_budget_is_met(nibble_compile, work):
    exe, report = compile_and_report(nibble_compile, work, "sqnr30", quantize="auto",
                                     budget="sqnr=30")
    assert report["end_to_end"]["sqnr_db"] >= 30.0
    # Not simply everything in int8 (0.26 of float) or float.
    assert report["size_ratio"] < 0.25, report["size_ratio"]
    # Held out, the binary stays close to the target it was selected for;
    # about 2 dB is lost because 256 calibration rows barely determine a
    # 256 x 256 Hessian (GPTQ fits them a little too well): 27.8 dB measured.
    assert held_out_sqnr(exe, work) > 27.0


def test_report_agrees_with_the_binary(nibble_compile, work):
    exe, report = compile_and_report(nibble_compile, work, "reported", quantize="auto",
                                     budget="size=0.15")
    # The figures describe the binary: its SQNR on the calibration samples...
    reference = [harness.ort_run(work.model, {"x": s})["y"] for s in work.calibration_inputs]
    actual_db = measured_sqnr(exe, work, work.calibration_inputs, reference)
    assert abs(actual_db - report["end_to_end"]["sqnr_db"]) < 0.5
    # ...its bytes as --info counts them...
    info = harness.run_tool([exe, "--info"], 60)
    assert f"total weight bytes: {report['weight_bytes']} " in info.stdout
    assert report["weight_bytes"] <= 0.15 * report["float_weight_bytes"]
    # ...and the prediction the selection made was close.
    e2e = report["end_to_end"]
    assert abs(e2e["predicted_sqnr_db"] - e2e["sqnr_db"]) < 1.5
    assert report["calibration"] == {"source": str(work.calibration),
                                     "samples": CALIBRATION_SAMPLES}
    names = [layer["name"] for layer in report["layers"]]
    assert names == ["fc0", "fc1", "fc2", "fc3", "fc4", "fc5", "head"]
    for layer in report["layers"]:
        assert layer["shape"] == [256, 256] and layer["op_type"] == "MatMul"
        assert {"fp16", "int8", "int4-g32", "int4-g128", "int4"} <= set(layer["sensitivity_db"])
        # More bits never measure worse than fewer on this model.
        s = layer["sensitivity_db"]
        assert s["fp16"] > s["int8"] > s["int4-g32"]
        assert layer["activation"]["max"] > 0 > layer["activation"]["min"]
    # Tails: the worst sample is the lowest, the worst element is a real one.
    assert e2e["worst_sample"]["sqnr_db"] <= e2e["sqnr_db"]
    assert 0 <= e2e["worst_sample"]["index"] < CALIBRATION_SAMPLES
    worst = e2e["worst_element"]
    assert worst["output"] == "y" and worst["abs_error"] == pytest.approx(
        abs(worst["quantized"] - worst["reference"]), rel=1e-4)
    assert e2e["max_abs_error"] == worst["abs_error"]
    assert e2e["top1_agreement"][0]["output"] == "y"
    assert 0.0 < e2e["cosine"] <= 1.0


def test_precision_config_overrides_selection(nibble_compile, work):
    config = work.dir / "config.json"
    config.write_text(json.dumps({"layers": [
        {"match": "fc2", "precision": "fp16"},
        {"match": "he*", "precision": "skip"},
    ]}))
    exe, report = compile_and_report(nibble_compile, work, "configured", quantize="auto",
                                     budget="size=0.35", precision_config=config)
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers["fc2"]["precision"] == "fp16" and layers["fc2"]["forced"]
    assert layers["head"]["precision"] == "fp32" and layers["head"]["forced"]
    assert not layers["fc0"]["forced"] and layers["fc0"]["precision"] != "fp32"
    info = harness.run_tool([exe, "--info"], 60).stdout
    assert any(line.split()[:3] == ["fc2", "MatMul", "fp16"] for line in info.splitlines())


def test_calibration_directory_layouts(nibble_compile, work, tmp_path):
    """DIR/*.npz (one sample each), DIR/<sample>/x.npy and DIR/x.npy."""
    samples = work.calibration_inputs[:4]
    per_npz, per_dir, stacked = tmp_path / "npz", tmp_path / "dirs", tmp_path / "stacked"
    for d in (per_npz, per_dir, stacked):
        d.mkdir()
    for i, sample in enumerate(samples):
        np.savez_compressed(per_npz / f"s{i}.npz", x=sample)
        (per_dir / f"s{i}").mkdir()
        np.save(per_dir / f"s{i}" / "x.npy", sample)
    np.save(stacked / "x.npy", samples)
    for layout in (per_npz, per_dir, stacked):
        report_path = tmp_path / f"{layout.name}.json"
        harness.compile_ok(nibble_compile, work.model, tmp_path / f"{layout.name}.exe",
                           quantize="int8", calibration=layout, report=report_path)
        report = json.loads(report_path.read_text())
        assert report["calibration"]["samples"] == 4, layout.name


def test_report_without_calibration_uses_random_inputs(nibble_compile, work):
    report_path = work.dir / "random.json"
    proc = harness.compile_model(nibble_compile, work.model, work.dir / "random",
                                 quantize="int8", report=report_path)
    assert proc.returncode == 0, harness.describe(proc)
    report = json.loads(report_path.read_text())
    assert report["calibration"]["source"] == "random normal inputs"
    assert report["method"] == "rtn"
    assert any("random" in note for note in report["notes"])
    # The table goes to stdout.
    assert "end to end: SQNR" in proc.stdout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    path = root / "mlp.onnx"
    onnx.save(models.mlp(), path)
    return path


def save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


BAD_CALIBRATION = {
    "wrong_shape": ({"x": np.zeros((3, 4, 32), np.float32)},
                    ["input 'x' has shape 3x4x32 but the model takes 4x64"]),
    "wrong_dtype": ({"x": np.zeros((3, 4, 64), np.float64)},
                    ["input 'x' is float64 but the model takes float32"]),
    "nan": ({"x": np.full((2, 4, 64), np.nan, np.float32)},
            ["input 'x' holds NaN at element 0", "remove or fix that sample"]),
    "inf": ({"x": np.concatenate([np.ones((1, 4, 64)), np.full((1, 4, 64), np.inf)])
             .astype(np.float32)}, ["inf.npz[1]: input 'x' holds Inf at element 0"]),
    "missing_input": ({"z": np.zeros((4, 64), np.float32)},
                      ["has an array 'z', which is not an input of the model"]),
}


@pytest.mark.parametrize("case", list(BAD_CALIBRATION))
def test_bad_calibration_data_is_one_line(nibble_compile, tiny, tmp_path, case):
    arrays, fragments = BAD_CALIBRATION[case]
    data = save_npz(tmp_path / f"{case}.npz", **arrays)
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", quantize="int4",
                                 calibration=data)
    harness.assert_one_line_error(proc, "nibble-compile: error: calibration data", *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, fragments", [
    ({"quantize": "auto", "budget": "size=0.3"},
     ["--quantize=auto measures each layer on sample inputs", "--calibration"]),
    ({"quantize": "auto"}, ["--quantize=auto needs a budget"]),
    ({"quantize": "int4", "budget": "size=0.3"}, ["--budget applies to --quantize=auto"]),
    ({"quantize": "int4", "method": "gptq"}, ["--method=gptq needs calibration"]),
    ({"quantize": "int4", "method": "best"}, ["--method='best' is not one of"]),
    ({"quantize": "auto", "budget": "size=abc"}, ["is not size=F"]),
    ({"quantize": "int2"}, ["unknown --quantize='int2'", "w8a8"]),
])
def test_flag_misuse_is_one_line(nibble_compile, tiny, tmp_path, flags, fragments):
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", **flags)
    harness.assert_one_line_error(proc, "nibble-compile: error:", *fragments)


def test_missing_and_empty_calibration(nibble_compile, tiny, tmp_path):
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", quantize="int4",
                                 calibration=tmp_path / "nowhere.npz")
    harness.assert_one_line_error(proc, "nibble-compile: error:", "does not exist")
    (tmp_path / "empty").mkdir()
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", quantize="int4",
                                 calibration=tmp_path / "empty")
    harness.assert_one_line_error(proc, "nibble-compile: error:", "holds no samples")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", quantize="int4",
                                 calibration=tmp_path / "junk.npz")
    harness.assert_one_line_error(proc, "nibble-compile: error:", "cannot read calibration file")


def test_impossible_budgets(nibble_compile, work, tmp_path):
    proc = harness.compile_model(nibble_compile, work.model, tmp_path / "out",
                                 quantize="auto", budget="size=0.05",
                                 calibration=work.calibration)
    line = harness.assert_one_line_error(proc, "nibble-compile: error:",
                                         "budget size=0.05 cannot be met",
                                         "the smallest model nibble can make is")
    assert "0.13" in line  # every layer in per-channel int4, biases in float
    # With every layer forced to int4, no selection can reach 60 dB.
    config = tmp_path / "all_int4.json"
    config.write_text(json.dumps({"layers": [{"match": "*", "precision": "int4-g128"}]}))
    proc = harness.compile_model(nibble_compile, work.model, tmp_path / "out",
                                 quantize="auto", budget="sqnr=60",
                                 calibration=work.calibration, precision_config=config)
    harness.assert_one_line_error(proc, "nibble-compile: error:",
                                  "budget sqnr=60 cannot be met", "measures 20.")


@pytest.mark.parametrize("config, fragments", [
    ('{"layers": [{"match": "nothing*", "precision": "int8"}]}',
     ["pattern 'nothing*' matches no quantizable layer"]),
    ('{"layers": [{"match": "*", "precision": "int3"}]}', ["unknown precision 'int3'"]),
    ('{"layers": [{"match": "*"}]}', ["needs string fields"]),
    ('{"layers": ', ["not valid JSON"]),
    ('[]', ['expected {"layers"']),
])
def test_bad_precision_config_is_one_line(nibble_compile, tiny, tmp_path, config, fragments):
    path = tmp_path / "config.json"
    path.write_text(config)
    proc = harness.compile_model(nibble_compile, tiny, tmp_path / "out", quantize="int8",
                                 precision_config=path)
    harness.assert_one_line_error(proc, "nibble-compile: error: precision config", *fragments)


def degenerate_model(weight: np.ndarray) -> onnx.ModelProto:
    g = models.GraphBuilder("degenerate", 0)
    x = g.input("x", np.float32, [2, weight.shape[0]])
    g.op("MatMul", x, g.f32(weight, "w"), name="fc", out="y")
    g.output("y", np.float32, [2, weight.shape[1]])
    return g.build()


def test_nan_weights_are_refused(nibble_compile, tmp_path):
    weight = np.ones((64, 16), np.float32)
    weight[3, 5] = np.nan
    path = tmp_path / "nan.onnx"
    onnx.save(degenerate_model(weight), path)
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", quantize="int4")
    harness.assert_one_line_error(proc, "nibble-compile: error:", "MatMul node 'fc'",
                                  "holds NaN at element 53", "--precision-config")
    # Kept in float by a precision config, the model compiles.
    config = tmp_path / "skip.json"
    config.write_text('{"layers": [{"match": "fc", "precision": "skip"}]}')
    harness.compile_ok(nibble_compile, path, tmp_path / "out", quantize="int4",
                       precision_config=config)


def test_all_zero_weights_and_activations(nibble_compile, tmp_path):
    """No division by zero anywhere: zero weights, zero calibration data."""
    path = tmp_path / "zeros.onnx"
    onnx.save(degenerate_model(np.zeros((64, 16), np.float32)), path)
    data = save_npz(tmp_path / "zeros.npz", x=np.zeros((4, 2, 64), np.float32))
    report_path = tmp_path / "zeros.json"
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "zeros", quantize="auto",
                             budget="size=0.5", calibration=data, report=report_path)
    report = json.loads(report_path.read_text())
    assert report["end_to_end"]["max_abs_error"] == 0.0
    out = harness.run_executable(exe, {"x": np.ones((2, 64), np.float32)}, tmp_path / "run",
                                 ["y"])["y"]
    assert np.all(out == 0.0)


# The plot's palette (lib/Compiler/ReportPlot.cpp), 8-bit RGB.
PLOT_COLOURS = {"fp32": (158, 158, 158), "fp16": (31, 120, 181), "int8": (43, 161, 43),
                "int4-g32": (255, 128, 13), "int4-g64": (227, 120, 194),
                "int4-g128": (214, 38, 41), "int4": (140, 87, 74)}


def decode_png(data: bytes) -> np.ndarray:
    """Pixels [height, width, channels] of an 8-bit RGB/RGBA PNG (what cairo
    writes), undoing the per-row filters."""
    import struct
    import zlib
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    chunks, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            chunks += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(chunks)
    stride = width * channels
    rows = np.zeros((height, stride), np.int32)
    previous = np.zeros(stride, np.int32)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        out = np.zeros(stride, np.int32)
        for x in range(stride):
            left = out[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 0:
                predictor = 0
            elif kind == 1:
                predictor = left
            elif kind == 2:
                predictor = up
            elif kind == 3:
                predictor = (left + up) // 2
            else:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            out[x] = (line[x] + predictor) & 0xFF
        rows[y], previous = out, out
    return rows.reshape(height, width, channels)[:, :, :3]


def test_report_plot_draws_every_layer(nibble_compile, work):
    """--report-plot draws one row per layer, to PNG or SVG by extension."""
    import struct
    import xml.etree.ElementTree as ElementTree
    png, svg = work.dir / "plot.png", work.dir / "plot.svg"
    for plot in (png, svg):
        harness.compile_ok(nibble_compile, work.model, work.dir / "plotted", quantize="auto",
                           budget="size=0.16", calibration=work.calibration, report_plot=plot)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    # 70 points of title, 22 per layer (7 layers), 90 of axis and legend.
    assert (width, height) == (860, 70 + 7 * 22 + 90)
    # Each layer's bar (x 190, rows 22 apart from y 70) has its precision's
    # colour, as the legend says.
    pixels = decode_png(data)
    report_path = work.dir / "plotted.json"
    harness.compile_ok(nibble_compile, work.model, work.dir / "plotted", quantize="auto",
                       budget="size=0.16", calibration=work.calibration, report=report_path)
    layers = json.loads(report_path.read_text())["layers"]
    for row, layer in enumerate(layers):
        colour = tuple(int(c) for c in pixels[70 + 22 * row + 11, 192])
        want = PLOT_COLOURS[layer["precision"]]
        assert all(abs(a - b) <= 2 for a, b in zip(colour, want)), (layer, colour, want)
    root = ElementTree.parse(svg).getroot()
    assert root.get("viewBox") == f"0 0 860 {height}"
    proc = harness.compile_model(nibble_compile, work.model, work.dir / "plotted",
                                 quantize="int8", report_plot=work.dir / "plot.gif")
    harness.assert_one_line_error(proc, "nibble-compile: error:", "written as .png or .svg")
