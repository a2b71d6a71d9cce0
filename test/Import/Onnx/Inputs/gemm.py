"""Gemm models: transB with a constant B (transposed at import time), alpha,
beta and a bias C, and transA/transB on activations."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def trans_b_bias(path, dtype=np.float32, elem_type=F):
    # y[2, 3] = x[2, 4] @ b[3, 4]^T + c[3]; b = 0, 1, ..., 11 row-major, so
    # its transpose has rows (0, 4, 8), (1, 5, 9), ...
    b = numpy_helper.from_array(np.arange(12, dtype=dtype).reshape(3, 4), "b")
    c = numpy_helper.from_array(np.array([0.5, 1.5, 2.5], dtype=dtype), "c")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "b", "c"], ["y"], name="linear", transB=1)],
        "gemm_trans_b_bias",
        [helper.make_tensor_value_info("x", elem_type, [2, 4])],
        [helper.make_tensor_value_info("y", elem_type, [2, 3])],
        [b, c],
    )
    save(graph, path)


def alpha_beta(path):
    # y = 2 * (x @ b) + 0.5 * c, c broadcast from [1, 3].
    b = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "b")
    c = numpy_helper.from_array(np.ones((1, 3), dtype=np.float32), "c")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "b", "c"], ["y"], name="scaled",
                          alpha=2.0, beta=0.5)],
        "gemm_alpha_beta",
        [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
        [b, c],
    )
    save(graph, path)


def trans_activations(path):
    # y[2, 3] = a[4, 2]^T @ b[3, 4]^T with both operands graph inputs.
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["a", "b"], ["y"], name="both", transA=1, transB=1)],
        "gemm_trans_activations",
        [helper.make_tensor_value_info("a", F, [4, 2]),
         helper.make_tensor_value_info("b", F, [3, 4])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
    )
    save(graph, path)


def bad_bias(path):
    b = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "b")
    c = numpy_helper.from_array(np.ones((2,), dtype=np.float32), "c")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "b", "c"], ["y"], name="bad_bias")],
        "gemm_bad_bias",
        [helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
        [b, c],
    )
    save(graph, path)


dispatch({
    "trans_b_bias": trans_b_bias,
    "alpha_beta": alpha_beta,
    "trans_activations": trans_activations,
    "bad_bias": bad_bias,
    "trans_b_bias_f16": lambda path: trans_b_bias(path, np.float16, TensorProto.FLOAT16),
    "trans_b_bias_f64": lambda path: trans_b_bias(path, np.float64, TensorProto.DOUBLE),
})
