"""Running nibble's tools and the onnxruntime oracle, and comparing results.

Plain functions, so that fixtures of any scope and the tests themselves can
use them. They rely only on the user-facing contracts: nibble-compile's flags,
the executable's --input/--output-dir, and one-line errors.
"""

from __future__ import annotations

import re

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

# Compiling runs MLIR and LLVM over every weight; generous but finite so that
# a hang fails the test instead of the whole ctest run.
COMPILE_TIMEOUT_S = float(os.environ.get("NIBBLE_TEST_COMPILE_TIMEOUT", 900))
RUN_TIMEOUT_S = float(os.environ.get("NIBBLE_TEST_RUN_TIMEOUT", 300))

# Float outputs: max |out - ref| / max |ref|.
FLOAT_TOLERANCE = 1e-4


def flag_args(flags: dict) -> list[str]:
    """Keyword flags to command-line flags: quantize="int8" -> --quantize=int8.

    Underscores become dashes, a list repeats the flag (input_shape=["a:1x2",
    "b:3"]), True gives a bare flag, None is left out.
    """
    args = []
    for key, value in flags.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [f"{flag}={v}" for v in value]
        else:
            args.append(f"{flag}={value}")
    return args


def run_tool(argv: list, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs a command, capturing text output; a timeout fails the calling test."""
    argv = [str(a) for a in argv]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from None


def describe(proc: subprocess.CompletedProcess) -> str:
    """The command, exit code and output of a finished process, for assertion messages."""
    return (f"command: {' '.join(proc.args)}\nexit code: {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def compile_model(compiler: Path, model_path: Path, out: Path, cwd: Path | None = None,
                  **flags) -> subprocess.CompletedProcess:
    """Runs nibble-compile and returns the finished process, success or not."""
    return run_tool([compiler, model_path, "-o", out, *flag_args(flags)],
                    COMPILE_TIMEOUT_S, cwd=cwd)


def compile_ok(compiler: Path, model_path: Path, out: Path, **flags) -> Path:
    """Compiles and asserts success; returns the output path."""
    proc = compile_model(compiler, model_path, out, **flags)
    assert proc.returncode == 0, f"nibble-compile failed\n{describe(proc)}"
    return out


def save_inputs(inputs: dict[str, np.ndarray], directory: Path) -> list[str]:
    """Writes each input to DIR/<i>.npy; returns the matching --input arguments.

    Files are numbered rather than named after the input so that any ONNX
    name works, including ones that are not valid file names.
    """
    directory.mkdir(parents=True, exist_ok=True)
    args = []
    for i, (name, value) in enumerate(inputs.items()):
        path = directory / f"input{i}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    return args


def run_executable(exe: Path, inputs: dict[str, np.ndarray], work_dir: Path,
                   output_names: list[str]) -> dict[str, np.ndarray]:
    """Runs a compiled model on `inputs`, asserts success, returns its outputs.

    Every name in `output_names` must have been written as DIR/<name>.npy,
    with characters outside [A-Za-z0-9._-] replaced by '_' (as the runtime
    does for names like "onnx::Shape_422").
    """
    out_dir = work_dir / "outputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = run_tool([exe, *save_inputs(inputs, work_dir / "inputs"), "--output-dir", out_dir],
                    RUN_TIMEOUT_S)
    assert proc.returncode == 0, f"compiled model failed\n{describe(proc)}"
    outputs = {}
    for name in output_names:
        path = out_dir / f"{output_file_stem(name)}.npy"
        assert path.is_file(), f"{exe} did not write {path}\n{describe(proc)}"
        outputs[name] = np.load(path)
    return outputs


def output_file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def graph_output_names(model_path: Path) -> list[str]:
    model = onnx.load(str(model_path), load_external_data=False)
    return [o.name for o in model.graph.output]


def ort_run(model_path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The oracle: onnxruntime on CPU with every graph optimization disabled.

    Disabled, onnxruntime runs each node as written (no DequantizeLinear+MatMul
    to MatMulNBits fusion, no constant folding), so the reference follows the
    ONNX semantics of the model that nibble compiles.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max |expected|, in float64."""
    expected = expected.astype(np.float64)
    err = np.max(np.abs(actual.astype(np.float64) - expected))
    scale = np.max(np.abs(expected))
    return float(err / scale) if scale > 0 else float(err)


def assert_outputs_match(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray],
                         tolerance: float = FLOAT_TOLERANCE) -> None:
    """Same names, dtypes and shapes; floats within `tolerance`, integers exact."""
    assert list(actual) == list(expected), f"outputs {list(actual)} != {list(expected)}"
    for name, ref in expected.items():
        out = actual[name]
        assert out.dtype == ref.dtype, f"{name}: dtype {out.dtype}, expected {ref.dtype}"
        assert out.shape == ref.shape, f"{name}: shape {out.shape}, expected {ref.shape}"
        if np.issubdtype(ref.dtype, np.floating):
            assert np.all(np.isfinite(out)), f"{name}: non-finite values"
            err = relative_error(out, ref)
            assert err <= tolerance, (f"{name}: max abs error / max |ref| = {err:.3g} "
                                      f"> {tolerance:g}")
        else:
            diff = np.argwhere(out != ref)
            assert diff.size == 0, (f"{name}: {len(diff)} elements differ, first at "
                                    f"{tuple(diff[0])}: {out[tuple(diff[0])]} != {ref[tuple(diff[0])]}")


def sqnr_db(actual: np.ndarray, expected: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio: 10 log10(sum ref^2 / sum (out-ref)^2)."""
    expected = expected.astype(np.float64)
    noise = np.sum((actual.astype(np.float64) - expected) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(expected ** 2) / noise))


def assert_one_line_error(proc: subprocess.CompletedProcess, prefix: str,
                          *fragments: str) -> str:
    """The error contract: a clean non-zero exit and exactly one stderr line
    that starts with `prefix` and contains each of `fragments`. Returns the line.

    A negative return code means a signal (a crash), which the contract forbids.
    """
    assert proc.returncode > 0, f"expected a non-zero exit, not a crash or success\n{describe(proc)}"
    lines = proc.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected exactly one stderr line\n{describe(proc)}"
    line = lines[0]
    assert line.startswith(prefix), f"stderr should start with {prefix!r}\n{describe(proc)}"
    for fragment in fragments:
        assert fragment in line, f"stderr should mention {fragment!r}\n{describe(proc)}"
    return line
