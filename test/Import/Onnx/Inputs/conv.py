"""Conv, ConvInteger and ConvTranspose models: grouped with pads, strides
and a bias, depthwise with auto_pad, 1-D, integer with zero points,
transposed with a stride, and bad groups and biases."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def conv_graph(name, x_shape, w, y_shape, bias=None, op="Conv", **attrs):
    inits = [numpy_helper.from_array(w, "w")]
    inputs = ["x", "w"]
    if bias is not None:
        inits.append(numpy_helper.from_array(bias, "b"))
        inputs.append("b")
    return helper.make_graph(
        [helper.make_node(op, inputs, ["y"], name=name, **attrs)],
        name,
        [helper.make_tensor_value_info("x", F, x_shape)],
        [helper.make_tensor_value_info("y", F, y_shape)],
        inits,
    )


def grouped(path):
    # 2 groups of 1 input and 2 output channels, 3x3 kernel, rows padded by
    # one and strided by two: [1, 2, 5, 5] -> [1, 4, 3, 3].
    w = np.ones((4, 1, 3, 3), dtype=np.float32)
    b = np.array([0.5, 1.5, 2.5, 3.5], dtype=np.float32)
    save(conv_graph("grouped", [1, 2, 5, 5], w, [1, 4, 3, 3], b,
                    group=2, pads=[1, 0, 1, 0], strides=[2, 1]), path)


def depthwise_same(path):
    # Depthwise 3x3 with stride 2 and SAME_UPPER: out = ceil(5 / 2) = 3,
    # total padding (3 - 1) * 2 + 3 - 5 = 2, one on each side.
    w = np.ones((3, 1, 3, 3), dtype=np.float32)
    save(conv_graph("depthwise", [1, 3, 5, 5], w, [1, 3, 3, 3],
                    group=3, auto_pad="SAME_UPPER", strides=[2, 2]), path)


def conv_1d(path):
    # 1-D, dilation 2, kernel_shape from the weights: 8 - 2 * (3 - 1) = 4.
    w = np.ones((2, 1, 3), dtype=np.float32)
    save(conv_graph("conv1d", [1, 1, 8], w, [1, 2, 4], dilations=[2]), path)


def transpose(path):
    # ConvTranspose with stride 2: [1, 1, 3, 3] -> (3 - 1) * 2 + 3 = 7.
    w = np.ones((1, 2, 3, 3), dtype=np.float32)
    save(conv_graph("up", [1, 1, 3, 3], w, [1, 2, 7, 7], op="ConvTranspose",
                    strides=[2, 2]), path)


def integer(path):
    # uint8 x with a scalar zero point, int8 w with one per output channel.
    x_zp = numpy_helper.from_array(np.array(3, dtype=np.uint8), "x_zp")
    w = numpy_helper.from_array(np.ones((2, 1, 2, 2), dtype=np.int8), "w")
    w_zp = numpy_helper.from_array(np.array([0, 1], dtype=np.int8), "w_zp")
    graph = helper.make_graph(
        [helper.make_node("ConvInteger", ["x", "w", "x_zp", "w_zp"], ["y"], name="qconv")],
        "conv_integer",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 1, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 2, 2, 2])],
        [x_zp, w, w_zp],
    )
    save(graph, path)


def bad_group(path):
    w = np.ones((3, 1, 3, 3), dtype=np.float32)
    save(conv_graph("bad_group", [1, 2, 5, 5], w, [1, 3, 3, 3], group=3), path)


def bad_bias(path):
    w = np.ones((4, 2, 1, 1), dtype=np.float32)
    b = np.ones((3,), dtype=np.float32)
    save(conv_graph("bad_bias", [1, 2, 5, 5], w, [1, 4, 5, 5], b), path)


dispatch({
    "grouped": grouped,
    "depthwise_same": depthwise_same,
    "conv_1d": conv_1d,
    "transpose": transpose,
    "integer": integer,
    "bad_group": bad_group,
    "bad_bias": bad_bias,
})
