//===- PackMatmulWeights.cpp - weights in the GPU kernel's layout ---------===//
//
// Turns nibble.matmul ops with constant quantized weights into a
// linalg.generic over weights prepacked at compile time for the fused GPU
// kernel (see Passes.td for the layout). The generic computes exactly what
// the kernel computes, so it doubles as the reference.
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CUDA/Passes.h"

#include "nibble/Target/CUDA/GemvLayout.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDAPACKMATMULWEIGHTSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// The constant operands of one matmul, in the kernel's layout.
struct PackedWeights {
  int64_t n = 0, k = 0, groupSize = 0;
  SmallVector<int32_t> words;     // N x K*bits/32
  SmallVector<float> scales;      // N x G
  SmallVector<float> scaledZeros; // N x G: scale * zero point
};

/// Packs `op`'s weights, or returns nullopt when the kernel cannot take
/// them (non-constant operands, K or groups not multiples of 4, f16 scales).
std::optional<PackedWeights> packWeights(MatmulOp op) {
  SchemeAttr scheme = op.getScheme();
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
  if (!weightType.hasStaticShape() || !lhsType.hasStaticShape() ||
      !lhsType.getElementType().isF32() ||
      !cast<ShapedType>(op.getScale().getType()).getElementType().isF32())
    return std::nullopt;
  unsigned bits = scheme.getBits();
  if (bits != 4 && bits != 8)
    return std::nullopt;
  PackedWeights packed;
  packed.k = weightType.getDimSize(0);
  packed.n = weightType.getDimSize(1);
  if (packed.k % gemv::kValuesPerRun != 0)
    return std::nullopt;
  packed.groupSize = scheme.isPerGroup() ? scheme.getGroupSize() : packed.k;
  if (scheme.isPerGroup() && (scheme.getAxis() != 0 ||
                              packed.groupSize % gemv::kValuesPerRun != 0 ||
                              packed.k % packed.groupSize != 0))
    return std::nullopt;

  Attribute weightAttr = getConstantElements(op.getWeight());
  Attribute scaleAttr = getConstantElements(op.getScale());
  Attribute zeroAttr = op.getZeroPoint() ? getConstantElements(op.getZeroPoint()) : Attribute();
  if (!weightAttr || !scaleAttr || (op.getZeroPoint() && !zeroAttr))
    return std::nullopt;
  auto weights = readIntElements(weightAttr, scheme.getIsSigned());
  auto scales = readFloatElements(scaleAttr);
  std::optional<SmallVector<int64_t>> zeros;
  if (zeroAttr)
    zeros = readIntElements(zeroAttr, scheme.getIsSigned());
  if (!weights || !scales || (zeroAttr && !zeros))
    return std::nullopt;

  const int64_t n = packed.n, k = packed.k, groups = k / packed.groupSize;
  // The scale (and zero point) of weight element (kk, nn).
  auto scaleIndex = [&](int64_t kk, int64_t nn) -> int64_t {
    if (scheme.isPerTensor())
      return 0;
    if (scheme.isPerChannel())
      return scheme.getAxis() == 1 ? nn : kk;
    return (kk / packed.groupSize) * n + nn;
  };
  // Per-channel along K (axis 0) varies inside a lane's chunk: not supported.
  if (scheme.isPerChannel() && scheme.getAxis() != 1)
    return std::nullopt;

  const uint32_t mask = (1u << bits) - 1;
  const int64_t wordsPerRow = gemv::paddedK(k) * bits / 32;
  packed.words.assign(n * wordsPerRow, 0);
  for (int64_t kk = 0; kk < k; ++kk) {
    gemv::Position at = gemv::positionOf(kk, bits);
    for (int64_t nn = 0; nn < n; ++nn) {
      uint32_t q = static_cast<uint32_t>((*weights)[kk * n + nn]) & mask;
      int32_t &word = packed.words[nn * wordsPerRow + at.word];
      word = static_cast<int32_t>(static_cast<uint32_t>(word) | (q << (at.field * bits)));
    }
  }
  packed.scales.assign(n * groups, 0.0f);
  packed.scaledZeros.assign(n * groups, 0.0f);
  for (int64_t nn = 0; nn < n; ++nn)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t index = scaleIndex(g * packed.groupSize, nn);
      float scale = (*scales)[index];
      packed.scales[nn * groups + g] = scale;
      if (zeros)
        packed.scaledZeros[nn * groups + g] = scale * static_cast<float>((*zeros)[index]);
    }
  return packed;
}

