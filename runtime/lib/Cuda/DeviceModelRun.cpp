//===- DeviceModelRun.cpp - Running and timing a model on the GPU ---------===//
//
// The nibble_cuda_* functions of CudaRuntime.h, which a CUDA model's
// descriptor glue calls: they move the caller's host buffers to device
// buffers kept per model, call the generated entry on those, and copy the
// outputs back; weights are uploaded once and cached. Errors go to the first
// error of CudaDriver.h, which nibble_cuda_status() reports.
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include "nibble/Runtime/CudaRuntime.h"
#include "nibble/Runtime/nibble.h"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

using namespace nibble::cuda;

#define NIBBLE_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

/// A model's device buffers (inputs, then outputs), allocated on its first
/// run and reused; the host staging copies of its outputs keep the caller's
/// buffers untouched until a run has fully succeeded.
struct ModelBuffers {
  std::mutex Mutex; // One run of a model at a time: they share the buffers.
  std::vector<CUdeviceptr> Device;
  std::vector<size_t> Bytes;
  std::vector<std::vector<unsigned char>> Staging; // Per output.
};

ModelBuffers &buffersFor(const nibble_model_desc *Desc) {
  static auto *Mutex = new std::mutex();
  static auto *All =
      new std::map<const nibble_model_desc *, std::unique_ptr<ModelBuffers>>();
  std::lock_guard<std::mutex> Lock(*Mutex);
  std::unique_ptr<ModelBuffers> &Buffers = (*All)[Desc];
  if (!Buffers)
    Buffers = std::make_unique<ModelBuffers>();
  return *Buffers;
}

size_t tensorBytes(const nibble_model_desc &Desc, size_t Index) {
  size_t NumInputs = size_t(Desc.num_inputs);
  return nibble_tensor_bytes(Index < NumInputs
                                 ? &Desc.inputs[Index]
                                 : &Desc.outputs[Index - NumInputs]);
}

/// Allocates what is missing or of another size; the device pointers in
/// descriptor order, or empty on error.
std::vector<void *> prepare(const Driver &D, const nibble_model_desc &Desc,
                            ModelBuffers &M) {
  size_t Count = size_t(Desc.num_inputs) + size_t(Desc.num_outputs);
  M.Device.resize(Count, 0);
  M.Bytes.resize(Count, 0);
  M.Staging.resize(size_t(Desc.num_outputs));
  std::vector<void *> Pointers;
  for (size_t I = 0; I < Count; ++I) {
    size_t Bytes = tensorBytes(Desc, I);
    if (M.Bytes[I] != Bytes) {
      if (M.Device[I] && !check(D.cuMemFree(M.Device[I]), "cuMemFree"))
        return {};
      M.Device[I] = 0;
      M.Bytes[I] = 0;
      if (Bytes && !check(D.cuMemAlloc(&M.Device[I], Bytes), "cuMemAlloc"))
        return {};
      M.Bytes[I] = Bytes;
    }
    Pointers.push_back(reinterpret_cast<void *>(M.Device[I]));
  }
  for (size_t I = 0; I < M.Staging.size(); ++I)
    M.Staging[I].resize(M.Bytes[Desc.num_inputs + I]);
  return Pointers;
}

bool copyInputs(const Driver &D, const nibble_model_desc &Desc,
                const ModelBuffers &M, void *const *Buffers) {
  for (int32_t I = 0; I < Desc.num_inputs; ++I)
    if (M.Bytes[I] && !check(D.cuMemcpyHtoDAsync(M.Device[I], Buffers[I],
                                                 M.Bytes[I], D.Stream),
                             "cuMemcpyHtoDAsync"))
      return false;
  return true;
}

/// Waits for the queued work; kernel faults surface here at the latest.
bool finish(const Driver &D) {
  return check(D.cuStreamSynchronize(D.Stream), "cuStreamSynchronize") &&
         !firstError();
}

/// Copies the outputs to the caller's buffers, through the staging copies.
bool copyOutputs(const Driver &D, const nibble_model_desc &Desc,
                 ModelBuffers &M, void *const *Buffers) {
  size_t NumInputs = size_t(Desc.num_inputs);
  for (size_t I = 0; I < M.Staging.size(); ++I)
    if (!M.Staging[I].empty() &&
        !check(D.cuMemcpyDtoHAsync(M.Staging[I].data(), M.Device[NumInputs + I],
                                   M.Staging[I].size(), D.Stream),
               "cuMemcpyDtoHAsync"))
      return false;
  if (!finish(D))
    return false;
  for (size_t I = 0; I < M.Staging.size(); ++I)
    if (!M.Staging[I].empty())
      std::memcpy(Buffers[NumInputs + I], M.Staging[I].data(),
                  M.Staging[I].size());
  return true;
}

/// Runs Entry on the device buffers and checks that it succeeded.
bool runEntry(const Driver &D, void (*Entry)(void *const *),
              const std::vector<void *> &Device) {
  Entry(Device.data());
  return !firstError() && finish(D);
}

