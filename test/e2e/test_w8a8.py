"""--quantize=w8a8: int8 weights times int8 activations, multiplied in integers.

The numerics are checked bit for bit against a numpy emulation of the ONNX
rules (divide, round half to even, saturate; exact int32 accumulation; one
float epilogue), and the quality against onnxruntime's float model and its
own static int8 quantizer on the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_static)

import harness
import models

BATCH, D_IN, HIDDEN, D_OUT = 4, 64, 96, 32


def two_layer_model() -> tuple[onnx.ModelProto, np.ndarray, np.ndarray, np.ndarray]:
    """x -> MatMul W1 -> Add b1 -> Relu -> MatMul W2 = y, with its weights."""
    g = models.GraphBuilder("two_layers", 7)
    x = g.input("x", np.float32, [BATCH, D_IN])
    w1 = (g.rng.standard_normal((D_IN, HIDDEN)) / 8).astype(np.float32)
    b1 = (0.1 * g.rng.standard_normal(HIDDEN)).astype(np.float32)
    w2 = (g.rng.standard_normal((HIDDEN, D_OUT)) / 10).astype(np.float32)
    h = g.op("Relu", g.op("Add", g.op("MatMul", x, g.f32(w1, "w"), name="fc1"), g.f32(b1, "b")))
    g.op("MatMul", h, g.f32(w2, "w"), name="fc2", out="y")
    g.output("y", np.float32, [BATCH, D_OUT])
    return g.build(), w1, b1, w2


def quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column, as nibble's RTN does it in float32."""
    scale = (np.max(np.abs(w), axis=0) / np.float32(127)).astype(np.float32)
    scale[scale == 0] = 1
    return np.clip(np.rint(w / scale), -128, 127).astype(np.int32), scale


def int8_layer(x: np.ndarray, w: np.ndarray, row_scale: np.ndarray) -> np.ndarray:
    qw, sw = quantize_columns(w)
    qx = np.clip(np.rint(x / row_scale[:, None]), -128, 127).astype(np.int32)
    acc = (qx @ qw).astype(np.float32)
    return (acc * row_scale[:, None]).astype(np.float32) * sw


def dynamic_scales(x: np.ndarray) -> np.ndarray:
    amax = np.max(np.abs(x), axis=1).astype(np.float32)
    return np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory):
    root = tmp_path_factory.mktemp("w8a8")
    model, w1, b1, w2 = two_layer_model()
    path = root / "two_layers.onnx"
    onnx.save(model, path)
    return root, path, w1, b1, w2


def test_dynamic_w8a8_is_bit_exact(nibble_compile, two_layers):
    root, path, w1, b1, w2 = two_layers
    exe = harness.compile_ok(nibble_compile, path, root / "dynamic", quantize="w8a8",
                             activations="dynamic")
    x = np.random.default_rng(0).standard_normal((BATCH, D_IN)).astype(np.float32)
    x[1] = 0  # a row of zeros takes scale 1: no division by zero
    got = harness.run_executable(exe, {"x": x}, root / "run-dynamic", ["y"])["y"]
    h = np.maximum(int8_layer(x, w1, dynamic_scales(x)) + b1, 0).astype(np.float32)
    want = int8_layer(h, w2, dynamic_scales(h))
    np.testing.assert_array_equal(got, want)
    info = harness.run_tool([exe, "--info"], 60).stdout
    assert info.count("w8a8-dynamic") == 2


def test_static_w8a8_uses_the_reported_scales(nibble_compile, two_layers):
    root, path, w1, b1, w2 = two_layers
    rng = np.random.default_rng(1)
    calibration = rng.standard_normal((8, BATCH, D_IN)).astype(np.float32)
    np.savez(root / "calibration.npz", x=calibration)
    report_path = root / "static.json"
    exe = harness.compile_ok(nibble_compile, path, root / "static", quantize="w8a8",
                             calibration=root / "calibration.npz", method="rtn",
                             report=report_path)
    report = json.loads(report_path.read_text())
    scales = {layer["name"]: np.float32(layer["activation"]["int8_scale"])
              for layer in report["layers"]}
    # fc1 sees the calibration inputs themselves: max |x| / 127.
    assert scales["fc1"] == np.float32(np.max(np.abs(calibration)) / 127)
    x = rng.standard_normal((BATCH, D_IN)).astype(np.float32) * 1.5  # some values saturate
    got = harness.run_executable(exe, {"x": x}, root / "run-static", ["y"])["y"]
    h = np.maximum(int8_layer(x, w1, np.full(BATCH, scales["fc1"])) + b1, 0).astype(np.float32)
    want = int8_layer(h, w2, np.full(BATCH, scales["fc2"]))
    np.testing.assert_array_equal(got, want)
    # The report measured the compiled model: its SQNR is the binary's.
    reference = [harness.ort_run(path, {"x": s})["y"] for s in calibration]
    outputs = [harness.run_executable(exe, {"x": s}, root / f"cal{i}", ["y"])["y"]
               for i, s in enumerate(calibration)]
    noise = sum(np.sum((o.astype(np.float64) - r) ** 2) for o, r in zip(outputs, reference))
    signal = sum(np.sum(r.astype(np.float64) ** 2) for r in reference)
    assert abs(10 * np.log10(signal / noise) - report["end_to_end"]["sqnr_db"]) < 0.05


