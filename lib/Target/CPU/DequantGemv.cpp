//===- DequantGemv.cpp - register-blocked quantized GEMV for the CPU ------===//
//
// Replaces the small-batch matmul generics nibble.matmul lowers to with
// explicit loops over 16-lane float32 vectors (see Passes.td). The loop nest
// is written out op by op, so what reaches LLVM is one load per weight
// vector, in-register unpacking and FMAs into accumulators that live in
// registers for a whole quantization group.
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CPU/Passes.h"

#include "ColumnPanels.h"

#include "nibble/Conversion/Passes.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUDEQUANTGEMVPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

constexpr int64_t kLanes = 16;       // float32 lanes of a 512-bit vector
constexpr int64_t kMaxRows = 4;      // rows sharing one pass over the weights
constexpr int64_t kTileVectors = 4;  // vectors per column tile for one row

/// What the emitter needs to know about one matched matmul.
struct GemvShape {
  int64_t m, n, k, groupSize, bits, columnTile;
  bool isSigned, packedInt4;
  bool int4Words; // int4 in 32-bit words of 8 rows of K (else two per byte)
  Value lhs, weight, scale, zeroPoint, out;

  /// Rows of K in one row of the packed weight.
  int64_t kRowsPerWeightRow() const { return int4Words ? 8 : packedInt4 ? 2 : 1; }
};

std::optional<GemvShape> matchGemv(linalg::GenericOp op) {
  // Operands: activations, weights, scales and an optional zero point.
  DictionaryAttr info = getMarkedDenseBufferGeneric(op, kLoweredMatmulAttr, 3, 4);
  if (!info)
    return std::nullopt;
  auto bits = info.getAs<IntegerAttr>("bits");
  auto isSigned = info.getAs<BoolAttr>("signed");
  auto packed = info.getAs<BoolAttr>("packed_int4");
  auto columnTile = info.getAs<IntegerAttr>("column_tile");
  if (!bits || !isSigned || !packed || !columnTile)
    return std::nullopt;
  GemvShape shape;
  shape.lhs = op.getDpsInputs()[0];
  shape.weight = op.getDpsInputs()[1];
  shape.scale = op.getDpsInputs()[2];
  shape.zeroPoint = op.getNumDpsInputs() == 4 ? op.getDpsInputs()[3] : Value();
  shape.out = op.getDpsInits()[0];
  shape.bits = bits.getInt();
  shape.isSigned = isSigned.getValue();
  shape.packedInt4 = packed.getValue();
  auto words = info.getAs<BoolAttr>("int4_words");
  shape.int4Words = words && words.getValue();
  shape.columnTile = columnTile.getInt();
  auto lhsType = cast<MemRefType>(shape.lhs.getType());
  auto outType = cast<MemRefType>(shape.out.getType());
  auto weightType = cast<MemRefType>(shape.weight.getType());
  auto scaleType = cast<MemRefType>(shape.scale.getType());
  if (lhsType.getRank() != 2 || outType.getRank() != 2 || !lhsType.getElementType().isF32() ||
      !outType.getElementType().isF32() || !scaleType.getElementType().isF32() ||
      !weightType.getElementType().isInteger(shape.int4Words ? 32 : 8))
    return std::nullopt;
  shape.m = lhsType.getDimSize(0);
  shape.k = lhsType.getDimSize(1);
  shape.n = outType.getDimSize(1);
  if (shape.m < 1 || shape.k < 2)
    return std::nullopt;
  // Weights in column tiles whose width is a whole number of vectors; int4
  // packs two rows of K per byte (K even), or 8 per word (K a multiple of 8).
  int64_t weightRows = shape.k / shape.kRowsPerWeightRow();
  int64_t tile = shape.columnTile;
  if (tile <= 0 || tile % kLanes != 0 || shape.k % shape.kRowsPerWeightRow() != 0 ||
      weightType.getShape() !=
          ArrayRef<int64_t>{(shape.n + tile - 1) / tile, weightRows, tile})
    return std::nullopt;
  // Scales: [groups, N] per group along K, or [tiles, groups, tile] in the
  // weights' column tiles; [N] per channel, [] per tensor.
  ArrayRef<int64_t> scaleShape = scaleType.getShape();
  if (scaleShape.size() == 2 && scaleShape[1] == shape.n && shape.k % scaleShape[0] == 0)
    shape.groupSize = shape.k / scaleShape[0];
  else if (scaleShape.size() == 3 && scaleShape[0] == weightType.getDimSize(0) &&
           scaleShape[2] == tile && shape.k % scaleShape[1] == 0)
    shape.groupSize = shape.k / scaleShape[1];
  else if ((scaleShape.size() == 1 && scaleShape[0] == shape.n) || scaleShape.empty())
    shape.groupSize = shape.k;
  else
    return std::nullopt;
  if (shape.groupSize % shape.kRowsPerWeightRow() != 0)
    return std::nullopt;
  // Zero points are read as vectors of bytes; int4 ones are kept one per
  // i4 element, which vector loads would read packed.
  if (shape.zeroPoint &&
      (cast<MemRefType>(shape.zeroPoint.getType()).getShape() != scaleShape ||
       !cast<MemRefType>(shape.zeroPoint.getType()).getElementType().isInteger(8)))
    return std::nullopt;
  return shape;
}

