"""QuantizeLinear / DequantizeLinear models: per tensor, per axis and
blocked (opset 21), with int8/uint8/int4 storage, and the int32 bias form."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def tensor(name, array, data_type=None):
    if data_type is None:
        return numpy_helper.from_array(array, name)
    # int4/uint4: make_tensor packs the values two per byte.
    return helper.make_tensor(name, data_type, array.shape, array.flatten().tolist())


def per_tensor(path):
    # x -> uint8 (default storage, no zero point) -> float, and
    # x -> int8 with a zero point -> float.
    s = tensor("s", np.array(0.5, dtype=np.float32))
    zp = tensor("zp", np.array(-3, dtype=np.int8))
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "s"], ["qu"], name="q_u8"),
            helper.make_node("DequantizeLinear", ["qu", "s"], ["yu"], name="dq_u8"),
            helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["qi"], name="q_i8"),
            helper.make_node("DequantizeLinear", ["qi", "s", "zp"], ["yi"], name="dq_i8"),
        ],
        "qdq_per_tensor",
        [helper.make_tensor_value_info("x", F, [2, 3])],
        [helper.make_tensor_value_info("yu", F, [2, 3]),
         helper.make_tensor_value_info("yi", F, [2, 3])],
        [s, zp],
    )
    save(graph, path, opset=13)


def per_axis(path):
    # A [4, 3] int8 weight with one scale per column (axis = 1) and one per
    # row (axis = 0, given as -2), dequantized.
    w = tensor("w", np.arange(12, dtype=np.int8).reshape(4, 3))
    s_col = tensor("s_col", np.array([0.5, 0.25, 0.125], dtype=np.float32))
    z_col = tensor("z_col", np.array([1, 2, 3], dtype=np.int8))
    s_row = tensor("s_row", np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    graph = helper.make_graph(
        [
            helper.make_node("DequantizeLinear", ["w", "s_col", "z_col"], ["w_col"],
                             name="dq_col", axis=1),
            helper.make_node("DequantizeLinear", ["w", "s_row"], ["w_row"],
                             name="dq_row", axis=-2),
        ],
        "qdq_per_axis",
        [],
        [helper.make_tensor_value_info("w_col", F, [4, 3]),
         helper.make_tensor_value_info("w_row", F, [4, 3])],
        [w, s_col, z_col, s_row],
    )
    save(graph, path, opset=13)


def blocked_int4(path):
    # Opset 21 blocked quantization: a [4, 2] int4 weight in blocks of 2 along
    # axis 0 (scale [2, 2]), dequantized and multiplied by x.
    w = tensor("w", np.array([[1, -2], [3, -4], [7, -8], [0, 5]], dtype=np.int8),
               TensorProto.INT4)
    s = tensor("s", np.array([[0.5, 1.0], [2.0, 4.0]], dtype=np.float32))
    graph = helper.make_graph(
        [
            helper.make_node("DequantizeLinear", ["w", "s"], ["w_f"], name="dq_w",
                             axis=0, block_size=2),
            helper.make_node("MatMul", ["x", "w_f"], ["y"], name="fc"),
        ],
        "qdq_blocked_int4",
        [helper.make_tensor_value_info("x", F, [3, 4])],
        [helper.make_tensor_value_info("y", F, [3, 2])],
        [w, s],
    )
    save(graph, path, opset=21)


def uint4_quantize(path):
    # QuantizeLinear to uint4 chosen by its zero point, per axis 0.
    s = tensor("s", np.array([1.0, 2.0], dtype=np.float32))
    z = tensor("z", np.array([8, 8], dtype=np.uint8), TensorProto.UINT4)
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q_u4", axis=0),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq_u4", axis=0),
        ],
        "qdq_uint4",
        [helper.make_tensor_value_info("x", F, [2, 3])],
        [helper.make_tensor_value_info("y", F, [2, 3])],
        [s, z],
    )
    save(graph, path, opset=21)


def int32_bias(path):
    # DequantizeLinear of int32 (a QDQ bias): plain arithmetic, no scheme.
    b = tensor("b", np.array([10, -20, 30], dtype=np.int32))
    s = tensor("s", np.array(0.5, dtype=np.float32))
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["b", "s"], ["b_f"], name="dq_bias")],
        "qdq_int32_bias",
        [],
        [helper.make_tensor_value_info("b_f", F, [3])],
        [b, s],
    )
    save(graph, path, opset=13)


def int32_storage(path):
    # int32 is no quantized storage type, in ONNX or nibble.
    s = tensor("s", np.array(1.0, dtype=np.float32))
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q_i32",
                          output_dtype=TensorProto.INT32)],
        "qdq_int32",
        [helper.make_tensor_value_info("x", F, [2])],
        [helper.make_tensor_value_info("q", TensorProto.INT32, [2])],
        [s],
    )
    save(graph, path, opset=21)


def rank2_scale_without_block(path):
    # A rank-2 scale needs block_size; before opset 21 there is none.
    w = tensor("w", np.ones((4, 2), dtype=np.int8))
    s = tensor("s", np.ones((2, 2), dtype=np.float32))
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["w", "s"], ["y"], name="dq_2d")],
        "qdq_rank2_scale",
        [],
        [helper.make_tensor_value_info("y", F, [4, 2])],
        [w, s],
    )
    save(graph, path, opset=19)


dispatch({
    "per_tensor": per_tensor,
    "per_axis": per_axis,
    "blocked_int4": blocked_int4,
    "uint4_quantize": uint4_quantize,
    "int32_bias": int32_bias,
    "int32_storage": int32_storage,
    "rank2_scale_without_block": rank2_scale_without_block,
})
