//===- CudaDriver.h - The CUDA driver, loaded at run time -------*- C++ -*-===//
//
// The few driver API types and functions the runtime uses, declared here so
// that building nibble needs no CUDA toolkit, and the process-wide state:
// the library handle, the primary context of device 0, one shared stream and
// the first error. The driver is loaded on first use, never at start-up.
//
//===----------------------------------------------------------------------===//
#ifndef NIBBLE_RUNTIME_CUDA_CUDADRIVER_H
#define NIBBLE_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace nibble {
namespace cuda {

// Driver API types (cuda.h), all opaque handles except CUdeviceptr.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t; // unsigned long long on every 64-bit platform
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUmemoryPool = struct CUmemPoolHandle_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115;
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DEFAULT = 0;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;

/// Entry points resolved from libcuda.so.1. The optional ones may be null.
struct Driver {
  CUresult (*cuInit)(unsigned Flags);
  CUresult (*cuDeviceGetCount)(int *Count);
  CUresult (*cuDeviceGet)(CUdevice *Device, int Ordinal);
  CUresult (*cuDeviceGetName)(char *Name, int Len, CUdevice Device);
  CUresult (*cuDeviceGetAttribute)(int *Value, int Attribute, CUdevice Device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *Context, CUdevice Device);
  CUresult (*cuCtxSetCurrent)(CUcontext Context);
  CUresult (*cuModuleLoadData)(CUmodule *Module, const void *Image);
  CUresult (*cuModuleGetFunction)(CUfunction *Function, CUmodule Module,
                                  const char *Name);
  CUresult (*cuLaunchKernel)(CUfunction Function, unsigned GridX,
                             unsigned GridY, unsigned GridZ, unsigned BlockX,
                             unsigned BlockY, unsigned BlockZ,
                             unsigned SharedMemBytes, CUstream Stream,
                             void **Params, void **Extra);
  CUresult (*cuStreamCreate)(CUstream *Stream, unsigned Flags);
  CUresult (*cuStreamSynchronize)(CUstream Stream);
  CUresult (*cuStreamWaitEvent)(CUstream Stream, CUevent Event, unsigned Flags);
  CUresult (*cuMemAlloc)(CUdeviceptr *Ptr, size_t Bytes);
  CUresult (*cuMemFree)(CUdeviceptr Ptr);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *Ptr, size_t Bytes, CUstream Stream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr Ptr, CUstream Stream);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr Dst, const void *Src, size_t Bytes,
                                CUstream Stream);
  CUresult (*cuMemcpyDtoHAsync)(void *Dst, CUdeviceptr Src, size_t Bytes,
                                CUstream Stream);
  CUresult (*cuMemcpyAsync)(CUdeviceptr Dst, CUdeviceptr Src, size_t Bytes,
                            CUstream Stream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr Dst, unsigned Value, size_t Count,
                               CUstream Stream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr Dst, unsigned short Value,
                               size_t Count, CUstream Stream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr Dst, unsigned char Value,
                              size_t Count, CUstream Stream);
  CUresult (*cuEventCreate)(CUevent *Event, unsigned Flags);
  CUresult (*cuEventRecord)(CUevent Event, CUstream Stream);
  CUresult (*cuEventSynchronize)(CUevent Event);
  CUresult (*cuEventElapsedTime)(float *Ms, CUevent Start, CUevent End);
  CUresult (*cuEventDestroy)(CUevent Event);
  CUresult (*cuGetErrorString)(CUresult Error, const char **Text);
  // Optional: keep freed stream-ordered memory in the pool between runs.
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *Pool, CUdevice Device);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool Pool, int Attribute,
                                    void *Value);

  void *Library = nullptr; // libcuda.so.1, never closed.
  CUcontext Context = nullptr;
  CUstream Stream = nullptr;   // The one stream all work goes to.
  bool HasMemoryPools = false; // Else cuMemAlloc/cuMemFree replace *Async.
  std::string Description;     // "NVIDIA H100 80GB HBM3 (sm_90)"
  std::string Arch;            // "sm_90"
};

/// The driver, loaded and initialized, with its context current on this
/// thread (made current again when Rebind, for calls from outside a run);
/// null when CUDA is unusable or an earlier error was recorded, in which case
/// firstError() says why. The first call loads the driver.
const Driver *driver(bool Rebind = false);

/// Records Message (without "nibble: ") as the first error unless one exists.
void recordError(const std::string &Message);

/// Records "CUDA error in <Call>: <the driver's text>; <what to do>" when
/// Result is not CUDA_SUCCESS. Returns whether Result is CUDA_SUCCESS.
bool check(CUresult Result, const char *Call, const std::string &Detail = "");

/// The first error, a line starting "nibble: ", or null when none.
const char *firstError();

/// Driver->Description, or null when the driver or the GPU is missing. Kept
/// after a failed run: the device is still known.
const char *deviceDescription();

} // namespace cuda
} // namespace nibble

#endif // NIBBLE_RUNTIME_CUDA_CUDADRIVER_H
