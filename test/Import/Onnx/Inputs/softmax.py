"""Softmax on a [2, 3, 4] input under opset 11 (flatten to 2-D at axis,
default axis 1) and opset 13 (along one axis, default -1)."""


from onnx import TensorProto, helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def build(path, opset, axis=None):
    attrs = {} if axis is None else {"axis": axis}
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], name="softmax", **attrs)],
        "softmax",
        [helper.make_tensor_value_info("x", F, [2, 3, 4])],
        [helper.make_tensor_value_info("y", F, [2, 3, 4])],
    )
    save(graph, path, opset=opset)


dispatch({
    "opset11_default": lambda path: build(path, 11),
    "opset11_axis2": lambda path: build(path, 11, axis=2),
    "opset13_default": lambda path: build(path, 13),
    "opset13_axis1": lambda path: build(path, 13, axis=1),
    "opset13_axis3": lambda path: build(path, 13, axis=3),
})
