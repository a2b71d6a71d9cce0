#!/usr/bin/env python3
"""CPU matmul benchmark: nibble's quantized layers against onnxruntime.

For each Llama-2-7B layer shape (K x N) and batch M, in one run:
- nibble, compiled by nibble-compile for the host and timed with the
  executable's `--bench`: int4 g128, int4 g32 and int8 g128 MatMulNBits
  layers (float activations), the same int4 g128 layers with
  accuracy_level 4 (W4A8: int8 activations, VNNI), and W8A8 (float32
  layers compiled with --quantize=w8a8 --activations=dynamic);
- onnxruntime, timed in this process with the same thread count: its
  MatMulNBits kernel on the same int4 g128 layers at accuracy_level 0
  (float arithmetic) and 4 (int8 activations), MatMulInteger on
  dynamically quantized int8 layers (the graph quantize_dynamic writes),
  and the float32 MatMul;
- the machine's read bandwidth: a streaming sum over 1 GiB with as many
  threads as the layers get.

Each model holds enough copies of its layer (distinct weights) to exceed 4x
the last-level cache, all applied to the same input, so every run streams
its weights from DRAM; time per layer is the p50 of the runs divided by the
copies. Prints a table and writes every figure as JSON.

Usage: run_bench.py --bin-dir build/bin [--json OUT.json] [--markdown OUT.md] [--quick]
           [--threads N] [--runs N] [--shapes KxN ...] [--batches M ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from layers import (LLAMA_SHAPES, copies_for, float_layer_model,  # noqa: E402
                    int8_layer_bytes, matmul_integer_layer_model, nbits_layer_bytes,
                    nbits_layer_model)

BATCHES = [1, 4, 16, 64, 256]
# (label, bits, block size) of the nibble variants.
NIBBLE_VARIANTS = [("nibble int4 g128", 4, 128), ("nibble int4 g32", 4, 32),
                   ("nibble int8 g128", 8, 128)]


def last_level_cache_bytes() -> int:
    """The largest CPU cache (sysfs), or 32 MiB if it cannot be read."""
    best = 0
    for size_file in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = size_file.read_text().strip()
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        value = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
        best = max(best, value)
    return best or 32 << 20


def read_bandwidth(threads: int, total_bytes: int = 1 << 30, repeats: int = 5) -> float:
    """Bytes/s of a streaming sum over `total_bytes`, split across threads
    (numpy releases the GIL inside the reductions)."""
    data = np.ones(total_bytes // 4, dtype=np.float32)
    parts = np.array_split(data, threads)
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = min(best, time.perf_counter() - start)
    return total_bytes / best


def time_nibble(bin_dir: Path, model: onnx.ModelProto, work: Path, runs: int,
                threads: int, flags: tuple[str, ...] = ()) -> float:
    """p50 seconds of one run of the compiled model (--bench)."""
    model_path, exe = work / "layer.onnx", work / "layer"
    onnx.save(model, model_path)
    subprocess.run([str(bin_dir / "nibble-compile"), str(model_path), "-o", str(exe), *flags],
                   check=True, capture_output=True, text=True)
    model_path.unlink()
    proc = subprocess.run([str(exe), "--bench", str(runs), "--json", "--threads", str(threads)],
                          check=True, capture_output=True, text=True)
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    if timing["threads"] != threads:
        raise RuntimeError(f"the model ran on {timing['threads']} threads, not {threads}")
    return timing["p50_ms"] / 1e3


def onnxruntime_session(model: onnx.ModelProto | Path, threads: int) -> ort.InferenceSession:
    """A CPU session with `threads` intra-op threads (and one inter-op)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def median_run_seconds(session: ort.InferenceSession, feeds: dict, runs: int,
                       warmup: int = 1) -> float:
    """p50 seconds of one session.run after `warmup` runs."""
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_onnxruntime(model: onnx.ModelProto, x: np.ndarray, runs: int, threads: int) -> float:
    """p50 seconds of one run of a layer model on input x."""
    return median_run_seconds(onnxruntime_session(model, threads), {"x": x}, runs)


