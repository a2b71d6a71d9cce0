"""The CPU matmul kernels on awkward shapes, on both x86 targets, with 1 and
2 threads.

W8A8 products (int8 dot-product kernel) must equal a numpy emulation of the
ONNX rules bit for bit: every row tile (M not a multiple of 4), every step
of K (K not a multiple of 4: masked activations over zero-padded weights),
every column panel (N not a multiple of 16 or 64: masked accumulators).
`x86-64-avx2` spells the dot products without VNNI and must agree exactly.
Threads only split columns, so 1 and 2 threads give identical bits, for the
int8 kernel and for the weight-only int4 GEMV.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import harness
import models

# (M, K, N): a single row, tails in every dimension, several panels.
SHAPES = [(1, 64, 64), (3, 37, 33), (5, 130, 100), (9, 10, 164)]


def linear_model(m: int, k: int, n: int, seed: int) -> tuple[onnx.ModelProto, np.ndarray]:
    g = models.GraphBuilder(f"linear_{m}x{k}x{n}", seed)
    x = g.input("x", np.float32, [m, k])
    w = (g.rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    g.op("MatMul", x, g.f32(w, "w"), name="fc", out="y")
    g.output("y", np.float32, [m, n])
    return g.build(), w


def run_on_1_and_2_threads(exe, x: np.ndarray, tmp_path, monkeypatch) -> list[np.ndarray]:
    """Output y of the model on x with NIBBLE_NUM_THREADS=1, then 2."""
    outputs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("NIBBLE_NUM_THREADS", threads)
        outputs.append(harness.run_executable(exe, {"x": x}, tmp_path / f"run{threads}",
                                              ["y"])["y"])
    return outputs


def emulate_dynamic_w8a8(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-column symmetric int8 weights, per-row dynamic int8 activations,
    exact int32 products, one float epilogue (as test_w8a8 states them)."""
    scale_w = (np.max(np.abs(w), axis=0) / np.float32(127)).astype(np.float32)
    scale_w[scale_w == 0] = 1
    qw = np.clip(np.rint(w / scale_w), -128, 127).astype(np.int64)
    amax = np.max(np.abs(x), axis=1).astype(np.float32)
    scale_x = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    qx = np.clip(np.rint(x / scale_x[:, None]), -128, 127).astype(np.int64)
    acc = (qx @ qw).astype(np.int32).astype(np.float32)
    return (acc * scale_x[:, None]).astype(np.float32) * scale_w


@pytest.mark.parametrize("target", ["host", "x86-64-avx2"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_w8a8_kernel_is_exact(nibble_compile, tmp_path, monkeypatch, shape, target):
    m, k, n = shape
    model, w = linear_model(m, k, n, seed=m + k + n)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "w8a8", quantize="w8a8",
                             activations="dynamic", target=target)
    x = np.random.default_rng(k).standard_normal((m, k)).astype(np.float32)
    want = emulate_dynamic_w8a8(x, w)
    for threads, got in enumerate(run_on_1_and_2_threads(exe, x, tmp_path, monkeypatch), 1):
        np.testing.assert_array_equal(got, want, err_msg=f"{threads} thread(s)")


@pytest.mark.parametrize("shape", [(1, 256, 200), (6, 256, 130)],
                         ids=lambda s: "x".join(map(str, s)))
def test_threads_do_not_change_int4_results(nibble_compile, tmp_path, monkeypatch, shape):
    m, k, n = shape
    model, w = linear_model(m, k, n, seed=3)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "int4", quantize="int4",
                             group_size=32)
    x = np.random.default_rng(5).standard_normal((m, k)).astype(np.float32)
    outputs = run_on_1_and_2_threads(exe, x, tmp_path, monkeypatch)
    np.testing.assert_array_equal(outputs[0], outputs[1])
    # And the product is the int4 model's: close to the float one.
    assert harness.sqnr_db(outputs[0], x @ w) > 15


# (bits, block, zero points, K, N, M) of MatMulNBits layers at accuracy
# level 0 (float activations: the weight-only GEMV): int4 in words of 8
# rows of K, signed (no zero points) and unsigned with zero points, groups
# of 16, 32 and 128, tails in N and M; and 8 bits.
INT4_GEMV_CASES = [(4, 32, False, 256, 100, 1), (4, 128, True, 384, 70, 3),
                   (4, 16, True, 64, 33, 5), (4, 16, False, 48, 16, 2),
                   (8, 32, True, 128, 40, 2)]


