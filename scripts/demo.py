#!/usr/bin/env python3
"""nibble demo: one transformer encoder compiled at fp32, int8 and int4.

Builds a BERT-style encoder with onnx.helper (random weights; default 2
layers, hidden 512, 8 heads, sequence 32, FFN 2048), compiles it with
nibble-compile five times (--quantize=none; int8 and int4 with groups of
128, weights only; w8a8 and w4a8, int8 activations quantized at run time),
runs each build and onnxruntime on the same input, and prints binary size,
latency and error against the fp32 build side by side, with onnxruntime's
fp32 latency measured in the same run.

    scripts/demo.py --bin-dir build/bin --out-dir demo-out

Exits non-zero with one `demo: error: ...` line when anything fails,
including an fp32 build that disagrees with onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as missing:
    sys.exit(f"demo: error: {missing}; install scripts/requirements.txt "
             "(pip install -r scripts/requirements.txt)")

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [
    ("nibble fp32", ["--quantize=none"]),
    ("nibble int8", ["--quantize=int8"]),
    ("nibble int4 g128", ["--quantize=int4", "--group-size=128"]),
    ("nibble w8a8", ["--quantize=w8a8", "--activations=dynamic"]),
    ("nibble w4a8 g128", ["--quantize=w4a8", "--group-size=128"]),
]
# The fp32 build must match onnxruntime this closely (max abs error / max |ref|).
FP32_TOLERANCE = 1e-3
COMPILE_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 600


class DemoError(Exception):
    """A failure to report as one line and a non-zero exit."""


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

class Encoder:
    """Builds the encoder graph node by node.

    Uses only ops that nibble compiles today: MatMul, Add, Sub, Mul, Div, Erf,
    Softmax, Transpose, Reshape. Hence LayerNorm is spelled out: means are a
    MatMul by a column of 1/hidden (ReduceMean is not available), and
    sqrt(variance + eps) takes 8 unrolled Heron steps s <- (s + v/s)/2 from
    s = (1 + v)/2, which reach float32 accuracy for v from 1e-3 to 1e3 (Sqrt
    is not available either). The mean columns are MatMul layers like any other
    and show up in --info.
    """

    HERON_STEPS = 8
    EPS = 1e-5

    def __init__(self, hidden: int, heads: int, seq: int, ffn: int, seed: int):
        self.hidden, self.heads, self.seq, self.ffn = hidden, heads, seq, ffn
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.mean_column = self.const(np.full((hidden, 1), 1.0 / hidden), "mean_column")
        self.half = self.const(0.5, "half")
        self.one = self.const(1.0, "one")
        self.eps = self.const(self.EPS, "eps")

    def const(self, value, name: str, dtype=np.float32) -> str:
        name = f"{name}_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, name: str, out: str | None = None, **attrs) -> str:
        out = out or name
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def linear(self, x: str, d_in: int, d_out: int, name: str) -> str:
        w = self.const(self.rng.standard_normal((d_in, d_out)) / math.sqrt(d_in), f"{name}.weight")
        b = self.const(0.02 * self.rng.standard_normal(d_out), f"{name}.bias")
        return self.op("Add", self.op("MatMul", x, w, name=f"{name}/MatMul"), b, name=f"{name}/Add")

    def layer_norm(self, x: str, name: str, out: str | None = None) -> str:
        mean = self.op("MatMul", x, self.mean_column, name=f"{name}/mean")
        centered = self.op("Sub", x, mean, name=f"{name}/center")
        square = self.op("Mul", centered, centered, name=f"{name}/square")
        var = self.op("Add", self.op("MatMul", square, self.mean_column, name=f"{name}/var"),
                      self.eps, name=f"{name}/var_eps")
        std = self.op("Mul", self.op("Add", var, self.one, name=f"{name}/sqrt_init"),
                      self.half, name=f"{name}/sqrt0")
        for step in range(1, self.HERON_STEPS + 1):
            ratio = self.op("Div", var, std, name=f"{name}/sqrt{step}_div")
            total = self.op("Add", std, ratio, name=f"{name}/sqrt{step}_add")
            std = self.op("Mul", total, self.half, name=f"{name}/sqrt{step}")
        gamma = self.const(1.0 + 0.1 * self.rng.standard_normal(self.hidden), f"{name}.gamma")
        beta = self.const(0.1 * self.rng.standard_normal(self.hidden), f"{name}.beta")
        normed = self.op("Div", centered, std, name=f"{name}/normalize")
        return self.op("Add", self.op("Mul", normed, gamma, name=f"{name}/scale"), beta,
                       name=f"{name}/shift", out=out)

    def attention(self, x: str, name: str) -> str:
        d_head = self.hidden // self.heads
        split = self.const([1, self.seq, self.heads, d_head], "split_heads", np.int64)
        merge = self.const([1, self.seq, self.hidden], "merge_heads", np.int64)

        def heads(proj: str, perm: list[int]) -> str:
            t = self.linear(x, self.hidden, self.hidden, f"{name}/{proj}")
            t = self.op("Reshape", t, split, name=f"{name}/{proj}/split")
            return self.op("Transpose", t, name=f"{name}/{proj}/transpose", perm=perm)

        q, k_t, v = heads("q", [0, 2, 1, 3]), heads("k", [0, 2, 3, 1]), heads("v", [0, 2, 1, 3])
        scores = self.op("Div", self.op("MatMul", q, k_t, name=f"{name}/scores"),
                         self.const(math.sqrt(d_head), "sqrt_d_head"), name=f"{name}/scale")
        probs = self.op("Softmax", scores, name=f"{name}/softmax", axis=-1)
        context = self.op("MatMul", probs, v, name=f"{name}/context")
        context = self.op("Transpose", context, name=f"{name}/merge/transpose", perm=[0, 2, 1, 3])
        context = self.op("Reshape", context, merge, name=f"{name}/merge")
        return self.linear(context, self.hidden, self.hidden, f"{name}/out")

    def feed_forward(self, x: str, name: str) -> str:
        """Linear -> GELU (0.5 h (1 + erf(h / sqrt 2))) -> Linear."""
        h = self.linear(x, self.hidden, self.ffn, f"{name}/up")
        erf = self.op("Erf", self.op("Div", h, self.const(math.sqrt(2.0), "sqrt2"),
                                     name=f"{name}/gelu/div"), name=f"{name}/gelu/erf")
        gelu = self.op("Mul", self.op("Mul", h, self.half, name=f"{name}/gelu/half"),
                       self.op("Add", erf, self.one, name=f"{name}/gelu/add"),
                       name=f"{name}/gelu")
        return self.linear(gelu, self.ffn, self.hidden, f"{name}/down")

    def build(self, layers: int) -> onnx.ModelProto:
        """Pre-LayerNorm blocks: x += attn(LN(x)); x += ffn(LN(x)); y = LN(x)."""
        x = "x"
        for i in range(layers):
            block = f"layer{i}"
            x = self.op("Add", x, self.attention(self.layer_norm(x, f"{block}/ln1"),
                                                 f"{block}/attention"),
                        name=f"{block}/residual1")
            x = self.op("Add", x, self.feed_forward(self.layer_norm(x, f"{block}/ln2"),
                                                    f"{block}/ffn"),
                        name=f"{block}/residual2")
        self.layer_norm(x, "final_ln", out="y")
        shape = [1, self.seq, self.hidden]
        graph = helper.make_graph(
            self.nodes, "encoder",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
            self.initializers)
        # IR 10: onnxruntime 1.23 reads IR versions up to 11 only.
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                 ir_version=10, producer_name="nibble-demo")


# ---------------------------------------------------------------------------
# Running things
# ---------------------------------------------------------------------------

def run(argv: list, what: str, timeout: float) -> subprocess.CompletedProcess:
    """Runs a command; raises DemoError with its last stderr line on failure."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DemoError(f"{what} timed out after {timeout} s") from None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        raise DemoError(f"{what} failed: {lines[-1]}")
    return proc


