//===- NibbleToLinalg.cpp - nibble ops -> linalg.generic ------------------===//
//
// The reference lowering of the nibble dialect. Each op becomes one
// linalg.generic whose body states the ONNX scalar formula:
//
//   quantize:   q = convert(clamp(roundeven(x / s) + zp, qmin, qmax))
//   dequantize: x = float(ext(q) - ext(zp)) * s
//   matmul:     y[.., m, n] += a[.., m, k] * dequantize(w[k, n])
//   integer_matmul: acc = linalg.matmul(i8, i8 -> i32), exact; then
//               y[m, n] = (float(acc) * lhs_scale[m]) * scale[n] (+ bias[n])
//
// Arithmetic is done in f32 whatever the storage float type, as ONNX Runtime
// does. Scales and zero points are indexed through the scheme's affine map
// (k floordiv G for groups), so no scale tensor is ever broadcast in memory.
//
//===----------------------------------------------------------------------===//

#include "nibble/Conversion/Passes.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/WeightPacking.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_CONVERTNIBBLETOLINALGPASS
#include "nibble/Conversion/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

//===----------------------------------------------------------------------===//
// Scalar helpers used inside generic bodies
//===----------------------------------------------------------------------===//

/// Converts a float scalar to f32 (scales may be f16/bf16).
static Value toF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// Converts an f32 scalar to `type`.
static Value fromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

/// Extends a storage integer to i32, reading it as the scheme says.
static Value extendToI32(OpBuilder &b, Location loc, Value v, bool isSigned) {
  Type i32 = b.getI32Type();
  if (v.getType() == i32)
    return v;
  return isSigned ? arith::ExtSIOp::create(b, loc, i32, v).getResult()
                  : arith::ExtUIOp::create(b, loc, i32, v).getResult();
}

/// `(q - zp) * scale` in f32, from i32 q and zp (zp may be null).
static Value dequantizeI32(OpBuilder &b, Location loc, Value q, Value zp,
                           Value scale) {
  Value centered = zp ? arith::SubIOp::create(b, loc, q, zp).getResult() : q;
  Value asFloat = arith::SIToFPOp::create(b, loc, b.getF32Type(), centered);
  return arith::MulFOp::create(b, loc, asFloat, toF32(b, loc, scale));
}

static SmallVector<utils::IteratorType> parallelIterators(unsigned n) {
  return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
}

/// Appends the scale (and zero point) with the scheme's indexing map.
static void addScaleOperands(SchemeAttr scheme, unsigned valueRank,
                             AffineMap valueToLoops, Value scale,
                             Value zeroPoint, SmallVectorImpl<Value> &inputs,
                             SmallVectorImpl<AffineMap> &maps) {
  AffineMap scaleMap = scheme.getScaleMap(valueRank).compose(valueToLoops);
  inputs.push_back(scale);
  maps.push_back(scaleMap);
  if (zeroPoint) {
    inputs.push_back(zeroPoint);
    maps.push_back(scaleMap);
  }
}

/// Builds the elementwise generic shared by quantize and dequantize:
/// operands (value, scale[, zero point]) indexed through the scheme's map,
/// and `body(value, scale, zeroPoint or null)` yielding each result element.
template <typename OpTy>
static Value buildConversionGeneric(
    PatternRewriter &rewriter, OpTy op,
    function_ref<Value(OpBuilder &, Location, Value, Value, Value)> body) {
  Location loc = op.getLoc();
  RankedTensorType resultType = op.getResult().getType();
  unsigned rank = resultType.getRank();
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  SmallVector<Value> inputs{op.getInput()};
  SmallVector<AffineMap> maps{identity};
  addScaleOperands(op.getScheme(), rank, identity, op.getScale(),
                   op.getZeroPoint(), inputs, maps);
  maps.push_back(identity);
  Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                       resultType.getElementType());
  bool hasZeroPoint = static_cast<bool>(op.getZeroPoint());
  auto generic = linalg::GenericOp::create(
      rewriter, loc, resultType, inputs, ValueRange{init}, maps,
      parallelIterators(rank), [&](OpBuilder &b, Location l, ValueRange args) {
        Value zp = hasZeroPoint ? args[2] : Value();
        linalg::YieldOp::create(b, l, body(b, l, args[0], args[1], zp));
      });
  return generic.getResult(0);
}

