"""Benchmark layers shared by the CPU and GPU benchmarks: one ONNX model
holding several copies of a K x N weight layer (distinct weights, together
larger than the cache being defeated) applied to the same [M, K] input, so
that a run streams every weight from memory.

Weights repeat a random 8 KiB block per copy: the bytes streamed and the
arithmetic are those of real weights, but the files compress well.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10

# Llama-2-7B's projection shapes (K x N).
LLAMA_SHAPES = [(4096, 4096), (4096, 11008), (11008, 4096), (4096, 22016)]


def nbits_layer_bytes(k: int, n: int, bits: int, block: int) -> int:
    """Bytes of one MatMulNBits layer: packed weights and float32 scales."""
    return n * k * bits // 8 + n * (k // block) * 4


def copies_for(layer_bytes: int, rotation_bytes: int) -> int:
    """Copies of a layer that together fill at least `rotation_bytes` (and
    at least 2)."""
    return max(2, -(-rotation_bytes // layer_bytes))


def _model(nodes, inits, k, m, outputs, name, domains,
           input_type=TensorProto.FLOAT) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", input_type, [m, k])],
        outputs, inits)
    return helper.make_model(graph, ir_version=IR_VERSION,
                             opset_imports=[helper.make_opsetid(d, v) for d, v in domains])


def nbits_layer_model(k: int, n: int, m: int, copies: int, seed: int, bits: int = 4,
                      block: int = 128, accuracy_level: int | None = None,
                      float16: bool = False) -> onnx.ModelProto:
    """`copies` com.microsoft MatMulNBits layers (symmetric, no zero points)
    of K x N on one [m, K] input; `accuracy_level` is onnxruntime's knob for
    the arithmetic it may use (4: int8 activations); `float16` makes the
    activations, scales and outputs float16 (a float16 model's layers)."""
    rng = np.random.default_rng(seed)
    float_type = TensorProto.FLOAT16 if float16 else TensorProto.FLOAT
    blocks = k // block
    nodes, inits, outputs = [], [], []
    attrs = {} if accuracy_level is None else {"accuracy_level": accuracy_level}
    for c in range(copies):
        pattern = rng.integers(0, 256, size=8192, dtype=np.uint8)
        packed = np.resize(pattern, n * blocks * (block * bits // 8))
        scale_pattern = (0.01 + 0.01 * rng.random(1024)).astype(
            np.float16 if float16 else np.float32)
        scales = np.resize(scale_pattern, n * blocks)
        inits += [numpy_helper.from_array(packed.reshape(n, blocks, block * bits // 8), f"B{c}"),
                  numpy_helper.from_array(scales, f"S{c}")]
        nodes.append(helper.make_node(
            "MatMulNBits", ["x", f"B{c}", f"S{c}"], [f"y{c}"], name=f"layer{c}",
            domain="com.microsoft", K=k, N=n, bits=bits, block_size=block, **attrs))
        outputs.append(helper.make_tensor_value_info(f"y{c}", float_type, [m, n]))
    return _model(nodes, inits, k, m, outputs, f"nbits{bits}_{k}x{n}_m{m}",
                  [("", 21), ("com.microsoft", 1)], input_type=float_type)


def float_layer_model(k: int, n: int, m: int, copies: int, seed: int,
                      float16: bool = False) -> onnx.ModelProto:
    """`copies` float32 MatMul layers of K x N on one [m, K] input; with
    `float16`, float16 layers (weights, activations and outputs)."""
    rng = np.random.default_rng(seed)
    dtype, float_type = ((np.float16, TensorProto.FLOAT16) if float16 else
                         (np.float32, TensorProto.FLOAT))
    nodes, inits, outputs = [], [], []
    for c in range(copies):
        pattern = (rng.standard_normal(2048) * 0.02).astype(dtype)
        inits.append(numpy_helper.from_array(np.resize(pattern, (k, n)), f"W{c}"))
        nodes.append(helper.make_node("MatMul", ["x", f"W{c}"], [f"y{c}"], name=f"layer{c}"))
        outputs.append(helper.make_tensor_value_info(f"y{c}", float_type, [m, n]))
    return _model(nodes, inits, k, m, outputs, f"{'fp16' if float16 else 'fp32'}_{k}x{n}_m{m}",
                  [("", 21)], input_type=float_type)


def int8_layer_bytes(k: int, n: int) -> int:
    """Bytes of one int8 per-column layer: weights and float32 scales."""
    return k * n + 4 * n


def matmul_integer_layer_model(k: int, n: int, m: int, copies: int,
                               seed: int) -> onnx.ModelProto:
    """`copies` dynamically quantized int8 layers as onnxruntime's
    quantize_dynamic writes them: DynamicQuantizeLinear(x) -> MatMulInteger
    with int8 weights -> Cast -> Mul(x scale) -> Mul(per-column w scale)."""
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="quant")]
    inits, outputs = [], []
    for c in range(copies):
        pattern = rng.integers(-127, 128, size=8192, dtype=np.int8)
        inits += [numpy_helper.from_array(np.resize(pattern, (k, n)), f"W{c}"),
                  numpy_helper.from_array(
                      (0.001 + 0.001 * rng.random(n)).astype(np.float32), f"S{c}")]
        nodes += [
            helper.make_node("MatMulInteger", ["xq", f"W{c}", "xz"], [f"i{c}"], name=f"layer{c}"),
            helper.make_node("Cast", [f"i{c}"], [f"f{c}"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"f{c}", "xs"], [f"g{c}"]),
            helper.make_node("Mul", [f"g{c}", f"S{c}"], [f"y{c}"])]
        outputs.append(helper.make_tensor_value_info(f"y{c}", TensorProto.FLOAT, [m, n]))
    return _model(nodes, inits, k, m, outputs, f"int8_{k}x{n}_m{m}", [("", 21)])
