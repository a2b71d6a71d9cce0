"""MatMul models: a constant 2-D weight, a 3-D activation against a weight,
and a product of two activations."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def weight(path, dtype=np.float32, elem_type=F):
    # y[2, 3] = x[2, 4] @ w[4, 3], w = 0, 1, ..., 11 row-major.
    w = numpy_helper.from_array(np.arange(12, dtype=dtype).reshape(4, 3), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc1")],
        "matmul_weight",
        [helper.make_tensor_value_info("x", elem_type, [2, 4])],
        [helper.make_tensor_value_info("y", elem_type, [2, 3])],
        [w],
    )
    save(graph, path)


def weight_f16(path):
    weight(path, np.float16, TensorProto.FLOAT16)


def batched_weight(path):
    # x[2, 5, 4] @ w[4, 3]: the leading dims are flattened into rows.
    w = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")],
        "matmul_batched_weight",
        [helper.make_tensor_value_info("x", F, [2, 5, 4])],
        [helper.make_tensor_value_info("y", F, [2, 5, 3])],
        [w],
    )
    save(graph, path)


def activations(path, elem_type=F):
    # q[2, 1, 3, 4] @ k[2, 4, 5] (attention scores): batch dims broadcast.
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["q", "k"], ["s"], name="scores")],
        "matmul_activations",
        [helper.make_tensor_value_info("q", elem_type, [2, 1, 3, 4]),
         helper.make_tensor_value_info("k", elem_type, [2, 4, 5])],
        [helper.make_tensor_value_info("s", elem_type, [2, 2, 3, 5])],
    )
    save(graph, path)


def inner_mismatch(path):
    w = numpy_helper.from_array(np.ones((5, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="bad_fc")],
        "matmul_inner_mismatch",
        [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
        [w],
    )
    save(graph, path)


dispatch({
    "weight": weight,
    "weight_f16": weight_f16,
    "batched_weight": batched_weight,
    "activations": activations,
    "activations_f16": lambda path: activations(path, TensorProto.FLOAT16),
    "inner_mismatch": inner_mismatch,
})
