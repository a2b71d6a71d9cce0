/*===- FakeCudaModel.c - A hand-written model for the CUDA runtime --------===//
 *
 * Calls nibble_runtime_cuda the way a model compiled for an NVIDIA GPU does:
 * the kernel image is registered from a global constructor, the device entry
 * launches kernels through the mgpu* functions on device buffers, and the
 * descriptor's entry and hooks go through nibble_cuda_*.
 *
 *   input x f32[8]
 *   outputs y f32[8] = x + [0, 1, ..., 7] (a resident weight)
 *           ones f32[8] = 1.0 (mgpuMemset32)
 *           halves f16[4] = 1.0 (mgpuMemset16)
 *
 * NIBBLE_FAKE_CUDA_KERNEL names another kernel to launch, to test errors.
 *
 *===----------------------------------------------------------------------===*/
#include "nibble/Runtime/CudaRuntime.h"
#include "nibble/Runtime/ModelABI.h"

#include "TestKernels.h"

#include <stdint.h>
#include <stdlib.h>

static void *Module;

__attribute__((constructor)) static void loadKernels(void) {
  Module = mgpuModuleLoad(NibbleTestPtx, sizeof(NibbleTestPtx));
}

static const float Weights[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static void deviceEntry(void *const *Buffers) {
  const char *Kernel = getenv("NIBBLE_FAKE_CUDA_KERNEL");
  void *Stream = mgpuStreamCreate();
  void *X = Buffers[0];
  void *W = nibble_cuda_resident(Weights, sizeof(Weights));
  void *Sum = mgpuMemAlloc(sizeof(Weights), Stream, 0);
  uint32_t N = 8;
  void *Params[4];
  Params[0] = &X;
  Params[1] = &W;
  Params[2] = &Sum;
  Params[3] = &N;
  mgpuLaunchKernel(
      mgpuModuleGetFunction(Module, Kernel ? Kernel : "nibble_test_add"), 1, 1,
      1, 32, 1, 1, 0, Stream, Params, NULL, 4);
  mgpuMemcpy(Buffers[1], Sum, sizeof(Weights), Stream);
  mgpuMemFree(Sum, Stream);
  mgpuMemset32(Buffers[2], 0x3f800000u, 8, Stream);
  mgpuMemset16(Buffers[3], 0x3c00, 4, Stream);
  mgpuStreamSynchronize(Stream);
  mgpuStreamDestroy(Stream);
}

static void entry(void *const *Buffers) {
  nibble_cuda_run(nibble_model_descriptor(), deviceEntry, Buffers);
}

static int timeRuns(void *const *Buffers, int32_t Runs, double *Ms) {
  return nibble_cuda_time_runs(nibble_model_descriptor(), deviceEntry, Buffers,
                               Runs, Ms);
}

static const int64_t Eight[] = {8};
static const int64_t Four[] = {4};
static const nibble_tensor_desc Inputs[] = {{"x", NIBBLE_DTYPE_F32, 1, Eight}};
static const nibble_tensor_desc Outputs[] = {
    {"y", NIBBLE_DTYPE_F32, 1, Eight},
    {"ones", NIBBLE_DTYPE_F32, 1, Eight},
    {"halves", NIBBLE_DTYPE_F16, 1, Four},
};
static const nibble_device_hooks Hooks = {nibble_cuda_status, timeRuns,
                                          nibble_cuda_describe};
static const nibble_model_desc Desc = {
    "fake-cuda", "nvptx sm_50",   1,     Inputs, 3, Outputs, 0,
    NULL,        sizeof(Weights), entry, &Hooks};

const nibble_model_desc *nibble_model_descriptor(void) { return &Desc; }
