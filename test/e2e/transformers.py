"""Transformer models at realistic widths for the coverage tests.

- ``encoder``: a BERT-style encoder (token + position embeddings by Gather,
  post-LayerNorm blocks, multi-head attention with Reshape/Transpose, GELU
  by Erf) at hidden 384, as MiniLM uses.
- ``decoder``: a GPT-2-style decoder (pre-LayerNorm, causal mask built with
  Trilu and Where, tanh-approximated GELU, tied-free LM head) at hidden 384.

Both take int64 token ids and are built with ``models.GraphBuilder`` so
weights come from a fixed seed.
"""

from __future__ import annotations

import numpy as np
import onnx

from models import GraphBuilder


def _layer_norm(g: GraphBuilder, x: str, d: int) -> str:
    gamma = g.f32(1.0 + 0.1 * g.rng.standard_normal(d), "ln_g")
    beta = g.f32(0.1 * g.rng.standard_normal(d), "ln_b")
    return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=1e-5)


def _attention(g: GraphBuilder, x: str, seq: int, d: int, heads: int,
               mask: str | None) -> str:
    """Multi-head self-attention on x [1, seq, d]; mask is added to scores."""
    head = d // heads
    split = g.i64([1, seq, heads, head])

    def project() -> str:
        y = g.linear(x, d, d)
        return g.op("Transpose", g.op("Reshape", y, split), perm=[0, 2, 1, 3])

    q, k, v = project(), project(), project()
    scores = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))
    scores = g.op("Div", scores, g.f32(np.sqrt(head)))
    if mask is not None:
        scores = g.op("Add", scores, mask)
    probs = g.op("Softmax", scores, axis=-1)
    context = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])
    return g.linear(g.op("Reshape", context, g.i64([1, seq, d])), d, d)


def _gelu_erf(g: GraphBuilder, x: str) -> str:
    inner = g.op("Erf", g.op("Div", x, g.f32(np.sqrt(2.0))))
    return g.op("Mul", g.op("Mul", x, g.op("Add", inner, g.f32(1.0))), g.f32(0.5))


def _embed(g: GraphBuilder, vocab: int, seq: int, d: int) -> str:
    ids = g.input("input_ids", np.int64, [1, seq])
    tokens = g.op("Gather", g.f32(0.5 * g.rng.standard_normal((vocab, d)), "wte"), ids, axis=0)
    positions = g.f32(0.1 * g.rng.standard_normal((1, seq, d)), "wpe")
    return g.op("Add", tokens, positions)


def encoder(layers: int = 2, seq: int = 32, d: int = 384, heads: int = 6,
            ffn: int = 1536, vocab: int = 1000, seed: int = 21) -> onnx.ModelProto:
    g = GraphBuilder("bert_encoder", seed)
    x = _layer_norm(g, _embed(g, vocab, seq, d), d)
    for _ in range(layers):
        x = _layer_norm(g, g.op("Add", x, _attention(g, x, seq, d, heads, None)), d)
        hidden = _gelu_erf(g, g.linear(x, d, ffn))
        x = _layer_norm(g, g.op("Add", x, g.linear(hidden, ffn, d)), d)
    g.op("Identity", x, out="last_hidden_state")
    g.output("last_hidden_state", np.float32, [1, seq, d])
    return g.build(opset=17)


def decoder(layers: int = 2, seq: int = 32, d: int = 384, heads: int = 6,
            vocab: int = 1000, seed: int = 22) -> onnx.ModelProto:
    g = GraphBuilder("gpt2_decoder", seed)
    x = _embed(g, vocab, seq, d)
    # Causal mask: 0 on and below the diagonal, a large negative above it.
    ones = g.f32(np.ones((seq, seq)))
    lower = g.op("Cast", g.op("Trilu", ones, upper=0), to=onnx.TensorProto.BOOL)
    mask = g.op("Where", lower, g.f32(0.0), g.f32(-1e9))
    for _ in range(layers):
        x = g.op("Add", x, _attention(g, _layer_norm(g, x, d), seq, d, heads, mask))
        hidden = g.op("Gelu", g.linear(_layer_norm(g, x, d), d, 4 * d), approximate="tanh")
        x = g.op("Add", x, g.linear(hidden, 4 * d, d))
    logits = g.op("MatMul", _layer_norm(g, x, d), g.weight(d, vocab), out="logits")
    g.output(logits, np.float32, [1, seq, vocab])
    return g.build(opset=20)


def token_ids(seq: int = 32, vocab: int = 1000, seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"input_ids": rng.integers(0, vocab, size=(1, seq), dtype=np.int64)}
