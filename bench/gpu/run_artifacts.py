#!/usr/bin/env python3
"""Runs the GPU check on a machine with an NVIDIA GPU.

Takes the folder build_artifacts.py made and:
1. runs every e2e model on the GPU and compares its outputs with the CPU build
   and onnxruntime outputs recorded when the folder was built;
2. times every benchmark executable (device events, after warm-up) and, in the
   same run, fp16 cuBLAS (torch.matmul) on the same shapes with weights rotated
   through more memory than L2, plus a streaming read-bandwidth probe;
3. prints a table and writes all figures as JSON.

Needs numpy; torch (with CUDA) for the cuBLAS peer and the bandwidth probe.

Usage: run_artifacts.py ARTIFACT_DIR [--json OUT.json] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Spec-sheet HBM bandwidth (bytes/s) by device name fragment.
PEAK_BANDWIDTH = {"H200": 4.8e12, "H100 PCIe": 2.0e12, "H100": 3.35e12, "A100": 2.0e12}


def as_float(values: np.ndarray) -> np.ndarray:
    """float64 values of an output; bfloat16 arrives as raw 2-byte values
    ('|V2', as numpy saves ml_dtypes arrays), widened here without
    ml_dtypes: a bfloat16 is the top half of a float32."""
    if values.dtype.kind == "V" and values.dtype.itemsize == 2:
        bits = np.ascontiguousarray(values).view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    return values.astype(np.float64)


def rel_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    denom = float(np.linalg.norm(expected.astype(np.float64)))
    diff = float(np.linalg.norm(actual.astype(np.float64) - expected.astype(np.float64)))
    return diff / denom if denom else diff


def sqnr_db(actual: np.ndarray, expected: np.ndarray) -> float:
    noise = float(np.sum((actual.astype(np.float64) - expected.astype(np.float64)) ** 2))
    signal = float(np.sum(expected.astype(np.float64) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def run_e2e(root: Path, case: dict, work: Path) -> dict:
    case_dir = root / case["dir"]
    args = []
    for name in case["inputs"]:
        args += ["--input", f"{name}={case_dir / f'input_{name}.npy'}"]
    out_dir = work / case["name"]
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(case_dir / "model"), *args, "--output-dir", str(out_dir)],
                          capture_output=True, text=True, timeout=120)
    result = {"name": case["name"], "ok": False, "tensor_cores": bool(case.get("tensor_cores"))}
    if proc.returncode != 0:
        result["error"] = (proc.stderr or proc.stdout).strip()
        return result
    checks = []
    for name in case["outputs"]:
        gpu = as_float(np.load(out_dir / f"{name}.npy"))
        cpu = as_float(np.load(case_dir / f"cpu_{name}.npy"))
        ort = as_float(np.load(case_dir / f"ort_{name}.npy"))
        check = {"output": name,
                 "rel_l2_vs_cpu": rel_l2(gpu, cpu),
                 "max_abs_vs_cpu": float(np.max(np.abs(gpu - cpu))),
                 "sqnr_gpu_vs_ort_db": sqnr_db(gpu, ort),
                 "sqnr_cpu_vs_ort_db": sqnr_db(cpu, ort),
                 "finite": bool(np.all(np.isfinite(gpu)))}
        # The GPU build runs the same quantized model as the CPU build: it must
        # agree with it to float rounding (f16 rounding of the activations
        # where tensor cores run: ~2^-12 per value), and be as close to
        # onnxruntime (above 60 dB both are rounding, whose size differs).
        # float16 models round every op's result to float16 (2^-11; bfloat16
        # to 2^-8), so one f32 difference of the GPU's math can move a value
        # by one ulp.
        tolerance = (2e-2 if case.get("bfloat16") else 5e-3 if case.get("float16") else
                     3e-3 if case.get("tensor_cores") else 1e-4)
        margin_db = 0.5 if case.get("bfloat16") else 0.3 if case.get("float16") else 0.1
        check["ok"] = (check["finite"] and check["rel_l2_vs_cpu"] <= tolerance and
                       check["sqnr_gpu_vs_ort_db"] >=
                       min(check["sqnr_cpu_vs_ort_db"], 60) - margin_db)
        checks.append(check)
    result["checks"] = checks
    result["ok"] = all(c["ok"] for c in checks)
    return result


def bench_exe(root: Path, case: dict, runs: int) -> dict:
    proc = subprocess.run([str(root / case["exe"]), "--bench", str(runs), "--warmup", "5",
                           "--json"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def torch_peers(cases: list[dict]) -> tuple[dict, dict]:
    """fp16 cuBLAS time per (k, n, m) in seconds, and the bandwidth probe."""
    try:
        import torch
    except ImportError:
        return {}, {"error": "torch is not installed"}
    if not torch.cuda.is_available():
        return {}, {"error": "torch sees no CUDA device"}
    dev = torch.device("cuda")
    info = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}

    def time_ms(fn, iters: int) -> float:
        fn()
        torch.cuda.synchronize()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop) / iters

    # Read bandwidth: sum a 4 GiB buffer (reads dominate), and a 2 GiB copy.
    big = torch.ones(1 << 30, dtype=torch.float32, device=dev)
    ms = time_ms(lambda: big.sum(), 20)
    info["read_bytes_per_s"] = big.numel() * 4 / (ms / 1e3)
    dst = torch.empty(1 << 29, dtype=torch.float32, device=dev)
    src = big[: 1 << 29]
    ms = time_ms(lambda: dst.copy_(src), 20)
    info["copy_bytes_per_s"] = 2 * dst.numel() * 4 / (ms / 1e3)
    del big, dst, src

    cublas = {}
    for k, n in sorted({(c["k"], c["n"]) for c in cases}):
        copies = max(2, math.ceil((120 << 20) / (2 * k * n)))
        weights = [torch.randn(k, n, dtype=torch.float16, device=dev) for _ in range(copies)]
        for m in sorted({c["m"] for c in cases if (c["k"], c["n"]) == (k, n)}):
            x = torch.randn(m, k, dtype=torch.float16, device=dev)

            def run_all():
                for w in weights:
                    torch.matmul(x, w)
            cublas[(k, n, m)] = time_ms(run_all, 20) / copies / 1e3
        del weights
        torch.cuda.empty_cache()
    return cublas, info


def peak_for(device: str) -> float | None:
    for key, value in PEAK_BANDWIDTH.items():
        if key in device:
            return value
    return None


def compare_kernels(entries: list[dict]) -> list[dict]:
    """Where a layer was timed with more than one kernel (the compiler's
    choice and a forced one), which was faster and by how much: the data
    for the compiler's choice between the GEMV and the tensor-core kernel."""
    timed: dict[tuple, dict[str, float]] = {}
    for entry in entries:
        if "seconds_per_layer" in entry:
            key = (entry["k"], entry["n"], entry["m"], entry.get("weights", "int4-g128"),
                   entry.get("activations", "f32"))
            timed.setdefault(key, {})[entry.get("kernel", "auto")] = entry["seconds_per_layer"]
    choices = []
    for (k, n, m, weights, act), kernels in sorted(timed.items()):
        if len(kernels) < 2:
            continue
        fastest = min(kernels, key=kernels.get)
        others = {kernel: seconds / kernels[fastest] for kernel, seconds in kernels.items()
                  if kernel != fastest}
        choices.append({"k": k, "n": n, "m": m, "weights": weights, "activations": act,
                        "fastest": fastest, "slowdown_of_others": others})
        print(f"kernel choice {k}x{n} M={m} {weights} x {act}: {fastest} fastest; "
              + ", ".join(f"{kernel} {ratio:.2f}x its time" for kernel, ratio in others.items()),
              flush=True)
    return choices


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    root = args.artifacts.resolve()
    manifest = json.loads((root / "manifest.json").read_text())
    report: dict = {"e2e": [], "bench": []}

    with tempfile.TemporaryDirectory() as tmp:
        for case in manifest["e2e"]:
            result = run_e2e(root, case, Path(tmp))
            report["e2e"].append(result)
            status = "ok" if result["ok"] else "FAIL"
            detail = result.get("error") or "; ".join(
                f"{c['output']}: rel_l2 vs cpu {c['rel_l2_vs_cpu']:.2e}, SQNR vs ort "
                f"gpu {c['sqnr_gpu_vs_ort_db']:.1f} dB / cpu {c['sqnr_cpu_vs_ort_db']:.1f} dB"
                for c in result.get("checks", []))
            print(f"e2e {case['name']:<40} {status:4} {detail}", flush=True)

    cublas, info = torch_peers(manifest["bench"]) if manifest["bench"] else ({}, {})
    report["device"] = info
    peak = peak_for(info.get("device", ""))
    measured = info.get("read_bytes_per_s")
    if info:
        print(f"device: {info.get('device')}; read probe "
              f"{(measured or 0) / 1e9:.0f} GB/s; spec peak "
              f"{(peak or 0) / 1e9:.0f} GB/s", flush=True)
    print(f"{'layer':<16} {'weights':<9} {'kernel':<6} {'act':<4} {'M':>4} {'us/layer':>9} "
          f"{'GB/s':>7} "
          f"{'%probe':>7} {'%peak':>6} {'cuBLAS us':>9} {'speedup':>8}")
    for case in manifest["bench"]:
        timing = bench_exe(root, case, args.runs)
        entry = dict(case)
        if "error" in timing:
            entry["error"] = timing["error"]
            print(f"{case['name']:<28} error: {timing['error']}")
            report["bench"].append(entry)
            continue
        seconds = timing["p50_ms"] / 1e3 / case["copies"]
        entry.update({"p50_ms_per_run": timing["p50_ms"], "timer": timing.get("timer"),
                      "seconds_per_layer": seconds,
                      "weight_bytes_per_s": case["weight_bytes_per_layer"] / seconds,
                      "gflops": 2 * case["m"] * case["k"] * case["n"] / seconds / 1e9})
        peer = cublas.get((case["k"], case["n"], case["m"]))
        if peer:
            entry["cublas_fp16_seconds"] = peer
            entry["speedup_vs_cublas_fp16"] = peer / seconds
        if measured:
            entry["fraction_of_probe_bandwidth"] = entry["weight_bytes_per_s"] / measured
        if peak:
            entry["fraction_of_peak_bandwidth"] = entry["weight_bytes_per_s"] / peak
        report["bench"].append(entry)
        print(f"{str(case['k']) + 'x' + str(case['n']):<16} "
              f"{case.get('weights', 'int4-g128'):<9} {case.get('kernel', 'auto'):<6} "
              f"{case.get('activations', 'f32'):<4} {case['m']:>4} "
              f"{seconds * 1e6:>9.1f} "
              f"{entry['weight_bytes_per_s'] / 1e9:>7.0f} "
              f"{100 * entry.get('fraction_of_probe_bandwidth', 0):>6.0f}% "
              f"{100 * entry.get('fraction_of_peak_bandwidth', 0):>5.0f}% "
              f"{(peer or 0) * 1e6:>9.1f} {entry.get('speedup_vs_cublas_fp16', 0):>7.2f}x",
              flush=True)

    report["kernel_choice"] = compare_kernels(report["bench"])

    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    failed = [r["name"] for r in report["e2e"] if not r["ok"]]
    print(f"{len(report['e2e']) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
