"""Einsum models: a batched matmul, an implicit-output equation, ellipses
(with a broadcast dim), a diagonal, and mismatched letter sizes."""

from onnx import TensorProto, helper

from onnx_test_util import args, save

F = TensorProto.FLOAT


def einsum(path, equation, shapes, out_shape):
    inputs = [helper.make_tensor_value_info(f"x{i}", F, s) for i, s in enumerate(shapes)]
    node = helper.make_node("Einsum", [i.name for i in inputs], ["y"], name="einsum",
                            equation=equation)
    graph = helper.make_graph([node], "einsum", inputs,
                              [helper.make_tensor_value_info("y", F, out_shape)])
    save(graph, path, opset=12)


path, variant = args()
{
    "batch_matmul": lambda: einsum(path, "bij, bjk -> bik", [[2, 3, 4], [2, 4, 5]], [2, 3, 5]),
    "implicit": lambda: einsum(path, "ij,jk", [[3, 4], [4, 5]], [3, 5]),
    "ellipsis": lambda: einsum(path, "...ij->...ji", [[2, 3, 4]], None),
    "diagonal": lambda: einsum(path, "ii->i", [[3, 3]], [3]),
    "broadcast": lambda: einsum(path, "...ij,...jk->...ik", [[2, 1, 3, 4], [5, 4, 6]],
                                [2, 5, 3, 6]),
    "bad_sizes": lambda: einsum(path, "ij,jk->ik", [[3, 4], [5, 6]], [3, 6]),
}[variant]()
