//===- Npy.h - Reading and writing NumPy .npy files -------------*- C++ -*-===//
//
// The executable's --input/--output-dir files are .npy arrays: dense, C-order,
// little-endian, one of the dtypes in nibble_dtype. Anything else is rejected
// with a one-line message that says how to re-save the array.
//
//===----------------------------------------------------------------------===//
#ifndef NIBBLE_RUNTIME_NPY_H
#define NIBBLE_RUNTIME_NPY_H

#include "nibble/Runtime/ModelABI.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

/// A dense C-order array.
struct NpyArray {
  nibble_dtype Dtype = NIBBLE_DTYPE_F32;
  std::vector<int64_t> Shape; ///< Empty for a scalar (rank 0).
  std::vector<uint8_t> Bytes; ///< numElements(Shape) * itemSize().
  /// Non-zero when the file stores raw bytes ('|V1' or '|V2'), as numpy
  /// saves ml_dtypes arrays (float8, int4, bfloat16, ...): the element size,
  /// with Dtype meaningless until adoptDtype gives it one.
  size_t RawItemSize = 0;

  size_t itemSize() const;
  /// The dtype's name, or "raw bytes ('|V1')" for raw arrays.
  std::string dtypeDescription() const;
  /// Whether the array can be read as `Want`: its dtype is `Want`, or it is
  /// raw bytes of `Want`'s size and `Want` is an ml_dtypes type, which it
  /// then takes.
  bool adoptDtype(nibble_dtype Want);
};

/// Parses the .npy image Data[0, Size) (format versions 1.0, 2.0 and 3.0).
/// On failure returns false and sets Error to one line that names Source
/// (usually the file name) and says what to do; it does not start with
/// "nibble: " so that callers can add context.
bool parseNpy(const uint8_t *Data, size_t Size, const std::string &Source,
              NpyArray &Out, std::string &Error);

/// Reads and parses the .npy file at Path, like parseNpy.
bool readNpy(const std::string &Path, NpyArray &Out, std::string &Error);

/// Returns the .npy (version 1.0, or 2.0 if the header needs it) image of a
/// C-order array; Data holds numElements(Shape) * dtypeSize(Dtype) bytes.
std::vector<uint8_t> encodeNpy(nibble_dtype Dtype,
                               const std::vector<int64_t> &Shape,
                               const void *Data);

/// Writes encodeNpy(...) to Path. On failure returns false and sets Error.
bool writeNpy(const std::string &Path, nibble_dtype Dtype,
              const std::vector<int64_t> &Shape, const void *Data,
              std::string &Error);
bool writeNpy(const std::string &Path, const NpyArray &Array,
              std::string &Error);

} // namespace nibble

#endif // NIBBLE_RUNTIME_NPY_H
