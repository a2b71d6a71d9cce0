"""MatMulInteger models: uint8 activations times an int8 B with zero points
(per tensor for A, per column for B), B a graph input or a constant, and
int8 activations times a uint8 B input without zero points."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save


def zero_points_model(path, constant_b: bool):
    b = numpy_helper.from_array(np.arange(-6, 6, dtype=np.int8).reshape(4, 3), "b")
    a_zp = numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zp")
    b_zp = numpy_helper.from_array(np.array([1, 2, 3], dtype=np.int8), "b_zp")
    inputs = [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 5, 4])]
    if not constant_b:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.INT8, [4, 3]))
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "a_zp", "b_zp"], ["y"], name="mmi")],
        "matmulinteger_zero_points", inputs,
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 5, 3])],
        ([b] if constant_b else []) + [a_zp, b_zp],
    )
    save(graph, path, opset=10)


def with_zero_points(path):
    zero_points_model(path, constant_b=False)


def constant_b_with_zero_points(path):
    zero_points_model(path, constant_b=True)


def without_zero_points(path):
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi_plain")],
        "matmulinteger_plain",
        [helper.make_tensor_value_info("a", TensorProto.INT8, [2, 4]),
         helper.make_tensor_value_info("b", TensorProto.UINT8, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 3])],
    )
    save(graph, path, opset=10)


def int32_input(path):
    b = numpy_helper.from_array(np.ones((4, 3), dtype=np.int8), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi_int32")],
        "matmulinteger_int32",
        [helper.make_tensor_value_info("a", TensorProto.INT32, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 3])],
        [b],
    )
    save(graph, path, opset=10)


dispatch({
    "with_zero_points": with_zero_points,
    "constant_b_with_zero_points": constant_b_with_zero_points,
    "without_zero_points": without_zero_points,
    "int32_input": int32_input,
})