/// gemv::positionOf as affine expressions of k, for the reference generic.
AffineExpr packedWordExpr(AffineExpr k, int64_t bits) {
  using namespace gemv;
  AffineExpr inBlock = k % kBlockK;
  AffineExpr value = inBlock.floorDiv(kRunStride) * kValuesPerRun + k % kValuesPerRun;
  return k.floorDiv(kBlockK) * (kWarpSize * wordsPerLane(bits)) +
         (k % kRunStride).floorDiv(kValuesPerRun) * wordsPerLane(bits) +
         value.floorDiv(valuesPerWord(bits));
}
AffineExpr packedFieldExpr(AffineExpr k, int64_t bits) {
  using namespace gemv;
  AffineExpr value = (k % kBlockK).floorDiv(kRunStride) * kValuesPerRun + k % kValuesPerRun;
  return value % valuesPerWord(bits);
}

/// Builds the reference generic: out[m, n] += x[m, k] * (q(k, n) * s - s*z).
Value buildPackedGeneric(OpBuilder &b, Location loc, Value lhs2d, const PackedWeights &packed,
                         SchemeAttr scheme, Value words, Value scales, Value scaledZeros) {
  MLIRContext *ctx = b.getContext();
  auto lhsType = cast<RankedTensorType>(lhs2d.getType());
  int64_t m = lhsType.getDimSize(0);
  unsigned bits = scheme.getBits();
  Type f32 = b.getF32Type();
  auto outType = RankedTensorType::get({m, packed.n}, f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value empty = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);

  AffineExpr dm, dn, dk;
  bindDims(ctx, dm, dn, dk);
  SmallVector<AffineMap> maps = {
      AffineMap::get(3, 0, {dm, dk}, ctx),
      AffineMap::get(3, 0, {dn, packedWordExpr(dk, bits)}, ctx),
      AffineMap::get(3, 0, {dn, dk.floorDiv(packed.groupSize)}, ctx),
      AffineMap::get(3, 0, {dn, dk.floorDiv(packed.groupSize)}, ctx),
      AffineMap::get(3, 0, {dm, dn}, ctx)};
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  bool isSigned = scheme.getIsSigned();
  auto generic = linalg::GenericOp::create(
      b, loc, outType, ValueRange{lhs2d, words, scales, scaledZeros}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Type i32 = nb.getI32Type();
        auto constI32 = [&](int64_t v) {
          return arith::ConstantOp::create(nb, nloc, nb.getI32IntegerAttr(v)).getResult();
        };
        Value kIndex = linalg::IndexOp::create(nb, nloc, 2);
        Value field = affine::AffineApplyOp::create(
            nb, nloc, AffineMap::get(1, 0, packedFieldExpr(nb.getAffineDimExpr(0), bits)),
            ValueRange{kIndex});
        Value fieldI32 = arith::IndexCastOp::create(nb, nloc, i32, field);
        Value shift = arith::MulIOp::create(nb, nloc, fieldI32, constI32(bits));
        Value q;
        if (isSigned) {
          // Move the field to the top, then sign-extend it back down.
          Value up = arith::SubIOp::create(nb, nloc, constI32(32 - bits), shift);
          Value top = arith::ShLIOp::create(nb, nloc, args[1], up);
          q = arith::ShRSIOp::create(nb, nloc, top, constI32(32 - bits));
        } else {
          Value down = arith::ShRUIOp::create(nb, nloc, args[1], shift);
          q = arith::AndIOp::create(nb, nloc, down, constI32((1 << bits) - 1));
        }
        Value qf = arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), q);
        Value scaled = arith::MulFOp::create(nb, nloc, qf, args[2]);
        Value weight = arith::SubFOp::create(nb, nloc, scaled, args[3]);
        Value product = arith::MulFOp::create(nb, nloc, args[0], weight);
        Value sum = arith::AddFOp::create(nb, nloc, args[4], product);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  bool hasZeroPoint = llvm::any_of(packed.scaledZeros, [](float v) { return v != 0.0f; });
  generic->setAttr(kDequantMatmulAttr,
                   b.getDictionaryAttr({b.getNamedAttr("bits", b.getI64IntegerAttr(bits)),
                                        b.getNamedAttr("has_zero_point",
                                                       b.getBoolAttr(hasZeroPoint)),
                                        b.getNamedAttr("signed", b.getBoolAttr(isSigned)),
                                        b.getNamedAttr("group_size",
                                                       b.getI64IntegerAttr(packed.groupSize))}));
  return generic.getResult(0);
}

