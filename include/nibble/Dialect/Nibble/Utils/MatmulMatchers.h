//===- MatmulMatchers.h - recognising weight matmuls ------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H
#define NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::nibble {

/// True if `matmul` is a plain row-major `A[M,K] x B[K,N]` product that starts
/// from a zero-filled accumulator, i.e. it computes exactly A x B and so can
/// be replaced by a nibble.matmul.
bool isPlainZeroInitMatmul(linalg::MatmulOp matmul);

/// The float16/bfloat16 tensor that an elementwise linalg.generic of one
/// arith.extf widens into the f32 `value` (how float16 and bfloat16 layers
/// are imported: computed in f32), or null.
Value getWidenedSource(Value value);

/// True if `op` is an elementwise linalg.generic rounding its f32 input to
/// float16 or bfloat16 with one arith.truncf.
bool isNarrowingToHalf(linalg::GenericOp op);

/// A matmul weight quantization can rewrite: a plain zero-init product of
/// float activations (of the result's type) and a constant 2-D f32 weight,
/// or a float16/bfloat16 constant widened to f32 elementwise.
struct QuantizableMatmul {
  linalg::MatmulOp op;
  /// The matmul's operand, and the constant holding its values (the
  /// operand itself, or the 16-bit constant it widens).
  Value weight, data;
  int64_t k = 0, n = 0;
};

/// `matmul` as a QuantizableMatmul, or nullopt (a batched product of two
/// activations, a weight already quantized, a mixed-precision product).
std::optional<QuantizableMatmul> matchQuantizableMatmul(linalg::MatmulOp matmul);

/// A lookup in a constant float table [V, D] (an embedding; f32, f16 or
/// bf16): the
/// linalg.generic the importer tags as a Gather layer, reading the table
/// with one tensor.extract in its body.
struct EmbeddingGather {
  linalg::GenericOp op;
  tensor::ExtractOp extract;
  Value table;
  int64_t rows = 0, columns = 0;
};

/// `op` as an EmbeddingGather, or nullopt.
std::optional<EmbeddingGather> matchEmbeddingGather(linalg::GenericOp op);

/// A convolution by a constant f32 filter: the linalg.generic the importer
/// tags as a Conv/ConvTranspose layer, whose input 1 is the filter laid out
/// [groups, outputs per group, ...]: rows = output channels (the first two
/// dims), columns = everything else.
struct ConvFilter {
  linalg::GenericOp op;
  /// The generic's filter operand, and the constant it reshapes (the same
  /// values in the same row-major order; often the filter itself).
  Value filter;
  Value data;
  int64_t rows = 0, columns = 0;
};

/// `op` as a ConvFilter, or nullopt.
std::optional<ConvFilter> matchConvFilter(linalg::GenericOp op);

/// A layer whose weight calibration measures: a quantizable matmul over
/// float32 activations, an embedding table lookup, or a convolution. Tables
/// and filters take one scale per row (rows x columns, row-major).
struct MeasurableLayer {
  Operation *op = nullptr;
  std::optional<QuantizableMatmul> matmul;
  std::optional<EmbeddingGather> table;
  std::optional<ConvFilter> conv;
  /// The weight as the layer reads it, and the constant holding its values.
  Value weight() const {
    return matmul ? matmul->weight : table ? table->table : conv->filter;
  }
  Value weightData() const {
    return matmul ? matmul->data : conv ? conv->data : weight();
  }
  /// Rows and columns of a row-scaled weight (tables and filters).
  int64_t rows() const { return table ? table->rows : conv->rows; }
  int64_t columns() const { return table ? table->columns : conv->columns; }
};

/// The measurable layers under `root` in IR walk order (the order --info
/// lists layers in).
SmallVector<MeasurableLayer> findMeasurableLayers(Operation *root);

/// The dictionary attribute `marker` of a linalg.generic on buffers with one
/// init and `minInputs` to `maxInputs` inputs, every operand static, dense
/// and row-major (what a kernel emitter indexes directly); null otherwise.
DictionaryAttr getMarkedDenseBufferGeneric(linalg::GenericOp op, StringRef marker,
                                           unsigned minInputs, unsigned maxInputs);

} // namespace mlir::nibble

#endif // NIBBLE_DIALECT_NIBBLE_UTILS_MATMULMATCHERS_H
