//===- Pipelines.cpp - nibble's compilation phases ------------------------===//

#include "nibble/Compiler/Pipelines.h"

#include "nibble/Conversion/Passes.h"
#include "nibble/Dialect/Nibble/Transforms/Passes.h"
#include "nibble/Target/CPU/Passes.h"
#include "nibble/Target/CUDA/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::nibble;

std::optional<Phase> mlir::nibble::parsePhase(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Phase>>(name)
      .Case("import", Phase::Import)
      .Case("quantize", Phase::Quantize)
      .Case("fuse", Phase::Fuse)
      .Case("lower", Phase::Lower)
      .Case("llvm", Phase::LLVM)
      .Default(std::nullopt);
}

llvm::StringRef mlir::nibble::phaseNames() {
  return "import, quantize, fuse, lower, llvm";
}

void mlir::nibble::buildQuantizePhase(OpPassManager &pm,
                                      const QuantizeOptions &options) {
  NibbleQuantizeWeightsPassOptions passOptions;
  // Planned modes leave a precision on every layer they decide for.
  passOptions.mode =
      llvm::is_contained({"auto", "w8a8", "w4a8"}, options.mode) ? "none" : options.mode;
  passOptions.groupSize = options.groupSize;
  passOptions.asymmetric = options.asymmetric;
  pm.addNestedPass<func::FuncOp>(createNibbleQuantizeWeightsPass(passOptions));
}

