"""Bad models and bad command lines for nibble-compile: a non-zero exit (never
a crash) and exactly one stderr line `nibble-compile: error: ...` that names
what is wrong and where."""

from __future__ import annotations

import os

import onnx
import pytest

import harness
import models

PREFIX = "nibble-compile: error: "


@pytest.mark.parametrize("op_type, attrs", [
    ("LRN", {"size": 3}),                       # a real ONNX op nibble does not import
    ("NibbleNoSuchOp", {}),                     # no such op in the default domain
])
def test_unsupported_op_names_op_type_and_node(op_type, attrs, write_model, nibble_compile,
                                               tmp_path):
    path = write_model(models.unsupported_op(op_type, **attrs), "unsupported")
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, op_type, models.UNSUPPORTED_NODE_NAME)
    assert not (tmp_path / "out").exists(), "a failed compile must not leave an output"


def test_malformed_file(nibble_compile, tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(os.urandom(4096))
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "garbage.onnx")


def test_missing_model_file(nibble_compile, tmp_path):
    path = tmp_path / "does_not_exist.onnx"
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "does_not_exist.onnx")


def test_symbolic_dim_needs_input_shape(write_model, nibble_compile, compile_and_run, tmp_path):
    """Without --input-shape the error names the input and the flag; with it
    the model compiles and runs at the given shape."""
    path = write_model(models.symbolic_batch_mlp(), "symbolic")
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out")
    name = models.SYMBOLIC_INPUT_NAME
    harness.assert_one_line_error(proc, PREFIX, name, "--input-shape")

    inputs = models.random_inputs(onnx.load(path), seed=4, shapes={name: (3, 64)})
    outputs = compile_and_run(path, inputs, input_shape=[f"{name}:3x64"])
    harness.assert_outputs_match(outputs, harness.ort_run(path, inputs))
