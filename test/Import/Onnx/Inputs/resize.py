"""Resize and Upsample models: nearest upsampling as PaddleOCR exports it,
bilinear resizing to given sizes, Upsample-9, and scales that are not
constants or are given together with sizes."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def resize_graph(name, x_shape, y_shape, inputs, inits, op="Resize", extra_inputs=(), **attrs):
    return helper.make_graph(
        [helper.make_node(op, inputs, ["y"], name=name, **attrs)],
        name,
        [helper.make_tensor_value_info("x", F, x_shape), *extra_inputs],
        [helper.make_tensor_value_info("y", F, y_shape)],
        inits,
    )


def tensor(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def nearest_floor(path):
    # Opset 11 with an empty roi: y[h, w] = x[h // 2, w // 2].
    save(resize_graph("up2", [1, 1, 2, 3], [1, 1, 4, 6], ["x", "roi", "scales"],
                      [tensor("roi", []), tensor("scales", [1, 1, 2, 2])],
                      mode="nearest", coordinate_transformation_mode="asymmetric",
                      nearest_mode="floor"), path, opset=11)


def linear_sizes(path):
    # half_pixel bilinear 2x2 -> 3x4: each resized axis is its own weighted
    # generic; rows 0.5 / 0.5 at the middle, columns 3/4 and 1/4 pairs.
    save(resize_graph("bilinear", [1, 1, 2, 2], [1, 1, 3, 4], ["x", "", "", "sizes"],
                      [tensor("sizes", [1, 1, 3, 4], np.int64)], mode="linear"),
         path, opset=13)


def upsample9(path):
    save(resize_graph("upsample", [1, 1, 2, 2], [1, 1, 4, 6], ["x", "scales"],
                      [tensor("scales", [1, 1, 2, 3])], op="Upsample"), path, opset=9)


def dynamic_scales(path):
    save(resize_graph("dynamic", [1, 1, 2, 2], [1, 1, 4, 4], ["x", "", "s"], [],
                      extra_inputs=[helper.make_tensor_value_info("s", F, [4])]),
         path, opset=13)


def scales_and_sizes(path):
    save(resize_graph("both", [1, 1, 2, 2], [1, 1, 4, 4], ["x", "", "scales", "sizes"],
                      [tensor("scales", [1, 1, 2, 2]),
                       tensor("sizes", [1, 1, 4, 4], np.int64)]), path, opset=13)


dispatch({
    "nearest_floor": nearest_floor,
    "linear_sizes": linear_sizes,
    "upsample9": upsample9,
    "dynamic_scales": dynamic_scales,
    "scales_and_sizes": scales_and_sizes,
})
