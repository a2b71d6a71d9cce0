"""One-node Reduce*, ArgMax/ArgMin and LogSoftmax models on a [2, 3, 4]
input: axes as an attribute (older opsets) or a constant input (ReduceSum
from opset 13, the others from opset 18), keepdims, noop_with_empty_axes."""

from onnx import TensorProto, helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT
U8 = TensorProto.UINT8
I32 = TensorProto.INT32
I64 = TensorProto.INT64


def build(path, op, out_shape, opset, axes_input=None, axes_as_graph_input=False,
          x_type=F, out_type=None, **attrs):
    """`op` on x: [2, 3, 4]; `axes_input` becomes an initializer (or a graph
    input) named "axes"."""
    inputs = ["x"]
    graph_inputs = [helper.make_tensor_value_info("x", x_type, [2, 3, 4])]
    initializers = []
    if axes_input is not None:
        inputs.append("axes")
        if axes_as_graph_input:
            graph_inputs.append(helper.make_tensor_value_info("axes", I64, [len(axes_input)]))
        else:
            initializers.append(helper.make_tensor("axes", I64, [len(axes_input)], axes_input))
    node = helper.make_node(op, inputs, ["y"], name=op.lower(), **attrs)
    graph = helper.make_graph(
        [node], op.lower(), graph_inputs,
        [helper.make_tensor_value_info("y", out_type or x_type, out_shape)],
        initializer=initializers,
    )
    save(graph, path, opset=opset)


dispatch({
    "mean_attr_axes": lambda p: build(p, "ReduceMean", [2, 1, 4], 13, axes=[1]),
    "sum_input_axes": lambda p: build(p, "ReduceSum", [2, 3], 13, axes_input=[-1], keepdims=0),
    "max_uint8_all": lambda p: build(p, "ReduceMax", [], 18, x_type=U8, keepdims=0),
    "sum_square_noop": lambda p: build(p, "ReduceSumSquare", [2, 3, 4], 18,
                                       noop_with_empty_axes=1),
    "l2": lambda p: build(p, "ReduceL2", [1, 3, 1], 18, axes_input=[0, 2]),
    "log_sum_exp": lambda p: build(p, "ReduceLogSumExp", [2, 3, 1], 18, axes_input=[2]),
    "runtime_axes": lambda p: build(p, "ReduceMean", [2, 1, 4], 18, axes_input=[1],
                                    axes_as_graph_input=True),
    "bad_axis": lambda p: build(p, "ReduceProd", [2, 3, 4], 13, axes=[3]),
    "argmax_last": lambda p: build(p, "ArgMax", [2, 1, 4], 13, out_type=I64, axis=1,
                                   select_last_index=1),
    "argmin_int32": lambda p: build(p, "ArgMin", [2, 3], 13, x_type=I32, out_type=I64,
                                    axis=-1, keepdims=0),
    "logsoftmax11": lambda p: build(p, "LogSoftmax", [2, 3, 4], 11),
    "logsoftmax13": lambda p: build(p, "LogSoftmax", [2, 3, 4], 13),
})
