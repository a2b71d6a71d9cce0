"""Fixtures of the end-to-end tests: where nibble's tools are, and helpers that
compile a model, run it, and save models and inputs in per-test directories.

The tools come from $NIBBLE_BIN_DIR (ctest sets it). When it is unset or
nibble-compile is missing there, every test that needs the compiler skips
with the reason; the onnxruntime-only self-checks of the test models still run.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import onnx
import pytest

import harness

COMPILER_NAME = "nibble-compile"


@pytest.fixture(scope="session")
def nibble_bin_dir() -> Path:
    """The directory that holds nibble-compile."""
    value = os.environ.get("NIBBLE_BIN_DIR")
    if not value:
        pytest.skip("NIBBLE_BIN_DIR is not set: point it at the build's bin directory "
                    "(the one holding nibble-compile) to run the end-to-end tests")
    return Path(value)


@pytest.fixture(scope="session")
def nibble_compile(nibble_bin_dir: Path) -> Path:
    """The nibble-compile executable."""
    tool = nibble_bin_dir / COMPILER_NAME
    if not (tool.is_file() and os.access(tool, os.X_OK)):
        pytest.skip(f"{tool} does not exist or is not executable: build it first")
    return tool


@pytest.fixture
def write_model(tmp_path: Path):
    """write_model(model, name) saves a ModelProto in this test's directory
    and returns the path."""

    def write(model: onnx.ModelProto, name: str) -> Path:
        path = tmp_path / f"{name}.onnx"
        onnx.save(model, path)
        return path

    return write


@pytest.fixture
def compile_and_run(nibble_compile: Path, tmp_path: Path):
    """compile_and_run(model_path, inputs, **flags) -> {output name: ndarray}.

    Compiles with `nibble-compile MODEL -o EXE --emit=exe --flag=value ...`
    (flags as in harness.flag_args), runs the executable on `inputs` through
    .npy files, and returns every graph output in graph order. Each call gets
    its own directory, so a test may compile several variants.
    """
    counter = itertools.count()

    def compile_and_run(model_path: Path, inputs, **flags):
        work = tmp_path / f"build{next(counter)}"
        work.mkdir()
        exe = harness.compile_ok(nibble_compile, model_path, work / "model",
                                 emit="exe", **flags)
        return harness.run_executable(exe, inputs, work,
                                      harness.graph_output_names(model_path))

    return compile_and_run