def run_build(exe: Path, x: np.ndarray, work: Path) -> np.ndarray:
    """Runs a compiled model once on x and returns its output y."""
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "x.npy", x)
    run([exe, "--input", f"x={work / 'x.npy'}", "--output-dir", work], f"running {exe.name}",
        RUN_TIMEOUT_S)
    return np.load(work / "y.npy")


def bench_build(exe: Path, runs: int) -> float:
    """p50 latency in ms from the executable's own --bench."""
    proc = run([exe, "--bench", runs, "--json"], f"benchmarking {exe.name}", RUN_TIMEOUT_S)
    try:
        return float(json.loads(proc.stdout)["p50_ms"])
    except (ValueError, KeyError) as error:
        raise DemoError(f"{exe.name} --bench --json printed no p50_ms ({error}): "
                        f"{proc.stdout.strip()[:200]}") from None


def ort_session(model_path: Path, optimize: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def ort_p50_ms(session: ort.InferenceSession, x: np.ndarray, runs: int, warmup: int = 3) -> float:
    """onnxruntime latency measured like --bench: warm-up runs, then the
    nearest-rank median of `runs` timed runs."""
    for _ in range(warmup):
        session.run(["y"], {"x": x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(["y"], {"x": x})
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[math.ceil(0.5 * runs) - 1]


def errors(out: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """(max abs error, cosine similarity, SQNR in dB) of out against ref."""
    out, ref = out.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    diff = out - ref
    cosine = float(out @ ref / (np.linalg.norm(out) * np.linalg.norm(ref)))
    noise = float(diff @ diff)
    sqnr = math.inf if noise == 0 else 10 * math.log10(float(ref @ ref) / noise)
    return float(np.max(np.abs(diff))), cosine, sqnr


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path,
                        default=Path(os.environ.get("NIBBLE_BIN_DIR", ROOT / "build" / "bin")),
                        help="directory holding nibble-compile (default: $NIBBLE_BIN_DIR "
                             "or build/bin)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "demo-out",
                        help="where the model, binaries and outputs go (default: demo-out)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--ffn", type=int, help="FFN width (default: 4 x hidden)")
    parser.add_argument("--bench-runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.ffn = args.ffn or 4 * args.hidden
    if min(args.layers, args.hidden, args.heads, args.seq, args.ffn, args.bench_runs) < 1:
        parser.error("sizes and --bench-runs must be positive")
    if args.hidden % args.heads:
        parser.error(f"--hidden {args.hidden} is not a multiple of --heads {args.heads}")
    return args


def demo(args: argparse.Namespace) -> None:
    compiler = args.bin_dir / "nibble-compile"
    if not os.access(compiler, os.X_OK):
        raise DemoError(f"{compiler} not found; build nibble (scripts/setup.sh) or "
                        "pass --bin-dir")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    model = Encoder(args.hidden, args.heads, args.seq, args.ffn, args.seed).build(args.layers)
    model_path = args.out_dir / "encoder.onnx"
    onnx.save(model, model_path)
    model_bytes = model_path.stat().st_size
    weights = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"encoder: {args.layers} layers, hidden {args.hidden}, {args.heads} heads, "
          f"seq {args.seq}, FFN {args.ffn}: {weights / 1e6:.1f} M parameters, "
          f"{model_path} ({model_bytes / 2**20:.1f} MiB)")

    x = np.random.default_rng(args.seed + 1).standard_normal(
        (1, args.seq, args.hidden)).astype(np.float32)
    reference = ort_session(model_path, optimize=False).run(["y"], {"x": x})[0]

    results = []  # (variant, binary bytes, p50 ms, output)
    for variant, flags in VARIANTS:
        exe = args.out_dir / variant.replace("nibble ", "encoder-").replace(" ", "-")
        start = time.perf_counter()
        run([compiler, model_path, "-o", exe, "--emit=exe", *flags],
            f"compiling {variant}", COMPILE_TIMEOUT_S)
        print(f"compiled {variant} in {time.perf_counter() - start:.1f} s: {exe}")
        y = run_build(exe, x, args.out_dir / f"{exe.name}-run")
        if y.shape != reference.shape or not np.all(np.isfinite(y)):
            raise DemoError(f"{variant} output has shape {y.shape} or non-finite values")
        results.append((variant, exe.stat().st_size, bench_build(exe, args.bench_runs), y))

    fp32 = results[0][3]
    relative = float(np.max(np.abs(fp32 - reference)) / np.max(np.abs(reference)))
    if relative > FP32_TOLERANCE:
        raise DemoError(f"the fp32 build differs from onnxruntime by {relative:.2e} "
                        f"(max abs error / max |ref|), more than {FP32_TOLERANCE}")
    ort_ms = ort_p50_ms(ort_session(model_path, optimize=True), x, args.bench_runs)
    results.append(("onnxruntime fp32", None, ort_ms, reference))

    rows = [("variant", "model bytes", "binary bytes", "p50 ms", "vs ORT",
             "max abs err", "cosine", "SQNR dB")]
    for index, (variant, binary_bytes, ms, y) in enumerate(results):
        # The fp32 build is the baseline of the error columns.
        max_err, cosine, sqnr = errors(y, fp32)
        quality = ("-", "-", "-") if index == 0 else (f"{max_err:.3g}", f"{cosine:.6f}",
                                                      f"{sqnr:.1f}")
        rows.append((variant, f"{model_bytes:,}",
                     "-" if binary_bytes is None else f"{binary_bytes:,}",
                     f"{ms:.3f}", f"{ort_ms / ms:.2f}x", *quality))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
    print(f"\nErrors are against the nibble fp32 build on one random input; latency is the "
          f"median of {args.bench_runs} runs (nibble: the binary's --bench; onnxruntime: "
          f"CPU, all graph optimizations); 'vs ORT' is onnxruntime's p50 over the row's.")


def main() -> int:
    try:
        demo(parse_args())
    except DemoError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
