"""The CUDA targets (--target=cuda-sm80 / cuda-sm90) on any machine.

Everything here runs without a GPU: models compile for both chips, the fused
GEMV kernel's PTX has the intended instructions (16-byte loads, shuffles, no
int-to-float conversions, no local memory) and ptxas reports no spills, and a
GPU binary on a machine without a GPU fails with one clear line. Where a GPU
is present, the binaries run and must agree with the CPU build.

Tests that need the CUDA toolkit (ptxas, libdevice) skip without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest

import harness
import models
import test_real_models
import transformers

CHIPS = ["sm80", "sm90"]


def cuda_toolkit() -> Path | None:
    for variable in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        root = os.environ.get(variable)
        if root and (Path(root) / "bin" / "ptxas").exists():
            return Path(root)
    if Path("/usr/local/cuda/bin/ptxas").exists():
        return Path("/usr/local/cuda")
    ptxas = shutil.which("ptxas")
    return Path(ptxas).resolve().parents[1] if ptxas else None


TOOLKIT = cuda_toolkit()
needs_toolkit = pytest.mark.skipif(
    TOOLKIT is None, reason="no CUDA toolkit (ptxas): set CUDA_HOME to test the CUDA targets")


def gemv_model() -> "onnx.ModelProto":
    """One int4 g128 MatMulNBits layer, batch 1: the decode GEMV."""
    weights = models.nbits_weights(4, 128, False, k=1024, n=200)
    return models.matmul_nbits(weights, m=1)


@needs_toolkit
@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("half, quantize", [(False, "int4"), (True, "int4"), (True, "none")],
                         ids=["float32-int4", "float16-int4", "float16-none"])
def test_transformer_compiles_for_gpu(chip, half, quantize, write_model, nibble_compile,
                                      tmp_path):
    model = transformers.decoder(layers=1)
    path = write_model(models.to_float16(model) if half else model, "decoder")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "decoder",
                             target=f"cuda-{chip}", quantize=quantize)
    info = subprocess.run([str(exe), "--info"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert f"target: cuda sm_{chip[2:]}" in info.stdout
    assert "device:" in info.stdout
    # Every weight matmul (32 rows, int4 or float16 weights) runs on the
    # tensor cores; the embedding lookup on generic loops.
    kernels = layer_kernels(info.stdout)
    assert {kernel for (op, kernel) in kernels.values() if op == "MatMul"} == {"tensor cores"}
    assert {kernel for (op, kernel) in kernels.values() if op == "Gather"} == {"generic loops"}


@needs_toolkit
@pytest.mark.parametrize("half, seq", [(False, 4), (True, 1)], ids=["float32-seq4", "float16-seq1"])
def test_decode_step_takes_the_gemv(half, seq, write_model, nibble_compile, tmp_path):
    """A decode-sized step (up to 4 tokens) of the whole int4 decoder puts
    every weight matmul on the GEMV."""
    model = transformers.decoder(layers=1, seq=seq)
    path = write_model(models.to_float16(model) if half else model, "decoder")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "decoder", target="cuda-sm90",
                             quantize="int4")
    info = subprocess.run([str(exe), "--info"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    kernels = layer_kernels(info.stdout)
    assert {kernel for (op, kernel) in kernels.values() if op == "MatMul"} == {"gemv"}


def layer_kernels(info: str) -> dict:
    """{layer: (op type, kernel)} from the layer table of --info."""
    lines = info.split("\nlayers\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header[-1] == "kernel", header
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]
    return {row[0]: (row[1], row[-1]) for row in rows}


def ptx_of_kernels(nibble_bin_dir: Path, model_path: Path, chip: str, tmp_path: Path,
                   matmul_kernel: str = "auto") -> dict:
    """{kernel module name: PTX text} of the model's GPU kernels."""
    fused = tmp_path / "fuse.mlir"
    subprocess.run([str(nibble_bin_dir / "nibble-compile"), str(model_path),
                    "--compile-to=fuse", "--emit=mlir", "-o", str(fused)], check=True)
    lowered = subprocess.run(
        [str(nibble_bin_dir / "nibble-opt"), str(fused),
         f"--nibble-cuda-kernels=matmul-kernel={matmul_kernel}",
         f"--nibble-cuda-binary=chip=sm_{chip[2:]} format=isa toolkit={TOOLKIT} "
         f"libdevice={TOOLKIT / 'nvvm' / 'libdevice' / 'libdevice.10.bc'}"],
        check=True, capture_output=True, text=True).stdout
    kernels = {}
    for match in re.finditer(r'gpu\.binary @(\w+) .*?assembly = "((?:[^"\\]|\\.)*)"', lowered):
        text = re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), match.group(2))
        kernels[match.group(1)] = text.replace("\\\\", "\\")
    return kernels


