"""The compiled executable's command line: --info, --bench --json, and one-line
`nibble: ...` errors with a non-zero exit for bad inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

import harness
import models

PREFIX = "nibble: "


@pytest.fixture(scope="module")
def mlp_exe(nibble_compile: Path, tmp_path_factory) -> Path:
    """The small MLP (input x: float32 [4, 64]) compiled once for this module."""
    work = tmp_path_factory.mktemp("mlp_exe")
    path = work / "mlp.onnx"
    onnx.save(models.mlp(), path)
    return harness.compile_ok(nibble_compile, path, work / "mlp", emit="exe")


def run(exe: Path, *args) -> subprocess.CompletedProcess:
    return harness.run_tool([exe, *args], harness.RUN_TIMEOUT_S)


def good_input(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((4, 64), np.float32))
    return path


def test_info_lists_outputs_and_layers(mlp_exe):
    """--info names the graph outputs and every MatMul/Gemm layer by its ONNX
    node name."""
    proc = run(mlp_exe, "--info")
    assert proc.returncode == 0, harness.describe(proc)
    for name in ["logits", "probs", *sorted(models.weight_layer_names(models.mlp()))]:
        assert name in proc.stdout, f"--info does not mention {name!r}\n{proc.stdout}"


def test_bench_json(mlp_exe):
    proc = run(mlp_exe, "--bench", "5", "--json")
    assert proc.returncode == 0, harness.describe(proc)
    result = json.loads(proc.stdout)
    assert result["n"] == 5
    assert 0 < result["min_ms"] <= result["p50_ms"] <= result["p90_ms"], result


def test_missing_input(mlp_exe, tmp_path):
    proc = run(mlp_exe, "--output-dir", tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "'x'")


def test_unknown_input_name(mlp_exe, tmp_path):
    proc = run(mlp_exe, "--input", f"x={good_input(tmp_path)}",
               "--input", f"bogus={good_input(tmp_path)}", "--output-dir", tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "'bogus'")


def test_wrong_dtype(mlp_exe, tmp_path):
    path = tmp_path / "x64.npy"
    np.save(path, np.zeros((4, 64), np.float64))
    proc = run(mlp_exe, "--input", f"x={path}", "--output-dir", tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "'x'", "float64", "float32")


def test_wrong_shape(mlp_exe, tmp_path):
    path = tmp_path / "x_short.npy"
    np.save(path, np.zeros((3, 64), np.float32))
    proc = run(mlp_exe, "--input", f"x={path}", "--output-dir", tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "'x'", "shape")


def test_missing_npy_file(mlp_exe, tmp_path):
    proc = run(mlp_exe, "--input", f"x={tmp_path / 'nowhere.npy'}",
               "--output-dir", tmp_path / "out")
    harness.assert_one_line_error(proc, PREFIX, "nowhere.npy")


C_CLIENT = r"""
#include "mlp.h"
#include <stdio.h>

/* A user's program: loads the model through the generated header's C API,
   runs it on x = 0.01 * i, prints the first output's first value. */
