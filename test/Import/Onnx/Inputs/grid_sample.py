"""GridSample graphs: cubic over a 2-D image, and cubic over a 3-D volume
(which nibble, like the ONNX reference, refuses)."""

from onnx import TensorProto, helper

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


dispatch({
    "cubic_2d": lambda path: cubic(path, 2),
    "cubic_3d": lambda path: cubic(path, 3),
})
