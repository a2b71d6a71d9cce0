//===- Tensor.h - Dtypes, shapes and aligned buffers ------------*- C++ -*-===//
//
// Small helpers shared by the C API, the .npy reader and the executable's main:
// the size and names of each nibble_dtype, shape formatting for messages, and
// a 64-byte aligned buffer (the alignment generated code may assume).
//
//===----------------------------------------------------------------------===//
#ifndef NIBBLE_RUNTIME_TENSOR_H
#define NIBBLE_RUNTIME_TENSOR_H

#include "nibble/Runtime/ModelABI.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace nibble {

/// Alignment of every buffer handed to a model's entry function.
constexpr size_t BufferAlignment = 64;

/// Bytes of one element, or 0 for a value that is not a nibble_dtype.
size_t dtypeSize(nibble_dtype dtype);

/// Whether numpy knows the dtype only through ml_dtypes (bfloat16, float8,
/// int4, ...): .npy files store such arrays as raw bytes ('|V1', '|V2').
bool isMlDtype(nibble_dtype dtype);

/// NumPy's name of the dtype ("float32"), used in messages.
const char *dtypeName(nibble_dtype dtype);

/// Compact name ("f32") used in signatures such as f32[1,16].
const char *dtypeShortName(nibble_dtype dtype);

/// Product of the dimensions (1 for a scalar).
size_t numElements(const int64_t *shape, size_t rank);

/// "[1,16]"; "[]" for a scalar.
std::string formatShape(const int64_t *shape, size_t rank);
std::string formatShape(const std::vector<int64_t> &shape);

/// "f32[1,16]".
std::string formatSignature(const nibble_tensor_desc &desc);

/// "'x', 'ids'" (quoted, comma separated), or "none".
std::string formatNames(const nibble_tensor_desc *Descs, int32_t Count);

/// Replaces line breaks and other control characters (which may come from
/// file names or file contents) so that an error message stays on one line.
std::string oneLine(std::string text);

/// An owned, zero-initialized, BufferAlignment-aligned block of memory.
/// Throws std::bad_alloc when memory runs out.
class AlignedBuffer {
public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size);

  void *data() const { return Data.get(); }
  size_t size() const { return Size; }

private:
  struct Free {
    void operator()(void *Ptr) const { std::free(Ptr); }
  };
  std::unique_ptr<void, Free> Data;
  size_t Size = 0;
};

} // namespace nibble

#endif // NIBBLE_RUNTIME_TENSOR_H
