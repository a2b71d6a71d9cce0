"""GridSample graphs: cubic over a 2-D image, and cubic over a 3-D volume
(which nibble, like the ONNX reference, refuses); AffineGrid with a
constant size, and with a theta of the wrong shape."""

from onnx import TensorProto, helper, numpy_helper
import numpy as np

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def cubic(path, spatial):
    x_shape = [1, 1] + [4] * spatial
    grid_shape = [1] + [2] * spatial + [spatial]
    out_shape = [1, 1] + [2] * spatial
    graph = helper.make_graph(
        [helper.make_node("GridSample", ["x", "grid"], ["y"], name="sample", mode="cubic",
                          padding_mode="border")],
        "grid_sample",
        [helper.make_tensor_value_info("x", F, x_shape),
         helper.make_tensor_value_info("grid", F, grid_shape)],
        [helper.make_tensor_value_info("y", F, out_shape)],
    )
    save(graph, path, opset=20)


def affine_grid(path, theta_shape):
    size = numpy_helper.from_array(np.array([2, 3, 4, 5], dtype=np.int64), "size")
    graph = helper.make_graph(
        [helper.make_node("AffineGrid", ["theta", "size"], ["grid"], name="affine")],
        "affine_grid",
        [helper.make_tensor_value_info("theta", F, theta_shape)],
        [helper.make_tensor_value_info("grid", F, [2, 4, 5, 2])],
        [size],
    )
    save(graph, path, opset=20)


dispatch({
    "affine_grid": lambda path: affine_grid(path, [2, 2, 3]),
    "affine_grid_bad_theta": lambda path: affine_grid(path, [2, 3, 4]),
    "cubic_2d": lambda path: cubic(path, 2),
    "cubic_3d": lambda path: cubic(path, 3),
})