int main(void) {
  nibble_model *model = nibble_model_load();
  const nibble_model_desc *desc = nibble_model_describe(model);
  static float x[4 * 64];
  for (int i = 0; i < 4 * 64; ++i)
    x[i] = 0.01f * (float)(i % 64);
  static float outputs[2][4 * 64];
  const char *names[] = {"x"};
  const void *inputs[] = {x};
  void *outs[] = {outputs[0], outputs[1]};
  if (desc->num_outputs != 2 || nibble_model_run(model, 1, names, inputs, outs) != 0) {
    fprintf(stderr, "%s\n", nibble_model_last_error(model));
    return 1;
  }
  /* A bad call reports an error instead of crashing. */
  const char *bad[] = {"nope"};
  if (nibble_model_run(model, 1, bad, inputs, outs) == 0)
    return 2;
  printf("%.6f\n", outputs[0][0]);
  nibble_model_free(model);
  return 0;
}
"""


def test_library_header_compiles_into_a_c_program(nibble_compile, tmp_path):
    """--emit=lib gives a header a plain C program compiles against and a
    library it links and runs with, matching onnxruntime."""
    model = models.mlp()
    model_path = tmp_path / "mlp.onnx"
    onnx.save(model, model_path)
    harness.compile_ok(nibble_compile, model_path, tmp_path / "mlp", emit="lib")
    assert (tmp_path / "libmlp.so").exists() and (tmp_path / "mlp.h").exists()
    (tmp_path / "client.c").write_text(C_CLIENT)
    build = subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Werror", "-I", tmp_path, tmp_path / "client.c",
         "-L", tmp_path, "-lmlp", f"-Wl,-rpath,{tmp_path}", "-o", tmp_path / "client"],
        capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    proc = run(tmp_path / "client")
    assert proc.returncode == 0, harness.describe(proc)
    x = (0.01 * (np.arange(4 * 64) % 64)).astype(np.float32).reshape(4, 64)
    reference = harness.ort_run(model_path, {"x": x})
    first_output = model.graph.output[0].name
    assert abs(float(proc.stdout) - float(reference[first_output].flat[0])) <= 1e-4 * max(
        1.0, float(np.abs(reference[first_output]).max()))


def reshape_with_shape_input() -> onnx.ModelProto:
    """y = Reshape(x, s) with the target shape s a graph input."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], "bind",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4, 6]),
         onnx.helper.make_tensor_value_info("s", onnx.TensorProto.INT64, [2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)],
                                  ir_version=models.IR_VERSION)


def test_bind_input_freezes_a_shape_parameter(nibble_compile, tmp_path):
    """Without --bind-input the shape input is refused with a hint; frozen to
    a .npy file it becomes a constant, the binary takes only x, and the result
    matches onnxruntime fed the same shape."""
    model_path = tmp_path / "bind.onnx"
    onnx.save(reshape_with_shape_input(), model_path)
    refused = harness.compile_model(nibble_compile, model_path, tmp_path / "exe")
    harness.assert_one_line_error(refused, "nibble-compile: error: ", "'s'", "--bind-input")

    shape = np.array([3, 8], dtype=np.int64)
    np.save(tmp_path / "s.npy", shape)
    exe = harness.compile_ok(nibble_compile, model_path, tmp_path / "exe",
                             bind_input=f"s={tmp_path / 's.npy'}")
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    got = harness.run_executable(exe, {"x": x}, tmp_path / "run", ["y"])["y"]
    want = harness.ort_run(model_path, {"x": x, "s": shape})["y"]
    np.testing.assert_array_equal(got, want)
    info = run(exe, "--info")
    assert "  s  " not in info.stdout, "a frozen input must not be a runtime input"

    np.save(tmp_path / "s32.npy", shape.astype(np.int32))
    wrong_dtype = harness.compile_model(nibble_compile, model_path, tmp_path / "exe2",
                                        bind_input=f"s={tmp_path / 's32.npy'}")
    harness.assert_one_line_error(wrong_dtype, "nibble-compile: error: ", "'s'", "int32", "int64")


def test_one_tensor_under_two_output_names(write_model, compile_and_run):
    """A graph output twice (Identity) is two distinct output buffers."""
    g = models.GraphBuilder("twice", seed=0)
    x = g.input("x", np.float32, [3, 4])
    y = g.op("Relu", x)
    g.op("Identity", y, out="a")
    g.op("Identity", y, out="b")
    g.output("a", np.float32, [3, 4])
    g.output("b", np.float32, [3, 4])
    path = write_model(g.build(), "twice")
    value = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    out = compile_and_run(path, {"x": value})
    np.testing.assert_array_equal(out["a"], np.maximum(value, 0))
    np.testing.assert_array_equal(out["b"], np.maximum(value, 0))
