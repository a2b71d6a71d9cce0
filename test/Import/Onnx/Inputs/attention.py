"""Attention (opset 23) graphs: grouped-query attention with a KV cache and
a causal mask, 3-D inputs split into heads, and malformed nodes; and
RotaryEmbedding with position ids, and with an odd rotary dimension."""


from onnx import TensorProto, helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT
BOOL = TensorProto.BOOL


def build(path, inputs, outputs, node_inputs, node_outputs, **attrs):
    graph = helper.make_graph(
        [helper.make_node("Attention", node_inputs, node_outputs, name="attn", **attrs)],
        "attention",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )
    save(graph, path, opset=23)


def gqa_cache(path):
    # 4 query heads share 2 KV heads; 3 cached positions + 2 new ones.
    build(path,
          [("q", F, [1, 4, 2, 8]), ("k", F, [1, 2, 2, 8]), ("v", F, [1, 2, 2, 6]),
           ("past_k", F, [1, 2, 3, 8]), ("past_v", F, [1, 2, 3, 6])],
          [("y", F, [1, 4, 2, 6]), ("present_k", F, [1, 2, 5, 8]),
           ("present_v", F, [1, 2, 5, 6])],
          ["q", "k", "v", "", "past_k", "past_v"], ["y", "present_k", "present_v"],
          is_causal=1)


def heads_3d(path, q_heads=2, kv_heads=2, mask_type=None, q_hidden=8):
    inputs = [("q", F, [1, 3, q_hidden]), ("k", F, [1, 5, 8]), ("v", F, [1, 5, 8])]
    names = ["q", "k", "v"]
    if mask_type is not None:
        inputs.append(("mask", mask_type, [3, 5]))
        names.append("mask")
    attrs = {}
    if q_heads:
        attrs["q_num_heads"] = q_heads
    if kv_heads:
        attrs["kv_num_heads"] = kv_heads
    build(path, inputs, [("y", F, [1, 3, q_hidden])], names, ["y"], **attrs)


def rotary(path, rotary_dim=0):
    graph = helper.make_graph(
        [helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], name="rope",
                          rotary_embedding_dim=rotary_dim)],
        "rotary",
        [helper.make_tensor_value_info("x", F, [1, 2, 3, 8]),
         helper.make_tensor_value_info("cos", F, [16, 4]),
         helper.make_tensor_value_info("sin", F, [16, 4]),
         helper.make_tensor_value_info("pos", TensorProto.INT64, [1, 3])],
        [helper.make_tensor_value_info("y", F, [1, 2, 3, 8])],
    )
    save(graph, path, opset=23)


dispatch({
    "rotary": rotary,
    "rotary_odd_dim": lambda path: rotary(path, rotary_dim=3),
    "gqa_cache": gqa_cache,
    "heads_3d": lambda path: heads_3d(path, mask_type=BOOL),
    "no_heads": lambda path: heads_3d(path, q_heads=0),
    "uneven_groups": lambda path: heads_3d(path, q_heads=3, kv_heads=2, q_hidden=12),
    "int_mask": lambda path: heads_3d(path, mask_type=TensorProto.INT32),
})
