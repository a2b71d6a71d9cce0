"""Graphs with narrow-typed inputs and outputs: float8e4m3fn in, Cast to
float32, and float32 Cast to int4 out."""

from onnx import TensorProto, helper

from onnx_test_util import dispatch, save


def float8_to_int4(path):
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["wide"], to=TensorProto.FLOAT, name="widen"),
         helper.make_node("Cast", ["wide"], ["y"], to=TensorProto.INT4, name="to_int4")],
        "narrow_types",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN, [3])],
        [helper.make_tensor_value_info("y", TensorProto.INT4, [3])],
    )
    save(graph, path, opset=21)


dispatch({"float8_to_int4": float8_to_int4})