void mlir::nibble::buildFusePhase(OpPassManager &pm) {
  // Fusion runs before any canonicalization: folding would turn constant
  // dequantized weights back into float constants.
  pm.addNestedPass<func::FuncOp>(createNibbleFuseDequantMatmulPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// The upstream part of the CPU lowering, from linalg on tensors to the LLVM
/// dialect. Each stage's reason:
///  - elementwise chains fuse into single loop nests (our pass: upstream's
///    also propagates reshapes, which splits matmul loops);
///  - one-shot bufferization with identity layouts at function boundaries
///    gives the entry plain dense buffers;
///  - buffer-results-to-out-params makes outputs caller-allocated, so the
///    runtime owns every I/O buffer and the entry returns nothing;
///  - a buffer returned at several results is copied for all but the
///    first (the out-parameter conversion would read it after erasing it);
///  - the deallocation pipeline frees intermediate buffers;
///  - copies of strided buffers become loops (their library call,
///    memrefCopy, is not linked into binaries);
///  - matmuls are generalized and their K loop moved outside N so LLVM
///    vectorizes the innermost loop across contiguous weight rows; float
///    sums along an innermost reduction loop may reassociate, so LLVM
///    vectorizes them too;
///  - quantized float32 matmuls then become the GEMV kernel's vector loops
///    and W8A8 integer products the int8 dot-product kernel's (our passes,
///    on buffers), lowered with the vector dialect; their column panels are
///    scf.parallel loops, which become OpenMP worksharing loops;
///  - the other large linalg ops (attention matmuls, softmax, norms,
///    elementwise chains) are split into chunks of their outer parallel
///    loops, scf.parallel loops as well;
///  - linalg becomes loops; float16/bfloat16 arithmetic and math compute
///    in f32 and round per op (the same results for arithmetic, x86 has no
///    float16 math, and the math then meets the next step); float32
///    erf/exp/tanh/log become polynomials (libm calls would keep LLVM from
///    vectorizing the loops), then
///    everything goes to LLVM with the
///    bare-pointer calling convention for the entry (empty buffers retyped
///    first: that convention refuses zero-size memrefs);
///  - accesses in OpenMP regions get alias scopes, since outlining the
///    regions into functions hides which buffers are distinct.
static constexpr llvm::StringLiteral kCPUUpstreamPipelineHead =
    "canonicalize,cse,"
    "func.func(linalg-generalize-named-ops,nibble-cpu-fuse-elementwise,"
    "nibble-cpu-matmul-loop-order,nibble-cpu-reassociate-reductions),canonicalize,cse,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "func.func(nibble-distinct-return-buffers),"
    "buffer-results-to-out-params{hoist-static-allocs=true modify-public-functions=true},"
    "func.func(buffer-deallocation-pipeline),"
    "func.func(";
static constexpr llvm::StringLiteral kCPUUpstreamPipelineTail =
    "nibble-cpu-strided-copies-to-linalg,nibble-cpu-parallel-loops,"
    "convert-linalg-to-loops,math-extend-to-supported-types{target-type=f32},"
    "arith-emulate-unsupported-floats{source-types=f16,bf16 target-type=f32},"
    "nibble-cpu-approximate-math),"
    "convert-scf-to-openmp,nibble-cpu-inline-alloca-free-scopes,"
    "lower-affine,convert-scf-to-cf,"
    "canonicalize,"
    "expand-strided-metadata,lower-affine,"
    "convert-vector-to-llvm,"
    "convert-math-to-llvm,convert-math-to-libm,"
    "func.func(nibble-empty-buffer-arguments),"
    "finalize-memref-to-llvm{use-aligned-alloc=true},"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=true},"
    "convert-openmp-to-llvm,"
    "convert-ub-to-llvm,"
    "reconcile-unrealized-casts,"
    "canonicalize,nibble-cpu-parallel-alias-scopes";

void mlir::nibble::buildCPULoweringPhase(OpPassManager &pm,
                                         const CPULoweringOptions &options) {
  pm.addPass(createConvertNibbleToLinalgPass());
  std::string pipeline = (kCPUUpstreamPipelineHead + "nibble-cpu-dequant-gemv{avx512=" +
                          (options.avx512 ? "true" : "false") +
                          "},nibble-cpu-int8-dot-matmul{vnni=" + (options.vnni ? "true" : "false") +
                          "}," + kCPUUpstreamPipelineTail)
                             .str();
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("nibble: the built-in CPU pipeline does not parse");
}

/// The CUDA lowering up to outlined kernels. Like the CPU pipeline up to
/// bufferization, then:
///  - matmuls with constant weights become fused dequant-GEMV kernels over
///    weights prepacked at compile time (before nibble-to-linalg, which
///    would unpack them);
///  - every copy becomes a loop (no memcpy on device buffers);
///  - the remaining linalg ops become parallel loops, tiled into blocks of
///    threads and turned into gpu.launch; host code left only allocates;
///  - buffers move to device memory, kernels are outlined and launched
///    asynchronously on one stream, synchronized once at the end.
static constexpr llvm::StringLiteral kCUDAKernelPipeline =
    "func.func(nibble-cuda-pack-matmul-weights{kernel=KERNEL}),"
    "convert-nibble-to-linalg,canonicalize,cse,"
    "func.func(linalg-generalize-named-ops,nibble-cpu-fuse-elementwise),canonicalize,cse,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "func.func(nibble-distinct-return-buffers),"
    "buffer-results-to-out-params{hoist-static-allocs=true modify-public-functions=true},"
    "func.func(buffer-deallocation-pipeline),"
    "func.func(nibble-cpu-strided-copies-to-linalg{all-copies=true},"
    "nibble-cuda-dequant-matmul-kernels,convert-linalg-to-parallel-loops,"
    "nibble-cuda-tile-parallel-loops,convert-parallel-loops-to-gpu,"
    "nibble-cuda-device-buffers),"
    "canonicalize,cse,gpu-launch-sink-index-computations,gpu-kernel-outlining,"
    "func.func(gpu-async-region)";

void mlir::nibble::buildCUDAKernelPhase(OpPassManager &pm, llvm::StringRef matmulKernel) {
  std::string pipeline = kCUDAKernelPipeline.str();
  pipeline.replace(pipeline.find("KERNEL"), 6, matmulKernel.str());
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("nibble: the built-in CUDA kernel pipeline does not parse");
}

void mlir::nibble::buildCUDABinaryPhase(OpPassManager &pm, llvm::StringRef chip,
                                        llvm::StringRef toolkitPath,
                                        llvm::StringRef libdevicePath,
                                        llvm::StringRef format) {
  // Mirrors upstream's gpu-lower-to-nvvm-pipeline with bare pointers on
  // both sides, libdevice linked into the kernels and a chosen toolkit.
  std::string pipeline =
      ("lower-affine,convert-scf-to-cf,func.func(nibble-empty-buffer-arguments),"
       "convert-func-to-llvm{use-bare-ptr-memref-call-conv=true},"
       "expand-strided-metadata,lower-affine,"
       "nvvm-attach-target{chip=" + chip + " O=3 l=" + libdevicePath + "},"
       "convert-arith-to-llvm,convert-index-to-llvm,canonicalize,cse,"
       "gpu.module(convert-nvgpu-to-nvvm,convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=true},"
       "canonicalize,cse,reconcile-unrealized-casts),"
       "gpu-to-llvm{use-bare-pointers-for-host=true use-bare-pointers-for-kernels=true},"
       "gpu-module-to-binary{format=" + format + " toolkit=" + toolkitPath + "},"
       "convert-math-to-llvm,convert-math-to-libm,convert-ub-to-llvm,"
       "canonicalize,cse,reconcile-unrealized-casts,"
       "nibble-cuda-resident-constants")
          .str();
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("nibble: the built-in CUDA binary pipeline does not parse");
}

namespace {
struct CPULoweringPipelineOptions : public PassPipelineOptions<CPULoweringPipelineOptions> {
  Option<bool> vnni{*this, "vnni", llvm::cl::desc("int8 dot products with AVX-512 VNNI"),
                    llvm::cl::init(true)};
  Option<bool> avx512{*this, "avx512",
                      llvm::cl::desc("AVX-512 F permutes in the GEMV kernel's int4 unpacking"),
                      llvm::cl::init(true)};
};

struct CUDAKernelPipelineOptions : public PassPipelineOptions<CUDAKernelPipelineOptions> {
  Option<std::string> matmulKernel{
      *this, "matmul-kernel",
      llvm::cl::desc("fused matmul kernel: auto (by rows), gemv or mma (tensor cores)"),
      llvm::cl::init("auto")};
};

struct CUDABinaryPipelineOptions : public PassPipelineOptions<CUDABinaryPipelineOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::desc("sm_80 or sm_90"),
                           llvm::cl::init("sm_90")};
  Option<std::string> toolkit{*this, "toolkit", llvm::cl::desc("CUDA toolkit root"),
                              llvm::cl::init("/usr/local/cuda")};
  Option<std::string> libdevice{
      *this, "libdevice", llvm::cl::desc("libdevice bitcode"),
      llvm::cl::init("/usr/local/cuda/nvvm/libdevice/libdevice.10.bc")};
  Option<std::string> format{*this, "format", llvm::cl::desc("bin (cubin) or isa (PTX)"),
                             llvm::cl::init("bin")};
};
} // namespace

