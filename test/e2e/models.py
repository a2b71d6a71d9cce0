"""Builders of the ONNX models the end-to-end tests compile.

Every builder returns a fresh ``onnx.ModelProto`` made with ``onnx.helper`` from
a fixed seed, so a failure reproduces bit for bit. Models carry IR version 10:
onnxruntime 1.23 refuses anything newer than IR 11, and onnx 1.20 would
otherwise stamp IR 13.

Weights are drawn with standard deviation ``1/sqrt(fan_in)`` so activations stay
of order one through every layer; relative error bounds in the tests then mean
the same thing for every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
DEFAULT_OPSET = 17

_ELEM_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
}


class GraphBuilder:
    """Accumulates nodes, initializers and graph I/O for one model.

    Nodes get readable unique names (``MatMul_0``, ``Add_1``, ...) and each
    node's output is named after it, so compiler errors that cite a node name
    can be traced back to the line that built it.
    """

    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[onnx.TensorProto] = []
        self._inputs: list[onnx.ValueInfoProto] = []
        self._outputs: list[onnx.ValueInfoProto] = []
        self._counter = 0

    def _fresh(self, stem: str) -> str:
        name = f"{stem}_{self._counter}"
        self._counter += 1
        return name

    def input(self, name: str, dtype, shape) -> str:
        """Declares a graph input; ``shape`` entries may be str (symbolic)."""
        self._inputs.append(
            helper.make_tensor_value_info(name, _ELEM_TYPES[np.dtype(dtype)], shape)
        )
        return name

    def output(self, name: str, dtype, shape=None) -> None:
        self._outputs.append(
            helper.make_tensor_value_info(name, _ELEM_TYPES[np.dtype(dtype)], shape)
        )

    def const(self, value, stem: str = "c") -> str:
        """Adds an initializer; numpy arrays keep their dtype (int4 included)."""
        name = self._fresh(stem)
        self._initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def f32(self, value, stem: str = "c") -> str:
        return self.const(np.asarray(value, dtype=np.float32), stem)

    def i64(self, value, stem: str = "shape") -> str:
        return self.const(np.asarray(value, dtype=np.int64), stem)

    def weight(self, *shape: int, fan_in: int | None = None) -> str:
        """A Gaussian weight with std 1/sqrt(fan_in) (fan_in defaults to shape[0])."""
        fan_in = fan_in or shape[0]
        w = self.rng.standard_normal(shape) / math.sqrt(fan_in)
        return self.f32(w, "w")

    def bias(self, n: int) -> str:
        return self.f32(0.1 * self.rng.standard_normal(n), "b")

    def op(self, op_type: str, *inputs: str, out: str | None = None,
           name: str | None = None, domain: str | None = None, **attrs) -> str:
        """Adds one single-output node and returns its output name."""
        name = name or self._fresh(op_type)
        out = out or f"{name}_out"
        self._nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=name,
                             domain=domain, **attrs)
        )
        return out

    def linear(self, x: str, d_in: int, d_out: int, out: str | None = None) -> str:
        """MatMul by a constant weight then Add a constant bias."""
        return self.op("Add", self.op("MatMul", x, self.weight(d_in, d_out)),
                       self.bias(d_out), out=out)

    def build(self, opset: int = DEFAULT_OPSET,
              extra_opsets: dict[str, int] | None = None) -> onnx.ModelProto:
        opsets = [helper.make_opsetid("", opset)]
        opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
        graph = helper.make_graph(self._nodes, self.name, self._inputs,
                                  self._outputs, self._initializers)
        return helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION,
                                 producer_name="nibble-e2e")


def to_float16(model: onnx.ModelProto, bfloat16: bool = False) -> onnx.ModelProto:
    """A copy of `model` with every float32 tensor in float16 (initializers,
    graph inputs and outputs, Constant values, Cast targets), as a float16
    export of the same network looks; in bfloat16 with `bfloat16`."""
    half_type = TensorProto.BFLOAT16 if bfloat16 else TensorProto.FLOAT16

    def narrow_array(values: np.ndarray) -> np.ndarray:
        if bfloat16:
            return values.astype(ml_dtypes.bfloat16)
        # Beyond float16's range (e.g. a -1e9 mask) clamps to its largest
        # finite value, as float16 converters do.
        limit = float(np.finfo(np.float16).max)
        return np.clip(values, -limit, limit).astype(np.float16)

    def narrow(tensor: onnx.TensorProto) -> onnx.TensorProto:
        values = narrow_array(numpy_helper.to_array(tensor))
        if not bfloat16:
            return numpy_helper.from_array(values, tensor.name)
        return helper.make_tensor(tensor.name, half_type, values.shape,
                                  values.view(np.uint16).tobytes(), raw=True)

    half = onnx.ModelProto()
    half.CopyFrom(model)
    graph = half.graph
    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(narrow(tensor))
    for value in [*graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = half_type
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = half_type
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(narrow(attr.t))
    del graph.value_info[:]
    return half


# ---------------------------------------------------------------------------
# Float models
# ---------------------------------------------------------------------------

def mlp(batch: int = 4, d_in: int = 64, hidden: int = 128, mid: int = 96,
        d_out: int = 64, seed: int = 0) -> onnx.ModelProto:
    """A three-layer MLP touching every elementwise op of the float slice.

    x[batch,d_in] -> MatMul+Add -> Relu -> Gemm(transB=1, alpha=0.7, beta=1.3)
    -> GELU via Erf, mixed with Tanh and Sigmoid through Sub/Mul/Div/Add
    -> Reshape/Transpose/Reshape (a channel shuffle) -> Identity
    -> MatMul+Add = "logits" -> Softmax = "probs".
    Two outputs check that every graph output is written, and "logits" keeps
    errors visible that Softmax would squash.
    """
    assert mid % 8 == 0
    g = GraphBuilder("mlp", seed)
    x = g.input("x", np.float32, [batch, d_in])
    h1 = g.op("Relu", g.linear(x, d_in, hidden))
    # Gemm computes alpha * h1 @ W2^T + beta * c; W2 is stored [mid, hidden].
    h2 = g.op("Gemm", h1, g.weight(mid, hidden, fan_in=hidden), g.bias(mid),
              alpha=0.7, beta=1.3, transB=1)
    erf = g.op("Erf", g.op("Div", h2, g.f32(math.sqrt(2.0))))
    gelu = g.op("Mul", g.op("Mul", h2, g.f32(0.5)), g.op("Add", erf, g.f32(1.0)))
    mixed = g.op("Sub", g.op("Add", gelu, g.op("Tanh", h2)), g.op("Sigmoid", h2))
    shuffled = g.op("Reshape", mixed, g.i64([batch, 8, mid // 8]))
    shuffled = g.op("Transpose", shuffled, perm=[0, 2, 1])
    flat = g.op("Identity", g.op("Reshape", shuffled, g.i64([batch, mid])))
    logits = g.linear(flat, mid, d_out, out="logits")
    g.op("Softmax", logits, axis=-1, out="probs")
    g.output("logits", np.float32, [batch, d_out])
    g.output("probs", np.float32, [batch, d_out])
    return g.build()


def large_mlp(seed: int = 10) -> onnx.ModelProto:
    """The MLP with 512x512 weights, so weights dominate the binary's size."""
    return mlp(batch=8, d_in=512, hidden=512, mid=512, d_out=512, seed=seed)


