/*===- CudaRuntime.h - Host side of models compiled for CUDA ------*- C -*-===//
 *
 * nibble_runtime_cuda provides two sets of functions to a model compiled for
 * an NVIDIA GPU. The mgpu* functions are the launch ABI that MLIR's
 * gpu-to-llvm lowering and gpu.binary translation emit calls to; the
 * nibble_cuda_* functions are what the model's descriptor glue calls to run
 * it. The CUDA driver (libcuda.so.1) is loaded at run time, on first use, so
 * a model links and starts (and --info works) on a machine without it; every
 * function is then a harmless no-op and nibble_cuda_status() says why.
 *
 * All work goes to one process-wide stream. The first CUDA error is kept:
 * later work is skipped and nibble_cuda_status() reports it.
 *
 *===----------------------------------------------------------------------===*/
#ifndef NIBBLE_RUNTIME_CUDARUNTIME_H
#define NIBBLE_RUNTIME_CUDARUNTIME_H

#include "nibble/Runtime/ModelABI.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device copy of a constant host buffer (model weights): uploaded once on
 * first use, then cached by host address. NULL on error or for 0 bytes. */
void *nibble_cuda_resident(const void *host, int64_t bytes);

/* One model run: inputs are copied to device buffers kept per descriptor,
 * entry(device_buffers) enqueues the kernels and synchronizes the stream, and
 * the outputs are copied back. On any error the outputs are untouched and
 * nibble_cuda_status() says why. */
void nibble_cuda_run(const nibble_model_desc *desc,
                     void (*entry)(void *const *), void *const *buffers);

/* nibble_device_hooks.time_runs for the CUDA device (see ModelABI.h). */
int nibble_cuda_time_runs(const nibble_model_desc *desc,
                          void (*entry)(void *const *), void *const *buffers,
                          int32_t runs, double *ms);

/* NULL when CUDA is usable, else one line starting "nibble: " saying why.
 * Loads and initializes the driver on the first call. */
const char *nibble_cuda_status(void);

/* "NVIDIA H100 80GB HBM3 (sm_90)", or NULL when CUDA is unusable. */
const char *nibble_cuda_describe(void);

/* The launch ABI of MLIR's GPU lowering. Pointers are device pointers,
 * handles are opaque; a null stream means the shared stream. */
void *mgpuModuleLoad(void *data, size_t sizeBytes);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
void *mgpuEventCreate(void);
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);
#ifdef __cplusplus
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
#else
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, _Bool isHostShared);
#endif
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream);
void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);
void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* NIBBLE_RUNTIME_CUDARUNTIME_H */
