//===- NarrowTypes.h - bfloat16, float8, float4, int4 and int2 --*- C++ -*-===//
//
// ONNX's narrow element types are storage formats: models convert to and
// from them (Cast, QuantizeLinear, DequantizeLinear) and move them around,
// but compute in wider types. The importer keeps their MLIR types (bf16,
// f8E4M3FN, ..., i4, i2) and converts them with explicit integer code, so
// the rounding is exactly ONNX's on every target and no backend needs to
// know the formats.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_IMPORT_ONNX_NARROWTYPES_H
#define NIBBLE_LIB_IMPORT_ONNX_NARROWTYPES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::nibble::onnx_import {

/// bfloat16, the float8 types and float4e2m1: converters move and convert
/// them but do not compute on them.
bool isNarrowFloat(Type type);

/// The element type a graph input or output of `elementType` has at the
/// binary's boundary: one byte per element for the sub-byte and float8
/// types (the ml_dtypes layout: the value in the low bits), else itself.
Type boundaryElementType(Type elementType);

/// A graph input `tensor` of boundaryElementType(elementType) read as
/// `elementType`.
Value fromBoundary(OpBuilder &b, Location loc, Value tensor, Type elementType);

/// `tensor` converted to its boundaryElementType for returning.
Value toBoundary(OpBuilder &b, Location loc, Value tensor);

/// The narrow float scalar `x` as float32 (exact).
Value widenNarrowFloat(OpBuilder &b, Location loc, Value x);

/// How float8e8m0 rounds (Cast's round_mode); the other formats round to
/// nearest, ties to even.
enum class PowerOfTwoRounding { Up, Down, Nearest };

/// The float32 scalar `x` rounded to narrow float type `to` as ONNX Cast
/// does: to nearest even; out-of-range values become the largest finite
/// value with `saturate` (infinities too) and otherwise infinity or NaN as
/// the format has them (float4e2m1 always saturates).
Value narrowFloat(OpBuilder &b, Location loc, Value x, FloatType to, bool saturate,
                  PowerOfTwoRounding rounding = PowerOfTwoRounding::Up);

} // namespace mlir::nibble::onnx_import

#endif // NIBBLE_LIB_IMPORT_ONNX_NARROWTYPES_H
