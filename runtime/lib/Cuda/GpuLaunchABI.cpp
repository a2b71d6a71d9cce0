//===- GpuLaunchABI.cpp - The mgpu* functions generated GPU code calls ----===//
//
// MLIR's gpu-to-llvm lowering and gpu.binary translation turn kernel launches,
// device allocations and copies into calls to these functions. Every stream
// the code asks for is the one shared stream, so all work of a process is
// ordered. A failure records the first error (see CudaDriver.h) and turns the
// remaining calls into no-ops: nothing here aborts, and without a driver
// everything returns null.
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include "nibble/Runtime/CudaRuntime.h"

#include <climits>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

using namespace nibble::cuda;

// Generated code calls these, so they stay visible in a library built with
// hidden visibility.
#define NIBBLE_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

/// A gpu.binary: the image is loaded on first use, because mgpuModuleLoad
/// runs in a global constructor, before main() and before any driver exists.
struct Module {
  const void *Image;
  std::mutex Mutex;
  CUmodule Handle = nullptr;
  struct Function {
    std::string Name;
    CUfunction Handle;
  };
  /// By the address of the name: generated code passes the same constant
  /// string before every launch, so a hit costs no string hashing.
  std::unordered_map<const char *, Function> Functions;

  explicit Module(const void *Image) : Image(Image) {}
};

/// Kernel names by function, to name the kernel in launch errors.
struct KernelNames {
  std::mutex Mutex;
  std::unordered_map<CUfunction, std::string> Names;
};

KernelNames &kernelNames() {
  static KernelNames *Names = new KernelNames();
  return *Names;
}

std::string kernelDetail(CUfunction Function) {
  KernelNames &K = kernelNames();
  std::lock_guard<std::mutex> Lock(K.Mutex);
  auto It = K.Names.find(Function);
  return It == K.Names.end() ? std::string() : "(kernel '" + It->second + "')";
}

CUstream streamOr(const Driver *D, void *Stream) {
  return Stream ? static_cast<CUstream>(Stream) : D->Stream;
}

CUdeviceptr devicePtr(const void *Ptr) {
  return reinterpret_cast<CUdeviceptr>(Ptr);
}

void outOfMemory() {
  recordError("out of host memory while loading the model's GPU kernels");
}

} // namespace

NIBBLE_CUDA_EXPORT void *mgpuModuleLoad(void *Data, size_t /*SizeBytes*/) {
  // cuModuleLoadData finds the image's size from its header (cubin, fatbin)
  // or terminating NUL (PTX); the data is a constant of the model binary.
  return Data ? new (std::nothrow) Module(Data) : nullptr;
}

// Modules are unloaded at exit, when the driver may be shutting down too; the
// process releases everything anyway, so this is a no-op.
NIBBLE_CUDA_EXPORT void mgpuModuleUnload(void * /*Module*/) {}

NIBBLE_CUDA_EXPORT void *mgpuModuleGetFunction(void *ModulePtr,
                                               const char *Name) {
  const Driver *D = driver();
  if (!D || !ModulePtr || !Name)
    return nullptr;
  Module &M = *static_cast<Module *>(ModulePtr);
  std::lock_guard<std::mutex> Lock(M.Mutex);
  auto It = M.Functions.find(Name);
  if (It != M.Functions.end() && It->second.Name == Name)
    return It->second.Handle;
  if (!M.Handle &&
      !check(D->cuModuleLoadData(&M.Handle, M.Image), "cuModuleLoadData"))
    return nullptr;
  CUfunction Function = nullptr;
  if (!check(D->cuModuleGetFunction(&Function, M.Handle, Name),
             "cuModuleGetFunction", "(kernel '" + std::string(Name) + "')"))
    return nullptr;
  try {
    M.Functions[Name] = {Name, Function};
    KernelNames &K = kernelNames();
    std::lock_guard<std::mutex> NamesLock(K.Mutex);
    K.Names.emplace(Function, Name);
  } catch (const std::bad_alloc &) {
    outOfMemory();
    return nullptr;
  }
  return Function;
}

NIBBLE_CUDA_EXPORT void mgpuLaunchKernel(void *FunctionPtr, intptr_t GridX,
                                         intptr_t GridY, intptr_t GridZ,
                                         intptr_t BlockX, intptr_t BlockY,
                                         intptr_t BlockZ, int32_t Smem,
                                         void *Stream, void **Params,
                                         void **Extra, size_t /*ParamsCount*/) {
  const Driver *D = driver();
  if (!D)
    return;
  auto Function = static_cast<CUfunction>(FunctionPtr);
  if (!Function) {
    // With no earlier error (driver() is null after one), the kernel's image
    // was never registered: mgpuModuleLoad ran out of memory at start-up.
    recordError("cannot launch a GPU kernel whose code was not loaded; "
                "restart the process");
    return;
  }
  // cuLaunchKernel takes unsigned dimensions; MLIR passes its index type.
  for (intptr_t Dim :
       {GridX, GridY, GridZ, BlockX, BlockY, BlockZ, intptr_t(Smem)})
    if (Dim < 0 || uintmax_t(Dim) > UINT_MAX) {
      std::string Detail = kernelDetail(Function);
      recordError("GPU kernel launch" + (Detail.empty() ? "" : " " + Detail) +
                  " with a grid, block or shared memory size of " +
                  std::to_string(Dim) +
                  ", which CUDA does not support; report this as a compiler "
                  "bug");
      return;
    }
  CUresult Result = D->cuLaunchKernel(
      Function, unsigned(GridX), unsigned(GridY), unsigned(GridZ),
      unsigned(BlockX), unsigned(BlockY), unsigned(BlockZ), unsigned(Smem),
      streamOr(D, Stream), Params, Extra);
  if (Result != CUDA_SUCCESS)
    check(Result, "cuLaunchKernel", kernelDetail(Function));
}

