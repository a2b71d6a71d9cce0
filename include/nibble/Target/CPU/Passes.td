//===- Passes.td - CPU target passes -----------------------*- tablegen -*-===//

#ifndef NIBBLE_TARGET_CPU_PASSES_TD
#define NIBBLE_TARGET_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def NibbleCPUMatmulLoopOrderPass
    : Pass<"nibble-cpu-matmul-loop-order", "func::FuncOp"> {
  let summary = "put the K loop of matmul-like generics outside the N loop";
  let description = [{
    Interchanges the loops of every matmul-like `linalg.generic` (at least
    two inputs, two parallel loops, the innermost loop a reduction, and the
    output's last dimension indexed by the innermost parallel loop) from
    `(..., m, n, k)` to `(..., m, k, n)`. Reductions of a single tensor
    (softmax's row max and sum) keep their contiguous innermost loop.

    With `k` innermost, a row-major `K x N` weight is read with stride N and
    nothing vectorizes. With `n` innermost the weight row, its scales and
    the output row are all contiguous, so LLVM vectorizes the dequantize and
    multiply-add across N. Quantized float32 matmuls are then replaced by
    `nibble-cpu-dequant-gemv`'s kernel; this order serves the rest (float
    matmuls, other element types).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def NibbleCPUDequantGemvPass
    : Pass<"nibble-cpu-dequant-gemv", "func::FuncOp"> {
  let summary = "replace quantized float32 matmuls by register-blocked vector loops";
  let description = [{
    Runs on bufferized IR. Each `linalg.generic` that `nibble.matmul`
    lowered to (marked `nibble.lowered_matmul`) with float32 activations
    and weights in column tiles becomes explicit loops over vectors of 16
    float32 lanes:

    - output columns go in panels of one weight tile (at most 64 columns),
      one `scf.parallel` iteration per panel, so threads split the columns
      and every row tile of a panel reads its weights from the core's cache;
    - within a panel, up to 4 rows share each unpacked weight vector; a
      tile of 16-64 columns (fewer when more rows share it) keeps one
      accumulator vector per row and 16 columns in registers for a whole
      quantization group, and its running totals for all of K, so the
      output is written once;
    - int4 weights in 32-bit words of 8 rows of K (one column per lane;
      `int4_words`, K and groups multiples of 8) are unpacked per row of K
      with one shift and, with `avx512`, one table lookup (`vpermps` of the
      16 possible values: no widening, no conversion, exact), or without
      it one and-or placing the field in the mantissa of 1.0 (the floats
      1 + u / 16, turned back into q by the group's epilogue with the sum
      of the activations). int4 weights two rows of K per byte are
      unpacked with two shifts per 16 bytes, widened and converted per 16
      lanes; int8 weights are widened directly. Every row then takes the
      weights with fused multiply-adds;
    - the scale of a group (per-group, per-channel or per-tensor) multiplies
      the group's accumulators once instead of every product; a zero point
      subtracts `scale * zp * sum(x over the group)`;
    - a last partial vector of columns is read and written through a mask.

    Other matmuls (other element types, int4 zero points kept packed, fused
    consumers) keep their generic and its loop nest.
  }];
  let options = [
    Option<"avx512", "avx512", "bool", /*default=*/"false",
           "unpack int4 words with AVX-512 permutes (llvm.x86.avx512.permvar.sf.512)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def NibbleCPUInt8DotMatmulPass
    : Pass<"nibble-cpu-int8-dot-matmul", "func::FuncOp"> {
  let summary = "lower W8A8 and W4A8 integer products to int8 dot-product vector loops";
  let description = [{
    Runs on bufferized IR. Each `linalg.generic` marked
    `nibble.int8_dot_matmul` (the i32 product of a `nibble.integer_matmul`
    with a constant weight, packed by `convert-nibble-to-linalg` as 16
    columns x 4 rows of K per 64 bytes) becomes explicit loops:

    - output columns go in panels of 64 (4 vectors of 16 i32 lanes), one
      `scf.parallel` iteration per panel, so threads split the columns;
    - within a panel, tiles of up to 4 rows keep 4 x 4 accumulators in
      registers over all of K, starting from the output (which holds -128
      times each column's weight sum);
    - each step of 4 rows of K loads 4 weight vectors (reused by every row
      of the tile) and, per row, the 4 activation bytes as one 32-bit word,
      flipped to unsigned by `xor 0x80808080` and broadcast to all lanes;
      with `vnni`, each row and vector then costs one
      `llvm.x86.avx512.vpdpbusd.512`, 64 multiply-adds of unsigned by
      signed bytes into 16 exact 32-bit sums. Without it the same sums are
      spelled with shuffles, widening and multiplies, which any x86-64
      (AVX2 included) runs;
    - a K that is not a multiple of 4 ends with a masked activation load
      (the packed weights are zero-padded), an N that is not a multiple of
      16 with masked accumulator loads and stores.

    The result is exact: the xor adds 128 to every activation and the
    accumulators start at -128 times the column sums, so the i32 totals
    equal the signed products, bit for bit, as the generic's body states.

    W4A8 products (a generic marked `nibble.int4_dot_matmul`, whose
    per-group i32 sums feed one marked `nibble.grouped_epilogue`) become
    one kernel that writes the epilogue's output directly, without the
    sums ever reaching memory:

    - each byte of the weight holds two columns 16 apart as unsigned
      nibbles q + 8 (4 rows of K per 32-bit lane, as for int8), so one
      64-byte load masked with 0x0F and with 0xF0 gives 32 columns of
      unsigned bytes for vpdpbusd (the high ones 16 times too large),
      both multiplied by the same broadcast word of signed activations:
      two instructions unpack 32 columns x 4 rows;
    - per row tile, group by group: the group's i32 sums stay in
      registers, starting at `-8 * sum(x over the group)` (or -128 times
      it for high nibbles; the sums are computed once per row and group
      before the panels), which makes them exact (16 times exact for the
      high nibbles, shifted down after the group), and one fused
      multiply-add by `lhs_scale * scale` per output vector adds them to
      the output, in group order, as the epilogue states; with a zero
      point z (a third input of the sums) the starts are `-(8 + z)` and
      `-16 (8 + z)` times the row's sum, z loaded per column vector and
      group, and the inner loop is unchanged;
    - panels, row tiles, threads and tails as above; the group size must be
      a multiple of 8 (and divide K).
  }];
  let options = [
    Option<"vnni", "vnni", "bool", "true",
           "use AVX-512 VNNI dot products (vpdpbusd)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def NibbleCPUParallelLoopsPass
    : Pass<"nibble-cpu-parallel-loops", "func::FuncOp"> {
  let summary = "split the outer parallel loops of large linalg ops across threads";
  let description = [{
    Tiles every linalg op on buffers whose estimated work (iterations times
    body operations) reaches `min-work` into an `scf.parallel` loop over
    chunks of its leading parallel loops; `convert-scf-to-openmp` then
    makes that loop an OpenMP worksharing loop. This threads what the
    kernels do not: attention's float matmuls, softmax, layer norm, GELU,
    the run-time quantization of activations, and float32 matmuls.

    Chunks: unit loops are skipped; loops before the first reduction loop
    are split into single iterations, outermost first, until there are 32
    chunks. The innermost loop, which LLVM vectorizes, is split only when
    the outer loops give fewer than 8 chunks, and then into pieces of a
    multiple of 64 iterations. Smaller ops stay serial, since forking
    threads costs about a microsecond. Ops inside a kernel's parallel loops
    are left alone.
  }];
  let options = [
    Option<"minWork", "min-work", "int64_t", "4096",
           "estimated scalar operations below which an op stays serial">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect"];
}

def NibbleCPUParallelAliasScopesPass
    : Pass<"nibble-cpu-parallel-alias-scopes"> {
  let summary = "state which buffers of OpenMP parallel regions cannot overlap";
  let description = [{
    Runs on the LLVM dialect, before OpenMP translation outlines each
    `omp.parallel` region into a function that gets its buffers through a
    struct of pointers. There LLVM no longer sees that two buffers come
    from different `aligned_alloc` calls, assumes that a written row may
    alias a read one, and leaves the loops scalar.

    Each storage a region's loads and stores reach through its captured
    buffers (one heap allocation, one global or one function argument;
    address arithmetic and memref descriptors are looked through) gets an
    alias scope. Every access is put in its storage's scope and declared
    not to alias the scopes of storage that is certainly distinct: any
    other allocation or global, and the arguments for those. Two function
    arguments stay may-alias: callers may pass overlapping buffers.
    Accesses whose storage is not certain get no metadata. Outlining keeps
    this metadata (it drops `llvm.assume` hints).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def NibbleCPUReassociateReductionsPass
    : Pass<"nibble-cpu-reassociate-reductions", "func::FuncOp"> {
  let summary = "allow float sums along a generic's innermost loop to reassociate";
  let description = [{
    Marks `reassoc` the `arith.addf` that adds into the accumulator of a
    `linalg.generic` whose innermost loop is a reduction (softmax's and
    layer norm's row sums, means, dot products along contiguous rows).
    Without it LLVM must add the elements one after another and keeps the
    loop scalar; with it the loop becomes vector partial sums added at the
    end. The result differs from the sequential sum by float rounding only;
    ONNX does not fix the order of a reduction.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def NibbleCPUInlineAllocaFreeScopesPass
    : Pass<"nibble-cpu-inline-alloca-free-scopes"> {
  let summary = "inline memref.alloca_scope ops whose bodies allocate nothing";
  let description = [{
    `convert-scf-to-openmp` wraps the body of every parallel loop in a
    `memref.alloca_scope`, whose region must stay a single block, so the
    `scf.for` loops of a kernel inside it could not become branches.
    Upstream's canonicalization inlines such scopes only when nothing in
    them might allocate, and it counts every op without memory effects
    (`llvm.call_intrinsic`, the VNNI dot products) as a possible
    allocation. This pass inlines every single-block scope that contains no
    `memref.alloca` or `llvm.alloca`: such a scope frees nothing when it
    ends.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def NibbleCPUApproximateMathPass
    : Pass<"nibble-cpu-approximate-math", "func::FuncOp"> {
  let summary = "expand float32 erf, exp, tanh and log into polynomials";
  let description = [{
    Rewrites float32 `math.erf`, `math.exp`, `math.expm1`, `math.tanh`,
    `math.log`, `math.log1p` and `math.log2` (scalars or vectors) into
    MLIR's polynomial approximations (range reduction, minimax
    polynomials; errors of a few float32 ulps), instead of calls to libm.
    Calls keep LLVM from vectorizing the loops of GELU, softmax, sigmoid
    and the like; the polynomials are plain arithmetic that vectorizes.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def NibbleCPUFuseElementwisePass
    : Pass<"nibble-cpu-fuse-elementwise", "func::FuncOp"> {
  let summary = "fuse chains of elementwise linalg.generic ops";
  let description = [{
    Fuses an elementwise producer into its consumer when the consumer has
    only parallel loops and the producer has no other user, so chains of
    per-node generics (bias add, GELU, residual adds, softmax steps) run as
    one loop nest without intermediate buffers.

    Unlike upstream's `linalg-fuse-elementwise-ops`, it does not propagate
    reshapes into generics (that splits matmul loops into many short ones)
    and does not fuse into a reduction, where the producer would be
    recomputed once per reduction step; the exception is the widening of
    float16/bfloat16 values to f32 (one `arith.extf`), which a reduction no
    kernel pass has marked takes into its body, so an unquantized float16
    matmul reads its weight in float16 instead of an f32 copy written every
    run. Producers marked `nibble.kernel_epilogue` stay as they are, and
    so do ops marked for a kernel: the pattern set also folds splat
    constant inputs into a body and drops unused operands, which would
    rebuild such an op without its marker (a layer whose scaled zero
    points are all zero would silently miss its kernel).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def NibbleCPUStridedCopiesToLinalgPass
    : Pass<"nibble-cpu-strided-copies-to-linalg", "func::FuncOp"> {
  let summary = "rewrite memref.copy of strided buffers as linalg.copy";
  let description = [{
    `memref.copy` between buffers that are not both contiguous lowers to a
    call to the `memrefCopy` runtime function of MLIR's C runner utilities,
    which generated binaries do not link. This pass turns exactly those
    copies (slices returned as outputs, concatenation parts, padding) into
    `linalg.copy`, which becomes plain loops; contiguous copies stay
    `memref.copy` and lower to `memcpy`.

    With `all-copies`, contiguous copies are rewritten too: on the CUDA
    target every copy must become a kernel, since the host cannot memcpy
    device buffers.
  }];
  let options = [
    Option<"allCopies", "all-copies", "bool", "false",
           "also rewrite contiguous copies">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def NibbleEmptyBufferArgumentsPass
    : Pass<"nibble-empty-buffer-arguments", "func::FuncOp"> {
  let summary = "give zero-size buffer arguments a type the bare-pointer ABI takes";
  let description = [{
    The bare-pointer calling convention of `convert-func-to-llvm` refuses
    memrefs with a zero-size dimension (an empty graph input or output), and
    leaves the whole function unconverted. This pass retypes such arguments
    as `memref<1xT>` (the runtime passes a pointer either way; nothing is
    read or written through it) and recovers the original empty type inside
    the function with a `memref.reinterpret_cast`.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def NibbleDistinctReturnBuffersPass
    : Pass<"nibble-distinct-return-buffers", "func::FuncOp"> {
  let summary = "return a buffer at most once per return, copying repeats";
  let description = [{
    A function may return the same buffer at several results (a graph that
    outputs one tensor under two names, or a calibration build returning
    the input shared by several matmuls). `buffer-results-to-out-params`
    with `hoist-static-allocs` replaces an allocation by the out-parameter
    of its first result and then reads the erased allocation for the
    second. This pass, run just before it, copies each repeated result
    into a fresh allocation of its own, so every result of a return is a
    distinct value.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

#endif // NIBBLE_TARGET_CPU_PASSES_TD
