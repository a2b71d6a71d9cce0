"""Models the importer must reject with one clear line: an unsupported op,
a symbolic dimension, a missing default opset, an unknown domain, a graph
that is not topologically sorted. `garbage` writes a file that is not a
protobuf at all."""

import onnx
from onnx import TensorProto, helper

from onnx_test_util import IR_VERSION, args, save

F = TensorProto.FLOAT


def relu_graph(nodes=None, x_shape=(2, 3)):
    nodes = nodes or [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    return helper.make_graph(
        nodes, "errors",
        [helper.make_tensor_value_info("x", F, list(x_shape))],
        [helper.make_tensor_value_info("y", F, list(x_shape))],
    )


def unsupported_op(path):
    save(relu_graph([helper.make_node("Det", ["x"], ["y"], name="determinant")]), path)


def symbolic_dim(path):
    save(relu_graph(x_shape=("batch", 3)), path)


def no_default_opset(path):
    model = helper.make_model(relu_graph(), ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, path)


def unknown_domain(path):
    node = helper.make_node("Relu", ["x"], ["y"], name="custom", domain="com.example")
    save(relu_graph([node]), path)


def unsupported_microsoft_op(path):
    node = helper.make_node("FusedGemm", ["x", "x"], ["y"], name="fused",
                            domain="com.microsoft")
    save(relu_graph([node]), path, extra_opsets=[("com.microsoft", 1)])


def unsorted(path):
    # "t" is used before the node that produces it.
    nodes = [helper.make_node("Relu", ["t"], ["y"], name="second"),
             helper.make_node("Relu", ["x"], ["t"], name="first")]
    save(relu_graph(nodes), path)


def garbage(path):
    with open(path, "wb") as f:
        f.write(b"this is not an onnx model\xff\xff\xff")


BUILDERS = {
    "unsupported_op": unsupported_op,
    "symbolic_dim": symbolic_dim,
    "no_default_opset": no_default_opset,
    "unknown_domain": unknown_domain,
    "unsupported_microsoft_op": unsupported_microsoft_op,
    "unsorted": unsorted,
    "garbage": garbage,
}

if __name__ == "__main__":
    out, variant = args()
    if variant not in BUILDERS:
        raise SystemExit(f"unknown variant {variant!r}; choose one of {sorted(BUILDERS)}")
    BUILDERS[variant](out)
