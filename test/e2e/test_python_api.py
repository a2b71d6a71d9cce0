"""The `nibble` Python package: nibble.compile() through the C++ extension,
nibble.load() of a library built by `nibble-compile --emit=lib`, Model.run()
against onnxruntime, and its argument checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import harness
import models


@pytest.fixture(scope="module")
def nibble():
    return pytest.importorskip(
        "nibble", reason="the nibble Python package is not importable: put the build's "
                         "python package directory (holding nibble/) on PYTHONPATH")


@pytest.fixture(scope="module")
def compiler_extension(nibble):
    return pytest.importorskip(
        "nibble._nibble", reason="the compiler extension nibble._nibble is not built")


@pytest.fixture
def mlp_path(write_model) -> Path:
    return write_model(models.mlp(), "mlp")


def test_compile_and_run_matches_onnxruntime(nibble, compiler_extension, mlp_path):
    inputs = models.random_inputs(onnx.load(mlp_path), seed=5)
    with nibble.compile(mlp_path) as model:
        assert [tuple(s) for s in model.inputs] == [("x", np.dtype(np.float32), (4, 64))]
        assert [s.name for s in model.outputs] == ["logits", "probs"]
        assert {layer.name for layer in model.layers} == models.weight_layer_names(onnx.load(mlp_path))
        assert {layer.precision for layer in model.layers} == {"fp32"}
        assert {layer.kernel for layer in model.layers} == {""}  # named on GPUs only
        assert model.report["weight_bytes"] > 0
        assert len(model.report["layers"]) == len(model.layers)
        outputs = model.run(inputs)
    harness.assert_outputs_match(outputs, harness.ort_run(mlp_path, inputs))


def test_int4_compile_reports_int4_layers(nibble, compiler_extension, mlp_path):
    with nibble.compile(mlp_path) as fp32, \
            nibble.compile(mlp_path, quantize="int4", group_size=32) as int4:
        assert all(layer.precision.startswith("int4") for layer in int4.layers), int4.layers
        assert int4.report["weight_bytes"] < fp32.report["weight_bytes"] / 4


def test_run_rejects_bad_inputs(nibble, compiler_extension, mlp_path):
    x = np.zeros((4, 64), np.float32)
    with nibble.compile(mlp_path) as model:
        with pytest.raises(ValueError, match="missing input 'x'"):
            model.run({})
        with pytest.raises(ValueError, match="unknown input 'y'"):
            model.run({"x": x, "y": x})
        with pytest.raises(ValueError, match="'x' has dtype float64 but the model expects float32"):
            model.run({"x": x.astype(np.float64)})
        with pytest.raises(ValueError, match=r"'x' has shape \[4, 63\]"):
            model.run({"x": x[:, :63]})
        with pytest.raises(TypeError, match="numpy.ndarray"):
            model.run({"x": x.tolist()})
        # A non-contiguous view of the right dtype and shape is accepted.
        wide = np.random.default_rng(0).standard_normal((4, 128)).astype(np.float32)
        np.testing.assert_array_equal(model.run({"x": wide[:, ::2]})["logits"],
                                      model.run({"x": wide[:, ::2].copy()})["logits"])


def test_close_deletes_temporary_files(nibble, compiler_extension, mlp_path):
    model = nibble.compile(mlp_path)
    library = model.library_path
    assert library.is_file()
    model.close()
    assert not library.parent.exists()
    with pytest.raises(ValueError, match="closed"):
        model.run({"x": np.zeros((4, 64), np.float32)})


def test_compile_error_raises_runtime_error(nibble, compiler_extension, write_model):
    path = write_model(models.unsupported_op("NibbleNoSuchOp"), "unsupported")
    with pytest.raises(RuntimeError, match="NibbleNoSuchOp") as error:
        nibble.compile(path)
    assert models.UNSUPPORTED_NODE_NAME in str(error.value)
    assert "\n" not in str(error.value)


def test_load_library_built_by_nibble_compile(nibble, nibble_compile, mlp_path, tmp_path):
    """--emit=lib -o DIR/NAME writes DIR/libNAME.so and DIR/NAME.h; the library
    runs through nibble.load() without the compiler extension."""
    out = tmp_path / "lib" / "mlp"
    out.parent.mkdir()
    harness.compile_ok(nibble_compile, mlp_path, out, emit="lib")
    library, header = out.parent / "libmlp.so", out.parent / "mlp.h"
    assert library.is_file() and header.is_file(), sorted(out.parent.iterdir())
    assert "nibble_model_run" in header.read_text() or "nibble.h" in header.read_text()

    inputs = models.random_inputs(onnx.load(mlp_path), seed=6)
    with nibble.load(library) as model:
        outputs = model.run(inputs)
    harness.assert_outputs_match(outputs, harness.ort_run(mlp_path, inputs))


def test_auto_compile_exposes_the_measured_report(nibble, compiler_extension, mlp_path,
                                                  tmp_path):
    samples = models.random_inputs(onnx.load(mlp_path), seed=3)["x"]
    calibration = tmp_path / "calibration.npz"
    np.savez(calibration, x=np.stack([samples, 0.5 * samples, -samples]))
    with nibble.compile(mlp_path, quantize="auto", calibration=calibration,
                        budget="size=0.3") as model:
        report = model.report
        assert report["mode"] == "auto" and report["budget"] == "size=0.3"
        assert report["calibration"]["samples"] == 3
        assert report["weight_bytes"] == model.weight_bytes
        assert report["weight_bytes"] <= 0.3 * report["float_weight_bytes"]
        assert [l["name"] for l in report["layers"]] == [l.name for l in model.layers]
        assert [l["precision"] for l in report["layers"]] == [l.precision for l in model.layers]
        assert report["end_to_end"]["sqnr_db"] > 20.0
        out = model.run({"x": samples})
        assert np.all(np.isfinite(out["logits"]))
    # Without measurement the report is the layer table only.
    with nibble.compile(mlp_path, quantize="int8") as model:
        assert "end_to_end" not in model.report
    # report=True measures on random inputs.
    with nibble.compile(mlp_path, quantize="int8", report=True) as model:
        assert model.report["calibration"]["source"] == "random normal inputs"


def test_threads_and_w4a8_from_python(nibble, compiler_extension, mlp_path):
    inputs = models.random_inputs(onnx.load(mlp_path), seed=4)
    with nibble.compile(mlp_path, quantize="w4a8", group_size=32) as model:
        assert all(layer.precision.startswith("w4a8") for layer in model.layers)
        model.num_threads = 1
        assert model.num_threads == 1
        one = model.run(inputs)
        model.num_threads = 2
        assert model.num_threads == 2
        two = model.run(inputs)
        for name in one:
            np.testing.assert_array_equal(one[name], two[name])
        with pytest.raises(ValueError, match="num_threads"):
            model.num_threads = -1
