#!/usr/bin/env python3
"""Builds everything the GPU check needs, on a machine without a GPU.

A GPU machine may lack the compiler's dependencies, so every binary is
compiled here and shipped in one folder (see scripts/gpu-check.sh):

- e2e/: models from the coverage tests (and, given --models-dir, the real
  CNNs of the tests) compiled with --target=cuda-sm90, their inputs, and the
  outputs of the CPU build and of onnxruntime on the same inputs, so the GPU
  outputs can be compared with both;
- bench/: one executable per Llama-2-7B layer shape, batch M and kernel
  (the compiler's choice, and the other one forced at M = 1, 4 and 16), each holding
  several copies of an int4 g128 MatMulNBits layer (distinct weights, more than
  the GPU's L2 cache together) applied to the same input, so that a run streams
  every weight from HBM; at M = 1, 4, 16 and 128 also the layer's float16
  form (float16 activations and outputs; at M = 1 and 4 with both kernels),
  and at M = 1, 16 and 128 the unquantized float16 layer (the tensor-core
  kernel without unpacking, against cuBLAS on the same bytes);
- manifest.json describing all of it.

The benchmark layers come from bench/layers.py.

Usage: build_artifacts.py --bin-dir build/bin --out DIR [--models-dir DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "e2e"))
sys.path.insert(0, str(REPO / "bench"))

import models  # noqa: E402
import test_real_models  # noqa: E402
import transformers  # noqa: E402
from harness import ort_run  # noqa: E402
from layers import (LLAMA_SHAPES, copies_for, float_layer_model, nbits_layer_bytes,  # noqa: E402
                    nbits_layer_model)

BATCHES = [1, 4, 16, 64, 128]
# The fused kernel of each benchmark executable: the compiler's choice
# ("auto": the GEMV up to 4 rows, tensor cores above) and, around the
# switch, the other kernel forced, so one run measures both.
KERNEL_VARIANTS = {1: ["auto", "mma"], 4: ["auto", "mma"], 16: ["auto", "gemv"]}
# Batches at which the float16 form of the layer (float16 activations and
# outputs, as float16 models run) is measured too, and its kernels: at
# M = 1 and 4 the tensor-core kernel reads the float16 activations directly
# (no conversion launch), the case it is most likely to beat the GEMV.
FLOAT16_KERNEL_VARIANTS = {1: ["auto", "mma"], 4: ["auto", "mma"], 16: ["auto"],
                           128: ["auto"]}
# Batches at which unquantized float16 layers are measured too.
FP16_WEIGHT_BATCHES = [1, 16, 128]
BLOCK = 128
# Copies of a layer together exceed this many bytes (the H100/H200 L2 is 50 MB).
ROTATION_BYTES = 120 << 20


def compile_model(bin_dir: Path, model: Path, out: Path, *flags: str) -> None:
    cmd = [str(bin_dir / "nibble-compile"), str(model), "-o", str(out), *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"compiling {model.name} failed: {proc.stderr.strip()}")


def uses_tensor_cores(bin_dir: Path, model: Path, work: Path, *flags: str) -> bool:
    """True if the CUDA lowering gives the model a tensor-core (mma.sync)
    kernel, whose activations are rounded to f16."""
    fused = work / f"{model.stem}.fuse.mlir"
    compile_model(bin_dir, model, fused, "--compile-to=fuse", "--emit=mlir", *flags)
    kernels = subprocess.run([str(bin_dir / "nibble-opt"), str(fused), "--nibble-cuda-kernels"],
                             capture_output=True, text=True, check=True).stdout
    return "nvgpu.mma.sync" in kernels


def run_cpu(exe: Path, inputs: dict[str, np.ndarray], work: Path) -> dict[str, np.ndarray]:
    args = []
    for name, value in inputs.items():
        path = work / f"in_{name}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    out_dir = work / "cpu_out"
    out_dir.mkdir(exist_ok=True)
    subprocess.run([str(exe), *args, "--output-dir", str(out_dir)], check=True)
    return {p.stem: np.load(p) for p in out_dir.glob("*.npy")}


@dataclass
class E2ECase:
    name: str
    model: onnx.ModelProto
    quantize: str
    inputs: dict
    # The model onnxruntime runs for the reference when it cannot run
    # `model` itself.
    reference: onnx.ModelProto | None = None
    flags: tuple[str, ...] = ()


def real_model_cases(models_dir: Path) -> list[E2ECase]:
    """The CNNs of the real-model tests (convolutions, depthwise, resize,
    transposed convolutions), at fixed input shapes."""
    cases = []
    for file, shape, modes in [("ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192),
                                ("none", "int8")),
                               ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 128, 128), ("int8",))]:
        path = models_dir / file
        if not path.exists():
            print(f"e2e: {path} not found, left out", flush=True)
            continue
        model = onnx.load(path)
        # Text-like rows: random noise gives the detector ~1e-7 everywhere.
        x = test_real_models.synthetic_text_image(shape[2], shape[3])
        stem = file.split(".onnx")[0].replace(".", "_").replace("-", "_")
        cases += [E2ECase(f"{stem}_{mode}", model, mode, {"x": x},
                          flags=(f"--input-shape=x:{'x'.join(map(str, shape))}",))
                  for mode in modes]
    return cases


def e2e_cases() -> list[E2ECase]:
    cases = []
    mlp = models.mlp()
    cases += [E2ECase("mlp_int4", mlp, "int4", models.random_inputs(mlp)),
              E2ECase("mlp_int8", mlp, "int8", models.random_inputs(mlp))]
    # Pre-quantized layers: zero points (the kernels' asymmetric path), 8 bits,
    # the GEMV (M <= 4) and the tensor-core kernel (M = 11 and 37: M not a
    # multiple of its 16-row tiles, N not a multiple of its 8-column tiles;
    # M = 7: up to 8 rows, A read from a zero-padded f16 copy, K = 640 not a
    # multiple of 128).
    for bits, block, zero_points, k, n, m in [(4, 32, True, 256, 72, 11),
                                              (8, 128, True, 256, 64, 3),
                                              (4, 128, False, 1024, 200, 1),
                                              (8, 64, False, 640, 44, 37),
                                              (4, 64, True, 640, 40, 7)]:
        weights = models.nbits_weights(bits, block, zero_points, k=k, n=n)
        model = models.matmul_nbits(weights, m=m)
        cases.append(E2ECase(
            f"nbits_b{bits}_bs{block}_{'zp' if zero_points else 'nozp'}_k{k}_n{n}_m{m}",
            model, "none", models.random_inputs(model)))
    ids = transformers.token_ids()
    for quantize in ("none", "int8", "int4"):
        cases.append(E2ECase(f"encoder_{quantize}", transformers.encoder(), quantize, ids))
    # The fp32 decoder is left out: its 18 MB of weights add nothing the fp32
    # encoder does not check, and the folder has to travel.
    cases.append(E2ECase("decoder_int4", transformers.decoder(), "int4", ids))
    # Decode-sized steps: every matmul of the whole decoder on the GEMV, the
    # compiler's choice up to 4 rows (float32 at 4 tokens, float16 at 1).
    cases.append(E2ECase("decoder_int4_seq4", transformers.decoder(seq=4), "int4",
                         transformers.token_ids(seq=4)))
    cases.append(E2ECase("decoder16_int4_seq1", models.to_float16(transformers.decoder(seq=1)),
                         "int4", transformers.token_ids(seq=1)))
    # float16 models: the kernels read float16 activations and store float16
    # (GEMV at M = 3, tensor cores at M = 20 and, straight from the
    # activations, at M = 6), and a whole float16 decoder.
    for m in (3, 6, 20):
        weights = models.nbits_weights(4, 32, True, k=256, n=72)
        model = models.to_float16(models.matmul_nbits(weights, m=m))
        cases.append(E2ECase(f"nbits16_b4_bs32_zp_k256_n72_m{m}", model, "none",
                             {"A": models.random_inputs(models.matmul_nbits(weights, m=m))["A"]
                              .astype(np.float16)}))
    # Unquantized layers: float16 weights take the tensor-core kernel (M = 3
    # straight from the activations, M = 20 on fragments), float32 ones the
    # GEMV up to 4 rows (K = 4000: padded to whole blocks).
    for half, k, m in [(True, 256, 3), (True, 256, 20), (False, 4000, 3)]:
        g = models.GraphBuilder("layer", seed=5)
        g.output("y", np.float32, [m, 72])
        g.op("MatMul", g.input("x", np.float32, [m, k]), g.weight(k, 72), out="y")
        model = g.build(opset=17)
        x = np.random.default_rng(m).standard_normal((m, k)).astype(np.float32)
        if half:
            model, x = models.to_float16(model), x.astype(np.float16)
        cases.append(E2ECase(f"matmul{16 if half else 32}_none_k{k}_n72_m{m}", model, "none",
                             {"x": x}))
    cases.append(E2ECase("decoder16_int4", models.to_float16(transformers.decoder()), "int4",
                         ids))
    # bfloat16 (onnxruntime's CPU kernels mostly lack it: the reference is
    # the float32 decoder).
    cases.append(E2ECase("decoderbf16_int4",
                         models.to_float16(transformers.decoder(), bfloat16=True), "int4", ids,
                         reference=transformers.decoder()))
    return cases


def save_case_arrays(case_dir: Path, inputs: dict, cpu: dict, ort: dict) -> None:
    """An e2e case's inputs and the CPU build's and onnxruntime's outputs,
    as run_artifacts.py reads them."""
    for prefix, arrays in (("input", inputs), ("cpu", cpu), ("ort", ort)):
        for key, value in arrays.items():
            np.save(case_dir / f"{prefix}_{key}.npy", value)


def build_e2e(bin_dir: Path, out: Path, work: Path, cases: list[E2ECase]) -> list[dict]:
    entries = []
    for case in cases:
        name, quantize, inputs = case.name, case.quantize, case.inputs
        case_dir = out / "e2e" / name
        case_dir.mkdir(parents=True, exist_ok=True)
        model_path = work / f"{name}.onnx"
        onnx.save(case.model, model_path)
        flags = [f"--quantize={quantize}", *case.flags]
        compile_model(bin_dir, model_path, case_dir / "model", "--target=cuda-sm90", *flags)
        # sm_80 binaries do not run on sm_90: compiling them is the check.
        compile_model(bin_dir, model_path, work / f"{name}_sm80", "--target=cuda-sm80", *flags)
        cpu_exe = work / f"{name}_cpu"
        compile_model(bin_dir, model_path, cpu_exe, *flags)
        case_work = work / name
        case_work.mkdir(exist_ok=True)
        cpu = run_cpu(cpu_exe, inputs, case_work)
        if case.reference is not None:
            reference_path = work / f"{name}_reference.onnx"
            onnx.save(case.reference, reference_path)
            ort = ort_run(reference_path, inputs)
        else:
            ort = ort_run(model_path, inputs)
        save_case_arrays(case_dir, inputs, cpu, ort)
        entries.append({"name": name, "quantize": quantize, "dir": f"e2e/{name}",
                        "inputs": sorted(inputs), "outputs": sorted(cpu),
                        "float16": any(v.dtype == np.float16 for v in cpu.values()),
                        # numpy saves bfloat16 as raw 2-byte values
                        "bfloat16": any(v.dtype.kind == "V" for v in cpu.values()),
                        "tensor_cores": uses_tensor_cores(bin_dir, model_path, work, *flags)})
        print(f"e2e {name}: compiled", flush=True)
    return entries


def build_bench(bin_dir: Path, out: Path, work: Path, quick: bool) -> list[dict]:
    entries = []
    shapes = LLAMA_SHAPES[-1:] if quick else LLAMA_SHAPES
    batches = [1, 16] if quick else BATCHES
    for k, n in shapes:
        layer_bytes = nbits_layer_bytes(k, n, bits=4, block=BLOCK)
        copies = copies_for(layer_bytes, ROTATION_BYTES)
        for m in batches:
            base = f"int4_g{BLOCK}_{k}x{n}_m{m}"
            model_path = work / f"{base}.onnx"
            onnx.save(nbits_layer_model(k, n, m, copies, seed=k + n + m), model_path)
            variants = [(kernel, False) for kernel in KERNEL_VARIANTS.get(m, ["auto"])]
            variants += [(kernel, True) for kernel in FLOAT16_KERNEL_VARIANTS.get(m, [])]
            for kernel, float16 in variants:
                name = (base + ("" if kernel == "auto" else f"_{kernel}") +
                        ("_f16" if float16 else ""))
                path = model_path
                if float16:
                    path = work / f"{base}_f16.onnx"
                    onnx.save(nbits_layer_model(k, n, m, copies, seed=k + n + m, float16=True),
                              path)
                compile_model(bin_dir, path, out / "bench" / name, "--target=cuda-sm90",
                              f"--cuda-matmul-kernel={kernel}")
                if float16:
                    path.unlink()
                entries.append({"name": name, "exe": f"bench/{name}", "k": k, "n": n, "m": m,
                                "kernel": kernel, "copies": copies, "bits": 4,
                                "weights": f"int4-g{BLOCK}",
                                "activations": "f16" if float16 else "f32",
                                "group_size": BLOCK, "weight_bytes_per_layer": layer_bytes})
                print(f"bench {name}: {copies} copies", flush=True)
            model_path.unlink()
        if not quick:
            entries += build_fp16_bench(bin_dir, out, work, k, n)
    return entries


def build_fp16_bench(bin_dir: Path, out: Path, work: Path, k: int, n: int) -> list[dict]:
    """Unquantized float16 layers (the tensor-core kernel on float16
    weights): the same GEMM structure as the int4 kernel without the
    unpacking, against cuBLAS on the very same bytes."""
    entries = []
    layer_bytes = 2 * k * n
    copies = copies_for(layer_bytes, ROTATION_BYTES)
    for m in FP16_WEIGHT_BATCHES:
        name = f"fp16_{k}x{n}_m{m}"
        path = work / f"{name}.onnx"
        onnx.save(float_layer_model(k, n, m, copies, seed=k + n + m, float16=True), path)
        compile_model(bin_dir, path, out / "bench" / name, "--target=cuda-sm90")
        path.unlink()
        entries.append({"name": name, "exe": f"bench/{name}", "k": k, "n": n, "m": m,
                        "kernel": "auto", "copies": copies, "bits": 16, "weights": "fp16",
                        "activations": "f16", "weight_bytes_per_layer": layer_bytes})
        print(f"bench {name}: {copies} copies", flush=True)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true",
                        help="a few cases only (a first smoke run)")
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--models-dir", type=Path,
                        help="the real ONNX models of the tests (their CNNs join the e2e cases)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for sub in ("e2e", "bench"):
        (args.out / sub).mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = {"e2e": [] if args.skip_e2e else
                    build_e2e(args.bin_dir.resolve(), args.out, work,
                              e2e_cases() + (real_model_cases(args.models_dir)
                                             if args.models_dir else [])),
                    "bench": [] if args.skip_bench else
                    build_bench(args.bin_dir.resolve(), args.out, work, args.quick)}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
