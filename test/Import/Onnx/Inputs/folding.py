"""Models whose parameters come out of shape arithmetic, as exporters write
them: the importer must fold these to constants."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import args, save

F = TensorProto.FLOAT


def expand_from_where(path):
    # Shape(x) -> Cast -> Equal(-1) -> Where(ones, shape) -> Expand: the
    # pattern a PyTorch export of `x.expand(...)` produces.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Equal", ["shape", "minus_one"], ["is_neg"], name="is_neg"),
        helper.make_node("Where", ["is_neg", "ones", "shape"], ["target"], name="where"),
        helper.make_node("Mul", ["target", "twos"], ["doubled"], name="double"),
        helper.make_node("Expand", ["bias", "doubled"], ["y"], name="expand"),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1, -1], dtype=np.int64), "minus_one"),
        numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "ones"),
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "twos"),
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), "bias"),
    ]
    graph = helper.make_graph(nodes, "fold_expand",
                              [helper.make_tensor_value_info("x", F, [3, 4])],
                              [helper.make_tensor_value_info("y", F, None)], inits)
    save(graph, path, opset=17)


def large_stays_ir(path):
    # A 128 x 64 weight times 2: larger than what the importer folds (it is
    # a weight, not shape arithmetic), so it stays a linalg.generic.
    w = numpy_helper.from_array(np.ones((128, 64), dtype=np.float32), "w")
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    graph = helper.make_graph([helper.make_node("Mul", ["w", "two"], ["y"], name="scale")],
                              "fold_large", [], [helper.make_tensor_value_info("y", F, [128, 64])],
                              [w, two])
    save(graph, path, opset=17)


path, variant = args()
{"expand_from_where": expand_from_where, "large_stays_ir": large_stays_ir}[variant](path)
