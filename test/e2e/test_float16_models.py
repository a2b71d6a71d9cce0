"""float16 models: their MatMul and MatMulNBits layers are quantized like
float32 ones (computed in float32 between a widening of the activations and
one rounding of the output), and cost what the float32 model's layers cost.

The transformers are the coverage tests' encoder and decoder with every
float32 tensor turned float16 (`models.to_float16`); the reference is
onnxruntime on the float32 model, so every SQNR below includes float16's own
rounding (about 63 dB for onnxruntime's float16 run of the same models).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest

import harness
import models
import transformers

TRANSFORMERS = {"encoder": transformers.encoder, "decoder": transformers.decoder}
VARIANTS = {"none": {"quantize": "none"}, "int8": {"quantize": "int8"},
            "int4": {"quantize": "int4"}}


@dataclass
class HalfBuilds:
    work: Path
    float32_model: Path
    half_model: Path
    inputs: dict
    reference: np.ndarray               # onnxruntime, float32 model
    float32: dict[str, np.ndarray]      # nibble, float32 model, per variant
    float16: dict[str, np.ndarray]      # nibble, float16 model, per variant
    float16_bytes: dict[str, int]       # binary sizes of the float16 builds
    float16_exes: dict[str, Path]


@pytest.fixture(scope="module", params=list(TRANSFORMERS))
def builds(request, nibble_compile: Path, tmp_path_factory) -> HalfBuilds:
    name = request.param
    work = tmp_path_factory.mktemp(f"{name}16")
    model32 = TRANSFORMERS[name]()
    path32, path16 = work / f"{name}32.onnx", work / f"{name}16.onnx"
    onnx.save(model32, path32)
    onnx.save(models.to_float16(model32), path16)
    inputs = transformers.token_ids()
    (output,) = harness.graph_output_names(path32)
    reference = harness.ort_run(path32, inputs)[output]
    outputs = {"float32": {}, "float16": {}}
    sizes, exes = {}, {}
    for kind, path in (("float32", path32), ("float16", path16)):
        for variant, flags in VARIANTS.items():
            if kind == "float32" and variant == "none":
                continue
            build = work / f"{kind}-{variant}"
            build.mkdir()
            exe = harness.compile_ok(nibble_compile, path, build / "model", emit="exe", **flags)
            outputs[kind][variant] = harness.run_executable(exe, inputs, build, [output])[output]
            if kind == "float16":
                sizes[variant] = exe.stat().st_size
                exes[variant] = exe
    return HalfBuilds(work, path32, path16, inputs, reference, outputs["float32"],
                      outputs["float16"], sizes, exes)


def test_outputs_stay_float16(builds):
    for variant, y in builds.float16.items():
        assert y.dtype == np.float16, variant


def test_unquantized_float16_build_is_float16_accurate(builds):
    assert harness.sqnr_db(builds.float16["none"], builds.reference) >= 55.0


@pytest.mark.parametrize("variant", ["int8", "int4"])
def test_quantized_float16_layers_cost_what_float32_layers_cost(builds, variant):
    """Quantizing the float16 model's layers loses no more than quantizing the
    float32 model's (the float16 rounding is far below the weight noise); a
    layer left in float16 would instead show the float16 build's figure."""
    half = harness.sqnr_db(builds.float16[variant], builds.reference)
    full = harness.sqnr_db(builds.float32[variant], builds.reference)
    assert half >= full - 1.0, f"float16 model {half:.2f} dB, float32 model {full:.2f} dB"
    assert half < harness.sqnr_db(builds.float16["none"], builds.reference) - 10.0


def test_info_names_float16_layers(builds):
    """--info lists the float16 build's MatMul layers as fp16 with 2 bytes a
    value, and the int4 build's as int4."""
    model = onnx.load(builds.half_model)
    initializers = {init.name: init for init in model.graph.initializer}
    weight_values = sum(int(np.prod(initializers[node.input[1]].dims))
                        for node in model.graph.node
                        if node.op_type == "MatMul" and node.input[1] in initializers)
    for variant, precision in (("none", "fp16"), ("int4", "int4")):
        info = harness.run_tool([builds.float16_exes[variant], "--info"], 60).stdout
        rows = [line.split() for line in info.splitlines() if line.split()[1:2] == ["MatMul"]]
        assert rows, info
        assert {row[2].split("-")[0] for row in rows} == {precision}, info
        if variant == "none":
            assert sum(int(row[3]) for row in rows) == 2 * weight_values


def test_quantized_float16_binaries_shrink(builds):
    """Weights dominate these binaries: int8 weights are half the float16
    ones and int4 a quarter (embedding tables int8 in both)."""
    assert builds.float16_bytes["int8"] <= 0.6 * builds.float16_bytes["none"]
    assert builds.float16_bytes["int4"] <= 0.4 * builds.float16_bytes["none"]