@pytest.mark.parametrize("target", ["host", "x86-64-avx2"])
@pytest.mark.parametrize("case", INT4_GEMV_CASES,
                         ids=lambda c: "b{}-bs{}-{}-k{}-n{}-m{}".format(
                             c[0], c[1], "zp" if c[2] else "nozp", *c[3:]))
def test_weight_only_gemv_matches_the_dequantized_product(nibble_compile, tmp_path,
                                                          monkeypatch, case, target):
    """The float-activation GEMV (int4 words unpacked by table lookup with
    AVX-512, by the mantissa of 1.0 on AVX2) computes x @ dequantized(W) to
    float rounding, on 1 and 2 threads alike."""
    bits, block, zero_points, k, n, m = case
    weights = models.nbits_weights(bits, block, zero_points, k=k, n=n)
    path = tmp_path / "nbits.onnx"
    onnx.save(models.matmul_nbits(weights, m=m), path)
    if bits == 4:  # K and the blocks are multiples of 8: int4 words
        lowered = harness.compile_ok(nibble_compile, path, tmp_path / "nbits.mlir",
                                     target=target, emit="mlir", compile_to="lower")
        assert "dense_resource<packed_int4_words>" in lowered.read_text()
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "nbits", target=target)
    x = np.random.default_rng(k + n).standard_normal((m, k)).astype(np.float32)
    monkeypatch.setenv("NIBBLE_NUM_THREADS", "1")
    one = harness.run_executable(exe, {"A": x}, tmp_path / "run1", ["Y"])["Y"]
    monkeypatch.setenv("NIBBLE_NUM_THREADS", "2")
    two = harness.run_executable(exe, {"A": x}, tmp_path / "run2", ["Y"])["Y"]
    np.testing.assert_array_equal(one, two)
    assert harness.relative_error(one, x.astype(np.float64) @ weights.dequantized()) <= 2e-6


@pytest.mark.parametrize("target", ["host", "x86-64-avx2"])
def test_int4_two_per_byte_gemv(nibble_compile, tmp_path, target):
    """K = 36 in groups of 4 is not whole words of 8 rows: the weights stay
    two per byte, and that path computes the same product."""
    model, w = linear_model(3, 36, 40, seed=6)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    lowered = harness.compile_ok(nibble_compile, path, tmp_path / "int4.mlir", quantize="int4",
                                 group_size=4, target=target, emit="mlir",
                                 compile_to="lower").read_text()
    assert "dense_resource<packed_int4>" in lowered and "packed_int4_words" not in lowered
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "int4", quantize="int4",
                             group_size=4, target=target, emit="exe")
    x = np.random.default_rng(8).standard_normal((3, 36)).astype(np.float32)
    y = harness.run_executable(exe, {"x": x}, tmp_path / "run", ["y"])["y"]
    assert harness.sqnr_db(y, x @ w) > 15


def test_bad_thread_counts_are_one_line_errors(nibble_compile, tmp_path, monkeypatch):
    model, _ = linear_model(2, 64, 64, seed=1)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "int8", quantize="int8")
    proc = harness.run_tool([exe, "--bench", "1", "--threads", "many"], 60)
    harness.assert_one_line_error(proc, "nibble: --threads needs an integer")
    assert proc.returncode == 2
    monkeypatch.setenv("NIBBLE_NUM_THREADS", "-3")
    proc = harness.run_tool([exe, "--bench", "1"], 60)
    harness.assert_one_line_error(proc, "nibble: NIBBLE_NUM_THREADS='-3' is not a thread count")
    assert proc.returncode == 2
    monkeypatch.setenv("NIBBLE_NUM_THREADS", "2")
    proc = harness.run_tool([exe, "--bench", "2", "--threads", "1", "--json"], 60)
    assert proc.returncode == 0, harness.describe(proc)
    assert '"threads":1' in proc.stdout


