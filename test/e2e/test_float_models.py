"""Float models compiled with --quantize=none match onnxruntime to 1e-4
(max abs error relative to max |reference|)."""

from __future__ import annotations

import onnx

import harness
import models


def test_mlp(write_model, compile_and_run):
    """MatMul/Gemm(transB, alpha, beta)/Add/Relu/Erf/Tanh/Sigmoid/Sub/Mul/Div/
    Reshape/Transpose/Identity/Softmax, two graph outputs."""
    path = write_model(models.mlp(), "mlp")
    inputs = models.random_inputs(onnx.load(path), seed=1)
    outputs = compile_and_run(path, inputs, quantize="none")
    harness.assert_outputs_match(outputs, harness.ort_run(path, inputs))


def test_attention(write_model, compile_and_run):
    """Multi-head attention: batched 4-D MatMul of two computed operands,
    Softmax on the last axis, head split and merge by Reshape/Transpose."""
    path = write_model(models.attention(), "attention")
    inputs = models.random_inputs(onnx.load(path), seed=2)
    outputs = compile_and_run(path, inputs, quantize="none")
    harness.assert_outputs_match(outputs, harness.ort_run(path, inputs))


def test_external_data_model(tmp_path, nibble_compile):
    """Weights in a separate file (onnx.save(save_as_external_data=True)) are
    found next to the model, not in the working directory: the compiler runs
    from an unrelated directory."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    path = model_dir / "mlp_external.onnx"
    # The default size_threshold (1 KiB) keeps Reshape's small shape tensors
    # inline, as onnxruntime's shape inference needs; every weight goes out.
    onnx.save(models.mlp(seed=7), path, save_as_external_data=True,
              all_tensors_to_one_file=True, location="mlp_external.weights")
    assert (model_dir / "mlp_external.weights").stat().st_size > 0
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()

    exe = tmp_path / "mlp_external"
    proc = harness.compile_model(nibble_compile, path, exe, cwd=other_dir, emit="exe")
    assert proc.returncode == 0, f"nibble-compile failed\n{harness.describe(proc)}"
    inputs = models.random_inputs(onnx.load(path, load_external_data=False), seed=3)
    outputs = harness.run_executable(exe, inputs, tmp_path / "run",
                                     harness.graph_output_names(path))
    harness.assert_outputs_match(outputs, harness.ort_run(path, inputs))
