"""Models that arrive already quantized (QDQ, MatMulNBits, blocked int4
DequantizeLinear, MatMulInteger) match onnxruntime's own result: float outputs
to 1e-4 relative, integer outputs exactly. test_model_selfcheck.py checks the
models and the oracle without nibble."""

from __future__ import annotations

import onnx
import pytest

import harness
import models


def compile_run_compare(path, inputs, compile_and_run):
    outputs = compile_and_run(path, inputs)
    harness.assert_outputs_match(outputs, harness.ort_run(path, inputs))


def test_qdq_int8_mlp(write_model, compile_and_run):
    """uint8 activations with zero points (per tensor), int8 weights with
    per-channel scales. The model is exact in float32 and its input includes
    rounding ties and values to saturate, so round-half-to-even and
    saturation must follow ONNX exactly to pass."""
    path = write_model(models.qdq_mlp(), "qdq_mlp")
    compile_run_compare(path, models.qdq_mlp_inputs(), compile_and_run)


@pytest.mark.parametrize("case", models.NBITS_CASES, ids=models.nbits_case_id)
def test_matmul_nbits(case, write_model, compile_and_run):
    """com.microsoft.MatMulNBits, 4 and 8 bits, blocks of 32 and 128, with
    packed zero points and with the default 2^(bits-1)."""
    bits, block_size, zero_points, k = case
    weights = models.nbits_weights(bits, block_size, zero_points, k=k)
    path = write_model(models.matmul_nbits(weights), "matmul_nbits")
    compile_run_compare(path, models.random_inputs(onnx.load(path), seed=8), compile_and_run)


@pytest.mark.parametrize("zero_point", [True, False], ids=["zp", "nozp"])
def test_blocked_int4_dequantize_matmul(zero_point, write_model, compile_and_run):
    """Opset-21 DequantizeLinear of an int4 initializer with block_size 32
    along axis 0, into MatMul."""
    path = write_model(models.blocked_int4_matmul(zero_point), "blocked_int4")
    compile_run_compare(path, models.random_inputs(onnx.load(path), seed=9), compile_and_run)


@pytest.mark.parametrize("per_column", [False, True], ids=["scalar_b_zp", "per_column_b_zp"])
def test_matmul_integer(per_column, write_model, compile_and_run):
    """uint8 A (zero point 131) x int8 B (zero point scalar or per column)
    -> int32, compared exactly."""
    path = write_model(models.matmul_integer(per_column), "matmul_integer")
    compile_run_compare(path, models.random_inputs(onnx.load(path), seed=10), compile_and_run)