@needs_toolkit
@pytest.mark.parametrize("chip", CHIPS)
def test_gemv_kernel_instructions(chip, nibble_bin_dir, write_model, tmp_path):
    kernels = ptx_of_kernels(nibble_bin_dir, write_model(gemv_model(), "gemv"), chip, tmp_path)
    gemv = [ptx for ptx in kernels.values() if "shfl.sync.bfly" in ptx]
    assert len(gemv) == 1, f"expected one fused GEMV kernel among {sorted(kernels)}"
    ptx = gemv[0]
    # Weights (and activations) move in 16-byte loads; nothing goes through
    # local memory; the unpacking uses no int-to-float conversion.
    assert "ld.global.v4.b32" in ptx
    assert ".local" not in ptx
    assert not re.search(r"cvt\.rn\.f32\.[su]32", ptx)
    report = ptxas_report(ptx, chip, tmp_path)
    assert "0 bytes spill stores, 0 bytes spill loads" in report, report
    registers = int(re.search(r"Used (\d+) registers", report).group(1))
    assert registers <= 96, f"the batch-1 GEMV should keep occupancy high: {report}"


def ptxas_report(ptx: str, chip: str, tmp_path: Path) -> str:
    """ptxas -v's resource report of one kernel module."""
    ptx_path = tmp_path / "kernel.ptx"
    ptx_path.write_text(ptx)
    return subprocess.run([str(TOOLKIT / "bin" / "ptxas"), f"-arch=sm_{chip[2:]}", "-v",
                           str(ptx_path), "-o", str(tmp_path / "kernel.cubin")],
                          capture_output=True, text=True, check=True).stderr


@needs_toolkit
@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("bits", [4, 8])
def test_mma_kernel_instructions(chip, bits, nibble_bin_dir, write_model, tmp_path):
    """Batch 32 takes the tensor-core kernel: f16 mma.sync with f32
    accumulators, 16-byte weight and fragment loads, f16x2 unpacking (no
    int-to-float conversion) and nothing spilled to local memory."""
    weights = models.nbits_weights(bits, 128, True, k=1024, n=256)
    path = write_model(models.matmul_nbits(weights, m=32), "prefill")
    kernels = ptx_of_kernels(nibble_bin_dir, path, chip, tmp_path)
    gemm = [ptx for ptx in kernels.values() if "mma.sync" in ptx]
    assert len(gemm) == 1, f"expected one tensor-core kernel among {sorted(kernels)}"
    ptx = gemm[0]
    assert "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in ptx
    assert "ld.global.v4.b32" in ptx
    assert re.search(r"(sub|add)\.rn\.f16x2|(sub|add)\.f16x2", ptx), "no packed f16 unpacking"
    assert not re.search(r"cvt\.rn\.f(16|32)\.[su](8|16|32)", ptx)
    assert ".local" not in ptx
    # The activations are rounded to f16 once, by a separate kernel.
    assert any("cvt.rn.f16x2.f32" in text for text in kernels.values())
    report = ptxas_report(ptx, chip, tmp_path)
    assert "0 bytes spill stores, 0 bytes spill loads" in report, report


