"""com.microsoft MatMulNBits models: 4-bit weights in blocks along K, with
and without packed zero points, an 8-bit weight, a bias, and malformed
variants.

B is uint8 [N, ceil(K / block_size), block_size * bits / 8], two 4-bit
values per byte, low nibble first; scales are [N * n_blocks] floats; zero
points are packed like B (default 2^(bits - 1) when absent)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_test_util import dispatch, save

F = TensorProto.FLOAT


def pack4(values):
    """Packs uint4 values (last axis even) two per byte, low nibble first."""
    values = np.asarray(values, dtype=np.uint8)
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


def column_values(n, k):
    # Column 0 counts 0..15 up each block, column 1 down from 15.
    return np.array([[(kk % 16) if col == 0 else 15 - (kk % 16) for kk in range(k)]
                     for col in range(n)], dtype=np.uint8)


def build(path, k=32, n=2, block=16, bits=4, zero_points=None, bias=False,
          g_idx=False, attrs=None, name="nbits", elem_type=F):
    dtype = {F: np.float32, TensorProto.FLOAT16: np.float16}.get(elem_type, np.float32)
    n_blocks = -(-k // block)
    q = column_values(n, k)                                  # [N, K]
    if bits == 4:
        b = pack4(q.reshape(n, n_blocks, block))             # [N, n_blocks, block / 2]
    else:
        b = q.reshape(n, n_blocks, block) + 100              # 100..115, 115..100
    # scales[n][blk] = 1 + n_blocks * n + blk: 1, 2 for column 0; 3, 4 for column 1.
    scales = np.arange(1, n * n_blocks + 1, dtype=dtype)
    inits = [numpy_helper.from_array(b.astype(np.uint8), "B"),
             numpy_helper.from_array(scales, "scales")]
    inputs = ["A", "B", "scales"]
    if zero_points is not None:
        inits.append(numpy_helper.from_array(np.asarray(zero_points, dtype=np.uint8), "zp"))
        inputs.append("zp")
    if g_idx:
        inputs += [""] * (3 - len(inputs) + 1)
        inputs.append("g_idx")
        inits.append(numpy_helper.from_array(np.zeros(k, dtype=np.int32), "g_idx"))
    if bias:
        while len(inputs) < 5:
            inputs.append("")
        inputs.append("bias")
        inits.append(numpy_helper.from_array(np.array([0.5, -0.5], dtype=dtype), "bias"))
    attributes = dict(K=k, N=n, bits=bits, block_size=block)
    attributes.update(attrs or {})
    attributes = {key: value for key, value in attributes.items() if value is not None}
    node = helper.make_node("MatMulNBits", inputs, ["Y"], name=name,
                            domain="com.microsoft", **attributes)
    graph = helper.make_graph(
        [node], "matmulnbits",
        [helper.make_tensor_value_info("A", elem_type, [3, k])],
        [helper.make_tensor_value_info("Y", elem_type, [3, n])],
        inits,
    )
    save(graph, path, extra_opsets=[("com.microsoft", 1)])


dispatch({
    # K = 32 in two blocks of 16, default zero point 8: signed int4 groups.
    "int4_blocks": lambda path: build(path),
    # Zero points per (column, block), packed: column 0 has 3 and 5 (0x53),
    # column 1 has 10 and 12 (0xCA).
    "int4_zero_points": lambda path: build(path, zero_points=[0x53, 0xCA]),
    # One block covers K: one scale per column.
    "int8_one_block": lambda path: build(path, k=16, bits=8),
    "int4_bias": lambda path: build(path, bias=True),
    "g_idx": lambda path: build(path, g_idx=True),
    # float16 A, scales and bias (how GPU language models are exported).
    "float16_bias": lambda path: build(path, bias=True, elem_type=TensorProto.FLOAT16),
    "float64": lambda path: build(path, elem_type=TensorProto.DOUBLE),
    "bits_3": lambda path: build(path, attrs={"bits": 3}),
    "block_8": lambda path: build(path, k=32, block=8, attrs={"block_size": 8}),
    "missing_k": lambda path: build(path, attrs={"K": None}),
})