def emulate_w4a8(x: np.ndarray, w: np.ndarray, group: int) -> np.ndarray:
    """Symmetric int4 weights per group of rows of K, activations quantized
    per row and group at run time, exact integer sums per group, then
    y = fma(sum_g, sx_g * sw_g, y) over the groups in order (the fused
    multiply-add emulated in float64)."""
    m, k = x.shape
    n = w.shape[1]
    groups = k // group
    wg = w.reshape(groups, group, n)
    sw = (np.max(np.abs(wg), axis=1) / np.float32(7)).astype(np.float32)
    sw[sw == 0] = 1
    qw = np.clip(np.rint(wg / sw[:, None, :]), -8, 7).astype(np.int64)
    xg = x.reshape(m, groups, group)
    amax = np.max(np.abs(xg), axis=2).astype(np.float32)
    sx = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    qx = np.clip(np.rint(xg / sx[:, :, None]), -128, 127).astype(np.int64)
    sums = np.einsum("mgk,gkn->mgn", qx, qw)
    y = np.zeros((m, n), np.float32)
    for g in range(groups):
        scale = (sx[:, g, None] * sw[None, g, :]).astype(np.float32)
        exact = sums[:, g, :].astype(np.float32).astype(np.float64) * scale + y
        y = exact.astype(np.float32)
    return y


# (M, K, N, group size): tails in M and N, several panels, a group that
# does not divide K (one group per column instead), and a K the kernel
# cannot step through 8 rows at a time (the reference loops run it).
W4A8_CASES = [(1, 256, 64, 128), (3, 96, 33, 32), (5, 256, 100, 64), (9, 64, 164, 32),
              (2, 96, 40, 64), (3, 37, 20, 128)]


@pytest.mark.parametrize("target", ["host", "x86-64-avx2"])
@pytest.mark.parametrize("case", W4A8_CASES, ids=lambda c: "x".join(map(str, c)))
def test_w4a8_kernel_matches_the_emulation(nibble_compile, tmp_path, monkeypatch, case,
                                           target):
    m, k, n, group = case
    model, w = linear_model(m, k, n, seed=m + k + n + group)
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "w4a8", quantize="w4a8",
                             group_size=group, target=target)
    effective = group if k % group == 0 and group < k else k
    info = harness.run_tool([exe, "--info"], 60).stdout
    assert (f"w4a8-g{effective}" if effective < k else "w4a8 ") in info, info
    x = np.random.default_rng(k).standard_normal((m, k)).astype(np.float32)
    x[0, : min(k, effective)] = 0  # a group of zeros takes scale 1
    want = emulate_w4a8(x, w, effective)
    outputs = run_on_1_and_2_threads(exe, x, tmp_path, monkeypatch)
    # Threads split columns only: identical bits.
    np.testing.assert_array_equal(outputs[0], outputs[1])
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(outputs[0], want, rtol=1e-5, atol=1e-6 * scale)
    # And it is a quantized linear layer: close to the float product.
    assert harness.sqnr_db(outputs[0], x @ w) > 12


@pytest.mark.parametrize("block,zero_points", [(32, False), (128, False), (32, True),
                                               (128, True), (256, True)],
                         ids=["g32", "g128", "g32-zp", "g128-zp", "per-column-zp"])
def test_matmul_nbits_accuracy_level_4_runs_as_w4a8(nibble_compile, tmp_path, block,
                                                    zero_points):
    """accuracy_level 4 allows int8 activations: nibble runs such a layer as
    W4A8, like onnxruntime, and agrees with onnxruntime's own int8 path;
    zero points (asymmetric weights) are folded into the sums' start."""
    weights = models.nbits_weights(4, block, zero_points, k=256, n=100)
    m = 3
    path = tmp_path / "nbits.onnx"
    onnx.save(models.matmul_nbits(weights, m=m, accuracy_level=4), path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "nbits")
    info = harness.run_tool([exe, "--info"], 60).stdout
    assert (f"w4a8-g{block}" if block < 256 else "w4a8 ") in info, info
    x = np.random.default_rng(block).standard_normal((m, 256)).astype(np.float32)
    got = harness.run_executable(exe, {"A": x}, tmp_path / "run", ["Y"])["Y"]
    onnxruntime_int8 = harness.ort_run(path, {"A": x})["Y"]
    exact = x.astype(np.float64) @ weights.dequantized()
    # Both quantize the activations per row and block to int8; they differ
    # only where a value rounds differently.
    assert harness.sqnr_db(got, onnxruntime_int8) > 40
    assert abs(harness.sqnr_db(got, exact) - harness.sqnr_db(onnxruntime_int8, exact)) < 1.0
    assert harness.sqnr_db(got, exact) > 30


