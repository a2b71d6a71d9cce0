//===- Passes.td - CUDA target passes ----------------------*- tablegen -*-===//

#ifndef NIBBLE_TARGET_CUDA_PASSES_TD
#define NIBBLE_TARGET_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def NibbleCUDAPackMatmulWeightsPass
    : Pass<"nibble-cuda-pack-matmul-weights", "func::FuncOp"> {
  let summary = "prepack constant quantized and float16 matmul weights for the GPU kernels";
  let description = [{
    Rewrites every `nibble.matmul` whose weight, scale and zero point are
    constants, whose K is a multiple of 4 and whose groups (if any) are
    multiples of 4 along K into a `linalg.generic` over the kernel's
    weight layout, marked `nibble.dequant_matmul` for
    `nibble-cuda-dequant-matmul-kernels`. The number of rows M picks the
    kernel and so the layout (`layout` in the marker):

    - `mma`, for M > 4 when groups are whole 16-wide steps of K within a
      128-wide block (16, 32, 64) or whole blocks (multiples of 128, or one
      group over K): the tensor-core kernel's layout (`MmaLayout.h`). Per
      tile of 8 columns and 128-wide block of K, each lane's 32 values of
      its `mma.sync` B fragments are one 16-byte (int4) or 32-byte (int8)
      run, stored unsigned (q + 2^(bits-1) for signed weights), two values
      of a fragment register in the low bits of the two halves of a word
      once shifted. Zero points are kept as `offset + zero_point` (`N x G`)
      and only when there are any; the generic computes
      `(u - offset - z) * s`;
    - `gemv`, otherwise:

      - weights transposed to `N x K` and packed into `i32` words (eight
        4-bit or four 8-bit values) in the order the kernel's lanes consume
        them (`GemvLayout.h`): a lane's 32 values of a 1024-wide block of K
        are one 16-byte (int4) or 32-byte (int8) run, while the activations
        they multiply are read by the warp in coalesced 512-byte loads; K is
        zero-padded to a multiple of 1024;
      - zero points folded at compile time into `scale * zero_point`, also
        `N x G`, so the kernel computes `s * dot(q, x) - (s * z) * sum(x)`.

    Both keep the scales as `N x G` (G groups along K; per-channel and
    per-tensor schemes become one group).

    Unquantized `linalg.matmul`s with constant weights take the kernels
    too, with unit scales:

    - float16 weights (widened to f32, as float16 models and layers kept
      at fp16 have them): the `mma` layout at any M (unless the GEMV is
      forced), with 16-bit fields, each word an f16x2 B register as it is.
      Their f16 products are exact in the kernel's f32 sums;
    - float32 weights: the `gemv` layout where M picks the GEMV, with
      32-bit fields (whole words, zero scaled zero points), when padding K
      to whole 1024-wide blocks adds at most a quarter. Rounding them to
      f16 for the tensor cores would change the layer, so more rows keep
      the generic lowering, as do bfloat16 weights.

    The generic is a faithful reference of that computation, so the IR
    stays correct if no kernel replaces it. Leading batch dimensions of the
    activations are collapsed into M; a bias becomes an elementwise add.
  }];
  let options = [
    Option<"kernel", "kernel", "std::string", /*default=*/"\"auto\"",
           "the fused kernel (and layout) for every matmul: auto (the GEMV "
           "up to 4 rows, tensor cores above), gemv, or mma (where the "
           "groups allow it); for measuring one against the other">
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def NibbleCUDADequantMatmulKernelsPass
    : Pass<"nibble-cuda-dequant-matmul-kernels", "func::FuncOp"> {
  let summary = "replace packed dequant-matmul generics by fused GPU kernels";
  let description = [{
    Runs on bufferized IR. Each `linalg.generic` marked
    `nibble.dequant_matmul` (see `nibble-cuda-pack-matmul-weights`) with
    dense row-major operands becomes fused dequantize+matmul kernels.

    In the `mma` layout (quantized weights with more than 4 rows, float16
    weights), on tensor cores:

    - the activations are rounded to f16 once, into a temporary buffer
      laid out as the A fragments of `mma.sync.m16n8k16` (a lane's fragment
      one 16-byte run; rows and K zero-padded to whole tiles). Up to 8
      rows, the mma's rows g + 8 are never stored and the fragments would
      be mostly padding: the activations are only rounded into an f16 copy
      (K zero-padded to 128-wide blocks), and float16 activations over
      whole blocks are read as they are, with no launch before the GEMM;
    - the GEMM: each warp takes 2 tiles of 8 columns and up to 4 tiles of
      16 rows (more rows: more blocks), and walks K in 128-wide blocks, one
      16-byte (int4) or 32-byte (int8) weight load per tile and block, two
      blocks in flight (four up to 8 rows). Weights are unpacked to f16
      exactly without conversions (a pair of fields OR-ed into the mantissa
      of 1024.0, then 1024 + offset + zero point subtracted in f16x2; int4
      pairs taken 4 bits up, saving a shift, are centered by one f16x2
      multiply-add), multiplied with `nvgpu.mma.sync` into f32 sums, and
      the sums scaled into the f32 accumulators once per group (or block).
      Up to 8 rows, a lane's A values of a step are 4 consecutive k of its
      row (the order of the layout), one 8-byte load. Warps of a block
      split K when there are too few tiles for 4096 warps, adding their
      accumulators through workgroup memory.

    In the `gemv` layout, a `gpu.launch` of a fused dequantize+GEMV kernel:

    - each warp covers 4 output columns (one for float32 weights, whose
      32 values per lane of a column fill as many registers as 4 columns
      of int8); a block has 4 warps. When the
      layer has too few columns to give the GPU 4096 warps, 2 or 4 warps
      of a block share the same 4 columns and split the K blocks between
      them (warp w takes every 2nd or 4th block), so more loads are in
      flight; they add their totals through workgroup memory;
    - per 1024-wide block of K, a lane loads its 32 values of each of its
      warp's 4 columns with one 16-byte (int4) or 32-byte (int8) load (the
      weights are read exactly once per M tile; two blocks' loads are in
      flight at once) and unpacks them in registers without int-to-float
      conversions; the warp reads the matching activations in coalesced
      512-byte loads, once for the 4 columns;
    - rows of M are processed 4 at a time with all accumulators in
      registers; a warp then reduces each accumulator with shuffles and
      lane 0 stores the result (of the split's first warp, after adding
      the partners' totals).

    Generics with other layouts are left alone (they become ordinary loop
    kernels).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def NibbleCUDATileParallelLoopsPass
    : Pass<"nibble-cuda-tile-parallel-loops", "func::FuncOp"> {
  let summary = "shape loop nests into GPU blocks of threads";
  let description = [{
    Prepares the loops of bufferized linalg ops for
    `gpu-map-parallel-loops` and `convert-parallel-loops-to-gpu`:

    - each outermost `scf.parallel` is tiled so that its inner loop covers
      up to `threads-per-block` iterations, taken from the innermost
      (contiguous) dimensions first; the inner loop becomes the threads of
      a block and the outer loop the grid;
    - code that is not inside any parallel loop but touches memory (a
      reduction to a scalar, say) is wrapped in a one-iteration parallel
      loop, so it runs as a single-thread kernel instead of on the host,
      which cannot read device memory.
  }];
  let options = [
    Option<"threadsPerBlock", "threads-per-block", "int64_t", "256",
           "the most threads of one block">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def NibbleCUDADeviceBuffersPass
    : Pass<"nibble-cuda-device-buffers", "func::FuncOp"> {
  let summary = "allocate the host function's buffers in device memory";
  let description = [{
    After all computation has moved into kernels, the host function only
    allocates, frees and launches. This pass turns `memref.alloc` and
    `memref.dealloc` into `gpu.alloc` and `gpu.dealloc`. Any other memory
    access left on the host is an error, since host code cannot touch
    device memory.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def NibbleCUDAResidentConstantsPass
    : Pass<"nibble-cuda-resident-constants", "ModuleOp"> {
  let summary = "read constant globals through their device-resident copies";
  let description = [{
    Runs on the host module in the LLVM dialect. Kernels must read weights
    from device memory, but constants live in the executable. Every address
    of a constant global taken by host code is replaced by a call to the
    runtime's `nibble_cuda_resident(ptr, bytes)`, which uploads the
    constant once, on first use, and returns its device copy.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // NIBBLE_TARGET_CUDA_PASSES_TD