/// Emits the GEMV loops for one matched op at its position.
class GemvEmitter {
public:
  GemvEmitter(linalg::GenericOp op, const GemvShape &shape, bool avx512)
      : b(op.getLoc(), op), s(shape), avx512(avx512) {}

  void emit() {
    // Threads take whole column tiles (the packing's unit, at most 64
    // columns); every row passes over a tile's weights while they are in
    // the core's cache.
    emitColumnPanels(b, s.n, s.columnTile, [&](Value first, int64_t width) {
      panelStart = first;
      panelWidth = width;
      // Up to 4 rows share each unpacked weight vector.
      emitRowTiles(b, s.m, kMaxRows,
                   [&](Value firstRow, int64_t rows) { emitRowTile(firstRow, rows); });
    });
  }

private:
  /// Rows firstRow .. firstRow + count - 1 of the current panel.
  void emitRowTile(Value firstRow, int64_t count) {
    rowBase = firstRow;
    rows = count;
    // Rows share the unpacked weights; the column tile shrinks as rows grow
    // so that accumulators and totals fit the 32 vector registers.
    int64_t tileVectors = std::max<int64_t>(1, kTileVectors / rows);
    int64_t tileColumns = tileVectors * kLanes;
    int64_t fullTiles = panelWidth / tileColumns;
    if (fullTiles > 0)
      emitColumnLoop(0, fullTiles * tileColumns, tileVectors);
    // The remaining whole vectors, one at a time.
    int64_t wholeVectors = panelWidth / kLanes * kLanes;
    if (fullTiles * tileColumns < wholeVectors)
      emitColumnLoop(fullTiles * tileColumns, wholeVectors, 1);
    // A last partial vector (only in the last panel): the weights are
    // padded to whole vectors, the scales and output are read and written
    // through a mask.
    if (wholeVectors < panelWidth) {
      tailMask = b.create<vector::CreateMaskOp>(
          VectorType::get({kLanes}, b.getI1Type()), ValueRange{index(panelWidth - wholeVectors)});
      emitColumnLoop(wholeVectors, panelWidth, 1);
      tailMask = Value();
    }
  }

  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }

  /// A vector load of `memory` at `indices`, through the tail mask (lanes
  /// past the end read 0) when one is set.
  Value load(VectorType type, Value memory, ArrayRef<Value> indices) {
    if (!tailMask)
      return b.create<vector::LoadOp>(type, memory, indices);
    Value zeros = b.create<arith::ConstantOp>(b.getZeroAttr(type));
    return b.create<vector::MaskedLoadOp>(type, memory, indices, tailMask, zeros);
  }
  Value row(int64_t r) { return b.create<arith::AddIOp>(rowBase, index(r)); }
  VectorType f32Vector() { return VectorType::get({kLanes}, b.getF32Type()); }
  Value zeroVector() {
    return b.create<arith::ConstantOp>(DenseElementsAttr::get(f32Vector(), 0.0f));
  }
  Value broadcast(Value scalar) { return b.create<vector::BroadcastOp>(f32Vector(), scalar); }

  /// Columns [begin, end) of the panel in tiles of `vectors` x 16.
  void emitColumnLoop(int64_t begin, int64_t end, int64_t vectors) {
    auto loop = b.create<scf::ForOp>(b.create<arith::AddIOp>(panelStart, index(begin)),
                                     b.create<arith::AddIOp>(panelStart, index(end)),
                                     index(vectors * kLanes));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value column = loop.getInductionVar();
    SmallVector<Value> columns;
    for (int64_t v = 0; v < vectors; ++v)
      columns.push_back(b.create<arith::AddIOp>(column, index(v * kLanes)));

    // Totals start from the output (zeros or the bias).
    SmallVector<Value> totals;
    for (int64_t r = 0; r < rows; ++r)
      for (Value c : columns)
        totals.push_back(load(f32Vector(), s.out, {row(r), c}));
    int64_t groups = s.k / s.groupSize;
    auto groupLoop = b.create<scf::ForOp>(index(0), index(groups), index(1), totals);
    {
      OpBuilder::InsertionGuard groupGuard(b);
      b.setInsertionPointToStart(groupLoop.getBody());
      Value group = groupLoop.getInductionVar();
      SmallVector<Value> updated = emitGroup(group, columns, groupLoop.getRegionIterArgs());
      b.create<scf::YieldOp>(updated);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (auto [v, c] : llvm::enumerate(columns)) {
        Value total = groupLoop.getResult(r * vectors + v);
        if (tailMask)
          b.create<vector::MaskedStoreOp>(s.out, ValueRange{row(r), c}, tailMask, total);
        else
          b.create<vector::StoreOp>(total, s.out, ValueRange{row(r), c});
      }
  }

  /// One quantization group of one column tile: accumulate q * x over its
  /// K rows, then fold the group's scale (and zero point) into the totals.
  SmallVector<Value> emitGroup(Value group, ArrayRef<Value> columns, ValueRange totals) {
    int64_t vectors = columns.size();
    // Per step: one row of the packed weight (8, 2 or 1 rows of K).
    int64_t rowsPerStep = s.kRowsPerWeightRow();
    int64_t steps = s.groupSize / rowsPerStep;
    SmallVector<Value> init(rows * vectors, zeroVector());
    // With zero points or int4 words as unit floats (see
    // wordFieldAsUnitFloat), also the sum of x over the group, per row.
    bool sumsX = s.zeroPoint || (s.int4Words && !avx512);
    if (sumsX)
      init.append(rows, b.create<arith::ConstantOp>(b.getF32FloatAttr(0.0f)));
    Value firstStep = b.create<arith::MulIOp>(group, index(steps));
    auto stepLoop = b.create<scf::ForOp>(index(0), index(steps), index(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(stepLoop.getBody());
      Value weightRow = b.create<arith::AddIOp>(firstStep, stepLoop.getInductionVar());
      SmallVector<Value> acc(stepLoop.getRegionIterArgs());
      // The weights of this step: int4 words, unpacked one row of K at a
      // time below, or float vectors [row of K][vector].
      SmallVector<Value> words;
      SmallVector<SmallVector<Value>> weights;
      if (s.int4Words)
        words = loadWords(weightRow, columns);
      else
        weights = loadWeights(weightRow, columns);
      for (int64_t e = 0; e < rowsPerStep; ++e) {
        SmallVector<Value> rowWeights;
        for (int64_t v = 0; v < vectors; ++v)
          rowWeights.push_back(!s.int4Words ? weights[e][v]
                               : avx512    ? wordFieldByTable(words[v], e)
                                           : wordFieldAsUnitFloat(words[v], e));
        Value kIndex =
            rowsPerStep == 1
                ? weightRow
                : b.create<arith::AddIOp>(b.create<arith::MulIOp>(weightRow, index(rowsPerStep)),
                                          index(e));
        for (int64_t r = 0; r < rows; ++r) {
          Value x = b.create<memref::LoadOp>(s.lhs, ValueRange{row(r), kIndex});
          Value xs = broadcast(x);
          for (int64_t v = 0; v < vectors; ++v) {
            Value &a = acc[r * vectors + v];
            a = b.create<math::FmaOp>(rowWeights[v], xs, a);
          }
          if (sumsX) {
            Value &sum = acc[rows * vectors + r];
            sum = b.create<arith::AddFOp>(sum, x);
          }
        }
      }
      b.create<scf::YieldOp>(acc);
    }

    SmallVector<Value> updated(totals.begin(), totals.end());
    for (auto [v, c] : llvm::enumerate(columns)) {
      Value scale = loadScaleVector(s.scale, group, c);
      Value scaledZero;
      if (s.zeroPoint) {
        Value zp = loadScaleVector(s.zeroPoint, group, c);
        scaledZero = b.create<arith::MulFOp>(scale, zp);
      }
      for (int64_t r = 0; r < rows; ++r) {
        Value &total = updated[r * vectors + v];
        Value dot = stepLoop.getResult(r * vectors + v);
        if (s.int4Words && !avx512) {
          // dot(x, 1 + u / 16) -> dot(x, q) = 16 dot - (16 + offset) sum(x),
          // q = u - offset.
          float offset = s.isSigned ? 8.0f : 0.0f;
          Value xSum = stepLoop.getResult(rows * vectors + r);
          Value sumTerm = b.create<arith::MulFOp>(xSum, b.create<arith::ConstantOp>(
                                                            b.getF32FloatAttr(-16.0f - offset)));
          dot = b.create<math::FmaOp>(dot, broadcast(b.create<arith::ConstantOp>(
                                               b.getF32FloatAttr(16.0f))),
                                      broadcast(sumTerm));
        }
        total = b.create<math::FmaOp>(dot, scale, total);
        if (scaledZero) {
          Value xSum = broadcast(stepLoop.getResult(rows * vectors + r));
          total = b.create<arith::SubFOp>(total, b.create<arith::MulFOp>(scaledZero, xSum));
        }
      }
    }
    return updated;
  }

  /// The float weights of one step for each column vector: two rows of K
  /// (low nibbles, then high) for packed int4, one row for int8.
  SmallVector<SmallVector<Value>> loadWeights(Value weightRow, ArrayRef<Value> columns) {
    auto bytesType = VectorType::get({kLanes}, b.getI8Type());
    auto wideType = VectorType::get({kLanes}, b.getI32Type());
    SmallVector<SmallVector<Value>> byRow(s.packedInt4 ? 2 : 1);
    auto splat = [&](int64_t v) {
      return b.create<arith::ConstantOp>(DenseElementsAttr::get(bytesType, int8_t(v)));
    };
    for (Value c : columns) {
      Value bytes = b.create<vector::LoadOp>(bytesType, s.weight, inTiles(c, weightRow));
      SmallVector<Value> fields;
      if (!s.packedInt4) {
        fields.push_back(bytes);
      } else if (s.isSigned) {
        // The low nibble moved to the top, then both shifted down with sign.
        fields.push_back(b.create<arith::ShRSIOp>(b.create<arith::ShLIOp>(bytes, splat(4)),
                                                  splat(4)));
        fields.push_back(b.create<arith::ShRSIOp>(bytes, splat(4)));
      } else {
        fields.push_back(b.create<arith::AndIOp>(bytes, splat(0xF)));
        fields.push_back(b.create<arith::ShRUIOp>(bytes, splat(4)));
      }
      for (auto [e, field] : llvm::enumerate(fields)) {
        Value wide = s.isSigned ? b.create<arith::ExtSIOp>(wideType, field).getResult()
                                : b.create<arith::ExtUIOp>(wideType, field).getResult();
        byRow[e].push_back(b.create<arith::SIToFPOp>(f32Vector(), wide));
      }
    }
    return byRow;
  }

  /// Indices of `column` at `row` of an array in column tiles
  /// ([tiles, rows, tile]: the packed weights, tiled group parameters).
  SmallVector<Value> inTiles(Value column, Value row) {
    return {b.create<arith::DivUIOp>(column, index(s.columnTile)), row,
            b.create<arith::RemUIOp>(column, index(s.columnTile))};
  }

  /// The int4 words of one step (8 rows of K) for each column vector; for
  /// wordFieldAsUnitFloat, signed fields are made unsigned, u = q + 8, by
  /// flipping their top bits.
  SmallVector<Value> loadWords(Value weightRow, ArrayRef<Value> columns) {
    auto wordsType = VectorType::get({kLanes}, b.getI32Type());
    SmallVector<Value> words;
    for (Value c : columns) {
      Value word = b.create<vector::LoadOp>(wordsType, s.weight, inTiles(c, weightRow));
      if (s.isSigned && !avx512)
        word = b.create<arith::XOrIOp>(word, splatI32(static_cast<int32_t>(0x88888888u)));
      words.push_back(word);
    }
    return words;
  }

  /// Field `e` (row 8 r + e of K) of int4 words as floats 1 + u / 16: the
  /// field shifted to the top of the mantissa of 1.0 (one shift and one
  /// and-or, no widening or conversion). The group's epilogue turns the
  /// products' sum back into dot(x, q).
  Value wordFieldAsUnitFloat(Value words, int64_t e) {
    int64_t shift = 19 - 4 * e; // field bits 4e.. -> mantissa bits 19..22
    Value moved = words;
    if (shift > 0)
      moved = b.create<arith::ShLIOp>(words, splatI32(shift));
    else if (shift < 0)
      moved = b.create<arith::ShRUIOp>(words, splatI32(-shift));
    Value field = b.create<arith::AndIOp>(moved, splatI32(0xF << 19));
    Value bits = b.create<arith::OrIOp>(field, splatI32(0x3F800000));
    return b.create<arith::BitcastOp>(f32Vector(), bits);
  }

  /// Field `e` (row 8 r + e of K) of int4 words as the exact floats q: the
  /// field shifted to the bottom of each lane indexes a 16-entry table of
  /// the values (vpermps reads only the index's low 4 bits).
  Value wordFieldByTable(Value words, int64_t e) {
    Value index = e ? b.create<arith::ShRUIOp>(words, splatI32(4 * e)).getResult() : words;
    SmallVector<float> values;
    for (int64_t u = 0; u < 16; ++u)
      values.push_back(static_cast<float>(s.isSigned && u >= 8 ? u - 16 : u));
    Value table = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(f32Vector(), ArrayRef<float>(values)));
    return b
        .create<LLVM::CallIntrinsicOp>(f32Vector(),
                                       b.getStringAttr("llvm.x86.avx512.permvar.sf.512"),
                                       ValueRange{table, index})
        .getResult(0);
  }

  Value splatI32(int32_t v) {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(VectorType::get({kLanes}, b.getI32Type()), v));
  }

  /// The scale (f32) or zero point (i8, widened) of `group` for the 16
  /// columns from `column`, by the parameter's granularity.
  Value loadScaleVector(Value param, Value group, Value column) {
    auto type = cast<MemRefType>(param.getType());
    Type element = type.getElementType();
    Value vec;
    if (type.getRank() == 0) {
      vec = b.create<vector::BroadcastOp>(VectorType::get({kLanes}, element),
                                          b.create<memref::LoadOp>(param, ValueRange{}));
    } else {
      SmallVector<Value> indices;
      if (type.getRank() == 3) // [tiles, groups, tile]
        indices = inTiles(column, group);
      else if (type.getRank() == 2)
        indices = {group, column};
      else
        indices = {column};
      vec = load(VectorType::get({kLanes}, element), param, indices);
    }
    if (element.isF32())
      return vec;
    auto wideType = VectorType::get({kLanes}, b.getI32Type());
    Value wide = s.isSigned ? b.create<arith::ExtSIOp>(wideType, vec).getResult()
                            : b.create<arith::ExtUIOp>(wideType, vec).getResult();
    return b.create<arith::SIToFPOp>(f32Vector(), wide);
  }

  ImplicitLocOpBuilder b;
  GemvShape s;
  bool avx512; // unpack int4 words by table lookup
  Value rowBase, panelStart;
  int64_t rows = 1, panelWidth = 0;
  /// Set while emitting the last, partial vector of columns.
  Value tailMask;
};

struct NibbleCPUDequantGemvPass final
    : nibble::impl::NibbleCPUDequantGemvPassBase<NibbleCPUDequantGemvPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, GemvShape>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<GemvShape> shape = matchGemv(op))
        matches.push_back({op, *shape});
    });
    for (auto &[op, shape] : matches) {
      GemvEmitter(op, shape, avx512).emit();
      op.erase();
    }
  }
};

} // namespace