@needs_toolkit
@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16"])
def test_unquantized_layer_takes_a_fused_kernel(chip, half, nibble_bin_dir, write_model,
                                                tmp_path):
    """An unquantized layer at batch 1 is one fused kernel through the whole
    CUDA pipeline: the GEMV for float32 weights (16-byte loads, shuffle
    reduction), the tensor-core kernel for float16 ones; no spills."""
    g = models.GraphBuilder("layer", seed=4)
    g.op("MatMul", g.input("x", np.float32, [1, 1024]), g.weight(1024, 256), out="y")
    g.output("y", np.float32, [1, 256])
    model = g.build(opset=17)
    path = write_model(models.to_float16(model) if half else model, "layer")
    kernels = ptx_of_kernels(nibble_bin_dir, path, chip, tmp_path)
    assert len(kernels) == 1, f"expected one fused kernel, got {sorted(kernels)}"
    (ptx,) = kernels.values()
    assert "ld.global.v4.b32" in ptx
    assert ("mma.sync.aligned.m16n8k16" in ptx) == half
    assert ("shfl.sync.bfly" in ptx) == (not half)
    report = ptxas_report(ptx, chip, tmp_path)
    assert "0 bytes spill stores, 0 bytes spill loads" in report, report


@needs_toolkit
@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_paddleocr_classifier_compiles_for_gpu(quantize, nibble_compile, tmp_path):
    """A real CNN (convolutions, depthwise, pooling, a MatMul): every loop
    nest becomes a kernel, including linalg ops whose parallel dimensions
    follow their reductions."""
    path = test_real_models.shared_model("ch_ppocr_mobile_v2.0_cls_infer.onnx")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "cls", target="cuda-sm90",
                             quantize=quantize, input_shape="x:1x3x48x192")
    info = subprocess.run([str(exe), "--info"], capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert "target: cuda sm_90" in info.stdout
    kernels = layer_kernels(info.stdout)
    assert {kernel for (op, kernel) in kernels.values() if op == "Conv"} == {"generic loops"}
    # Its classifier head (K = 200, N = 2, batch 1): int8 per channel on the
    # GEMV (its all-zero scaled zero points must not fold it out of the
    # kernel); float32 weights this short stay on generic loops.
    assert kernels["p2o.MatMul.0"] == ("MatMul", "gemv" if quantize == "int8" else "generic loops")


@needs_toolkit
@pytest.mark.parametrize("chip", CHIPS)
def test_small_batch_mma_kernel_instructions(chip, nibble_bin_dir, write_model, tmp_path):
    """A float16 layer at batch 1 forced onto the tensor-core kernel: one
    launch (the mma reads the float16 activations themselves, 8 bytes per
    lane and step), int4 pairs centered by f16x2 subtractions and fused
    multiply-adds, no conversions, no spills."""
    weights = models.nbits_weights(4, 128, False, k=1024, n=256)
    path = write_model(models.to_float16(models.matmul_nbits(weights, m=1)), "decode16")
    kernels = ptx_of_kernels(nibble_bin_dir, path, chip, tmp_path, matmul_kernel="mma")
    assert len(kernels) == 1, f"expected the GEMM alone, got {sorted(kernels)}"
    (ptx,) = kernels.values()
    assert "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32" in ptx
    assert "ld.global.v2.b32" in ptx, "the A values should come in 8-byte loads"
    assert "fma.rn.f16x2" in ptx, "odd int4 pairs should be centered by one f16x2 fma"
    assert not re.search(r"cvt\.(rn\.)?f(16|32)\.(f16|f32|[su]\d+)", ptx)
    report = ptxas_report(ptx, chip, tmp_path)
    assert "0 bytes spill stores, 0 bytes spill loads" in report, report


@needs_toolkit
def test_gpu_binary_runs_or_fails_clearly(write_model, nibble_compile, compile_and_run, tmp_path):
    model = gemv_model()
    path = write_model(model, "gemv")
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "gemv_gpu", target="cuda-sm90")
    inputs = models.random_inputs(model)
    input_args = []
    for name, value in inputs.items():
        np.save(tmp_path / f"{name}.npy", value)
        input_args += ["--input", f"{name}={tmp_path / f'{name}.npy'}"]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.run([str(exe), *input_args, "--output-dir", str(out_dir)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        # No GPU here: exactly one line saying so, never a crash.
        assert proc.returncode in (1, 2), proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert re.match(r"nibble: no CUDA (driver|GPU)", lines[0]), lines[0]
        pytest.skip("no CUDA GPU here: " + lines[0])
    expected = compile_and_run(path, inputs)
    actual = {p.stem: np.load(p) for p in out_dir.glob("*.npy")}
    harness.assert_outputs_match(actual, expected, tolerance=1e-4)


def test_unknown_cuda_chip_is_one_line(write_model, nibble_compile, tmp_path):
    path = write_model(gemv_model(), "gemv")
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", target="cuda-sm70")
    harness.assert_one_line_error(proc, "nibble-compile: error: ", "cuda-sm70")


def _emulate_layer(nibble_bin_dir: Path, model_path: Path, tmp_path: Path, inputs: list,
                   outputs: list, kernel: str = "gemv", force: str = "auto", **flags) -> list:
    """Compiles `model_path` to the IR right after the fused-kernel pass
    (the CUDA kernel phase's passes up to there; kernels still inline;
    `force` is the packing pass's kernel choice),
    checks it holds the expected `kernel` ("gemv" or the tensor-core "mma")
    and runs it in the GPU emulator."""
    fused = tmp_path / "fuse.mlir"
    subprocess.run([str(nibble_bin_dir / "nibble-compile"), str(model_path), "--compile-to=fuse",
                    "--emit=mlir", "-o", str(fused), *harness.flag_args(flags)], check=True)
    pipeline = (f"builtin.module(func.func(nibble-cuda-pack-matmul-weights{{kernel={force}}}),"
                "convert-nibble-to-linalg,canonicalize,cse,"
                "func.func(linalg-generalize-named-ops,nibble-cpu-fuse-elementwise),"
                "canonicalize,cse,"
                "one-shot-bufferize{bufferize-function-boundaries "
                "function-boundary-type-conversion=identity-layout-map},"
                "buffer-results-to-out-params{hoist-static-allocs=true "
                "modify-public-functions=true},"
                "func.func(buffer-deallocation-pipeline,nibble-cuda-dequant-matmul-kernels))")
    ir = subprocess.run([str(nibble_bin_dir / "nibble-opt"), str(fused),
                         f"--pass-pipeline={pipeline}", "--mlir-print-op-generic"],
                        check=True, capture_output=True, text=True).stdout
    assert '"gpu.launch"' in ir, "the layer did not get the fused kernel"
    uses_mma = '"nvgpu.mma.sync"' in ir
    assert uses_mma == (kernel == "mma"), f"expected the {kernel} kernel"
    import gpu_emulator
    return gpu_emulator.emulate(ir, inputs, outputs)


def _case_id(case) -> str:
    return "b{}-bs{}-{}-k{}-n{}-m{}".format(case[0], case[1], "zp" if case[2] else "nozp",
                                            *case[3:])


# (bits, block size, zero points, K, N, M) for the GEMV (M <= 4): K not a
# multiple of the kernel's 1024-wide step (padding), N not a multiple of its
# columns per block, the unsigned (zero point) and signed paths, 8 bits;
# narrow N makes warps split K: 2 ways over 2 steps, and 4 ways over 5
# steps (uneven).
EMULATED_GEMV_CASES = [(4, 32, True, 1088, 37, 3), (4, 128, False, 2048, 20, 1),
                       (8, 128, True, 256, 24, 3), (8, 32, False, 1024, 16, 2),
                       (4, 128, True, 4992, 12, 4)]

# The same for the tensor-core kernel (M > 4): one and two row chunks of 4
# row tiles (M = 70), M not a multiple of 16, K not a multiple of its
# 128-wide block, N not a multiple of its 8-column tiles, groups of 16, 32
# (flushed within a block) and 128, zero points, 8 bits, and warps
# splitting K 2 and 4 ways (39 blocks: uneven).
EMULATED_MMA_CASES = [(4, 128, False, 256, 40, 20), (4, 32, True, 1088, 37, 70),
                      (8, 128, True, 256, 24, 5), (8, 32, False, 224, 17, 33),
                      (4, 16, True, 160, 9, 7), (4, 128, True, 4992, 12, 6)]


@pytest.mark.parametrize("case", EMULATED_GEMV_CASES, ids=_case_id)
def test_gemv_kernel_emulated(case, nibble_bin_dir, write_model, tmp_path):
    """The fused kernel's IR, run thread by thread on the CPU by the
    emulator, computes the layer: checks the packed layout, the lane
    mapping, the in-register unpacking and the shuffle reduction without a GPU."""
    bits, block, zero_points, k, n, m = case
    weights = models.nbits_weights(bits, block, zero_points, k=k, n=n)
    path = write_model(models.matmul_nbits(weights, m=m), "layer")
    x = np.random.default_rng(7).standard_normal((m, k)).astype(np.float32)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x], [((m, n), np.float32)])
    expected = x.astype(np.float64) @ weights.dequantized()
    assert harness.relative_error(y, expected) <= 1e-5