namespace {

//===----------------------------------------------------------------------===//
// nibble.quantize
//===----------------------------------------------------------------------===//

struct LowerQuantize final : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    SchemeAttr scheme = op.getScheme();
    Value result = buildConversionGeneric(
        rewriter, op,
        [&](OpBuilder &b, Location l, Value input, Value scale, Value zeroPoint) {
          Value x = toF32(b, l, input);
          Value scaled = arith::DivFOp::create(b, l, x, toF32(b, l, scale));
          Value rounded = math::RoundEvenOp::create(b, l, scaled);
          if (zeroPoint) {
            Value zp = extendToI32(b, l, zeroPoint, scheme.getIsSigned());
            Value zpFloat = arith::SIToFPOp::create(b, l, b.getF32Type(), zp);
            rounded = arith::AddFOp::create(b, l, rounded, zpFloat);
          }
          // Saturate in float: out-of-range values never reach the
          // float-to-int conversion (which would be poison).
          Value lo = arith::ConstantOp::create(
              b, l, b.getF32FloatAttr(static_cast<float>(scheme.getQMin())));
          Value hi = arith::ConstantOp::create(
              b, l, b.getF32FloatAttr(static_cast<float>(scheme.getQMax())));
          Value clamped = arith::MinNumFOp::create(
              b, l, arith::MaxNumFOp::create(b, l, rounded, lo), hi);
          Type storage = scheme.getStorageType();
          return scheme.getIsSigned()
                     ? arith::FPToSIOp::create(b, l, storage, clamped).getResult()
                     : arith::FPToUIOp::create(b, l, storage, clamped).getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// nibble.dequantize
//===----------------------------------------------------------------------===//

struct LowerDequantize final : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    bool isSigned = op.getScheme().getIsSigned();
    Type resultElementType = op.getResult().getType().getElementType();
    Value result = buildConversionGeneric(
        rewriter, op,
        [&](OpBuilder &b, Location l, Value input, Value scale, Value zeroPoint) {
          Value q = extendToI32(b, l, input, isSigned);
          Value zp = zeroPoint ? extendToI32(b, l, zeroPoint, isSigned) : Value();
          return fromF32(b, l, dequantizeI32(b, l, q, zp, scale), resultElementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// nibble.matmul
//===----------------------------------------------------------------------===//

/// Columns per tile of the packed CPU weight layout: 4 vectors of 16
/// float32 lanes, the CPU GEMV kernel's widest column tile (narrower
/// weights take one tile of whole vectors, zero-padded).
constexpr int64_t kWeightTileColumns = 64;
constexpr int64_t kVectorColumns = 16;

/// Packs a constant K x N int4 or int8 weight in column tiles of `tile`
/// columns (see packInColumnTiles): a tiles x byte rows x tile tensor. With
/// `tile` 0, one tile of all N columns, returned as a byte rows x N matrix.
/// With `int4Words` (int4, K a multiple of 8, `tile` > 0), 32-bit words of 8
/// rows of K instead (see packInt4WordsInColumnTiles): tiles x K / 8 x tile.
/// Null if the weight is not a constant.
static Value packWeight(PatternRewriter &rewriter, Location loc, Value weight,
                        unsigned bits, int64_t tile, bool int4Words) {
  std::optional<SmallVector<int64_t>> values =
      readIntElements(getConstantElements(weight), /*isSigned=*/false);
  if (!values)
    return {};
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t k = type.getDimSize(0), n = type.getDimSize(1);
  if (int4Words) {
    SmallVector<uint32_t> words = packInt4WordsInColumnTiles(*values, k, n, tile);
    auto wordsType =
        RankedTensorType::get({(n + tile - 1) / tile, k / 8, tile}, rewriter.getI32Type());
    return arith::ConstantOp::create(
        rewriter, loc,
        makeRawConstant(wordsType,
                        ArrayRef<char>(reinterpret_cast<const char *>(words.data()),
                                       words.size() * sizeof(uint32_t)),
                        "packed_int4_words"));
  }
  bool matrix = tile == 0;
  if (matrix)
    tile = n;
  SmallVector<uint8_t> packed = packInColumnTiles(*values, k, n, bits, tile);
  int64_t byteRows = bits == 4 ? llvm::divideCeil(k, 2) : k;
  SmallVector<int64_t> shape{(n + tile - 1) / tile, byteRows, tile};
  auto packedType = RankedTensorType::get(matrix ? ArrayRef(shape).drop_front() : shape,
                                          rewriter.getI8Type());
  return arith::ConstantOp::create(
      rewriter, loc,
      makeRawConstant(packedType,
                      ArrayRef<char>(reinterpret_cast<const char *>(packed.data()),
                                     packed.size()),
                      bits == 4 ? "packed_int4" : "packed_int8"));
}

/// Extracts the int4 at row `k` from a word packed with `int4Words` and
/// widens it to i32.
static Value unpackInt4Word(OpBuilder &b, Location loc, Value word, Value k, bool isSigned) {
  Type i32 = b.getI32Type();
  auto constant = [&](int32_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v)).getResult();
  };
  Value kI32 = arith::IndexCastOp::create(b, loc, i32, k);
  // shift = 4 * (k mod 8).
  Value shift = arith::MulIOp::create(b, loc, arith::AndIOp::create(b, loc, kI32, constant(7)),
                                      constant(4));
  if (isSigned) {
    // Move the nibble to the top of the word, then shift back arithmetically.
    Value up = arith::ShLIOp::create(b, loc, word,
                                     arith::SubIOp::create(b, loc, constant(28), shift));
    return arith::ShRSIOp::create(b, loc, up, constant(28));
  }
  return arith::AndIOp::create(b, loc, arith::ShRUIOp::create(b, loc, word, shift),
                               constant(0xF));
}

/// Row-major [groups, n] values rearranged into tiles of `tile` columns,
/// each tile's groups contiguous ([tiles, groups, tile]), padding 0.
template <typename T>
static SmallVector<T> groupsInColumnTiles(ArrayRef<T> values, int64_t groups, int64_t n,
                                          int64_t tile) {
  int64_t tiles = (n + tile - 1) / tile;
  SmallVector<T> tiled(tiles * groups * tile, T(0));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t col = 0; col < n; ++col)
      tiled[((col / tile) * groups + g) * tile + col % tile] = values[g * n + col];
  return tiled;
}

/// A constant per-group parameter (scale or zero point, [G, N]) of a matmul
/// whose weights are in column tiles, stored in the same tiles: a tiles x G
/// x tile tensor, each tile's groups contiguous (so a kernel walking a tile
/// down K reads its scales in order, not N elements apart), padding 0. Null
/// if the parameter is not a constant.
static Value tileGroupParameter(PatternRewriter &rewriter, Location loc, Value param,
                                int64_t tile, bool isSigned) {
  auto type = cast<RankedTensorType>(param.getType());
  int64_t groups = type.getDimSize(0), n = type.getDimSize(1);
  auto tiledType =
      RankedTensorType::get({(n + tile - 1) / tile, groups, tile}, type.getElementType());
  Attribute elements = getConstantElements(param);
  if (type.getElementType().isF32()) {
    std::optional<SmallVector<float>> values = readFloatElements(elements);
    if (!values)
      return {};
    return arith::ConstantOp::create(
        rewriter, loc,
        makeFloatConstant(tiledType,
                          groupsInColumnTiles(ArrayRef<float>(*values), groups, n, tile),
                          "tiled_scale"));
  }
  std::optional<SmallVector<int64_t>> values = readIntElements(elements, isSigned);
  if (!values)
    return {};
  return arith::ConstantOp::create(
      rewriter, loc,
      makeIntConstant(tiledType, groupsInColumnTiles(ArrayRef<int64_t>(*values), groups, n, tile),
                      "tiled_zero_point"));
}

/// A constant int4 zero point widened to one i8 per element (same values),
/// so kernels can load zero points as bytes; null if not a constant.
static Value widenInt4ZeroPoint(PatternRewriter &rewriter, Location loc, Value zeroPoint,
                                bool isSigned) {
  std::optional<SmallVector<int64_t>> values =
      readIntElements(getConstantElements(zeroPoint), isSigned);
  if (!values)
    return {};
  auto type = RankedTensorType::get(cast<RankedTensorType>(zeroPoint.getType()).getShape(),
                                    rewriter.getI8Type());
  return arith::ConstantOp::create(rewriter, loc,
                                   makeIntConstant(type, *values, "zero_point"));
}

/// Extracts the int4 at row `k` from a byte packed by packWeight and
/// widens it to i32.
static Value unpackInt4(OpBuilder &b, Location loc, Value byte, Value k,
                        bool isSigned) {
  Type i8 = b.getI8Type();
  Value kI8 = arith::IndexCastOp::create(b, loc, i8, k);
  Value one = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(1));
  Value four = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(4));
  // shift = 4 * (k & 1): 0 for the low nibble, 4 for the high one.
  Value shift = arith::MulIOp::create(
      b, loc, arith::AndIOp::create(b, loc, kI8, one), four);
  Value nibble;
  if (isSigned) {
    // Move the nibble to the top of the byte, then shift back arithmetically.
    Value up = arith::ShLIOp::create(
        b, loc, byte, arith::SubIOp::create(b, loc, four, shift));
    nibble = arith::ShRSIOp::create(b, loc, up, four);
  } else {
    Value mask = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0xF));
    nibble = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, byte, shift), mask);
  }
  return extendToI32(b, loc, nibble, isSigned);
}