/// Adds `bias[n]` to every row of `value` (M x N).
Value addBias(OpBuilder &b, Location loc, Value value, Value bias) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(value.getType());
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  AffineExpr dm, dn;
  bindDims(ctx, dm, dn);
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {dm, dn}, ctx),
                                 AffineMap::get(2, 0, {dn}, ctx),
                                 AffineMap::get(2, 0, {dm, dn}, ctx)};
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{value, bias}, ValueRange{empty}, maps,
             {utils::IteratorType::parallel, utils::IteratorType::parallel},
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               Value sum = arith::AddFOp::create(nb, nloc, args[0], args[1]);
               linalg::YieldOp::create(nb, nloc, sum);
             })
      .getResult(0);
}

struct NibbleCUDAPackMatmulWeightsPass final
    : nibble::impl::NibbleCUDAPackMatmulWeightsPassBase<NibbleCUDAPackMatmulWeightsPass> {
  void runOnOperation() override {
    SmallVector<MatmulOp> matmuls;
    getOperation().walk([&](MatmulOp op) { matmuls.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (MatmulOp op : matmuls) {
      std::optional<PackedWeights> packed = packWeights(op);
      if (!packed)
        continue;
      auto bias = op.getBias();
      if (bias && !cast<ShapedType>(bias.getType()).getElementType().isF32())
        continue;
      rewriter.setInsertionPoint(op);
      Location loc = op.getLoc();
      SchemeAttr scheme = op.getScheme();
      StringRef layer = "matmul";
      if (auto name = op->getAttrOfType<StringAttr>(kLayerAttrName))
        layer = name.getValue();
      int64_t groups = packed->k / packed->groupSize;
      int64_t wordsPerRow = gemv::paddedK(packed->k) * scheme.getBits() / 32;
      auto wordsType = RankedTensorType::get({packed->n, wordsPerRow}, rewriter.getI32Type());
      auto scaleType = RankedTensorType::get({packed->n, groups}, rewriter.getF32Type());
      ArrayRef<char> wordBytes(reinterpret_cast<const char *>(packed->words.data()),
                               packed->words.size() * sizeof(int32_t));
      Value words = arith::ConstantOp::create(
          rewriter, loc, makeRawConstant(wordsType, wordBytes, (layer + ".packed").str()));
      Value scales = arith::ConstantOp::create(
          rewriter, loc, makeFloatConstant(scaleType, packed->scales, (layer + ".scales").str()));
      Value scaledZeros = arith::ConstantOp::create(
          rewriter, loc,
          makeFloatConstant(scaleType, packed->scaledZeros, (layer + ".scaled_zeros").str()));

      // Collapse leading batch dimensions into M.
      auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
      int64_t rank = lhsType.getRank();
      Value lhs2d = op.getLhs();
      SmallVector<ReassociationIndices> reassociation;
      if (rank > 2) {
        ReassociationIndices batch;
        for (int64_t d = 0; d < rank - 1; ++d)
          batch.push_back(d);
        reassociation = {batch, {rank - 1}};
        lhs2d = tensor::CollapseShapeOp::create(rewriter, loc, lhs2d, reassociation);
      } else if (rank == 1) {
        continue; // A vector lhs has no M; leave it to the reference path.
      }
      Value result = buildPackedGeneric(rewriter, loc, lhs2d, *packed, scheme, words, scales,
                                        scaledZeros);
      copyLayerAttrs(op, result.getDefiningOp());
      if (bias)
        result = addBias(rewriter, loc, result, bias);
      if (rank > 2)
        result = tensor::ExpandShapeOp::create(rewriter, loc, op.getType(), result,
                                               reassociation);
      rewriter.replaceOp(op, result);
    }
  }
};

} // namespace