def attention(seq: int = 16, d_model: int = 64, heads: int = 4,
              seed: int = 1) -> onnx.ModelProto:
    """One multi-head self-attention block (no mask), opset 17.

    x[1,S,D] -> Q,K,V = MatMul+Add -> Reshape [1,S,H,Dh] -> Transpose
    (K straight to [1,H,Dh,S]) -> MatMul QK^T (both operands computed, 4-D)
    -> Div sqrt(Dh) -> Softmax(-1) -> MatMul V -> Transpose -> Reshape [1,S,D]
    -> output projection = "y".
    """
    assert d_model % heads == 0
    d_head = d_model // heads
    g = GraphBuilder("attention", seed)
    x = g.input("x", np.float32, [1, seq, d_model])
    split = g.i64([1, seq, heads, d_head])
    q = g.op("Transpose", g.op("Reshape", g.linear(x, d_model, d_model), split),
             perm=[0, 2, 1, 3])
    k_t = g.op("Transpose", g.op("Reshape", g.linear(x, d_model, d_model), split),
               perm=[0, 2, 3, 1])
    v = g.op("Transpose", g.op("Reshape", g.linear(x, d_model, d_model), split),
             perm=[0, 2, 1, 3])
    scores = g.op("Div", g.op("MatMul", q, k_t), g.f32(math.sqrt(d_head)))
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
    merged = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]),
                  g.i64([1, seq, d_model]))
    g.linear(merged, d_model, d_model, out="y")
    g.output("y", np.float32, [1, seq, d_model])
    return g.build()


