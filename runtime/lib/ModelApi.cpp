//===- ModelApi.cpp - C API of a compiled nibble model --------------------===//
//
// Implements nibble.h on top of the model descriptor. Inputs arrive by name
// in any order and are put into descriptor order; buffers that are not
// 64-byte aligned go through aligned scratch copies because generated code
// may assume the alignment. A model that runs on a device (desc.device) is
// asked for the device's status before and after each run. Nothing here
// throws or aborts across the C API.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/Tensor.h"
#include "nibble/Runtime/Threads.h"
#include "nibble/Runtime/nibble.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace nibble;

// The API must stay visible when the runtime is built with hidden visibility
// and linked into a model's shared library.
#define NIBBLE_EXPORT extern "C" __attribute__((visibility("default")))

struct nibble_model {
  const nibble_model_desc *Desc = nullptr;
  std::string LastError;
  bool OutOfMemory = false; // Reported without allocating a message.
  /// A bad NIBBLE_NUM_THREADS found at load time, reported by every run.
  std::string ThreadsError;
  /// Aligned copies of unaligned caller buffers, one slot per buffer, kept
  /// across runs so that repeated calls do not allocate.
  std::vector<AlignedBuffer> Scratch;
};

namespace {

const char NullModelError[] =
    "nibble: model handle is NULL; create one with nibble_model_load()";
const char OutOfMemoryError[] =
    "nibble: out of memory while preparing the model's buffers";

bool isAligned(const void *Ptr) {
  return reinterpret_cast<uintptr_t>(Ptr) % BufferAlignment == 0;
}

int fail(nibble_model *Model, const std::string &Message) {
  Model->LastError = oneLine("nibble: " + Message);
  return 1;
}

/// Fails with the device's status line, if it reports one. The device adds
/// "nibble: " itself, which fail() must not repeat.
bool deviceFailed(nibble_model *Model, const nibble_model_desc &Desc) {
  if (!Desc.device || !Desc.device->status)
    return false;
  const char *Status = Desc.device->status();
  if (!Status || !*Status)
    return false;
  std::string Message = Status;
  if (Message.rfind("nibble: ", 0) == 0)
    Message.erase(0, 8);
  fail(Model, Message.empty() ? "the model's device failed without saying why"
                              : Message);
  return true;
}

/// Returns a pointer to pass to the entry for caller buffer Ptr: Ptr itself
/// when aligned, otherwise Model->Scratch[Slot] (filled from Ptr if CopyIn).
void *alignedView(nibble_model *Model, size_t Slot, const void *Ptr,
                  size_t Bytes, bool CopyIn) {
  if (isAligned(Ptr))
    return const_cast<void *>(Ptr);
  AlignedBuffer &Buffer = Model->Scratch[Slot];
  if (!Buffer.data() || Buffer.size() != Bytes)
    Buffer = AlignedBuffer(Bytes);
  if (CopyIn)
    std::memcpy(Buffer.data(), Ptr, Bytes);
  return Buffer.data();
}

int runChecked(nibble_model *Model, int32_t NumInputs,
               const char *const *InputNames, const void *const *Inputs,
               void *const *Outputs) {
  if (!Model->Desc || !Model->Desc->entry)
    return fail(Model, "the model has no descriptor or entry function; rebuild "
                       "the model with nibble-compile");
  const nibble_model_desc &Desc = *Model->Desc;
  if (NumInputs < 0)
    return fail(Model, "num_inputs is " + std::to_string(NumInputs) +
                           "; pass the number of entries in input_names");
  if (NumInputs > 0 && (!InputNames || !Inputs))
    return fail(Model, std::string(InputNames ? "inputs" : "input_names") +
                           " is NULL but num_inputs is " +
                           std::to_string(NumInputs));

  // Put the named inputs into descriptor order.
  std::vector<const void *> Ordered(Desc.num_inputs, nullptr);
  for (int32_t I = 0; I < NumInputs; ++I) {
    const char *Name = InputNames[I];
    if (!Name)
      return fail(Model, "input_names[" + std::to_string(I) +
                             "] is NULL; pass the name of a graph input");
    int32_t Index = 0;
    while (Index < Desc.num_inputs &&
           std::strcmp(Desc.inputs[Index].name, Name) != 0)
      ++Index;
    if (Index == Desc.num_inputs)
      return fail(Model, "unknown input '" + std::string(Name) +
                             "'; the model's inputs are " +
                             formatNames(Desc.inputs, Desc.num_inputs));
    if (Ordered[Index])
      return fail(Model, "input '" + std::string(Name) +
                             "' given twice; pass each input exactly once");
    if (!Inputs[I])
      return fail(Model,
                  "data for input '" + std::string(Name) +
                      "' is NULL; pass a buffer of " +
                      std::to_string(nibble_tensor_bytes(&Desc.inputs[Index])) +
                      " bytes");
    Ordered[Index] = Inputs[I];
  }
  for (int32_t I = 0; I < Desc.num_inputs; ++I)
    if (!Ordered[I])
      return fail(Model, "missing input '" + std::string(Desc.inputs[I].name) +
                             "' (expects " + formatSignature(Desc.inputs[I]) +
                             ")");
  if (Desc.num_outputs > 0 && !Outputs)
    return fail(Model, "outputs is NULL; pass " +
                           std::to_string(Desc.num_outputs) +
                           " output buffer(s)");
  for (int32_t I = 0; I < Desc.num_outputs; ++I)
    if (!Outputs[I])
      return fail(Model,
                  "buffer for output '" + std::string(Desc.outputs[I].name) +
                      "' is NULL; pass a buffer of " +
                      std::to_string(nibble_tensor_bytes(&Desc.outputs[I])) +
                      " bytes");

  // A missing driver or GPU, or an error an earlier run left behind, fails
  // the run before the entry is called.
  if (deviceFailed(Model, Desc))
    return 1;

  // Inputs, then outputs, each 64-byte aligned.
  Model->Scratch.resize(Desc.num_inputs + Desc.num_outputs);
  std::vector<void *> Buffers;
  for (int32_t I = 0; I < Desc.num_inputs; ++I)
    Buffers.push_back(alignedView(Model, I, Ordered[I],
                                  nibble_tensor_bytes(&Desc.inputs[I]),
                                  /*CopyIn=*/true));
  for (int32_t I = 0; I < Desc.num_outputs; ++I)
    Buffers.push_back(alignedView(Model, Desc.num_inputs + I, Outputs[I],
                                  nibble_tensor_bytes(&Desc.outputs[I]),
                                  /*CopyIn=*/false));
  Desc.entry(Buffers.data());
  // Kernels run asynchronously: their errors show up only now. The outputs
  // then hold nothing useful, so they are left alone.
  if (deviceFailed(Model, Desc))
    return 1;
  for (int32_t I = 0; I < Desc.num_outputs; ++I)
    if (Buffers[Desc.num_inputs + I] != Outputs[I])
      std::memcpy(Outputs[I], Buffers[Desc.num_inputs + I],
                  nibble_tensor_bytes(&Desc.outputs[I]));
  return 0;
}

} // namespace