bool validArguments(const nibble_model_desc *Desc, void (*Entry)(void *const *),
                    void *const *Buffers) {
  if (Desc && Entry && (Buffers || Desc->num_inputs + Desc->num_outputs == 0))
    return true;
  recordError("a CUDA model run got no descriptor, entry or buffers; rebuild "
              "the model with nibble-compile");
  return false;
}

void outOfMemory() {
  recordError("out of host memory while preparing a GPU run");
}

} // namespace

NIBBLE_CUDA_EXPORT const char *nibble_cuda_status(void) {
  driver();
  return firstError();
}

NIBBLE_CUDA_EXPORT const char *nibble_cuda_describe(void) {
  return deviceDescription();
}

NIBBLE_CUDA_EXPORT void *nibble_cuda_resident(const void *Host, int64_t Bytes) {
  const Driver *D = driver();
  if (!D || !Host || Bytes <= 0)
    return nullptr;
  struct Upload {
    CUdeviceptr Ptr;
    int64_t Bytes;
  };
  static auto *Mutex = new std::mutex();
  static auto *Uploads = new std::map<const void *, Upload>();
  try {
    std::lock_guard<std::mutex> Lock(*Mutex);
    auto It = Uploads->find(Host);
    if (It != Uploads->end() && It->second.Bytes >= Bytes)
      return reinterpret_cast<void *>(It->second.Ptr);
    // A longer constant at the same address replaces the cached copy, which
    // queued kernels may still read: it is kept, not freed.
    CUdeviceptr Ptr = 0;
    if (!check(D->cuMemAlloc(&Ptr, size_t(Bytes)), "cuMemAlloc"))
      return nullptr;
    if (!check(D->cuMemcpyHtoDAsync(Ptr, Host, size_t(Bytes), D->Stream),
               "cuMemcpyHtoDAsync") ||
        !check(D->cuStreamSynchronize(D->Stream), "cuStreamSynchronize")) {
      D->cuMemFree(Ptr);
      return nullptr;
    }
    (*Uploads)[Host] = {Ptr, Bytes};
    return reinterpret_cast<void *>(Ptr);
  } catch (const std::bad_alloc &) {
    outOfMemory();
    return nullptr;
  }
}

NIBBLE_CUDA_EXPORT void nibble_cuda_run(const nibble_model_desc *Desc,
                                        void (*Entry)(void *const *),
                                        void *const *Buffers) {
  const Driver *D = driver(/*Rebind=*/true);
  if (!D || !validArguments(Desc, Entry, Buffers))
    return;
  try {
    ModelBuffers &M = buffersFor(Desc);
    std::lock_guard<std::mutex> Lock(M.Mutex);
    std::vector<void *> Device = prepare(*D, *Desc, M);
    if (Device.size() != M.Device.size())
      return;
    if (copyInputs(*D, *Desc, M, Buffers) && runEntry(*D, Entry, Device))
      copyOutputs(*D, *Desc, M, Buffers);
  } catch (const std::bad_alloc &) {
    outOfMemory();
  }
}

NIBBLE_CUDA_EXPORT int nibble_cuda_time_runs(const nibble_model_desc *Desc,
                                             void (*Entry)(void *const *),
                                             void *const *Buffers, int32_t Runs,
                                             double *Ms) {
  const Driver *D = driver(/*Rebind=*/true);
  if (!D || !validArguments(Desc, Entry, Buffers))
    return 1;
  if (Runs < 0 || (Runs > 0 && !Ms)) {
    recordError("time_runs needs a run count >= 0 and an array for the "
                "times; this is a bug in the caller");
    return 1;
  }
  CUevent Start = nullptr, Stop = nullptr;
  bool Ok = false;
  try {
    ModelBuffers &M = buffersFor(Desc);
    std::lock_guard<std::mutex> Lock(M.Mutex);
    std::vector<void *> Device = prepare(*D, *Desc, M);
    Ok = Device.size() == M.Device.size() &&
         check(D->cuEventCreate(&Start, CU_EVENT_DEFAULT), "cuEventCreate") &&
         check(D->cuEventCreate(&Stop, CU_EVENT_DEFAULT), "cuEventCreate") &&
         copyInputs(*D, *Desc, M, Buffers) &&
         runEntry(*D, Entry, Device); // The untimed warm-up.
    for (int32_t I = 0; Ok && I < Runs; ++I) {
      // The entry synchronizes the stream itself: record Stop right after
      // it so that no extra wait is timed.
      float Elapsed = 0;
      Ok = check(D->cuEventRecord(Start, D->Stream), "cuEventRecord");
      if (Ok)
        Entry(Device.data());
      Ok = Ok && !firstError() &&
           check(D->cuEventRecord(Stop, D->Stream), "cuEventRecord") &&
           check(D->cuEventSynchronize(Stop), "cuEventSynchronize") &&
           check(D->cuEventElapsedTime(&Elapsed, Start, Stop),
                 "cuEventElapsedTime");
      if (Ok)
        Ms[I] = double(Elapsed);
    }
    Ok = Ok && copyOutputs(*D, *Desc, M, Buffers);
  } catch (const std::bad_alloc &) {
    outOfMemory();
    Ok = false;
  }
  for (CUevent Event : {Start, Stop})
    if (Event)
      D->cuEventDestroy(Event);
  return Ok ? 0 : 1;
}