def large_attention(seed: int = 11) -> onnx.ModelProto:
    """The attention block with D=512 (four 512x512 projections), 8 heads."""
    return attention(seq=16, d_model=512, heads=8, seed=seed)


SYMBOLIC_INPUT_NAME = "features"


def symbolic_batch_mlp(d_in: int = 64, d_out: int = 32, seed: int = 6) -> onnx.ModelProto:
    """MatMul+Add+Relu whose input "features" has a symbolic first dimension
    "batch" (a distinctive input name, so an error message can be searched for it)."""
    g = GraphBuilder("symbolic_batch", seed)
    x = g.input(SYMBOLIC_INPUT_NAME, np.float32, ["batch", d_in])
    g.op("Relu", g.linear(x, d_in, d_out), out="y")
    g.output("y", np.float32, ["batch", d_out])
    return g.build()


# ---------------------------------------------------------------------------
# Pre-quantized models
# ---------------------------------------------------------------------------

QDQ_INPUT_SCALE = 2.0 ** -5
QDQ_INPUT_ZERO_POINT = 128
QDQ_HIDDEN_SCALE = 2.0 ** -4
QDQ_HIDDEN_ZERO_POINT = 3


def _exact_channel_scales(rng, n: int) -> np.ndarray:
    """Per-channel scales of the form {1,3} * 2^-e, e in 8..10.

    They differ across channels (a mixed-up channel shows) yet every product of
    a dequantized activation and weight is a small integer times one power of
    two per channel, so each MatMul below is exact in float32 in any summation
    order. Any deviation from onnxruntime is then a semantic bug, never
    rounding noise, however the compiler orders its accumulation.
    """
    return (rng.choice([1.0, 3.0], n) * 2.0 ** -rng.integers(8, 11, n)).astype(np.float32)


def qdq_mlp(batch: int = 4, d_in: int = 64, hidden: int = 128, d_out: int = 32,
            seed: int = 2) -> onnx.ModelProto:
    """A two-layer MLP in QDQ form (opset 13), as onnxruntime's quantizer writes it.

    Activations: QuantizeLinear/DequantizeLinear to uint8 with a non-zero zero
    point, per-tensor. Weights: int8 initializers with per-channel (axis=1)
    scales through DequantizeLinear into MatMul. Scales are powers of two (see
    _exact_channel_scales) and biases lie on each channel's grid, so the model
    is exact in float32; qdq_mlp_inputs places inputs on rounding ties and
    outside the uint8 range to pin down round-half-to-even and saturation.
    """
    g = GraphBuilder("qdq_mlp", seed)
    rng = g.rng

    def quant_dequant(t: str, scale: float, zero_point: int) -> str:
        s, zp = g.f32(scale, "scale"), g.const(np.uint8(zero_point), "zp")
        return g.op("DequantizeLinear", g.op("QuantizeLinear", t, s, zp), s, zp)

    def int8_linear(t: str, act_scale: float, k: int, n: int) -> str:
        wq = rng.integers(-127, 128, (k, n)).astype(np.int8)
        ws = _exact_channel_scales(rng, n)
        w = g.op("DequantizeLinear", g.const(wq, "wq"), g.f32(ws, "wscale"), axis=1)
        # A bias on the grid of act_scale * ws keeps the sum exact.
        b = rng.integers(-2000, 2001, n) * act_scale * ws
        return g.op("Add", g.op("MatMul", t, w), g.f32(b, "b"))

    x = g.input("x", np.float32, [batch, d_in])
    h = g.op("Relu", int8_linear(quant_dequant(x, QDQ_INPUT_SCALE, QDQ_INPUT_ZERO_POINT),
                                 QDQ_INPUT_SCALE, d_in, hidden))
    h = quant_dequant(h, QDQ_HIDDEN_SCALE, QDQ_HIDDEN_ZERO_POINT)
    g.op("Identity", int8_linear(h, QDQ_HIDDEN_SCALE, hidden, d_out), out="y")
    g.output("y", np.float32, [batch, d_out])
    return g.build(opset=13)


