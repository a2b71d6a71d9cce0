"""Graph inputs and outputs of the narrow ONNX types (bfloat16, float8,
float4e2m1, int4, int2): .npy files and Python arrays use ml_dtypes, values
convert exactly as the ONNX reference does, and the types are refused where
nibble would have to compute on them."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import harness

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed")

# ONNX type, ml_dtypes dtype.
NARROW_TYPES = [
    (TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn),
    (TensorProto.FLOAT8E4M3FNUZ, ml_dtypes.float8_e4m3fnuz),
    (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2),
    (TensorProto.FLOAT8E5M2FNUZ, ml_dtypes.float8_e5m2fnuz),
    (TensorProto.FLOAT4E2M1, ml_dtypes.float4_e2m1fn),
    (TensorProto.BFLOAT16, ml_dtypes.bfloat16),
    (TensorProto.INT4, ml_dtypes.int4),
    (TensorProto.UINT4, ml_dtypes.uint4),
    (TensorProto.INT2, ml_dtypes.int2),
    (TensorProto.UINT2, ml_dtypes.uint2),
]


def round_trip_model(narrow: int) -> onnx.ModelProto:
    """x: float32 -> (Cast to `narrow`) -> q, returned as is, and Cast back
    to float32 as y: both directions of the conversion and the type at the
    boundary in both directions (q is also a graph input of the second Cast
    in a second graph below)."""
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["q"], to=narrow, name="narrow"),
         helper.make_node("Cast", ["n"], ["y"], to=TensorProto.FLOAT, name="widen")],
        "narrow_round_trip",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64]),
         helper.make_tensor_value_info("n", narrow, [64])],
        [helper.make_tensor_value_info("q", narrow, [64]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])


def inputs_for(dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(48).astype(np.float32) * 4,
                        np.array([0.0, -0.0, 0.5, 1.5, 2.5, -3.5, 448, 500, 1e6, -1e6,
                                  1e-9, 7, -8, 9, np.inf, -np.inf], np.float32)])
    n = rng.standard_normal(64).astype(np.float32).astype(dtype)
    return {"x": x, "n": n}


def same_values(actual: np.ndarray, expected: np.ndarray) -> bool:
    a, e = actual.astype(np.float32), expected.astype(np.float32)
    return bool(np.all((a == e) | (np.isnan(a) & np.isnan(e))))


@pytest.mark.parametrize("narrow, dtype", NARROW_TYPES,
                         ids=[TensorProto.DataType.Name(t) for t, _ in NARROW_TYPES])
def test_executable_round_trips_like_the_reference(narrow, dtype, write_model,
                                                   compile_and_run):
    model = round_trip_model(narrow)
    path = write_model(model, "round_trip")
    inputs = inputs_for(dtype)
    outputs = compile_and_run(path, inputs)
    expected = dict(zip(["q", "y"], ReferenceEvaluator(model).run(None, inputs)))
    # The runtime writes raw bytes ('|V1'/'|V2') as numpy does for ml_dtypes.
    q = outputs["q"].view(dtype)
    assert q.dtype == expected["q"].dtype
    assert same_values(q, expected["q"]), (q, expected["q"])
    # Sub-byte values sit in the low bits with the high bits zero.
    assert np.array_equal(q.view(np.uint8 if q.itemsize == 1 else np.uint16),
                          expected["q"].view(np.uint8 if q.itemsize == 1 else np.uint16))
    assert same_values(outputs["y"], expected["y"])


def test_python_api_takes_and_returns_ml_dtypes_arrays(write_model):
    nibble = pytest.importorskip("nibble", reason="the nibble Python package is not importable")
    pytest.importorskip("nibble._nibble", reason="the compiler extension is not built")
    model = round_trip_model(TensorProto.FLOAT8E4M3FN)
    inputs = inputs_for(ml_dtypes.float8_e4m3fn)
    with nibble.compile(write_model(model, "round_trip")) as compiled:
        assert compiled.inputs[1].dtype == np.dtype(ml_dtypes.float8_e4m3fn)
        outputs = compiled.run(inputs)
        with pytest.raises(ValueError, match="float8_e4m3fn"):
            compiled.run({"x": inputs["x"], "n": inputs["n"].view(np.uint8)})
    expected = ReferenceEvaluator(model).run(None, inputs)
    assert outputs["q"].dtype == np.dtype(ml_dtypes.float8_e4m3fn)
    assert same_values(outputs["q"], expected[0])
    assert same_values(outputs["y"], expected[1])


def test_a_plain_uint8_file_is_not_float8(write_model, nibble_compile, tmp_path):
    path = write_model(round_trip_model(TensorProto.FLOAT8E4M3FN), "round_trip")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "model")
    inputs = inputs_for(ml_dtypes.float8_e4m3fn)
    inputs["n"] = inputs["n"].view(np.uint8)
    args = harness.save_inputs(inputs, tmp_path / "inputs")
    proc = harness.run_tool([exe, *args, "--output-dir", tmp_path / "out"], 60)
    harness.assert_one_line_error(proc, "nibble: ", "input 'n'", "uint8",
                                  "float8_e4m3fn")


def test_arithmetic_on_float8_is_refused(write_model, nibble_compile, tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "a"], ["b"], name="add_f8")],
        "float8_add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT8E4M3FN, [4])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT8E4M3FN, [4])],
    )
    path = write_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]),
                       "float8_add")
    proc = harness.compile_model(nibble_compile, path, tmp_path / "model")
    harness.assert_one_line_error(proc, "nibble-compile: error: ", "Add node 'add_f8'",
                                  "float8e4m3fn", "Cast it to float32")