def matmul_integer_model(a_type, a_zero_point, m: int, k: int, n: int, seed: int,
                         b_type=np.int8, b_zero_point=None) -> tuple[onnx.ModelProto,
                                                                     np.ndarray]:
    """A (graph input, int8 or uint8, optional zero point) x constant B
    (int8 or uint8, optional zero point: one, or one per column) -> int32
    Y: the graphs onnxruntime's quantize_dynamic writes, which nibble runs
    on the int8 dot-product kernel."""
    g = models.GraphBuilder("matmul_integer_dot", seed)
    a = g.input("a", a_type, [m, k])
    info = np.iinfo(b_type)
    weight = g.rng.integers(info.min, info.max + 1, (k, n)).astype(b_type)
    operands = [a, g.const(weight, "b")]
    if a_zero_point is not None or b_zero_point is not None:
        operands.append(g.const(np.asarray(0 if a_zero_point is None else a_zero_point,
                                           dtype=a_type), "a_zp"))
    if b_zero_point is not None:
        operands.append(g.const(np.asarray(b_zero_point, dtype=b_type), "b_zp"))
    g.op("MatMulInteger", *operands, out="y")
    g.output("y", np.int32, [m, n])
    return g.build(opset=13), weight


# B zero points: none, one for the tensor, one per column (70 columns).
B_ZERO_POINTS = {"none": None, "tensor": 3, "columns": np.arange(70) % 11 - 5}


@pytest.mark.parametrize("a_type,a_zero_point", [(np.uint8, 131), (np.uint8, None),
                                                 (np.int8, -5), (np.int8, None)],
                         ids=["uint8-zp", "uint8", "int8-zp", "int8"])
@pytest.mark.parametrize("b_type,b_zero_point", [(np.int8, "none"), (np.int8, "columns"),
                                                 (np.uint8, "none"), (np.uint8, "tensor")],
                         ids=["b-int8", "b-int8-zp", "b-uint8", "b-uint8-zp"])
@pytest.mark.parametrize("target", ["host", "x86-64-avx2"])
def test_matmul_integer_with_constant_weight_is_exact(nibble_compile, tmp_path, monkeypatch,
                                                      a_type, a_zero_point, b_type,
                                                      b_zero_point, target):
    m, k, n = 5, 37, 70
    b_zp = B_ZERO_POINTS[b_zero_point]
    if b_zp is not None and b_type == np.uint8:
        b_zp = np.asarray(b_zp) + 128
    model, weight = matmul_integer_model(a_type, a_zero_point, m, k, n, seed=k + n,
                                         b_type=b_type, b_zero_point=b_zp)
    path = tmp_path / "mmi.onnx"
    onnx.save(model, path)
    exe = harness.compile_ok(nibble_compile, path, tmp_path / "mmi", target=target)
    info = np.iinfo(a_type)
    a = np.random.default_rng(3).integers(info.min, info.max + 1, (m, k)).astype(a_type)
    a[0] = info.max  # extremes: the int32 sums are exact
    a[1] = info.min
    zp = 0 if a_zero_point is None else a_zero_point
    b_offset = 0 if b_zp is None else np.asarray(b_zp, dtype=np.int64)
    want = ((a.astype(np.int64) - zp) @ (weight.astype(np.int64) - b_offset)).astype(np.int32)
    # Every variant runs on the int8 dot-product kernel, not a loop nest.
    mlir = harness.compile_ok(nibble_compile, path, tmp_path / "mmi.mlir", emit="mlir",
                              compile_to="lower", target=target).read_text()
    assert "vector<64xi8>" in mlir, "no dot-product kernel (64-byte weight vectors)"
    for threads in ("1", "2"):
        monkeypatch.setenv("NIBBLE_NUM_THREADS", threads)
        got = harness.run_executable(exe, {"a": a}, tmp_path / f"run{threads}", ["y"])["y"]
        np.testing.assert_array_equal(got, want)
    # onnxruntime has no kernel for int8 A x uint8 B; the numpy product is
    # the oracle there.
    if not (a_type == np.int8 and b_type == np.uint8):
        np.testing.assert_array_equal(harness.ort_run(path, {"a": a})["y"], want)
