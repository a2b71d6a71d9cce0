"""Reshape models: 0 copies an input dimension, -1 is inferred; and the
malformed shapes the importer rejects."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def build(path, shape, out_shape=None, allowzero=None, opset=14, input_shape=(2, 3, 4)):
    attrs = {} if allowzero is None else {"allowzero": allowzero}
    s = numpy_helper.from_array(np.array(shape, dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape", **attrs)],
        "reshape",
        [helper.make_tensor_value_info("x", F, list(input_shape))],
        [helper.make_tensor_value_info("y", F, out_shape)],
        [s],
    )
    save(graph, path, opset=opset)


def shape_from_input(path):
    # The shape is a graph input, not a constant.
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_dynamic")],
        "reshape_dynamic",
        [helper.make_tensor_value_info("x", F, [2, 3, 4]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", F, None)],
    )
    save(graph, path, opset=14)


def constant_data(path):
    # Reshaping a constant (as shape computations do) folds to a constant.
    data = numpy_helper.from_array(np.arange(6, dtype=np.int64), "data")
    s = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["data", "shape"], ["y"], name="reshape")],
        "reshape_constant", [], [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
        [data, s],
    )
    save(graph, path, opset=14)


dispatch({
    # [2, 3, 4] -> [0, -1] = [2, 12]
    "copy_and_infer": lambda path: build(path, [0, -1]),
    # [2, 3, 4] -> [-1, 0, 2, 2] = [2, 3, 2, 2]: 0 copies dim 1.
    "infer_first": lambda path: build(path, [-1, 0, 2, 2]),
    "two_inferred": lambda path: build(path, [-1, -1]),
    "not_divisible": lambda path: build(path, [5, -1]),
    "wrong_count": lambda path: build(path, [5, 5]),
    "copy_past_rank": lambda path: build(path, [2, 3, 4, 0], input_shape=(2, 3, 4)),
    "shape_from_input": shape_from_input,
    "constant_data": constant_data,
    # allowzero keeps a 0 as a zero-size dim: [0, 3] -> [3, 0].
    "allowzero": lambda path: build(path, [3, 0], allowzero=1, input_shape=(0, 3)),
    # Without allowzero the 0 copies dim 1 (3): 0 elements into 9.
    "zero_copies": lambda path: build(path, [3, 0], input_shape=(0, 3)),
})