def bench_shape(args, k: int, n: int, m: int, rotation: int, probe: float,
                work: Path) -> list[dict]:
    x = np.random.default_rng(m).standard_normal((m, k)).astype(np.float32)
    seed = k + n + m
    results = []

    def record(label: str, seconds_per_run: float, copies: int, layer_bytes: int):
        per_layer = seconds_per_run / copies
        results.append({
            "impl": label, "k": k, "n": n, "m": m, "copies": copies,
            "threads": args.threads, "weight_bytes_per_layer": layer_bytes,
            "seconds_per_layer": per_layer,
            "weight_bytes_per_s": layer_bytes / per_layer,
            "fraction_of_probe_bandwidth": layer_bytes / per_layer / probe,
            "gflops": 2 * m * k * n / per_layer / 1e9})
        print(f"  {label:28} {per_layer * 1e6:10.1f} us/layer "
              f"{layer_bytes / per_layer / 1e9:7.1f} GB/s", flush=True)

    for label, bits, block in NIBBLE_VARIANTS:
        layer_bytes = nbits_layer_bytes(k, n, bits, block)
        copies = copies_for(layer_bytes, rotation)
        model = nbits_layer_model(k, n, m, copies, seed, bits=bits, block=block)
        record(label, time_nibble(args.bin_dir, model, work, args.runs, args.threads),
               copies, layer_bytes)
    # int4 g128 with int8 activations: the same layers for both.
    layer_bytes = nbits_layer_bytes(k, n, 4, 128)
    copies = copies_for(layer_bytes, rotation)
    model = nbits_layer_model(k, n, m, copies, seed, bits=4, block=128, accuracy_level=4)
    record("nibble w4a8 g128 (acc4)",
           time_nibble(args.bin_dir, model, work, args.runs, args.threads), copies, layer_bytes)
    for level in (0, 4):
        model = nbits_layer_model(k, n, m, copies, seed, bits=4, block=128,
                                  accuracy_level=level)
        record(f"onnxruntime int4 g128 acc{level}",
               time_onnxruntime(model, x, args.runs, args.threads), copies, layer_bytes)
    # int8 weights and activations.
    layer_bytes = int8_layer_bytes(k, n)
    copies = copies_for(layer_bytes, rotation)
    record("nibble w8a8",
           time_nibble(args.bin_dir, float_layer_model(k, n, m, copies, seed), work, args.runs,
                       args.threads, ("--quantize=w8a8", "--activations=dynamic")),
           copies, layer_bytes)
    record("onnxruntime int8 MatMulInteger",
           time_onnxruntime(matmul_integer_layer_model(k, n, m, copies, seed), x, args.runs,
                            args.threads), copies, layer_bytes)
    fp32_bytes = 4 * k * n
    copies = copies_for(fp32_bytes, rotation)
    record("onnxruntime fp32", time_onnxruntime(float_layer_model(k, n, m, copies, seed), x,
                                                args.runs, args.threads),
           copies, fp32_bytes)

    # Ratios of every implementation to every onnxruntime peer (> 1: faster).
    for entry in results:
        entry["speedup_vs"] = {
            peer["impl"]: peer["seconds_per_layer"] / entry["seconds_per_layer"]
            for peer in results if peer["impl"].startswith("onnxruntime")
            and peer is not entry}
    return results


# Columns of the markdown table: (header, implementation label).
TABLE_TIMES = [("n int4 g128", "nibble int4 g128"), ("n int4 g32", "nibble int4 g32"),
               ("n int8 g128", "nibble int8 g128"), ("n w4a8 g128", "nibble w4a8 g128 (acc4)"),
               ("n w8a8", "nibble w8a8"), ("ort int4 acc0", "onnxruntime int4 g128 acc0"),
               ("ort int4 acc4", "onnxruntime int4 g128 acc4"),
               ("ort MatMulInteger", "onnxruntime int8 MatMulInteger"),
               ("ort fp32", "onnxruntime fp32")]


