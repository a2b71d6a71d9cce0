//===- CudaDriver.cpp - Loading libcuda.so.1 and the first error ----------===//
//
// The driver is dlopen'ed on the first call that needs it rather than linked,
// so that a model compiled for CUDA still starts, answers --info and fails
// with one clear line on a machine without the NVIDIA driver or a GPU.
//
// The state is created on first use and never destroyed: generated code may
// call in from global constructors and destructors, in any order relative to
// this file's.
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <mutex>

using namespace nibble::cuda;

namespace {

const char RecompileHint[] = "run the model on a machine with an NVIDIA GPU, "
                             "or recompile it with --target=host";

struct State {
  std::mutex InitMutex;
  std::atomic<bool> Loaded{false}; // Loading was attempted.
  bool Usable = false;             // Loading succeeded; D is complete.
  Driver D{};

  std::mutex ErrorMutex;
  std::atomic<bool> HasError{false};
  std::string Error; // Written once, before HasError is set.
};

State &state() {
  static State *S = new State();
  return *S;
}

/// Whether the driver's context is current on this thread.
thread_local bool Bound = false;

/// What to do about an error the driver returned, by its code.
std::string hintFor(CUresult Result) {
  const std::string &Arch = state().D.Arch;
  switch (Result) {
  case 2: // CUDA_ERROR_OUT_OF_MEMORY
    return "free GPU memory (other processes may hold it) or run a smaller "
           "model";
  case 200: // CUDA_ERROR_INVALID_IMAGE
  case 209: // CUDA_ERROR_NO_BINARY_FOR_GPU
  case 218: // CUDA_ERROR_INVALID_PTX
  case 222: // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
    return "the model's GPU code does not run on this GPU" +
           (Arch.empty() ? std::string() : " (" + Arch + ")") +
           "; recompile the model for it";
  case 500: // CUDA_ERROR_NOT_FOUND: a kernel missing from the image
    return "the model's GPU code does not match its host code; recompile "
           "the model";
  case 3:   // CUDA_ERROR_NOT_INITIALIZED
  case 4:   // CUDA_ERROR_DEINITIALIZED
  case 100: // CUDA_ERROR_NO_DEVICE
  case 101: // CUDA_ERROR_INVALID_DEVICE
  case 304: // CUDA_ERROR_OPERATING_SYSTEM
  case 803: // CUDA_ERROR_SYSTEM_DRIVER_MISMATCH
  case 804: // CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE
  case 999: // CUDA_ERROR_UNKNOWN
    return "check the NVIDIA driver (nvidia-smi), or recompile the model "
           "with --target=host";
  default:
    // Most other errors (an illegal address, a failed launch) leave the
    // context unusable for the rest of the process.
    return "the GPU state of this process is lost; restart it (with "
           "CUDA_LAUNCH_BLOCKING=1 the error names the failing kernel)";
  }
}

std::string errorText(CUresult Result) {
  const char *Text = nullptr;
  State &S = state();
  if (S.D.cuGetErrorString && S.D.cuGetErrorString(Result, &Text) != 0)
    Text = nullptr;
  return (Text ? std::string(Text) : "unknown error") + " (code " +
         std::to_string(Result) + ")";
}

/// Sets Slot to the first of Names that the library exports.
template <typename Fn>
bool resolve(void *Library, Fn &Slot, std::initializer_list<const char *> Names,
             std::string &Missing) {
  for (const char *Name : Names)
    if (void *Address = dlsym(Library, Name)) {
      Slot = reinterpret_cast<Fn>(Address);
      return true;
    }
  if (Missing.empty())
    Missing = *Names.begin();
  return false;
}

/// Resolves the driver's entry points; returns the first missing one, or "".
std::string resolveAll(void *L, Driver &D) {
  std::string Missing;
  // The _v2 names are what cuda.h maps the plain ones to since CUDA 3.2.
  resolve(L, D.cuInit, {"cuInit"}, Missing);
  resolve(L, D.cuDeviceGetCount, {"cuDeviceGetCount"}, Missing);
  resolve(L, D.cuDeviceGet, {"cuDeviceGet"}, Missing);
  resolve(L, D.cuDeviceGetName, {"cuDeviceGetName"}, Missing);
  resolve(L, D.cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, Missing);
  resolve(L, D.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, Missing);
  resolve(L, D.cuCtxSetCurrent, {"cuCtxSetCurrent"}, Missing);
  resolve(L, D.cuModuleLoadData, {"cuModuleLoadData"}, Missing);
  resolve(L, D.cuModuleGetFunction, {"cuModuleGetFunction"}, Missing);
  resolve(L, D.cuLaunchKernel, {"cuLaunchKernel"}, Missing);
  resolve(L, D.cuStreamCreate, {"cuStreamCreate"}, Missing);
  resolve(L, D.cuStreamSynchronize, {"cuStreamSynchronize"}, Missing);
  resolve(L, D.cuStreamWaitEvent, {"cuStreamWaitEvent"}, Missing);
  resolve(L, D.cuMemAlloc, {"cuMemAlloc_v2"}, Missing);
  resolve(L, D.cuMemFree, {"cuMemFree_v2"}, Missing);
  resolve(L, D.cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, Missing);
  resolve(L, D.cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"}, Missing);
  resolve(L, D.cuMemcpyAsync, {"cuMemcpyAsync"}, Missing);
  resolve(L, D.cuMemsetD32Async, {"cuMemsetD32Async"}, Missing);
  resolve(L, D.cuMemsetD16Async, {"cuMemsetD16Async"}, Missing);
  resolve(L, D.cuMemsetD8Async, {"cuMemsetD8Async"}, Missing);
  resolve(L, D.cuEventCreate, {"cuEventCreate"}, Missing);
  resolve(L, D.cuEventRecord, {"cuEventRecord"}, Missing);
  resolve(L, D.cuEventSynchronize, {"cuEventSynchronize"}, Missing);
  resolve(L, D.cuEventElapsedTime, {"cuEventElapsedTime"}, Missing);
  resolve(L, D.cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"},
          Missing);
  resolve(L, D.cuGetErrorString, {"cuGetErrorString"}, Missing);
  // Stream-ordered allocation (CUDA 11.2): without it, cuMemAlloc/cuMemFree.
  std::string Optional;
  resolve(L, D.cuMemAllocAsync, {"cuMemAllocAsync"}, Optional);
  resolve(L, D.cuMemFreeAsync, {"cuMemFreeAsync"}, Optional);
  resolve(L, D.cuDeviceGetDefaultMemPool, {"cuDeviceGetDefaultMemPool"},
          Optional);
  resolve(L, D.cuMemPoolSetAttribute, {"cuMemPoolSetAttribute"}, Optional);
  return Missing;
}

/// Loads the driver and sets up device 0; false with the error recorded.
bool load(State &S) {
  Driver &D = S.D;
  D.Library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!D.Library) {
    recordError("no CUDA driver: libcuda.so.1 cannot be loaded (this model "
                "was compiled for an NVIDIA GPU; run it on a machine with the "
                "NVIDIA driver, or recompile with --target=host)");
    return false;
  }
  std::string Missing = resolveAll(D.Library, D);
  if (!Missing.empty()) {
    recordError("the CUDA driver is too old: libcuda.so.1 lacks " + Missing +
                "; update the NVIDIA driver, or recompile the model with "
                "--target=host");
    return false;
  }

  CUresult Result = D.cuInit(0);
  if (Result == CUDA_ERROR_NO_DEVICE) {
    recordError("no CUDA GPU found (cuInit: " + errorText(Result) + "); " +
                RecompileHint);
    return false;
  }
  if (!check(Result, "cuInit"))
    return false;
  int Count = 0;
  if (!check(D.cuDeviceGetCount(&Count), "cuDeviceGetCount"))
    return false;
  if (Count <= 0) {
    recordError("no CUDA GPU found (cuDeviceGetCount returned " +
                std::to_string(Count) + "); " + RecompileHint);
    return false;
  }
  CUdevice Device = 0;
  if (!check(D.cuDeviceGet(&Device, 0), "cuDeviceGet"))
    return false;

  char Name[256] = {};
  int Major = 0, Minor = 0, Pools = 0;
  if (!check(D.cuDeviceGetName(Name, sizeof(Name) - 1, Device),
             "cuDeviceGetName") ||
      !check(D.cuDeviceGetAttribute(
                 &Major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, Device),
             "cuDeviceGetAttribute") ||
      !check(D.cuDeviceGetAttribute(
                 &Minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, Device),
             "cuDeviceGetAttribute"))
    return false;
  D.Arch = "sm_" + std::to_string(Major) + std::to_string(Minor);
  D.Description = std::string(Name) + " (" + D.Arch + ")";
  // Some virtualized GPUs lack memory pools even on a new driver.
  D.HasMemoryPools =
      D.cuMemAllocAsync && D.cuMemFreeAsync &&
      D.cuDeviceGetAttribute(&Pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                             Device) == CUDA_SUCCESS &&
      Pools != 0;

  if (!check(D.cuDevicePrimaryCtxRetain(&D.Context, Device),
             "cuDevicePrimaryCtxRetain") ||
      !check(D.cuCtxSetCurrent(D.Context), "cuCtxSetCurrent"))
    return false;
  Bound = true;
  // Non-blocking: no implicit synchronization with the legacy default stream
  // that other libraries in the process may use.
  if (!check(D.cuStreamCreate(&D.Stream, CU_STREAM_NON_BLOCKING),
             "cuStreamCreate"))
    return false;

  // By default the pool returns freed memory to the system at every
  // synchronization, so each run would map its temporaries again. Keeping
  // them is an optimization only: failures are ignored.
  CUmemoryPool Pool = nullptr;
  if (D.HasMemoryPools && D.cuDeviceGetDefaultMemPool &&
      D.cuMemPoolSetAttribute &&
      D.cuDeviceGetDefaultMemPool(&Pool, Device) == CUDA_SUCCESS) {
    uint64_t Threshold = UINT64_MAX;
    D.cuMemPoolSetAttribute(Pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                            &Threshold);
  }
  return true;
}

} // namespace

