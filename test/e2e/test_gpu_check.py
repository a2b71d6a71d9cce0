"""bench/gpu/run_artifacts.py, the GPU check's runner, on a machine without
a GPU: CPU executables stand in for the GPU ones, so the comparison logic
that decides pass or fail on the GPU machine is tested here, where a
mistake costs nothing. The timing part needs a GPU and is not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest

import harness
import models

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "gpu"))

import build_artifacts  # noqa: E402
import run_artifacts  # noqa: E402


def _artifacts(root: Path, exe: Path, inputs: dict, outputs: dict, reference: dict) -> Path:
    """An artifacts folder of one e2e case in build_artifacts.py's layout."""
    case_dir = root / "e2e" / "layer"
    case_dir.mkdir(parents=True)
    (case_dir / "model").symlink_to(exe)
    build_artifacts.save_case_arrays(case_dir, inputs, outputs, reference)
    manifest = {"e2e": [{"name": "layer", "quantize": "int4", "dir": "e2e/layer",
                         "inputs": sorted(inputs), "outputs": sorted(outputs),
                         "float16": False, "bfloat16": False, "tensor_cores": False}],
                "bench": []}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def int4_layer(nibble_bin_dir, tmp_path_factory):
    """A CPU build of an int4 layer, its inputs and outputs, and onnxruntime's."""
    work = tmp_path_factory.mktemp("layer")
    weights = models.nbits_weights(4, 32, True, k=256, n=40)
    model = models.matmul_nbits(weights, m=3)
    path = work / "layer.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_bin_dir / "nibble-compile", path, work / "layer",
                             emit="exe")
    inputs = models.random_inputs(model)
    outputs = harness.run_executable(exe, inputs, work, ["Y"])
    return exe, inputs, outputs, harness.ort_run(path, inputs)


def _run(root: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    result = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "gpu" / "run_artifacts.py"),
                           str(root), "--json", str(result)],
                          capture_output=True, text=True, timeout=300)
    return proc, json.loads(result.read_text()) if result.exists() else {}


def test_matching_outputs_pass(int4_layer, tmp_path):
    exe, inputs, outputs, reference = int4_layer
    proc, report = _run(_artifacts(tmp_path / "a", exe, inputs, outputs, reference), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
    (check,) = report["e2e"][0]["checks"]
    assert check["ok"] and check["rel_l2_vs_cpu"] == 0.0


def test_outputs_off_the_cpu_build_fail(int4_layer, tmp_path):
    """A GPU result 1% off the CPU build's fails the check and the exit code."""
    exe, inputs, outputs, reference = int4_layer
    skewed = {name: value * np.float32(1.01) for name, value in outputs.items()}
    proc, report = _run(_artifacts(tmp_path / "a", exe, inputs, skewed, reference), tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == "0 passed, 1 failed"
    assert not report["e2e"][0]["ok"]


def test_kernel_choice_names_the_fastest():
    entries = [{"k": 4096, "n": 4096, "m": 1, "kernel": "auto", "seconds_per_layer": 3e-6},
               {"k": 4096, "n": 4096, "m": 1, "kernel": "mma", "seconds_per_layer": 2e-6},
               {"k": 4096, "n": 4096, "m": 1, "kernel": "mma", "activations": "f16",
                "error": "no device"},
               {"k": 4096, "n": 4096, "m": 16, "kernel": "auto", "seconds_per_layer": 1e-6},
               # Other weights at the same shape are another layer, not another kernel.
               {"k": 4096, "n": 4096, "m": 1, "kernel": "auto", "weights": "fp16",
                "seconds_per_layer": 1e-6}]
    (choice,) = run_artifacts.compare_kernels(entries)
    assert choice["fastest"] == "mma" and choice["m"] == 1
    assert choice["slowdown_of_others"] == {"auto": pytest.approx(1.5)}


def test_bfloat16_outputs_are_read_without_ml_dtypes(tmp_path):
    """numpy saves bfloat16 arrays as raw 2-byte values; the GPU machine may
    not have ml_dtypes, so the runner widens them itself."""
    values = np.array([1.5, -2.25, 3.0e38, 0.0], dtype=ml_dtypes.bfloat16)
    np.save(tmp_path / "v.npy", values)
    raw = np.load(tmp_path / "v.npy")
    assert raw.dtype.kind == "V"
    np.testing.assert_array_equal(run_artifacts.as_float(raw), values.astype(np.float64))