void mlir::nibble::registerNibblePipelines() {
  PassPipelineRegistration<>(
      "nibble-fuse-phase", "the fuse phase: dequantize+matmul fusion, cleanup",
      [](OpPassManager &pm) { buildFusePhase(pm); });
  PassPipelineRegistration<CPULoweringPipelineOptions>(
      "nibble-cpu-lowering", "lower nibble/linalg on tensors to the LLVM dialect",
      [](OpPassManager &pm, const CPULoweringPipelineOptions &options) {
        buildCPULoweringPhase(pm, CPULoweringOptions{options.vnni, options.avx512});
      });
  PassPipelineRegistration<CUDAKernelPipelineOptions>(
      "nibble-cuda-kernels",
      "lower nibble/linalg on tensors to outlined GPU kernels (no toolkit needed)",
      [](OpPassManager &pm, const CUDAKernelPipelineOptions &options) {
        buildCUDAKernelPhase(pm, options.matmulKernel);
      });
  PassPipelineRegistration<CUDABinaryPipelineOptions>(
      "nibble-cuda-binary",
      "lower outlined GPU kernels to cubin (or PTX) and the host to the LLVM dialect",
      [](OpPassManager &pm, const CUDABinaryPipelineOptions &options) {
        buildCUDABinaryPhase(pm, options.chip, options.toolkit, options.libdevice,
                             options.format);
      });
}