struct LowerMatmul final : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SchemeAttr scheme = op.getScheme();
    RankedTensorType resultType = op.getResult().getType();
    Type elementType = resultType.getElementType();
    unsigned resultRank = resultType.getRank();
    // Loops: (batch..., m, n, k).
    unsigned numLoops = resultRank + 1;
    unsigned numBatch = resultRank - 2;
    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](unsigned i) { return rewriter.getAffineDimExpr(i); };
    AffineExpr m = dim(numBatch), n = dim(numBatch + 1), k = dim(numBatch + 2);
    SmallVector<AffineExpr> lhsExprs, outExprs;
    for (unsigned i = 0; i < numBatch; ++i) {
      lhsExprs.push_back(dim(i));
      outExprs.push_back(dim(i));
    }
    lhsExprs.append({m, k});
    outExprs.append({m, n});

    bool isSigned = scheme.getIsSigned();
    Value weight = op.getWeight();
    unsigned bits = scheme.getBits();
    // float32 matmuls are what the CPU GEMV kernel takes: their weights go
    // in tiles of up to 64 columns. Others keep all N columns in one tile,
    // the layout their loop nest reads in order.
    bool float32 = op.getLhs().getType().getElementType().isF32() && elementType.isF32() &&
                   op.getScale().getType().getElementType().isF32();
    int64_t preferredTile =
        float32 ? std::min<int64_t>(llvm::alignTo(resultType.getDimSize(resultRank - 1),
                                                  kVectorColumns),
                                    kWeightTileColumns)
                : 0;
    // Constant int4 weights are always packed: in tiles of 32-bit words of
    // 8 rows of K for the CPU kernel when K and the groups allow it, two
    // per byte otherwise; int8 ones only into tiles.
    int64_t kSize = cast<RankedTensorType>(weight.getType()).getDimSize(0);
    bool int4Words = bits == 4 && preferredTile && kSize % 8 == 0 &&
                     (!scheme.isPerGroup() || scheme.getGroupSize() % 8 == 0);
    bool packs = bits == 4 || (bits == 8 && preferredTile);
    Value packed =
        packs ? packWeight(rewriter, loc, weight, bits, preferredTile, int4Words) : Value();
    int4Words = int4Words && packed;
    bool packedInt4 = packed && bits == 4;
    int64_t tile = packed ? preferredTile : 0;
    if (packed)
      weight = packed;

    // The weight's own (k, n) indices, and its storage map: (column tile,
    // byte row, column in tile) in tiles, (byte row, n) otherwise.
    AffineMap weightToLoops = AffineMap::get(numLoops, 0, {k, n}, ctx);
    AffineExpr byteRow = int4Words ? k.floorDiv(8) : packedInt4 ? k.floorDiv(2) : k;
    AffineMap weightMap =
        tile ? AffineMap::get(numLoops, 0, {n.floorDiv(tile), byteRow, n % tile}, ctx)
             : AffineMap::get(numLoops, 0, {byteRow, n}, ctx);
    SmallVector<Value> inputs{op.getLhs(), weight};
    SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, lhsExprs, ctx),
                                weightMap};
    Value zeroPoint = op.getZeroPoint();
    if (packedInt4 && zeroPoint)
      if (Value wide = widenInt4ZeroPoint(rewriter, loc, zeroPoint, isSigned))
        zeroPoint = wide;
    addScaleOperands(scheme, 2, weightToLoops, op.getScale(), zeroPoint, inputs, maps);
    // Per-group parameters of tiled weights go in the same tiles.
    if (tile && scheme.isPerGroup() && scheme.getAxis() == 0) {
      SmallVector<Value> tiledParams;
      for (Value param : ArrayRef(inputs).drop_front(2))
        tiledParams.push_back(tileGroupParameter(rewriter, loc, param, tile, isSigned));
      if (llvm::all_of(tiledParams, [](Value v) { return static_cast<bool>(v); })) {
        AffineMap tiledMap = AffineMap::get(
            numLoops, 0, {n.floorDiv(tile), k.floorDiv(scheme.getGroupSize()), n % tile}, ctx);
        for (auto [i, param] : llvm::enumerate(tiledParams)) {
          inputs[2 + i] = param;
          maps[2 + i] = tiledMap;
        }
      }
    }
    maps.push_back(AffineMap::get(numLoops, 0, outExprs, ctx));

    Value init = initialAccumulator(rewriter, loc, resultType, op.getBias());
    SmallVector<utils::IteratorType> iterators = parallelIterators(numLoops);
    iterators.back() = utils::IteratorType::reduction;
    bool hasZeroPoint = static_cast<bool>(op.getZeroPoint());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultType, inputs, ValueRange{init}, maps, iterators,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value q;
          if (int4Words)
            q = unpackInt4Word(b, l, args[1], linalg::IndexOp::create(b, l, numLoops - 1),
                               isSigned);
          else if (packedInt4)
            q = unpackInt4(b, l, args[1], linalg::IndexOp::create(b, l, numLoops - 1),
                           isSigned);
          else
            q = extendToI32(b, l, args[1], isSigned);
          Value zp = hasZeroPoint ? extendToI32(b, l, args[3], isSigned) : Value();
          Value w = dequantizeI32(b, l, q, zp, args[2]);
          Value a = toF32(b, l, args[0]);
          Value acc = toF32(b, l, args.back());
          Value sum = arith::AddFOp::create(
              b, l, acc, arith::MulFOp::create(b, l, a, w));
          linalg::YieldOp::create(b, l, fromF32(b, l, sum, elementType));
        });
    generic->setAttr(kLoweredMatmulAttr,
                     rewriter.getDictionaryAttr(
                         {rewriter.getNamedAttr("bits", rewriter.getI64IntegerAttr(
                                                            scheme.getBits())),
                          rewriter.getNamedAttr("signed", rewriter.getBoolAttr(isSigned)),
                          rewriter.getNamedAttr("packed_int4",
                                                rewriter.getBoolAttr(packedInt4)),
                          rewriter.getNamedAttr("int4_words",
                                                rewriter.getBoolAttr(int4Words)),
                          rewriter.getNamedAttr("column_tile",
                                                rewriter.getI64IntegerAttr(tile))}));
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }

  /// The accumulator the reduction starts from: the bias broadcast over
  /// rows, or zeros.
  static Value initialAccumulator(PatternRewriter &rewriter, Location loc,
                                  RankedTensorType type, Value bias) {
    Value empty = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                          type.getElementType());
    if (!bias) {
      Value zero = arith::ConstantOp::create(
          rewriter, loc, rewriter.getZeroAttr(type.getElementType()));
      return linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
    }
    SmallVector<int64_t> broadcastDims;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i)
      broadcastDims.push_back(i);
    return linalg::BroadcastOp::create(rewriter, loc, bias, empty, broadcastDims)
        .getResult()[0];
  }
};