@pytest.mark.parametrize("case", EMULATED_MMA_CASES, ids=_case_id)
def test_mma_kernel_emulated(case, nibble_bin_dir, write_model, tmp_path):
    _check_mma_layer(case, nibble_bin_dir, write_model, tmp_path, force="auto")


@pytest.mark.parametrize("case", [(4, 128, True, 1024, 40, 1), (8, 32, False, 256, 24, 3)],
                         ids=_case_id)
def test_forced_mma_kernel_emulated(case, nibble_bin_dir, write_model, tmp_path):
    """The tensor-core kernel can be forced on batch 1-4 (rows padded to a
    16-row tile), to measure it against the GEMV."""
    _check_mma_layer(case, nibble_bin_dir, write_model, tmp_path, force="mma")


def test_forced_gemv_kernel_emulated(nibble_bin_dir, write_model, tmp_path):
    """... and the GEMV on more rows."""
    weights = models.nbits_weights(4, 128, True, k=1024, n=40)
    path = write_model(models.matmul_nbits(weights, m=20), "layer")
    x = np.random.default_rng(7).standard_normal((20, 1024)).astype(np.float32)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x], [((20, 40), np.float32)],
                          kernel="gemv", force="gemv")
    assert harness.relative_error(y, x.astype(np.float64) @ weights.dequantized()) <= 1e-5


