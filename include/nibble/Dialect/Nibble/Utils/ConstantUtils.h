//===- ConstantUtils.h - reading and making constant tensors ----*- C++ -*-===//
//
// Weights live in `dense_resource` blobs (or, for sub-byte integers, in dense
// attributes). Passes that read or rewrite them go through these helpers so
// every pass handles splats, resources and sub-byte types the same way.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_CONSTANTUTILS_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_CONSTANTUTILS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::nibble {

/// The float held by the 16-bit float (f16 or bf16, as `semantics` says)
/// with these bits: exact.
float widenHalfBits(uint16_t bits, const llvm::fltSemantics &semantics);
/// The bits of `value` rounded to nearest even into a 16-bit float.
uint16_t narrowToHalfBits(float value, const llvm::fltSemantics &semantics);

/// The elements of a constant f32, f16 or bf16 tensor (widened exactly to
/// float), or nullopt if `attr` is not one.
std::optional<SmallVector<float>> readFloatElements(Attribute attr);

/// The elements of a constant integer tensor (any width up to 64), read as
/// signed or unsigned, or nullopt if `attr` is not one.
std::optional<SmallVector<int64_t>> readIntElements(Attribute attr,
                                                    bool isSigned);

/// The constant elements behind `value` if it is defined by a constant-like
/// op, else a null attribute.
Attribute getConstantElements(Value value);

/// Makes a constant attribute of `type` from row-major values. Types of at
/// least 8 bits become a `dense_resource` blob named after `nameHint`
/// (weights are never stored one attribute per element); sub-byte integers
/// and tensors of at most 16 elements become a dense attribute. Float
/// values are rounded to nearest even for f16 and bf16 element types.
ElementsAttr makeFloatConstant(RankedTensorType type, ArrayRef<float> values,
                               StringRef nameHint);
ElementsAttr makeIntConstant(RankedTensorType type, ArrayRef<int64_t> values,
                             StringRef nameHint);
/// Same, from raw little-endian bytes in the storage layout of `type`.
ElementsAttr makeRawConstant(RankedTensorType type, ArrayRef<char> bytes,
                             StringRef nameHint);

/// Bytes of a tensor of `type` in a binary: sub-byte integers packed, i1 as
/// one byte.
int64_t getStorageBytes(ShapedType type);

/// A byte count for people: "768 B", "12.5 KiB", "3.20 MiB".
std::string formatByteCount(int64_t bytes);

/// Bytes of all used constant tensors (`arith.constant`) under `root`: what
/// the binary holds as weights.
int64_t getConstantBytes(Operation *root);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_CONSTANTUTILS_H
