"""Checks of the test models themselves, with onnxruntime and onnx only.

They need no nibble tool: they make sure that a failing end-to-end test points
at nibble and not at a malformed test model or a wrong oracle. In particular
the MatMulNBits builder packs B, scales and zero points by hand, and only
onnxruntime's own kernel can confirm that packing.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import version_converter
from onnx.reference import ReferenceEvaluator

import harness
import models

# Models in the default ONNX domain, with the inputs the end-to-end tests use.
STANDARD_MODELS = {
    "mlp": (models.mlp, models.random_inputs),
    "large_mlp": (models.large_mlp, models.random_inputs),
    "attention": (models.attention, models.random_inputs),
    "large_attention": (models.large_attention, models.random_inputs),
    "qdq_mlp": (models.qdq_mlp, lambda m: models.qdq_mlp_inputs()),
    "blocked_int4_zp": (lambda: models.blocked_int4_matmul(True), models.random_inputs),
    "blocked_int4_no_zp": (lambda: models.blocked_int4_matmul(False), models.random_inputs),
    "matmul_integer": (lambda: models.matmul_integer(False), models.random_inputs),
    "matmul_integer_per_column": (lambda: models.matmul_integer(True), models.random_inputs),
}


@pytest.mark.parametrize("name", [*STANDARD_MODELS, "symbolic_batch_mlp"])
def test_model_passes_onnx_checker(name):
    build = STANDARD_MODELS[name][0] if name in STANDARD_MODELS else models.symbolic_batch_mlp
    onnx.checker.check_model(build(), full_check=True)


@pytest.mark.parametrize("name", STANDARD_MODELS)
def test_onnxruntime_agrees_with_reference_evaluator(name, tmp_path):
    """Two independent implementations agree, so onnxruntime is a sound oracle
    for the model (onnxruntime 1.23.2 does run opset-21 blocked int4
    DequantizeLinear; this test would say so if an upgrade broke it)."""
    build, make_inputs = STANDARD_MODELS[name]
    model = build()
    inputs = make_inputs(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    expected = harness.ort_run(path, inputs)
    names = list(expected)
    actual = dict(zip(names, reference_run(model, names, inputs)))
    harness.assert_outputs_match(actual, expected, tolerance=1e-5)


def reference_run(model: onnx.ModelProto, names: list[str], inputs) -> list[np.ndarray]:
    """Runs onnx's reference evaluator, which implements QuantizeLinear and
    DequantizeLinear only from opset 19 on; older QDQ models are converted to
    opset 19 first (same semantics for the uint8/int8 types used here)."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    uses_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    if uses_qdq and opset < 19:
        model = version_converter.convert_version(model, 19)
    return ReferenceEvaluator(model).run(names, inputs)


def test_qdq_mlp_is_exact_and_rounds_half_to_even(tmp_path):
    """qdq_mlp is built so that float32 evaluation is exact in any order
    (models._exact_channel_scales): onnxruntime and the reference evaluator
    then agree bit for bit, which is what lets the end-to-end test hold a
    compiler with a different summation order to a tight bound. Also checks
    that the tie inputs do land on ties."""
    model = models.qdq_mlp()
    inputs = models.qdq_mlp_inputs()
    path = tmp_path / "qdq_mlp.onnx"
    onnx.save(model, path)
    expected = harness.ort_run(path, inputs)["y"]
    actual = reference_run(model, ["y"], inputs)[0]
    np.testing.assert_array_equal(actual, expected)

    steps = inputs["x"][0, :6].astype(np.float64) / models.QDQ_INPUT_SCALE
    np.testing.assert_array_equal(steps - np.floor(steps), 0.5)
    quantize = _quantize_linear_model()
    onnx.save(quantize, tmp_path / "quantize.onnx")
    row = {"x": inputs["x"][:1, :8]}
    expected_codes = [126, 126, 128, 128, 130, 130, 0, 255]
    np.testing.assert_array_equal(harness.ort_run(tmp_path / "quantize.onnx", row)["q"][0],
                                  expected_codes)
    np.testing.assert_array_equal(reference_run(quantize, ["q"], row)[0][0], expected_codes)


def _quantize_linear_model() -> onnx.ModelProto:
    """QuantizeLinear with qdq_mlp's input scale and zero point, alone."""
    g = models.GraphBuilder("q", seed=0)
    x = g.input("x", np.float32, [1, 8])
    g.op("QuantizeLinear", x, g.f32(models.QDQ_INPUT_SCALE),
         g.const(np.uint8(models.QDQ_INPUT_ZERO_POINT)), out="q")
    g.output("q", np.uint8, [1, 8])
    return g.build(opset=13)


@pytest.mark.parametrize("case", models.NBITS_CASES, ids=models.nbits_case_id)
def test_matmul_nbits_packing_matches_numpy(case, tmp_path):
    """onnxruntime's MatMulNBits on our packed data equals A @ dequantize(W)
    computed in numpy from the unpacked codes, scales and zero points."""
    bits, block_size, zero_points, k = case
    weights = models.nbits_weights(bits, block_size, zero_points, k=k)
    path = tmp_path / "nbits.onnx"
    onnx.save(models.matmul_nbits(weights), path)
    inputs = models.random_inputs(onnx.load(path))
    actual = harness.ort_run(path, inputs)["Y"]
    expected = inputs["A"].astype(np.float64) @ weights.dequantized()
    assert harness.relative_error(actual, expected) < 1e-5


def test_pack_along_last_axis_puts_first_code_in_low_bits():
    codes = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(models.pack_along_last_axis(codes, 4), [[0x21, 0x03]])
    np.testing.assert_array_equal(models.pack_along_last_axis(codes, 8), [[1, 2, 3]])
