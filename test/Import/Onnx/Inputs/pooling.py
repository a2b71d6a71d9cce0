"""Pooling models: MaxPool with ceil_mode, AveragePool with pads (padding
not counted), GlobalAveragePool, MaxPool on uint8 with Indices, LpPool,
and a MaxPool without kernel_shape."""

from onnx import TensorProto, helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def pool_graph(op, x_shape, y_shapes, elem=F, **attrs):
    outputs = ["y", "indices"][: len(y_shapes)]
    types = [elem, TensorProto.INT64]
    return helper.make_graph(
        [helper.make_node(op, ["x"], outputs, name=op.lower(), **attrs)],
        op.lower(),
        [helper.make_tensor_value_info("x", elem, x_shape)],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in zip(outputs, types, y_shapes)],
    )


def max_ceil(path):
    # 2x2 windows with stride 2 over 5 columns: ceil((5 - 2) / 2) + 1 = 3
    # outputs, the last window hanging one column past the input.
    save(pool_graph("MaxPool", [1, 1, 4, 5], [[1, 1, 2, 3]],
                    kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), path)


def average_pads(path):
    # 3x3 windows, stride 1, one element of padding: the corners see 4
    # input elements, the edges 6, the middle 9.
    save(pool_graph("AveragePool", [1, 2, 4, 4], [[1, 2, 4, 4]],
                    kernel_shape=[3, 3], pads=[1, 1, 1, 1]), path)


def global_average(path):
    save(pool_graph("GlobalAveragePool", [1, 3, 4, 6], [[1, 3, 1, 1]]), path)


def max_uint8_indices(path):
    save(pool_graph("MaxPool", [1, 1, 4, 4], [[1, 1, 2, 2], [1, 1, 2, 2]],
                    elem=TensorProto.UINT8, kernel_shape=[2, 2], strides=[2, 2]), path)


def lp(path):
    save(pool_graph("LpPool", [1, 1, 6], [[1, 1, 5]], kernel_shape=[2], p=2), path)


def no_kernel(path):
    save(pool_graph("MaxPool", [1, 1, 4, 4], [[1, 1, 4, 4]]), path)


dispatch({
    "max_ceil": max_ceil,
    "average_pads": average_pads,
    "global_average": global_average,
    "max_uint8_indices": max_uint8_indices,
    "lp": lp,
    "no_kernel": no_kernel,
})