NIBBLE_EXPORT nibble_model *nibble_model_load(void) {
  try {
    nibble_model *Model = new nibble_model();
    Model->Desc = nibble_model_descriptor();
    Model->ThreadsError = applyThreadsFromEnvironment();
    return Model;
  } catch (...) {
    return nullptr;
  }
}

NIBBLE_EXPORT void nibble_model_free(nibble_model *Model) { delete Model; }

NIBBLE_EXPORT const nibble_model_desc *
nibble_model_describe(const nibble_model *Model) {
  return Model ? Model->Desc : nullptr;
}

NIBBLE_EXPORT size_t nibble_tensor_bytes(const nibble_tensor_desc *Desc) {
  if (!Desc || Desc->rank < 0 || (Desc->rank > 0 && !Desc->shape))
    return 0;
  return numElements(Desc->shape, Desc->rank) * dtypeSize(Desc->dtype);
}

NIBBLE_EXPORT int nibble_model_run(nibble_model *Model, int32_t NumInputs,
                                   const char *const *InputNames,
                                   const void *const *Inputs,
                                   void *const *Outputs) {
  if (!Model)
    return 1;
  Model->LastError.clear();
  Model->OutOfMemory = false;
  try {
    if (!Model->ThreadsError.empty())
      return fail(Model, Model->ThreadsError);
    return runChecked(Model, NumInputs, InputNames, Inputs, Outputs);
  } catch (...) {
    // Only allocation can throw here; report it rather than unwind into C.
    Model->LastError.clear();
    Model->OutOfMemory = true;
    return 1;
  }
}

NIBBLE_EXPORT const char *nibble_model_last_error(const nibble_model *Model) {
  if (!Model)
    return NullModelError;
  return Model->OutOfMemory ? OutOfMemoryError : Model->LastError.c_str();
}
