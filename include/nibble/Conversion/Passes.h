//===- Passes.h - conversions out of the nibble dialect ---------*- C++ -*-===//

#ifndef NIBBLE_CONVERSION_PASSES_H
#define NIBBLE_CONVERSION_PASSES_H

#include "nibble/Dialect/Nibble/Utils/Int8DotProduct.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace nibble {

#define GEN_PASS_DECL
#include "nibble/Conversion/Passes.h.inc"

/// Adds the patterns lowering nibble ops to linalg.generic.
void populateNibbleToLinalgPatterns(RewritePatternSet &patterns);

/// Marks the linalg.generic a nibble.matmul lowers to, with what a target's
/// kernel needs to know that the IR does not say: {bits, signed,
/// packed_int4, int4_words, column_tile} (int4 weights packed: two rows of
/// K per byte, or with int4_words 8 rows per 32-bit word; constant weights
/// stored in tiles of column_tile columns, 0 if not).
inline constexpr llvm::StringLiteral kLoweredMatmulAttr = "nibble.lowered_matmul";

/// The integer product of a nibble.integer_matmul with a constant weight is
/// marked kInt8DotMatmulAttr (Int8DotProduct.h).

/// Marks the per-group integer products of a nibble.integer_matmul with a
/// constant int4 weight and group scales (W4A8): i8 activations [M, K]
/// times the weight packed by packInt4ForInt8Dot ([ceil(N/32), ceil(K/4),
/// 64]) into i32 [M, K / G, N], one exact sum per row, group and column;
/// a third input, if present, is the weight's i8 zero point ([], [N] or
/// [K / G, N]), subtracted from every weight. {group_size}.
inline constexpr llvm::StringLiteral kInt4DotMatmulAttr = "nibble.int4_dot_matmul";

/// Marks the float epilogue of per-group integer products: [M, K / G, N]
/// i32 sums to f32 [M, N] by y = fma(float(acc_g), lhs_scale * scale, y)
/// over the groups in order.
inline constexpr llvm::StringLiteral kGroupedEpilogueAttr = "nibble.grouped_epilogue";

#define GEN_PASS_REGISTRATION
#include "nibble/Conversion/Passes.h.inc"

} // namespace nibble
} // namespace mlir

#endif // NIBBLE_CONVERSION_PASSES_H