NIBBLE_CUDA_EXPORT void *mgpuStreamCreate(void) {
  const Driver *D = driver();
  return D ? D->Stream : nullptr;
}

// The shared stream lives as long as the process.
NIBBLE_CUDA_EXPORT void mgpuStreamDestroy(void * /*Stream*/) {}

NIBBLE_CUDA_EXPORT void mgpuStreamSynchronize(void *Stream) {
  if (const Driver *D = driver())
    check(D->cuStreamSynchronize(streamOr(D, Stream)), "cuStreamSynchronize");
}

NIBBLE_CUDA_EXPORT void mgpuStreamWaitEvent(void *Stream, void *Event) {
  const Driver *D = driver();
  if (D && Event)
    check(D->cuStreamWaitEvent(streamOr(D, Stream), static_cast<CUevent>(Event),
                               /*Flags=*/0),
          "cuStreamWaitEvent");
}

NIBBLE_CUDA_EXPORT void *mgpuEventCreate(void) {
  const Driver *D = driver();
  CUevent Event = nullptr;
  if (D && !check(D->cuEventCreate(&Event, CU_EVENT_DISABLE_TIMING),
                  "cuEventCreate"))
    return nullptr;
  return Event;
}

NIBBLE_CUDA_EXPORT void mgpuEventDestroy(void *Event) {
  const Driver *D = driver();
  if (D && Event)
    check(D->cuEventDestroy(static_cast<CUevent>(Event)), "cuEventDestroy");
}

NIBBLE_CUDA_EXPORT void mgpuEventSynchronize(void *Event) {
  const Driver *D = driver();
  if (D && Event)
    check(D->cuEventSynchronize(static_cast<CUevent>(Event)),
          "cuEventSynchronize");
}

NIBBLE_CUDA_EXPORT void mgpuEventRecord(void *Event, void *Stream) {
  const Driver *D = driver();
  if (D && Event)
    check(D->cuEventRecord(static_cast<CUevent>(Event), streamOr(D, Stream)),
          "cuEventRecord");
}

NIBBLE_CUDA_EXPORT void *mgpuMemAlloc(uint64_t SizeBytes, void *Stream,
                                      bool IsHostShared) {
  const Driver *D = driver();
  if (!D || SizeBytes == 0)
    return nullptr;
  if (IsHostShared) {
    recordError("the model asks for host-shared GPU memory, which nibble's "
                "CUDA runtime does not provide; report this as a compiler bug");
    return nullptr;
  }
  CUdeviceptr Ptr = 0;
  bool Ok =
      D->HasMemoryPools
          ? check(D->cuMemAllocAsync(&Ptr, SizeBytes, streamOr(D, Stream)),
                  "cuMemAllocAsync")
          : check(D->cuMemAlloc(&Ptr, SizeBytes), "cuMemAlloc");
  return Ok ? reinterpret_cast<void *>(Ptr) : nullptr;
}

NIBBLE_CUDA_EXPORT void mgpuMemFree(void *Ptr, void *Stream) {
  const Driver *D = driver();
  if (!D || !Ptr)
    return;
  if (D->HasMemoryPools) {
    check(D->cuMemFreeAsync(devicePtr(Ptr), streamOr(D, Stream)),
          "cuMemFreeAsync");
    return;
  }
  // Without stream-ordered memory, kernels still queued may use Ptr.
  if (check(D->cuStreamSynchronize(streamOr(D, Stream)), "cuStreamSynchronize"))
    check(D->cuMemFree(devicePtr(Ptr)), "cuMemFree");
}

NIBBLE_CUDA_EXPORT void mgpuMemcpy(void *Dst, void *Src, size_t SizeBytes,
                                   void *Stream) {
  const Driver *D = driver();
  if (D && SizeBytes)
    check(D->cuMemcpyAsync(devicePtr(Dst), devicePtr(Src), SizeBytes,
                           streamOr(D, Stream)),
          "cuMemcpyAsync");
}

NIBBLE_CUDA_EXPORT void mgpuMemset32(void *Dst, unsigned int Value,
                                     size_t Count, void *Stream) {
  const Driver *D = driver();
  if (D && Count)
    check(
        D->cuMemsetD32Async(devicePtr(Dst), Value, Count, streamOr(D, Stream)),
        "cuMemsetD32Async");
}

NIBBLE_CUDA_EXPORT void mgpuMemset16(void *Dst, unsigned short Value,
                                     size_t Count, void *Stream) {
  const Driver *D = driver();
  if (D && Count)
    check(
        D->cuMemsetD16Async(devicePtr(Dst), Value, Count, streamOr(D, Stream)),
        "cuMemsetD16Async");
}
