"""One-node models of the elementwise and math ops: each variant names the
op, the operand types and the opset whose semantics the test checks."""

from onnx import TensorProto, helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT
I8 = TensorProto.INT8
U8 = TensorProto.UINT8
I32 = TensorProto.INT32
I64 = TensorProto.INT64
B = TensorProto.BOOL


def build(path, op, inputs, out_type, out_shape, opset=17, **attrs):
    """`op` over graph inputs `inputs` ([(name, type, shape)], "" = an
    omitted optional input) with one output "y"."""
    node = helper.make_node(op, [name for name, _, _ in inputs], ["y"],
                            name=op.lower(), **attrs)
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs if n],
        [helper.make_tensor_value_info("y", out_type, out_shape)],
    )
    save(graph, path, opset=opset)


X = ("x", F, [2, 3])

dispatch({
    # Clip bounds: attributes before opset 11, optional inputs after.
    "clip_opset6": lambda p: build(p, "Clip", [X], F, [2, 3], opset=6, min=-1.0, max=2.0),
    "clip_opset13_min_only": lambda p: build(
        p, "Clip", [("x", I8, [2, 3]), ("lo", I8, [])], I8, [2, 3], opset=13),
    "clip_opset13_uint8": lambda p: build(
        p, "Clip", [("x", U8, [2, 3]), ("lo", U8, []), ("hi", U8, [])], U8, [2, 3], opset=13),
    # An int base with a float exponent is computed in float64.
    "pow_int_float": lambda p: build(p, "Pow", [("x", I32, [3]), ("e", F, [3])], I32, [3]),
    "cast_float_to_uint8": lambda p: build(p, "Cast", [X], U8, [2, 3], to=U8),
    "cast_uint8_to_int32": lambda p: build(p, "Cast", [("x", U8, [2, 3])], I32, [2, 3], to=I32),
    "cast_float_to_bool": lambda p: build(p, "Cast", [X], B, [2, 3], to=B),
    "cast_to_string": lambda p: build(p, "Cast", [X], TensorProto.STRING, [2, 3],
                                      to=TensorProto.STRING),
    "castlike_bool_to_float": lambda p: build(
        p, "CastLike", [("x", B, [2, 3]), ("like", F, [1])], F, [2, 3]),
    "gelu_tanh": lambda p: build(p, "Gelu", [X], F, [2, 3], opset=20, approximate="tanh"),
    "gelu_bad": lambda p: build(p, "Gelu", [X], F, [2, 3], opset=20, approximate="fast"),
    "hardswish": lambda p: build(p, "HardSwish", [X], F, [2, 3], opset=14),
    "sign_int32": lambda p: build(p, "Sign", [("x", I32, [4])], I32, [4]),
    # Mod: Python-style for integers (fmod=0), C fmod for floats.
    "mod_int64": lambda p: build(p, "Mod", [("a", I64, [4]), ("b", I64, [4])], I64, [4]),
    "mod_float_fmod": lambda p: build(p, "Mod", [("a", F, [4]), ("b", F, [4])], F, [4], fmod=1),
    "less_uint8": lambda p: build(p, "Less", [("a", U8, [2, 3]), ("b", U8, [3])], B, [2, 3]),
    "max_three": lambda p: build(p, "Max", [("a", F, [2, 3]), ("b", F, [3]), ("c", F, [])],
                                 F, [2, 3]),
    "mean_two": lambda p: build(p, "Mean", [("a", F, [2, 3]), ("b", F, [2, 3])], F, [2, 3]),
    "where": lambda p: build(p, "Where", [("c", B, [2, 1]), ("a", I64, [3]), ("b", I64, [2, 3])],
                             I64, [2, 3]),
    "where_bad_condition": lambda p: build(
        p, "Where", [("c", F, [2, 3]), ("a", F, [2, 3]), ("b", F, [2, 3])], F, [2, 3]),
    "not": lambda p: build(p, "Not", [("x", B, [2, 3])], B, [2, 3]),
})