def qdq_mlp_inputs(batch: int = 4, d_in: int = 64, seed: int = 2) -> dict[str, np.ndarray]:
    """Inputs for qdq_mlp: Gaussian, plus exact ties and out-of-range values.

    Row 0 starts with x/scale = -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 (round half to
    even gives -2, -2, 0, 0, 2, 2) and then values beyond the uint8 range that
    must saturate to 0 and 255.
    """
    x = np.random.default_rng(seed).standard_normal((batch, d_in)).astype(np.float32)
    ties = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], dtype=np.float32)
    x[0, :6] = ties * np.float32(QDQ_INPUT_SCALE)
    x[0, 6:8] = [-100.0, 100.0]
    return {"x": x}


@dataclass
class NBitsWeights:
    """A [K,N] weight quantized in blocks along K, as MatMulNBits stores it.

    ``q`` holds the unsigned codes [N, k_blocks*block_size] (K padded to whole
    blocks), ``scales`` [N, k_blocks], ``zero_points`` [N, k_blocks] unpacked,
    or None to use MatMulNBits' default 2^(bits-1).
    """

    bits: int
    block_size: int
    k: int
    n: int
    q: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray | None

    @property
    def k_blocks(self) -> int:
        return -(-self.k // self.block_size)

    def effective_zero_points(self) -> np.ndarray:
        if self.zero_points is not None:
            return self.zero_points
        return np.full((self.n, self.k_blocks), 2 ** (self.bits - 1))

    def dequantized(self) -> np.ndarray:
        """The float weight [K, N] that MatMulNBits multiplies by, in float64."""
        codes = self.q.reshape(self.n, self.k_blocks, self.block_size).astype(np.float64)
        w = (codes - self.effective_zero_points()[:, :, None]) * self.scales[:, :, None]
        return w.reshape(self.n, -1)[:, :self.k].T

    def packed_b(self) -> np.ndarray:
        """B input: uint8 [N, k_blocks, block_size*bits/8], low bits first along K."""
        return pack_along_last_axis(
            self.q.reshape(self.n, self.k_blocks, self.block_size), self.bits)

    def packed_scales(self) -> np.ndarray:
        """scales input: float32 [N*k_blocks], row n's blocks contiguous."""
        return self.scales.astype(np.float32).reshape(-1)

    def packed_zero_points(self) -> np.ndarray:
        """zero_points input: uint8 [N*ceil(k_blocks*bits/8)], each row padded
        to whole bytes (so odd k_blocks leaves the last high nibble unused)."""
        return pack_along_last_axis(self.zero_points, self.bits).reshape(-1)


def pack_along_last_axis(codes: np.ndarray, bits: int) -> np.ndarray:
    """Packs unsigned codes of `bits` (2/4/8) into bytes, first code in the low bits.

    The last axis is padded with zeros to whole bytes.
    """
    per_byte = 8 // bits
    pad = (-codes.shape[-1]) % per_byte
    codes = np.pad(codes.astype(np.uint8), [(0, 0)] * (codes.ndim - 1) + [(0, pad)])
    codes = codes.reshape(codes.shape[:-1] + (-1, per_byte))
    packed = np.zeros(codes.shape[:-1], dtype=np.uint8)
    for i in range(per_byte):
        packed |= codes[..., i] << np.uint8(bits * i)
    return packed


def nbits_weights(bits: int, block_size: int, zero_points: bool, k: int = 256,
                  n: int = 64, seed: int = 3) -> NBitsWeights:
    """Random codes, zero points and scales; scale sized so W has std ~1/sqrt(K)."""
    rng = np.random.default_rng(seed)
    k_blocks = -(-k // block_size)
    levels = 2 ** bits
    q = rng.integers(0, levels, (n, k_blocks * block_size))
    # Uniform codes have std ~levels/sqrt(12); aim the weight at 1/sqrt(K).
    base = math.sqrt(12.0) / (levels * math.sqrt(k))
    scales = (base * rng.uniform(0.5, 1.5, (n, k_blocks))).astype(np.float32)
    zps = rng.integers(0, levels, (n, k_blocks)) if zero_points else None
    return NBitsWeights(bits, block_size, k, n, q, scales, zps)


# (bits, block_size, zero points given, K) of the MatMulNBits tests.
NBITS_CASES = [
    (4, 32, False, 256), (4, 32, True, 256), (4, 128, False, 256), (4, 128, True, 256),
    (8, 32, False, 256), (8, 32, True, 256), (8, 128, False, 256), (8, 128, True, 256),
    # 3 blocks per row: a row's zero points end mid-byte and rows are padded.
    (4, 32, True, 96),
]


def nbits_case_id(case) -> str:
    bits, block_size, zero_points, k = case
    return f"bits{bits}-bs{block_size}-{'zp' if zero_points else 'nozp'}-k{k}"


def matmul_nbits(weights: NBitsWeights, m: int = 4,
                 accuracy_level: int | None = None) -> onnx.ModelProto:
    """A[M,K] -> com.microsoft.MatMulNBits(weights) -> Y[M,N]; no bias, no g_idx.
    `accuracy_level` 4 allows int8 activations."""
    g = GraphBuilder(f"matmul_nbits_b{weights.bits}_bs{weights.block_size}", seed=0)
    a = g.input("A", np.float32, [m, weights.k])
    operands = [a, g.const(weights.packed_b(), "B"), g.f32(weights.packed_scales(), "scales")]
    if weights.zero_points is not None:
        operands.append(g.const(weights.packed_zero_points(), "zero_points"))
    attrs = {} if accuracy_level is None else {"accuracy_level": accuracy_level}
    g.op("MatMulNBits", *operands, out="Y", domain="com.microsoft",
         K=weights.k, N=weights.n, bits=weights.bits, block_size=weights.block_size, **attrs)
    g.output("Y", np.float32, [m, weights.n])
    return g.build(opset=17, extra_opsets={"com.microsoft": 1})


def blocked_int4_matmul(zero_point: bool, k: int = 256, n: int = 64,
                        block_size: int = 32, m: int = 4, seed: int = 4) -> onnx.ModelProto:
    """x[M,K] @ DequantizeLinear(int4 W[K,N], blocks of block_size along axis 0).

    Opset 21 blocked quantization: scale and zero point are [K/block_size, N].
    Without a zero point DequantizeLinear uses 0 (unlike MatMulNBits).
    """
    g = GraphBuilder(f"blocked_int4_zp{int(zero_point)}", seed)
    rng = g.rng
    k_blocks = -(-k // block_size)
    wq = rng.integers(-8, 8, (k, n)).astype(ml_dtypes.int4)
    scales = (0.6 / math.sqrt(k) * rng.uniform(0.5, 1.5, (k_blocks, n))).astype(np.float32)
    operands = [g.const(wq, "wq"), g.f32(scales, "wscale")]
    if zero_point:
        operands.append(g.const(rng.integers(-8, 8, (k_blocks, n)).astype(ml_dtypes.int4), "wzp"))
    x = g.input("x", np.float32, [m, k])
    w = g.op("DequantizeLinear", *operands, axis=0, block_size=block_size)
    g.op("MatMul", x, w, out="y")
    g.output("y", np.float32, [m, n])
    return g.build(opset=21)


def matmul_integer(per_column_b_zero_point: bool, m: int = 4, k: int = 64,
                   n: int = 32, seed: int = 5) -> onnx.ModelProto:
    """uint8 A (graph input, zero point 131) x int8 B (constant) -> int32 Y.

    B's zero point is a scalar or, per column, a vector [N].
    """
    g = GraphBuilder("matmul_integer", seed)
    rng = g.rng
    a = g.input("a", np.uint8, [m, k])
    b = g.const(rng.integers(-128, 128, (k, n)).astype(np.int8), "b")
    b_zp = (rng.integers(-5, 6, n) if per_column_b_zero_point else -3)
    g.op("MatMulInteger", a, b, g.const(np.uint8(131), "a_zp"),
         g.const(np.asarray(b_zp, dtype=np.int8), "b_zp"), out="y")
    g.output("y", np.int32, [m, n])
    return g.build(opset=13)


# ---------------------------------------------------------------------------
# Models the compiler must reject
# ---------------------------------------------------------------------------

UNSUPPORTED_NODE_NAME = "suspicious_node"


def unsupported_op(op_type: str, **attrs) -> onnx.ModelProto:
    """x -> Relu -> <op_type> (node "suspicious_node") -> y, in the default domain."""
    g = GraphBuilder("unsupported", seed=0)
    x = g.input("x", np.float32, [4, 16])
    g.op(op_type, g.op("Relu", x), out="y", name=UNSUPPORTED_NODE_NAME, **attrs)
    g.output("y", np.float32, [4, 16])
    return g.build()


def weight_layer_names(model: onnx.ModelProto) -> set[str]:
    """Names of the MatMul/Gemm nodes whose second operand is an initializer:
    the matmul layers a compiled model's descriptor lists (it also lists
    Gathers from an initializer table)."""
    weights = {t.name for t in model.graph.initializer}
    return {n.name for n in model.graph.node
            if n.op_type in ("MatMul", "Gemm") and n.input[1] in weights}


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def random_inputs(model: onnx.ModelProto, seed: int = 0,
                  shapes: dict[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """Random values for every graph input, by element type.

    float: standard normal; uint8/int8: the full range. ``shapes`` supplies
    shapes for inputs with symbolic dimensions.
    """
    rng = np.random.default_rng(seed)
    shapes = shapes or {}
    inputs = {}
    for vi in model.graph.input:
        shape = shapes.get(vi.name) or tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        if dtype == np.float32:
            inputs[vi.name] = rng.standard_normal(shape).astype(np.float32)
        elif dtype in (np.uint8, np.int8):
            info = np.iinfo(dtype)
            inputs[vi.name] = rng.integers(info.min, info.max + 1, shape).astype(dtype)
        else:
            raise NotImplementedError(f"no random inputs for {dtype}")
    return inputs


# ---------------------------------------------------------------------------
# Models for calibration, sensitivity and precision selection
# ---------------------------------------------------------------------------

def outlier_mlp(batch: int = 8, width: int = 256, layers: int = 6,
                sensitive_layer: int = 2, seed: int = 30) -> onnx.ModelProto:
    """A residual MLP with the two things that make quantization hard in LLMs.

    - Outlier channels: before each MatMul, a constant per-channel gain (as a
      LayerNorm's gamma would) lifts 4 of the input channels 25x, so the
      output error is dominated by how those rows of the weight are rounded
      (what GPTQ's Hessian weighting exploits).
    - One sensitive layer: `sensitive_layer`'s weight is heavy-tailed
      (Student t, 1.5 degrees of freedom), so a 4-bit grid sized by its
      largest values wipes out the rest; the other layers are Gaussian.

    x[batch, width] -> layers x (Mul gain -> MatMul -> Add bias -> Tanh, plus
    the residual) -> MatMul head = "y".
    """
    g = GraphBuilder("outlier_mlp", seed)
    h = g.input("x", np.float32, [batch, width])
    for layer in range(layers):
        gain = np.ones(width, np.float32)
        gain[g.rng.choice(width, 4, replace=False)] = 25.0
        if layer == sensitive_layer:
            w = g.rng.standard_t(1.5, (width, width)) / (3.0 * math.sqrt(width))
        else:
            w = g.rng.standard_normal((width, width)) / math.sqrt(width)
        w = w / np.sqrt(1.0 + 624.0 * 4 / width)  # keep the output scale near 1
        scaled = g.op("Mul", h, g.f32(gain, "gain"))
        product = g.op("MatMul", scaled, g.f32(w, "w"), name=f"fc{layer}")
        h = g.op("Add", h, g.op("Tanh", g.op("Add", product, g.bias(width))))
    g.op("MatMul", h, g.weight(width, width), name="head", out="y")
    g.output("y", np.float32, [batch, width])
    return g.build()


def correlated_inputs(model: onnx.ModelProto, samples: int, seed: int) -> np.ndarray:
    """`samples` inputs [samples, batch, width] for outlier_mlp whose channels
    are correlated (a random mix of width/4 latent factors), as real
    activations are."""
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    batch, width = shape
    mix = np.random.default_rng(1234).standard_normal((width // 4, width)) / math.sqrt(width / 4)
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((samples, batch, width // 4))
    return (latent @ mix + 0.1 * rng.standard_normal((samples, batch, width))).astype(np.float32)