class Reader(CalibrationDataReader):
    def __init__(self, samples):
        self._samples = iter({"x": s} for s in samples)

    def get_next(self):
        return next(self._samples, None)


def test_smoothquant_on_outlier_channels_beats_onnxruntime(nibble_compile, tmp_path):
    """Static int8 activations on a model whose MatMuls see 25x outlier
    channels: SmoothQuant moves them into the weights."""
    model = models.outlier_mlp()
    path = tmp_path / "outlier_mlp.onnx"
    onnx.save(model, path)
    calibration = models.correlated_inputs(model, 32, seed=1)
    np.savez(tmp_path / "calibration.npz", x=calibration)
    held_out = models.correlated_inputs(model, 8, seed=2)
    reference = [harness.ort_run(path, {"x": s})["y"] for s in held_out]

    def sqnr_of(outputs) -> float:
        noise = sum(np.sum((o.astype(np.float64) - r) ** 2) for o, r in zip(outputs, reference))
        signal = sum(np.sum(r.astype(np.float64) ** 2) for r in reference)
        return float(10 * np.log10(signal / noise))

    def nibble_sqnr(name: str, **flags) -> float:
        exe = harness.compile_ok(nibble_compile, path, tmp_path / name, quantize="w8a8",
                                 calibration=tmp_path / "calibration.npz", **flags)
        return sqnr_of([harness.run_executable(exe, {"x": s}, tmp_path / f"{name}{i}", ["y"])["y"]
                        for i, s in enumerate(held_out)])

    plain = nibble_sqnr("plain")
    smoothed = nibble_sqnr("smoothed", smoothquant=0.5)
    # Measured: 18 dB without, 30 dB with SmoothQuant.
    assert smoothed > plain + 6.0, (plain, smoothed)

    ort_model = tmp_path / "ort_qdq.onnx"
    quantize_static(path, ort_model, Reader(calibration), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    ort_db = sqnr_of([harness.ort_run(ort_model, {"x": s})["y"] for s in held_out])
    assert smoothed > ort_db + 3.0, (smoothed, ort_db)


@pytest.mark.parametrize("flags, fragments", [
    ({"quantize": "w8a8"}, ["--quantize=w8a8 quantizes activations with scales calibrated",
                            "--activations=dynamic"]),
    ({"quantize": "w8a8", "activations": "dynamic", "smoothquant": 0.5},
     ["--smoothquant needs the activation ranges of sample inputs"]),
    ({"quantize": "w8a8", "activations": "sometimes"}, ["--activations='sometimes'"]),
    ({"quantize": "int4", "activations": "dynamic"}, ["apply to --quantize=w8a8"]),
])
def test_w8a8_flag_misuse_is_one_line(nibble_compile, two_layers, tmp_path, flags, fragments):
    _, path, *_ = two_layers
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", **flags)
    harness.assert_one_line_error(proc, "nibble-compile: error:", *fragments)


def test_smoothquant_range_is_checked(nibble_compile, two_layers, tmp_path):
    root, path, *_ = two_layers
    np.savez(tmp_path / "c.npz", x=np.ones((2, BATCH, D_IN), np.float32))
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", quantize="w8a8",
                                 calibration=tmp_path / "c.npz", smoothquant=1.5)
    harness.assert_one_line_error(proc, "nibble-compile: error:",
                                  "--smoothquant must be in (0, 1]")


def test_activation_range_methods_clip_less_or_equal(nibble_compile, two_layers, tmp_path):
    """percentile and entropy never pick a wider range than min/max."""
    _, path, *_ = two_layers
    rng = np.random.default_rng(3)
    # 16384 values, one of them an outlier (under 0.01%: percentile clips it).
    calibration = rng.standard_normal((64, BATCH, D_IN)).astype(np.float32)
    calibration[0, 0, 0] = 40.0
    np.savez(tmp_path / "c.npz", x=calibration)
    scales = {}
    for method in ("minmax", "percentile", "entropy"):
        report_path = tmp_path / f"{method}.json"
        harness.compile_ok(nibble_compile, path, tmp_path / method, quantize="w8a8",
                           calibration=tmp_path / "c.npz", activation_range=method,
                           report=report_path)
        report = json.loads(report_path.read_text())
        scales[method] = report["layers"][0]["activation"]["int8_scale"]
    assert scales["minmax"] == pytest.approx(40.0 / 127, rel=1e-6)
    assert scales["percentile"] < scales["minmax"] / 4
    assert scales["entropy"] < scales["minmax"] / 4
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", quantize="w8a8",
                                 calibration=tmp_path / "c.npz", activation_range="kl")
    harness.assert_one_line_error(proc, "nibble-compile: error:",
                                  "--activation-range='kl' is not minmax, percentile or entropy")