def markdown_table(report: dict) -> str:
    """The report as the table of docs/performance.md: microseconds per
    layer, bandwidth of the int8-activation kernels, and ratios."""
    rows: dict[tuple, dict] = {}
    for r in report["results"]:
        rows.setdefault((r["k"], r["n"], r["m"]), {})[r["impl"]] = r
    headers = [h for h, _ in TABLE_TIMES] + [
        "n w4a8 GB/s (% probe)", "n w8a8 GB/s (% probe)",
        "n w4a8 vs ort acc4 / acc0 / fp32", "n w8a8 vs ort MatMulInteger",
        "n w4a8 / n w8a8 time"]
    lines = ["| K x N | M | " + " | ".join(headers) + " |",
             "|" + "---|" * (len(headers) + 2)]
    for (k, n, m), impls in rows.items():
        def seconds(label):
            return impls[label]["seconds_per_layer"] if label in impls else float("nan")

        def bandwidth(label):
            if label not in impls:
                return ""
            r = impls[label]
            return (f"{r['weight_bytes_per_s'] / 1e9:.1f} "
                    f"({100 * r['fraction_of_probe_bandwidth']:.0f}%)")

        w4a8, w8a8 = seconds("nibble w4a8 g128 (acc4)"), seconds("nibble w8a8")
        cells = [f"{seconds(label) * 1e6:.0f}" for _, label in TABLE_TIMES] + [
            bandwidth("nibble w4a8 g128 (acc4)"), bandwidth("nibble w8a8"),
            " / ".join(f"{seconds(peer) / w4a8:.2f}x" for peer in (
                "onnxruntime int4 g128 acc4", "onnxruntime int4 g128 acc0",
                "onnxruntime fp32")),
            f"{seconds('onnxruntime int8 MatMulInteger') / w8a8:.2f}x",
            f"{w4a8 / w8a8:.2f}"]
        lines.append(f"| {k} x {n} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path,
                        help="also write the results as the table of docs/performance.md")
    parser.add_argument("--quick", action="store_true",
                        help="4096x4096 at M = 1 and 16 only")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--shapes", nargs="*", help="K x N shapes, e.g. 4096x4096")
    parser.add_argument("--batches", nargs="*", type=int)
    parser.add_argument("--rotation-mib", type=int,
                        help="rotate weights through this much memory instead of 4x the "
                             "last-level cache (smoke tests only: cached figures)")
    args = parser.parse_args()
    args.bin_dir = args.bin_dir.resolve()
    shapes = ([tuple(int(d) for d in s.split("x")) for s in args.shapes] if args.shapes
              else LLAMA_SHAPES[:1] if args.quick else LLAMA_SHAPES)
    batches = args.batches or ([1, 16] if args.quick else BATCHES)

    llc = last_level_cache_bytes()
    rotation = (args.rotation_mib << 20) if args.rotation_mib else 4 * llc
    probe = read_bandwidth(args.threads)
    print(f"last-level cache {llc >> 20} MiB, weights rotated through > {rotation >> 20} MiB; "
          f"read probe {probe / 1e9:.1f} GB/s with {args.threads} thread(s)", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in shapes:
            for m in batches:
                print(f"{k}x{n} M={m}", flush=True)
                results += bench_shape(args, k, n, m, rotation, probe, Path(tmp))
    report = {"threads": args.threads, "last_level_cache_bytes": llc,
              "rotation_bytes": rotation, "read_probe_bytes_per_s": probe,
              "cpu": next((line.split(":", 1)[1].strip()
                           for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name")), "unknown"),
              "results": results}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown_table(report))


if __name__ == "__main__":
    main()