def test_unknown_cuda_matmul_kernel_is_one_line(write_model, nibble_compile, tmp_path):
    path = write_model(gemv_model(), "gemv")
    proc = harness.compile_model(nibble_compile, path, tmp_path / "out", target="cuda-sm90",
                                 cuda_matmul_kernel="wgmma")
    harness.assert_one_line_error(proc, "nibble-compile: error: ", "--cuda-matmul-kernel")


def _check_mma_layer(case, nibble_bin_dir, write_model, tmp_path, force):
    """The tensor-core kernel, emulated (mma.sync with PTX's fragment
    layout): f16 activations times exactly unpacked weights, summed in f32,
    equal the layer on the f16-rounded activations; the layout, the lanes'
    fragments, group flushes, tails and the K split are all in the result."""
    bits, block, zero_points, k, n, m = case
    weights = models.nbits_weights(bits, block, zero_points, k=k, n=n)
    path = write_model(models.matmul_nbits(weights, m=m), "layer")
    x = np.random.default_rng(7).standard_normal((m, k)).astype(np.float32)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x], [((m, n), np.float32)],
                          kernel="mma", force=force)
    x16 = x.astype(np.float16).astype(np.float64)
    assert harness.relative_error(y, x16 @ weights.dequantized()) <= 1e-6
    # What the f16 activations cost against the f32 layer: ~2^-12 relative.
    assert harness.relative_error(y, x.astype(np.float64) @ weights.dequantized()) <= 1e-3


