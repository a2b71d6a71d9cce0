"""Models for the tensor-op importer tests: data movement (Concat, Split,
Slice, Gather, Pad, Tile, Expand, Trilu, reshaping ops), shape subgraphs
that must fold to constants, and the parameters that must be constant."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def ints(name, *values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.int64), name)


def model(path, nodes, inputs, outputs, inits=(), opset=17):
    """One graph; `inputs`/`outputs` are (name, elem_type, shape) triples."""
    graph = helper.make_graph(
        nodes, "tensor_ops",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        list(inits))
    save(graph, path, opset=opset)


def concat(path):
    model(path, [helper.make_node("Concat", ["a", "b"], ["y"], name="concat", axis=-1)],
          [("a", F, [2, 3]), ("b", F, [2, 1])], [("y", F, None)])


def shape_subgraph(path):
    # y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): all
    # shape ops fold, leaving only the reshape of x.
    n = helper.make_node
    model(path, [
        n("Shape", ["x"], ["shape"], name="shape"),
        n("Gather", ["shape", "zero"], ["batch"], name="gather"),
        n("Unsqueeze", ["batch", "axes"], ["batch1"], name="unsqueeze"),
        n("Concat", ["batch1", "minus_one"], ["new_shape"], name="concat", axis=0),
        n("Reshape", ["x", "new_shape"], ["y"], name="reshape"),
        n("Slice", ["shape", "one", "three"], ["tail"], name="slice"),
        n("ConstantOfShape", ["tail"], ["fill"], name="fill",
          value=numpy_helper.from_array(np.array([7], dtype=np.int64))),
        n("Size", ["x"], ["count"], name="size"),
    ], [("x", F, [2, 3, 4])],
        [("y", F, None), ("fill", I64, None), ("count", I64, None)],
        [scalar("zero", 0), ints("axes", 0), ints("minus_one", -1), ints("one", 1),
         ints("three", 3)], opset=13)


def split(path):
    model(path, [helper.make_node("Split", ["x"], ["a", "b"], name="split", axis=1,
                                  num_outputs=2)],
          [("x", F, [2, 5])], [("a", F, None), ("b", F, None)], opset=18)


def slice_steps(path):
    n = helper.make_node
    model(path, [
        n("Slice", ["x", "s", "e", "a", "st"], ["fwd"], name="forward"),
        n("Slice", ["x", "rs", "re", "ra", "rst"], ["back"], name="backward"),
    ], [("x", F, [4, 6])], [("fwd", F, None), ("back", F, None)],
        [ints("s", 1, -100), ints("e", 1000, 5), ints("a", 0, 1), ints("st", 2, 1),
         ints("rs", -1), ints("re", -100), ints("ra", 1), ints("rst", -2)], opset=13)


def gather(path):
    n = helper.make_node
    model(path, [
        n("Gather", ["x", "last"], ["picked"], name="gather_scalar", axis=1),
        n("Gather", ["x", "ids"], ["rows"], name="gather_runtime", axis=0),
        n("GatherElements", ["x", "elems"], ["elements"], name="gather_elements", axis=1),
    ], [("x", F, [4, 6]), ("ids", I64, [3]), ("elems", I64, [4, 2])],
        [("picked", F, None), ("rows", F, None), ("elements", F, None)],
        [scalar("last", -1)], opset=13)


def pad(path):
    n = helper.make_node
    model(path, [
        n("Pad", ["x", "pads", "value"], ["constant"], name="pad_constant"),
        n("Pad", ["x", "pads"], ["reflect"], name="pad_reflect", mode="reflect"),
    ], [("x", F, [3, 4])], [("constant", F, None), ("reflect", F, None)],
        [ints("pads", 1, 0, 0, 2),
         numpy_helper.from_array(np.array(0.5, dtype=np.float32), "value")], opset=13)


def center_crop_pad(path):
    # [5, 4] -> [3, 7]: axis 0 cropped by 1 at each end, axis 1 padded by 1
    # before and 2 after.
    model(path, [helper.make_node("CenterCropPad", ["x", "shape"], ["y"], name="ccp")],
          [("x", F, [5, 4])], [("y", F, [3, 7])], [ints("shape", 3, 7)], opset=18)


def tile_expand(path):
    n = helper.make_node
    model(path, [
        n("Tile", ["x", "repeats"], ["tiled"], name="tile"),
        n("Expand", ["x", "shape"], ["expanded"], name="expand"),
    ], [("x", F, [2, 1])], [("tiled", F, None), ("expanded", F, None)],
        [ints("repeats", 3, 2), ints("shape", 4, 2, 5)], opset=13)


def reshaping(path):
    n = helper.make_node
    model(path, [
        n("Squeeze", ["x"], ["squeezed"], name="squeeze", axes=[0]),
        n("Unsqueeze", ["x"], ["unsqueezed"], name="unsqueeze", axes=[-1]),
        n("Flatten", ["x"], ["flat"], name="flatten", axis=2),
    ], [("x", F, [1, 3, 4])],
        [("squeezed", F, None), ("unsqueezed", F, None), ("flat", F, None)], opset=11)


def trilu(path):
    model(path, [helper.make_node("Trilu", ["x", "k"], ["y"], name="trilu", upper=0)],
          [("x", I64, [3, 4]), ("k", I64, [])], [("y", I64, None)], opset=14)


def range_fold(path):
    model(path, [helper.make_node("Range", ["start", "limit", "delta"], ["y"], name="range")],
          [], [("y", I64, None)],
          [scalar("start", 10), scalar("limit", 3), scalar("delta", -3)], opset=11)


def dynamic_slice(path):
    model(path, [helper.make_node("Slice", ["x", "starts", "ends"], ["y"], name="slice")],
          [("x", F, [4]), ("starts", I64, [1])], [("y", F, None)], [ints("ends", 3)],
          opset=13)


def gather_out_of_range(path):
    model(path, [helper.make_node("Gather", ["x", "i"], ["y"], name="gather")],
          [("x", F, [4, 2])], [("y", F, None)], [ints("i", 1, 4)], opset=13)


def unsqueeze_twice(path):
    model(path, [helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="unsqueeze")],
          [("x", F, [4])], [("y", F, None)], [ints("axes", 0, -3)], opset=13)


def wrap_before_19(path):
    model(path, [helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode="wrap")],
          [("x", F, [4])], [("y", F, None)], [ints("pads", 1, 1)], opset=18)


def squeeze_non_unit(path):
    model(path, [helper.make_node("Squeeze", ["x", "axes"], ["y"], name="squeeze")],
          [("x", F, [2, 3])], [("y", F, None)], [ints("axes", 1)], opset=13)


dispatch({
    "concat": concat,
    "shape_subgraph": shape_subgraph,
    "split": split,
    "slice_steps": slice_steps,
    "gather": gather,
    "pad": pad,
    "center_crop_pad": center_crop_pad,
    "tile_expand": tile_expand,
    "reshaping": reshaping,
    "trilu": trilu,
    "range_fold": range_fold,
    "dynamic_slice": dynamic_slice,
    "gather_out_of_range": gather_out_of_range,
    "unsqueeze_twice": unsqueeze_twice,
    "wrap_before_19": wrap_before_19,
    "squeeze_non_unit": squeeze_non_unit,
})
