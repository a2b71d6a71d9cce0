#!/usr/bin/env python3
"""End-to-end CPU benchmark: whole transformers quantized and run by nibble
against the same models quantized and run by onnxruntime, same threads.

Models: the BERT-style encoder and GPT-2-style decoder of the coverage
tests (d = 384, 32 tokens, 4x outlier input channels, as in
bench/quantizers) and paraphrase-MiniLM-L3-v2 when installed. For each:

- float32: onnxruntime, and nibble without quantization;
- int8 weights and activations: onnxruntime's quantize_dynamic (per-channel
  int8 weights, MatMulInteger), run by onnxruntime and by nibble (whose
  importer maps MatMulInteger with a constant int8 weight to its int8
  dot-product kernel), against nibble --quantize=w8a8 --activations=dynamic;
- int4 weights, int8 activations: onnxruntime's MatMulNBits quantizer (RTN,
  symmetric, block 32 / 128, and asymmetric block 128, accuracy_level 4),
  run by onnxruntime and by nibble (which imports accuracy_level 4 as
  W4A8), and nibble's own --quantize=w4a8 on the float model (GPTQ on
  calibration samples);
- int4 / int8 weights only: nibble --quantize=int4 / int8.

Latency is the median over `--rounds` rounds of the p50 of `--runs` runs
after warm-up (nibble: the compiled executable's --bench; onnxruntime:
session.run in this process), both with `--threads` threads; each round
times every variant in turn, so a burst of load on a shared machine slows
one round of each rather than all the runs of one. Error is measured on held-out inputs against
onnxruntime's float32 outputs (SQNR over all outputs, worst sample, top-1
agreement of the decoder's logits). Prints a table and writes JSON (and a
markdown table with --markdown).

Usage: run_e2e.py --bin-dir build/bin [--threads N] [--runs N] [--rounds N] [--json OUT]
           [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                             MatMulNBitsQuantizer)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "quantizers"))
sys.path.insert(0, str(ROOT / "bench" / "cpu"))
from compare_onnxruntime import (build_cases, constant_bytes,  # noqa: E402
                                 fixed_shape_model, quality)
from run_bench import median_run_seconds, onnxruntime_session  # noqa: E402


def ort_nbits(model: Path, out: Path, block: int, symmetric: bool = True) -> None:
    quantizer = MatMulNBitsQuantizer(
        onnx.load(model), algo_config=DefaultWeightOnlyQuantConfig(
            block_size=block, is_symmetric=symmetric, accuracy_level=4,
            quant_format=QuantFormat.QOperator))
    quantizer.process()
    onnx.save(quantizer.model.model, out)


def bench_case(case, args, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    model = fixed_shape_model(case, work)
    calibration = case.make_inputs(args.calibration_samples, seed=100)
    held_out = case.make_inputs(args.eval_samples, seed=200)
    calibration_file = work / "calibration.npz"
    np.savez(calibration_file, **{name: np.stack([s[name] for s in calibration])
                                  for name in calibration[0]})
    float_session = onnxruntime_session(model, args.threads)
    output_names = [o.name for o in float_session.get_outputs()]
    reference = [dict(zip(output_names, float_session.run(None, s))) for s in held_out]
    rows = []
    # (row, timer): every variant is timed in each of `--rounds` rounds, in
    # turn, so that a burst of load on this shared machine slows one round
    # of every variant instead of all the runs of one.
    timers = []

    def record(variant: str, runtime: str, timer, outputs: list[dict], bytes_: int):
        row = {"variant": variant, "runtime": runtime, "weight_bytes": bytes_,
               **quality(reference, outputs, case.classifier_outputs)}
        rows.append(row)
        timers.append((row, timer))

    def run_ort(variant: str, path: Path):
        session = onnxruntime_session(path, args.threads)
        outputs = [dict(zip(output_names, session.run(None, s))) for s in held_out]
        record(variant, "onnxruntime",
               lambda: median_run_seconds(session, held_out[0], args.runs, 3),
               outputs, constant_bytes(path))

    def run_nibble(variant: str, path: Path, *flags: str):
        exe = work / f"model{len(rows)}"
        proc = subprocess.run([str(args.bin_dir / "nibble-compile"), str(path), "-o", str(exe),
                               *flags, *[f"--input-shape={name}:{'x'.join(map(str, shape))}"
                                         for name, shape in case.input_shapes.items()]],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"variant": variant, "runtime": "nibble", "error": proc.stderr.strip()})
            print(f"  {variant:44s} nibble      failed: {proc.stderr.strip()}", flush=True)
            return
        outputs = []
        for i, sample in enumerate(held_out):
            sample_dir = work / f"sample{i}"
            sample_dir.mkdir(exist_ok=True)
            inputs = []
            for name, value in sample.items():
                np.save(sample_dir / f"{name}.npy", value)
                inputs += ["--input", f"{name}={sample_dir / name}.npy"]
            subprocess.run([str(exe), *inputs, "--output-dir", str(sample_dir / "out")],
                           check=True, capture_output=True)
            # The runtime writes each output as DIR/<name>.npy, characters
            # outside [A-Za-z0-9._-] replaced by '_'.
            outputs.append({name: np.load(sample_dir / "out" /
                                          f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.npy")
                            for name in output_names})
        bench_inputs = []
        for name in held_out[0]:
            bench_inputs += ["--input", f"{name}={work / 'sample0' / name}.npy"]

        def timer() -> float:
            proc = subprocess.run([str(exe), "--bench", str(args.runs), "--json", "--threads",
                                   str(args.threads), *bench_inputs],
                                  check=True, capture_output=True, text=True)
            return json.loads(proc.stdout.strip().splitlines()[-1])["p50_ms"] / 1e3

        info = subprocess.run([str(exe), "--info"], check=True, capture_output=True,
                              text=True).stdout
        bytes_ = next(int(line.split()[3]) for line in info.splitlines()
                      if line.startswith("total weight bytes:"))
        record(variant, "nibble", timer, outputs, bytes_)

    run_ort("float32", model)
    run_nibble("float32", model)

    dynamic = work / "ort_dynamic_int8.onnx"
    quantize_dynamic(model, dynamic, per_channel=True, weight_type=QuantType.QInt8)
    run_ort("int8 W8A8 (ort quantize_dynamic)", dynamic)
    run_nibble("int8 W8A8 (ort's model, nibble)", dynamic)
    run_nibble("int8 W8A8 (nibble w8a8 dynamic)", model, "--quantize=w8a8",
               "--activations=dynamic")

    for block in (32, 128):
        nbits = work / f"ort_nbits_g{block}.onnx"
        ort_nbits(model, nbits, block)
        run_ort(f"int4 g{block} x int8 (ort MatMulNBits acc4)", nbits)
        run_nibble(f"int4 g{block} x int8 (ort's model, nibble)", nbits)
        run_nibble(f"int4 g{block} x int8 (nibble w4a8, GPTQ)", model, "--quantize=w4a8",
                   f"--group-size={block}", f"--calibration={calibration_file}")
    # Asymmetric (zero points per block: the quantizer's default).
    nbits = work / "ort_nbits_g128_asymmetric.onnx"
    ort_nbits(model, nbits, 128, symmetric=False)
    run_ort("int4 g128 asymmetric x int8 (ort MatMulNBits acc4)", nbits)
    run_nibble("int4 g128 asymmetric x int8 (ort's model, nibble)", nbits)
    run_nibble("int4 g32 weights only (nibble, GPTQ)", model, "--quantize=int4",
               "--group-size=32", f"--calibration={calibration_file}")
    run_nibble("int8 weights only (nibble, GPTQ)", model, "--quantize=int8",
               f"--calibration={calibration_file}")

    rounds = {id(row): [] for row, _ in timers}
    for _ in range(args.rounds):
        for row, timer in timers:
            rounds[id(row)].append(timer())
    for row, _ in timers:
        row["p50_ms"] = statistics.median(rounds[id(row)]) * 1e3
        row["round_p50_ms"] = [seconds * 1e3 for seconds in rounds[id(row)]]
        top1 = f"  top-1 {row['top1_agreement']:.3f}" if "top1_agreement" in row else ""
        print(f"  {row['variant']:44s} {row['runtime']:11s} {row['p50_ms']:9.3f} ms  "
              f"{row['weight_bytes'] / 2**20:7.2f} MiB  SQNR {row['sqnr_db']:6.2f} dB{top1}",
              flush=True)
    return {"model": case.name, "threads": args.threads, "variants": rows}


def markdown(results: list[dict], command: str) -> str:
    lines = [f"Command: `{command}`", ""]
    for result in results:
        lines += [f"### {result['model']} ({result['threads']} thread(s))", "",
                  "| variant | runtime | p50 ms | weight MiB | SQNR dB | worst sample dB | top-1 |",
                  "|---|---|---|---|---|---|---|"]
        for row in result["variants"]:
            if "error" in row:
                lines.append(f"| {row['variant']} | {row['runtime']} | failed | | | | |")
                continue
            top1 = f"{row['top1_agreement']:.3f}" if "top1_agreement" in row else ""
            lines.append(f"| {row['variant']} | {row['runtime']} | {row['p50_ms']:.3f} | "
                         f"{row['weight_bytes'] / 2**20:.2f} | {row['sqnr_db']:.2f} | "
                         f"{row['worst_sample_sqnr_db']:.2f} | {top1} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50, help="runs per round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds, each timing every variant in turn")
    parser.add_argument("--calibration-samples", type=int, default=32)
    parser.add_argument("--eval-samples", type=int, default=16)
    parser.add_argument("--models", nargs="*",
                        help="substrings of the model names to run (default: the transformers)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    args.bin_dir = args.bin_dir.resolve()
    wanted = args.models or ["encoder", "decoder", "MiniLM"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [c for c in build_cases(Path(tmp), ROOT.parent / "shared" / "models")
                 if any(w in c.name for w in wanted)]
        for case in cases:
            print(case.name, flush=True)
            results.append(bench_case(case, args, Path(tmp) / case.model.stem))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(results, " ".join(["bench/e2e/run_e2e.py",
                                                             *sys.argv[1:]])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