@pytest.mark.parametrize("m", [20, 8])
def test_mma_kernel_saturates_beyond_float16(m, nibble_bin_dir, write_model, tmp_path):
    """f32 activations beyond f16's range saturate at its largest finite
    value in the tensor-core kernel instead of becoming infinite (in the A
    fragments, and in the f16 copy of up to 8 rows)."""
    weights = models.nbits_weights(4, 128, False, k=256, n=24)
    path = write_model(models.matmul_nbits(weights, m=m), "layer")
    x = np.random.default_rng(7).standard_normal((m, 256)).astype(np.float32)
    x[3, 5], x[7, 100] = 1e6, -3e5
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x], [((m, 24), np.float32)],
                          kernel="mma")
    assert np.all(np.isfinite(y))
    x16 = np.clip(x, -65504, 65504).astype(np.float16).astype(np.float64)
    assert harness.relative_error(y, x16 @ weights.dequantized()) <= 1e-6


@pytest.mark.parametrize("m, kernel", [(3, "gemv"), (20, "mma"), (5, "mma")])
def test_bfloat16_layer_kernels_emulated(m, kernel, nibble_bin_dir, write_model, tmp_path):
    """A bfloat16 layer quantized by nibble (int4 g32): the kernels read the
    bfloat16 activations (the tensor-core kernel rounds them to f16, exact
    for these values) and store bfloat16, as the CPU build computes."""
    g = models.GraphBuilder("layer", seed=4)
    x = g.input("x", np.float32, [m, 256])
    g.op("MatMul", x, g.weight(256, 40), out="y")
    g.output("y", np.float32, [m, 40])
    path = write_model(models.to_float16(g.build(opset=17), bfloat16=True), "layer_bf16")
    inputs = {"x": np.random.default_rng(7).standard_normal((m, 256)).astype(ml_dtypes.bfloat16)}
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [inputs["x"]],
                          [((m, 40), ml_dtypes.bfloat16)], kernel=kernel, quantize="int4",
                          group_size=32)
    work = tmp_path / "cpu"
    work.mkdir()
    exe = harness.compile_ok(nibble_bin_dir / "nibble-compile", path, work / "layer",
                             emit="exe", quantize="int4", group_size=32)
    expected = harness.run_executable(exe, inputs, work, ["y"])["y"].view(ml_dtypes.bfloat16)
    assert harness.relative_error(y.astype(np.float64), expected.astype(np.float64)) <= 8e-3


# (M, K, kernel, forced): the GEMV, the tensor-core kernel on A fragments
# (M > 8) and on the activations themselves (M <= 8: read directly over
# whole 128-wide blocks of K, else rounded into a zero-padded copy), also
# forced at batch 1.
FLOAT16_LAYER_CASES = [(3, 256, "gemv", "auto"), (20, 256, "mma", "auto"),
                       (8, 256, "mma", "auto"), (1, 256, "mma", "mma"),
                       (2, 160, "mma", "mma")]


@pytest.mark.parametrize("case", FLOAT16_LAYER_CASES,
                         ids=lambda c: f"m{c[0]}-k{c[1]}-{c[2]}-{c[3]}")
def test_float16_layer_kernels_emulated(case, nibble_bin_dir, write_model, tmp_path):
    """A float16 layer: the kernel reads the float16 activations itself and
    stores float16 (the widening and rounding around the f32 product are
    folded in, or the emulator would meet them as host linalg ops); the
    result is the exact product rounded once to float16. The tensor-core
    kernel takes the float16 activations as they are, so it is exact too."""
    m, k, kernel, force = case
    weights = models.nbits_weights(4, 32, True, k=k, n=40)
    path = write_model(models.to_float16(models.matmul_nbits(weights, m=m)), "layer16")
    x = np.random.default_rng(7).standard_normal((m, k)).astype(np.float16)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x], [((m, 40), np.float16)],
                          kernel=kernel, force=force)
    exact = x.astype(np.float64) @ weights.dequantized()
    assert harness.relative_error(y, exact.astype(np.float16)) <= 1e-3