def test_report_counts_float16_bytes_and_compares_float16_outputs(builds, nibble_compile):
    """The report's float bytes are the float16 weights', and its end-to-end
    figures compare the float16 outputs: measured on the test input, its
    SQNR is the one between the binary's and the float16 build's outputs."""
    work = builds.work / "report"
    work.mkdir()
    np.savez(work / "sample.npz", **builds.inputs)
    exe = harness.compile_ok(nibble_compile, builds.half_model, work / "model", emit="exe",
                             quantize="int4", calibration=work / "sample.npz",
                             report=work / "report.json")
    (output,) = harness.graph_output_names(builds.half_model)
    quantized = harness.run_executable(exe, builds.inputs, work, [output])[output]
    report = json.loads((work / "report.json").read_text())
    matmuls = [layer for layer in report["layers"] if layer["op_type"] == "MatMul"]
    assert matmuls, "no MatMul layer was quantized"
    for layer in matmuls:
        k, n = layer["shape"]
        assert layer["float_bytes"] == 2 * k * n, layer["name"]
        assert layer["precision"].startswith("int4"), layer["name"]
    # The float16 token table is quantized too (int8 per row).
    tables = [layer for layer in report["layers"] if layer["op_type"] == "Gather"]
    assert [layer["precision"] for layer in tables] == ["int8"]
    rows, columns = tables[0]["shape"]
    assert tables[0]["float_bytes"] == 2 * rows * columns
    e2e = report["end_to_end"]
    assert e2e["outputs_not_compared"] == []
    measured = harness.sqnr_db(quantized, builds.float16["none"])
    assert abs(e2e["sqnr_db"] - measured) <= 0.5, (e2e["sqnr_db"], measured)


def test_bfloat16_model_computes_and_quantizes(builds, nibble_compile):
    """The same transformer in bfloat16: its ops compute (in f32, rounded to
    bfloat16 per op) to bfloat16's precision, and int4 costs what it costs
    the float32 model."""
    path = builds.work / "bfloat16.onnx"
    onnx.save(models.to_float16(onnx.load(builds.float32_model), bfloat16=True), path)
    (output,) = harness.graph_output_names(path)
    results = {}
    for variant in ("none", "int4"):
        work = builds.work / f"bfloat16-{variant}"
        work.mkdir()
        exe = harness.compile_ok(nibble_compile, path, work / "model", emit="exe",
                                 quantize=variant)
        y = harness.run_executable(exe, builds.inputs, work, [output])[output]
        if y.dtype.kind == "V":  # numpy saves bfloat16 as raw 2-byte values
            y = y.view(ml_dtypes.bfloat16)
        assert y.dtype == ml_dtypes.bfloat16
        results[variant] = harness.sqnr_db(y.astype(np.float32), builds.reference)
    # bfloat16 keeps 8 bits: about 41 dB on these models.
    assert results["none"] >= 38.0, results
    full = harness.sqnr_db(builds.float32["int4"], builds.reference)
    assert results["int4"] >= full - 1.0, (results, full)


@pytest.mark.parametrize("zero_points", [False, True], ids=["symmetric", "zero-points"])
def test_float16_matmul_nbits_matches_onnxruntime(zero_points, write_model, compile_and_run):
    """com.microsoft.MatMulNBits with float16 activations and scales (how
    int4 language models are exported for GPUs)."""
    weights = models.nbits_weights(4, 32, zero_points, k=256, n=64)
    path = write_model(models.to_float16(models.matmul_nbits(weights, m=3)), "nbits16")
    x = np.random.default_rng(1).standard_normal((3, 256)).astype(np.float16)
    y = compile_and_run(path, {"A": x})["Y"]
    assert y.dtype == np.float16
    expected = harness.ort_run(path, {"A": x})["Y"]
    assert harness.relative_error(y, expected) <= 2e-3


def test_float16_gemm(write_model, compile_and_run):
    """Gemm in float16 (transposed constant B, alpha, beta, bias): alpha A B
    + beta C in float32, rounded once, as onnxruntime; int8 quantizes it."""
    rng = np.random.default_rng(0)
    k, n, m = 64, 48, 5
    g = models.GraphBuilder("gemm16", seed=0)
    a = g.input("a", np.float16, [m, k])
    w = g.const((rng.standard_normal((n, k)) / 8).astype(np.float16), "w")
    c = g.const(rng.standard_normal(n).astype(np.float16), "c")
    g.op("Gemm", a, w, c, out="y", transB=1, alpha=0.5, beta=2.0)
    g.output("y", np.float16, [m, n])
    path = write_model(g.build(), "gemm16")
    x = rng.standard_normal((m, k)).astype(np.float16)
    expected = harness.ort_run(path, {"a": x})["y"]
    y = compile_and_run(path, {"a": x})["y"]
    assert y.dtype == np.float16
    # One float16 rounding of the same float32 sum (in another order).
    assert harness.relative_error(y, expected) <= 1e-3
    quantized = compile_and_run(path, {"a": x}, quantize="int8")["y"]
    assert 40.0 <= harness.sqnr_db(quantized, expected) < 100.0


def test_bfloat16_matmul_nbits(write_model, compile_and_run):
    """MatMulNBits with bfloat16 activations and scales (onnxruntime has no
    CPU kernel for it): the float32 layer's product on the same activations,
    to bfloat16's precision (its scales are rounded to bfloat16 too)."""
    weights = models.nbits_weights(4, 32, True, k=256, n=64)
    model = models.matmul_nbits(weights, m=3)
    path = write_model(models.to_float16(model, bfloat16=True), "nbits_bf16")
    x = np.random.default_rng(1).standard_normal((3, 256)).astype(ml_dtypes.bfloat16)
    y = compile_and_run(path, {"A": x})["Y"]
    y = y.view(ml_dtypes.bfloat16) if y.dtype.kind == "V" else y
    assert y.dtype == ml_dtypes.bfloat16
    expected = x.astype(np.float64) @ weights.dequantized()
    assert harness.relative_error(y.astype(np.float64), expected) <= 1e-2