struct LowerIntegerMatmul final : OpRewritePattern<IntegerMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  /// The i32 product of a constant weight in the form of int8 dot-product
  /// kernels (buildInt8DotProduct); null if the weight is not a constant.
  static Value buildInt8DotProduct(PatternRewriter &rewriter, IntegerMatmulOp op) {
    std::optional<SmallVector<int64_t>> values =
        readIntElements(getConstantElements(op.getWeight()), /*isSigned=*/true);
    if (!values)
      return {};
    Location loc = op.getLoc();
    int64_t k = op.getWeight().getType().getDimSize(0);
    int64_t n = op.getWeight().getType().getDimSize(1);
    int64_t m = op.getLhs().getType().getDimSize(0);
    // Each column's accumulator starts at -128 * sum_k w[k, n], cancelling
    // the 128 that reading x unsigned adds to every activation.
    SmallVector<int64_t> correction = weightColumnSums(*values, k, n);
    for (int64_t &sum : correction)
      sum *= -128;
    Type i32 = rewriter.getI32Type();
    Value start = arith::ConstantOp::create(
        rewriter, loc,
        makeIntConstant(RankedTensorType::get({n}, i32), correction, "weight_sum"));
    Value empty = tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{m, n}, i32);
    Value init =
        linalg::BroadcastOp::create(rewriter, loc, start, empty, ArrayRef<int64_t>{0})
            .getResult()[0];
    return mlir::nibble::buildInt8DotProduct(rewriter, loc, op.getLhs(), *values, k, n, init);
  }

  /// Group scales (W4A8): per-group i32 sums [M, K / G, N] (of the weight
  /// minus its zero point, if any), then the groups' fused multiply-add
  /// chain into f32, then the bias.
  static Value lowerGrouped(PatternRewriter &rewriter, IntegerMatmulOp op) {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    int64_t m = op.getLhs().getType().getDimSize(0);
    int64_t k = op.getLhs().getType().getDimSize(1);
    int64_t n = op.getWeight().getType().getDimSize(1);
    int64_t groupRows = op.getGroupRows();
    int64_t groups = k / groupRows;
    Type i32 = rewriter.getI32Type(), f32 = rewriter.getF32Type();

    // Loops (m, g, n, kk): row k = g * G + kk of group g. The activations
    // (and an unpacked weight) are viewed with K split into (g, kk), so
    // every loop's range comes from an operand's shape.
    auto d = [&](unsigned i) { return rewriter.getAffineDimExpr(i); };
    AffineExpr row = d(0), group = d(1), col = d(2), inGroup = d(3);
    AffineExpr kIndex = group * groupRows + inGroup;
    auto split = [&](Value value, ArrayRef<int64_t> shape,
                     ArrayRef<ReassociationIndices> dims) -> Value {
      auto type = cast<RankedTensorType>(value.getType());
      return tensor::ExpandShapeOp::create(rewriter, loc, type.clone(shape), value, dims);
    };
    Value lhs = split(op.getLhs(), {m, groups, groupRows}, {{0}, {1, 2}});
    Value weight;
    AffineMap weightMap;
    bool packedInt4 = false;
    if (op.getWeight().getType().getElementType().isInteger(4))
      if (std::optional<SmallVector<int64_t>> values =
              readIntElements(getConstantElements(op.getWeight()), /*isSigned=*/true)) {
        SmallVector<int8_t> packed = packInt4ForInt8Dot(*values, k, n);
        auto packedType = RankedTensorType::get(
            {static_cast<int64_t>(llvm::divideCeil(n, 32)),
             static_cast<int64_t>(llvm::divideCeil(k, 4)), 64},
            rewriter.getI8Type());
        weight = arith::ConstantOp::create(
            rewriter, loc,
            makeRawConstant(packedType,
                            ArrayRef<char>(reinterpret_cast<const char *>(packed.data()),
                                           packed.size()),
                            "packed_int4_dot"));
        weightMap = AffineMap::get(
            4, 0, {col.floorDiv(32), kIndex.floorDiv(4), (col % 16) * 4 + kIndex % 4}, ctx);
        packedInt4 = true;
      }
    if (!packedInt4) {
      weight = split(op.getWeight(), {groups, groupRows, n}, {{0, 1}, {2}});
      weightMap = AffineMap::get(4, 0, {group, inGroup, col}, ctx);
    }
    Value zero = arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value sumsEmpty =
        tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{m, groups, n}, i32);
    Value sumsInit = linalg::FillOp::create(rewriter, loc, zero, sumsEmpty).getResult(0);
    SmallVector<utils::IteratorType> iterators = parallelIterators(4);
    iterators.back() = utils::IteratorType::reduction;
    SmallVector<Value> sumsInputs{lhs, weight};
    SmallVector<AffineMap> sumsMaps{AffineMap::get(4, 0, {row, group, inGroup}, ctx),
                                    weightMap};
    Value zeroPoint = op.getZeroPoint();
    if (zeroPoint) {
      sumsInputs.push_back(zeroPoint);
      switch (cast<RankedTensorType>(zeroPoint.getType()).getRank()) {
      case 0:
        sumsMaps.push_back(AffineMap::get(4, 0, {}, ctx));
        break;
      case 1:
        sumsMaps.push_back(AffineMap::get(4, 0, col, ctx));
        break;
      default:
        sumsMaps.push_back(AffineMap::get(4, 0, {group, col}, ctx));
      }
    }
    sumsMaps.push_back(AffineMap::get(4, 0, {row, group, col}, ctx));
    auto sums = linalg::GenericOp::create(
        rewriter, loc, sumsInit.getType(), sumsInputs, ValueRange{sumsInit}, sumsMaps,
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value w;
          if (packedInt4) {
            // Column n's nibble (high for n mod 32 >= 16) holds q + 8.
            Value high = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::uge,
                arith::RemUIOp::create(b, l, linalg::IndexOp::create(b, l, 2),
                                       arith::ConstantIndexOp::create(b, l, 32)),
                arith::ConstantIndexOp::create(b, l, 16));
            Value byte = arith::ExtUIOp::create(b, l, b.getI32Type(), args[1]);
            Value shifted = arith::SelectOp::create(
                b, l, high,
                arith::ShRUIOp::create(
                    b, l, byte, arith::ConstantOp::create(b, l, b.getI32IntegerAttr(4))),
                byte);
            Value nibble = arith::AndIOp::create(
                b, l, shifted, arith::ConstantOp::create(b, l, b.getI32IntegerAttr(15)));
            w = arith::SubIOp::create(b, l, nibble,
                                      arith::ConstantOp::create(b, l, b.getI32IntegerAttr(8)));
          } else {
            w = arith::ExtSIOp::create(b, l, b.getI32Type(), args[1]);
          }
          if (zeroPoint)
            w = arith::SubIOp::create(b, l, w,
                                      arith::ExtSIOp::create(b, l, b.getI32Type(), args[2]));
          Value x = arith::ExtSIOp::create(b, l, b.getI32Type(), args[0]);
          Value sum =
              arith::AddIOp::create(b, l, args.back(), arith::MulIOp::create(b, l, x, w));
          linalg::YieldOp::create(b, l, sum);
        });
    if (packedInt4)
      sums->setAttr(kInt4DotMatmulAttr,
                    rewriter.getDictionaryAttr(rewriter.getNamedAttr(
                        "group_size", rewriter.getI64IntegerAttr(groupRows))));

    // Loops (m, n, g): the groups in order, one fused multiply-add each.
    AffineExpr r = d(0), c = d(1), g = d(2);
    auto scaleMap = [&](Value scale, ArrayRef<AffineExpr> perGroup, AffineExpr perVector) {
      switch (cast<RankedTensorType>(scale.getType()).getRank()) {
      case 0:
        return AffineMap::get(3, 0, {}, ctx);
      case 1:
        return AffineMap::get(3, 0, perVector, ctx);
      default:
        return AffineMap::get(3, 0, perGroup, ctx);
      }
    };
    Value fZero = arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
    Value outEmpty = tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{m, n}, f32);
    Value outInit = linalg::FillOp::create(rewriter, loc, fZero, outEmpty).getResult(0);
    auto epilogue = linalg::GenericOp::create(
        rewriter, loc, outInit.getType(),
        ValueRange{sums.getResult(0), op.getLhsScale(), op.getScale()}, ValueRange{outInit},
        ArrayRef<AffineMap>{AffineMap::get(3, 0, {r, g, c}, ctx),
                            scaleMap(op.getLhsScale(), {r, g}, r),
                            scaleMap(op.getScale(), {g, c}, c),
                            AffineMap::get(3, 0, {r, c}, ctx)},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                      utils::IteratorType::parallel,
                                      utils::IteratorType::reduction},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value sum = arith::SIToFPOp::create(b, l, b.getF32Type(), args[0]);
          Value scale = arith::MulFOp::create(b, l, args[1], args[2]);
          linalg::YieldOp::create(b, l,
                                  math::FmaOp::create(b, l, sum, scale, args[3]).getResult());
        });
    epilogue->setAttr(kGroupedEpilogueAttr, rewriter.getDictionaryAttr({}));
    Value result = epilogue.getResult(0);
    if (Value bias = op.getBias()) {
      AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
      result = linalg::GenericOp::create(
                   rewriter, loc, outInit.getType(), ValueRange{result, bias},
                   ValueRange{outEmpty},
                   ArrayRef<AffineMap>{identity, AffineMap::get(2, 0, d(1), ctx), identity},
                   parallelIterators(2),
                   [&](OpBuilder &b, Location l, ValueRange args) {
                     linalg::YieldOp::create(b, l,
                                             arith::AddFOp::create(b, l, args[0], args[1])
                                                 .getResult());
                   })
                   .getResult(0);
    }
    return result;
  }

  LogicalResult matchAndRewrite(IntegerMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasGroupScales() || op.getWeight().getType().getElementType().isInteger(4)) {
      rewriter.replaceOp(op, lowerGrouped(rewriter, op));
      return success();
    }
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getResult().getType();
    ArrayRef<int64_t> shape = resultType.getShape();
    MLIRContext *ctx = rewriter.getContext();
    // The integer product, exact in i32: with a constant weight, over the
    // weight packed for int8 dot products; otherwise a plain linalg.matmul,
    // so the target's matmul lowering applies to it.
    Value acc = buildInt8DotProduct(rewriter, op);
    if (!acc) {
      Type i32 = rewriter.getI32Type();
      Value zero = arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
      Value accEmpty = tensor::EmptyOp::create(rewriter, loc, shape, i32);
      Value accInit = linalg::FillOp::create(rewriter, loc, zero, accEmpty).getResult(0);
      acc = linalg::MatmulOp::create(rewriter, loc, TypeRange{accInit.getType()},
                                     ValueRange{op.getLhs(), op.getWeight()},
                                     ValueRange{accInit})
                .getResult(0);
    }
    // The float epilogue, scales indexed per row / per column or scalar.
    AffineExpr m = rewriter.getAffineDimExpr(0), n = rewriter.getAffineDimExpr(1);
    auto mapFor = [&](Value scale, AffineExpr index) {
      bool perTensor = cast<RankedTensorType>(scale.getType()).getRank() == 0;
      return AffineMap::get(2, 0, perTensor ? ArrayRef<AffineExpr>{} : ArrayRef(index), ctx);
    };
    SmallVector<Value> inputs{acc, op.getLhsScale(), op.getScale()};
    SmallVector<AffineMap> maps{AffineMap::getMultiDimIdentityMap(2, ctx),
                                mapFor(op.getLhsScale(), m), mapFor(op.getScale(), n)};
    if (Value bias = op.getBias()) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(2, 0, n, ctx));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
    Value empty = tensor::EmptyOp::create(rewriter, loc, shape, rewriter.getF32Type());
    bool hasBias = static_cast<bool>(op.getBias());
    auto epilogue = linalg::GenericOp::create(
        rewriter, loc, resultType, inputs, ValueRange{empty}, maps, parallelIterators(2),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value sum = arith::SIToFPOp::create(b, l, b.getF32Type(), args[0]);
          Value y = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, sum, args[1]),
                                          args[2]);
          if (hasBias)
            y = arith::AddFOp::create(b, l, y, args[3]);
          linalg::YieldOp::create(b, l, y);
        });
    rewriter.replaceOp(op, epilogue.getResults());
    return success();
  }
};

struct ConvertNibbleToLinalgPass final
    : nibble::impl::ConvertNibbleToLinalgPassBase<ConvertNibbleToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateNibbleToLinalgPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult leftover = getOperation().walk([](Operation *op) {
      if (isa<NibbleDialect>(op->getDialect())) {
        op->emitError("nibble op was not lowered to linalg");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (leftover.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mlir::nibble::populateNibbleToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerQuantize, LowerDequantize, LowerMatmul, LowerIntegerMatmul>(
      patterns.getContext());
}