@pytest.mark.parametrize("m, k", [(1, 200), (6, 640), (20, 200)])
def test_float16_weights_take_tensor_cores_emulated(m, k, nibble_bin_dir, write_model, tmp_path):
    """An unquantized float16 layer runs on the tensor-core kernel too (its
    weights packed as f16 pairs, no unpacking, no scales): the f16 products
    are exact and summed in f32, so the result is the exact product rounded
    once to float16, as the CPU build computes it. K = 640 has 4 warps
    split 5 blocks of K (the last past the end adds nothing)."""
    g = models.GraphBuilder("layer", seed=4)
    x = g.input("x", np.float32, [m, k])
    g.op("MatMul", x, g.weight(k, 44), out="y")
    g.output("y", np.float32, [m, 44])
    model = models.to_float16(g.build(opset=17))
    path = write_model(model, "layer16")
    x16 = np.random.default_rng(7).standard_normal((m, k)).astype(np.float16)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x16], [((m, 44), np.float16)],
                          kernel="mma", quantize="none")
    weight = onnx.numpy_helper.to_array(model.graph.initializer[0]).astype(np.float64)
    exact = x16.astype(np.float64) @ weight
    assert harness.relative_error(y, exact.astype(np.float16)) <= 1e-3
    assert np.mean(y == exact.astype(np.float16)) >= 0.99


@pytest.mark.parametrize("m, k, force", [(1, 1024, "auto"), (3, 4000, "auto"), (6, 3072, "gemv")])
def test_float32_weights_take_the_gemv_emulated(m, k, force, nibble_bin_dir, write_model,
                                                tmp_path):
    """An unquantized float32 layer with up to 4 rows (or the GEMV forced)
    runs on the GEMV, its weights packed as whole 32-bit words, one column
    per warp: the f32 product, in another order of summation. K = 4000 is
    not a multiple of the 1024-wide step (padding); N = 44 columns make 4
    warps split K (3 steps: unevenly)."""
    g = models.GraphBuilder("layer", seed=4)
    x = g.input("x", np.float32, [m, k])
    g.op("MatMul", x, g.weight(k, 44), out="y")
    g.output("y", np.float32, [m, 44])
    model = g.build(opset=17)
    path = write_model(model, "layer32")
    x32 = np.random.default_rng(7).standard_normal((m, k)).astype(np.float32)
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [x32], [((m, 44), np.float32)],
                          kernel="gemv", force=force, quantize="none")
    weight = onnx.numpy_helper.to_array(model.graph.initializer[0]).astype(np.float64)
    assert harness.relative_error(y, x32.astype(np.float64) @ weight) <= 1e-6


# (quantize, group size, M, kernel): nibble's quantizer's int8 per channel
# and int4 per group of 128, in both kernels; int4 per group of 8, which
# the tensor-core kernel does not take, keeps M = 6 on the GEMV (two row
# tiles).
QUANTIZED_LAYER_CASES = [("int8", None, 3, "gemv"), ("int4", None, 3, "gemv"),
                         ("int8", None, 24, "mma"), ("int4", None, 24, "mma"),
                         ("int4", 8, 6, "gemv")]


@pytest.mark.parametrize("case", QUANTIZED_LAYER_CASES,
                         ids=lambda c: f"{c[0]}-g{c[1]}-m{c[2]}-{c[3]}")
def test_quantized_layer_kernel_emulated(case, nibble_bin_dir, write_model,
                                         compile_and_run, tmp_path):
    """nibble's own quantizer feeds the same kernels; the emulated GPU
    result equals the CPU build's (on f16-rounded activations for mma)."""
    quantize, group_size, m, kernel = case
    k, n = 640, 50
    g = models.GraphBuilder("layer", seed=4)
    x = g.input("x", np.float32, [m, k])
    g.op("MatMul", x, g.weight(k, n), out="y")
    g.output("y", np.float32, [m, n])
    model = g.build(opset=17)
    path = write_model(model, "layer")
    inputs = models.random_inputs(model)
    if kernel == "mma":
        inputs = {"x": inputs["x"].astype(np.float16).astype(np.float32)}
    (y,) = _emulate_layer(nibble_bin_dir, path, tmp_path, [inputs["x"]],
                          [((m, n), np.float32)], kernel=kernel, quantize=quantize,
                          group_size=group_size)
    expected = compile_and_run(path, inputs, quantize=quantize, group_size=group_size)["y"]
    assert harness.relative_error(y, expected) <= 1e-5