const Driver *nibble::cuda::driver(bool Rebind) {
  State &S = state();
  if (!S.Loaded.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> Lock(S.InitMutex);
    if (!S.Loaded.load(std::memory_order_relaxed)) {
      S.Usable = load(S);
      S.Loaded.store(true, std::memory_order_release);
    }
  }
  if (!S.Usable || S.HasError.load(std::memory_order_acquire))
    return nullptr;
  // The context is per thread; callers from outside a run rebind it in case
  // other code in the process made another context current.
  if (!Bound || Rebind) {
    if (!check(S.D.cuCtxSetCurrent(S.D.Context), "cuCtxSetCurrent"))
      return nullptr;
    Bound = true;
  }
  return &S.D;
}

void nibble::cuda::recordError(const std::string &Message) {
  State &S = state();
  std::lock_guard<std::mutex> Lock(S.ErrorMutex);
  if (S.HasError.load(std::memory_order_relaxed))
    return;
  std::string Line = "nibble: " + Message;
  for (char &C : Line)
    if (C == '\n' || C == '\r')
      C = ' ';
  S.Error = std::move(Line);
  S.HasError.store(true, std::memory_order_release);
}

bool nibble::cuda::check(CUresult Result, const char *Call,
                         const std::string &Detail) {
  if (Result == CUDA_SUCCESS)
    return true;
  recordError("CUDA error in " + std::string(Call) +
              (Detail.empty() ? "" : " " + Detail) + ": " + errorText(Result) +
              "; " + hintFor(Result));
  return false;
}

const char *nibble::cuda::firstError() {
  State &S = state();
  return S.HasError.load(std::memory_order_acquire) ? S.Error.c_str() : nullptr;
}

const char *nibble::cuda::deviceDescription() {
  driver();
  State &S = state();
  return S.Usable ? S.D.Description.c_str() : nullptr;
}
