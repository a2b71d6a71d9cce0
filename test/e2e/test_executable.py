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
