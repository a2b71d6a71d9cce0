//===- PackMatmulWeights.cpp - weights in the GPU kernel's layout ---------===//
//
// Turns nibble.matmul ops with constant quantized weights, and matmuls
// with constant float16 or float32 weights, into a linalg.generic over
// weights prepacked at compile time for the fused GPU kernels (see
// Passes.td for the layouts). The generic computes exactly what the kernel
// computes, so it doubles as the reference.
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CUDA/Passes.h"

#include "nibble/Target/CUDA/GemvLayout.h"
#include "nibble/Target/CUDA/MmaLayout.h"

#include "nibble/Dialect/Nibble/IR/NibbleOps.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDAPACKMATMULWEIGHTSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// Rows up to which the GEMV kernel runs; more take the tensor-core kernel.
constexpr int64_t kGemvMaxRows = 4;

/// The constant operands of one matmul, in the kernel's layout.
struct PackedWeights {
  DequantKernelLayout layout = DequantKernelLayout::Gemv;
  int64_t n = 0, k = 0, groupSize = 0;
  bool hasZeroPoint = false;
  // GEMV: N x paddedK * bits / 32 (GemvLayout.h); MMA: tiles x wordsPerTile
  // (MmaLayout.h).
  SmallVector<int32_t> words;
  SmallVector<float> scales; // N x G
  // GEMV: N x G, scale * zero point. MMA: the value subtracted from the
  // stored field, offset + zero point, N x G; empty without zero points
  // (the offset is then a constant).
  SmallVector<float> zeros;
  int64_t offset = 0; // MMA: 2^(bits-1) for signed weights
};

/// `k` x `n` fields of `bits` bits (`fieldAt(kk, nn)`, in the low bits) in
/// `layout`'s order: rows of 32-bit words, one per column (GEMV) or per
/// tile of 8 columns (MMA).
SmallVector<int32_t> layOutFields(DequantKernelLayout layout, int64_t k, int64_t n, int64_t bits,
                                  function_ref<uint32_t(int64_t, int64_t)> fieldAt) {
  const bool isMma = layout == DequantKernelLayout::Mma;
  const int64_t wordsPerRow = isMma ? mma::wordsPerTile(k, bits) : gemv::paddedK(k) * bits / 32;
  SmallVector<int32_t> words((isMma ? mma::tiles(n) : n) * wordsPerRow, 0);
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t nn = 0; nn < n; ++nn) {
      int64_t row = nn, wordIndex, field;
      if (isMma) {
        mma::Position at = mma::positionOf(kk, nn, bits);
        row = at.tile, wordIndex = at.word, field = at.field;
      } else {
        gemv::Position at = gemv::positionOf(kk, bits);
        wordIndex = at.word, field = at.field;
      }
      int32_t &word = words[row * wordsPerRow + wordIndex];
      word = static_cast<int32_t>(static_cast<uint32_t>(word) | fieldAt(kk, nn) << (field * bits));
    }
  return words;
}

/// Packs `op`'s weights, or returns nullopt when the kernel cannot take
/// them (non-constant operands, K or groups not multiples of 4, f16 scales).
/// `m` (rows of the activations) picks the kernel, hence the layout, unless
/// `kernel` ("gemv" or "mma") forces one.
std::optional<PackedWeights> packWeights(MatmulOp op, int64_t m, StringRef kernel) {
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

  packed.hasZeroPoint = zeros && llvm::any_of(*zeros, [](int64_t z) { return z != 0; });
  bool wantsMma = kernel == "auto" ? m > kGemvMaxRows : kernel == "mma";
  if (wantsMma && mma::takesGroups(packed.groupSize, k))
    packed.layout = DequantKernelLayout::Mma;
  const bool isMma = packed.layout == DequantKernelLayout::Mma;

  const uint32_t mask = (1u << bits) - 1;
  // The MMA layout stores u = q + offset, unsigned.
  const int64_t offset = isMma && scheme.getIsSigned() ? int64_t(1) << (bits - 1) : 0;
  packed.words = layOutFields(packed.layout, k, n, bits, [&](int64_t kk, int64_t nn) {
    return static_cast<uint32_t>((*weights)[kk * n + nn] + offset) & mask;
  });
  packed.offset = offset;
  packed.scales.assign(n * groups, 0.0f);
  if (!isMma || packed.hasZeroPoint)
    packed.zeros.assign(n * groups, 0.0f);
  for (int64_t nn = 0; nn < n; ++nn)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t index = scaleIndex(g * packed.groupSize, nn);
      float scale = (*scales)[index];
      packed.scales[nn * groups + g] = scale;
      float zero = zeros ? static_cast<float>((*zeros)[index]) : 0.0f;
      if (isMma && packed.hasZeroPoint)
        packed.zeros[nn * groups + g] = static_cast<float>(offset) + zero;
      else if (!isMma)
        packed.zeros[nn * groups + g] = scale * zero;
    }
  return packed;
}

/// The unquantized constant weights of `matmul` in a kernel's layout, with
/// unit scales, or nullopt when it has none the kernels take:
///  - float16 (a constant widened to f32): the tensor-core kernel's layout
///    as 16-bit fields, at any M (the f16 products are exact in its f32
///    sums) unless the GEMV is forced;
///  - float32: the GEMV's layout as 32-bit fields, where M picks the GEMV
///    and K pads to whole blocks with little waste (rounding them to f16
///    for the tensor cores would change the layer).
std::optional<PackedWeights> packFloatWeights(linalg::MatmulOp matmul, StringRef kernel) {
  if (matmul.hasUserDefinedMaps() || !isPlainZeroInitMatmul(matmul))
    return std::nullopt;
  auto lhsType = dyn_cast<RankedTensorType>(matmul.getInputs()[0].getType());
  if (!lhsType || !lhsType.hasStaticShape() || !lhsType.getElementType().isF32())
    return std::nullopt;
  Value weight = matmul.getInputs()[1];
  bool isHalf = false;
  if (Value narrow = getWidenedSource(weight)) {
    weight = narrow;
    isHalf = true;
  }
  auto weightType = cast<RankedTensorType>(weight.getType());
  if (!weightType.hasStaticShape() ||
      !(isHalf ? weightType.getElementType().isF16() : weightType.getElementType().isF32()))
    return std::nullopt;
  int64_t m = lhsType.getDimSize(0), k = weightType.getDimSize(0);
  bool wantsGemv = kernel == "auto" ? m <= kGemvMaxRows : kernel == "gemv";
  // The GEMV's layout pads K to whole 1024-wide blocks: float32 weights
  // that would grow by more than a quarter keep the generic lowering.
  bool padsLittle = gemv::paddedK(k) * 4 <= k * 5;
  if (isHalf ? (kernel == "gemv" || k % 2 != 0)
             : (!wantsGemv || k % gemv::kValuesPerRun != 0 || !padsLittle))
    return std::nullopt;
  Attribute weightAttr = getConstantElements(weight);
  std::optional<SmallVector<float>> values =
      weightAttr ? readFloatElements(weightAttr) : std::nullopt;
  if (!values)
    return std::nullopt;
  PackedWeights packed;
  packed.layout = isHalf ? DequantKernelLayout::Mma : DequantKernelLayout::Gemv;
  packed.k = k;
  packed.n = weightType.getDimSize(1);
  packed.groupSize = k;
  int64_t n = packed.n;
  packed.words = layOutFields(packed.layout, k, n, isHalf ? kFloat16WeightBits : kFloat32WeightBits,
                              [&](int64_t kk, int64_t nn) -> uint32_t {
                                float value = (*values)[kk * n + nn];
                                return isHalf ? narrowToHalfBits(value, APFloat::IEEEhalf())
                                              : llvm::bit_cast<uint32_t>(value);
                              });
  packed.scales.assign(n, 1.0f);
  if (!isHalf) // the GEMV takes scaled zero points, here none
    packed.zeros.assign(n, 0.0f);
  return packed;
}

/// gemv::positionOf as affine expressions of k, for the reference generic.
AffineExpr gemvWordExpr(AffineExpr k, int64_t bits) {
  using namespace gemv;
  AffineExpr inBlock = k % kBlockK;
  AffineExpr value = inBlock.floorDiv(kRunStride) * kValuesPerRun + k % kValuesPerRun;
  return k.floorDiv(kBlockK) * (kWarpSize * wordsPerLane(bits)) +
         (k % kRunStride).floorDiv(kValuesPerRun) * wordsPerLane(bits) +
         value.floorDiv(valuesPerWord(bits));
}
AffineExpr gemvFieldExpr(AffineExpr k, int64_t bits) {
  using namespace gemv;
  AffineExpr value = (k % kBlockK).floorDiv(kRunStride) * kValuesPerRun + k % kValuesPerRun;
  return value % valuesPerWord(bits);
}

/// mma::positionOf as affine expressions of (k, n).
AffineExpr mmaPairExpr(AffineExpr k) {
  using namespace mma;
  return (k % kBlockK).floorDiv(kStepK) * 2 + (k % 4).floorDiv(2);
}
AffineExpr mmaWordExpr(AffineExpr k, AffineExpr n, int64_t bits) {
  using namespace mma;
  AffineExpr lane = (n % kTileN) * 4 + (k % kStepK).floorDiv(4);
  return (k.floorDiv(kBlockK) * kWarpSize + lane) * wordsPerLane(bits) +
         mmaPairExpr(k).floorDiv(pairsPerWord(bits));
}
AffineExpr mmaFieldExpr(AffineExpr k, int64_t bits) {
  using namespace mma;
  return mmaPairExpr(k) % pairsPerWord(bits) + (k % 2) * pairsPerWord(bits);
}

/// Builds the reference generic: out[m, n] += x[m, k] * w(k, n), where the
/// GEMV layout gives w = q * s - s * z and the MMA layout w = (u - z') * s
/// (u the stored unsigned field, z' offset + zero point, `zeros` or, when
/// null, the constant offset).
Value buildPackedGeneric(OpBuilder &b, Location loc, Value lhs2d, const PackedWeights &packed,
                         unsigned bits, bool isSigned, Value words, Value scales, Value zeros) {
  MLIRContext *ctx = b.getContext();
  auto lhsType = cast<RankedTensorType>(lhs2d.getType());
  int64_t m = lhsType.getDimSize(0);
  const bool isMma = packed.layout == DequantKernelLayout::Mma;
  Type f32 = b.getF32Type();
  auto outType = RankedTensorType::get({m, packed.n}, f32);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value empty = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);

  AffineExpr dm, dn, dk;
  bindDims(ctx, dm, dn, dk);
  AffineExpr group = dk.floorDiv(packed.groupSize);
  AffineMap wordsMap =
      isMma ? AffineMap::get(3, 0, {dn.floorDiv(mma::kTileN), mmaWordExpr(dk, dn, bits)}, ctx)
            : AffineMap::get(3, 0, {dn, gemvWordExpr(dk, bits)}, ctx);
  SmallVector<Value> inputs = {lhs2d, words, scales};
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx), wordsMap,
                                 AffineMap::get(3, 0, {dn, group}, ctx)};
  if (zeros) {
    inputs.push_back(zeros);
    maps.push_back(AffineMap::get(3, 0, {dn, group}, ctx));
  }
  maps.push_back(AffineMap::get(3, 0, {dm, dn}, ctx));
  SmallVector<utils::IteratorType> iterators = {utils::IteratorType::parallel,
                                                utils::IteratorType::parallel,
                                                utils::IteratorType::reduction};
  AffineExpr fieldExpr = isMma ? mmaFieldExpr(b.getAffineDimExpr(0), bits)
                               : gemvFieldExpr(b.getAffineDimExpr(0), bits);
  auto generic = linalg::GenericOp::create(
      b, loc, outType, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Type i32 = nb.getI32Type();
        auto constI32 = [&](int64_t v) {
          return arith::ConstantOp::create(nb, nloc, nb.getI32IntegerAttr(v)).getResult();
        };
        Value kIndex = linalg::IndexOp::create(nb, nloc, 2);
        Value field = affine::AffineApplyOp::create(nb, nloc, AffineMap::get(1, 0, fieldExpr),
                                                    ValueRange{kIndex});
        Value fieldI32 = arith::IndexCastOp::create(nb, nloc, i32, field);
        Value shift = arith::MulIOp::create(nb, nloc, fieldI32, constI32(bits));
        Value weight;
        if (bits == kFloat16WeightBits) {
          // A float16 weight (times its unit scale).
          Value down = arith::ShRUIOp::create(nb, nloc, args[1], shift);
          Value low = arith::TruncIOp::create(nb, nloc, nb.getI16Type(), down);
          Value half = arith::BitcastOp::create(nb, nloc, nb.getF16Type(), low);
          Value wide = arith::ExtFOp::create(nb, nloc, f32, half);
          weight = arith::MulFOp::create(nb, nloc, wide, args[2]);
        } else if (bits == kFloat32WeightBits) {
          // A float32 weight, the whole word (its unit scale and zero
          // scaled zero point are there for the GEMV's operand list only).
          weight = arith::BitcastOp::create(nb, nloc, f32, args[1]);
        } else if (isSigned && !isMma) {
          // Move the field to the top, then sign-extend it back down.
          Value up = arith::SubIOp::create(nb, nloc, constI32(32 - bits), shift);
          Value top = arith::ShLIOp::create(nb, nloc, args[1], up);
          Value q = arith::ShRSIOp::create(nb, nloc, top, constI32(32 - bits));
          Value qf = arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), q);
          Value scaled = arith::MulFOp::create(nb, nloc, qf, args[2]);
          weight = arith::SubFOp::create(nb, nloc, scaled, args[3]);
        } else {
          Value down = arith::ShRUIOp::create(nb, nloc, args[1], shift);
          Value u = arith::AndIOp::create(nb, nloc, down, constI32((1 << bits) - 1));
          Value uf = arith::UIToFPOp::create(nb, nloc, nb.getF32Type(), u);
          if (isMma) {
            Value zero =
                zeros ? args[3]
                      : arith::ConstantOp::create(
                            nb, nloc, nb.getF32FloatAttr(static_cast<float>(packed.offset)));
            Value centered = arith::SubFOp::create(nb, nloc, uf, zero);
            weight = arith::MulFOp::create(nb, nloc, centered, args[2]);
          } else {
            Value scaled = arith::MulFOp::create(nb, nloc, uf, args[2]);
            weight = arith::SubFOp::create(nb, nloc, scaled, args[3]);
          }
        }
        // float16/bfloat16 activations widen exactly.
        Value x = args[0];
        if (!x.getType().isF32())
          x = arith::ExtFOp::create(nb, nloc, f32, x);
        Value product = arith::MulFOp::create(nb, nloc, x, weight);
        Value sum = arith::AddFOp::create(nb, nloc, args.back(), product);
        linalg::YieldOp::create(nb, nloc, sum);
      });
  generic->setAttr(
      kDequantMatmulAttr,
      b.getDictionaryAttr(
          {b.getNamedAttr("bits", b.getI64IntegerAttr(bits)),
           b.getNamedAttr("group_size", b.getI64IntegerAttr(packed.groupSize)),
           b.getNamedAttr("has_zero_point", b.getBoolAttr(packed.hasZeroPoint)),
           b.getNamedAttr("layout", b.getStringAttr(stringifyLayout(packed.layout))),
           b.getNamedAttr("signed", b.getBoolAttr(isSigned))}));
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

/// Replaces `op` (a matmul of `lhs`, M x K or with leading batch
/// dimensions, by the weights in `packed`, plus `bias` if any) with the
/// generic over `packed`.
void replaceWithPackedGeneric(IRRewriter &rewriter, Operation *op, Value lhs,
                              const PackedWeights &packed, unsigned bits, bool isSigned,
                              Value bias) {
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  StringRef layer = "matmul";
  if (auto name = op->getAttrOfType<StringAttr>(kLayerAttrName))
    layer = name.getValue();
  const bool isMma = packed.layout == DequantKernelLayout::Mma;
  int64_t groups = packed.k / packed.groupSize;
  auto wordsType =
      isMma ? RankedTensorType::get({mma::tiles(packed.n), mma::wordsPerTile(packed.k, bits)},
                                    rewriter.getI32Type())
            : RankedTensorType::get({packed.n, gemv::paddedK(packed.k) * bits / 32},
                                    rewriter.getI32Type());
  auto scaleType = RankedTensorType::get({packed.n, groups}, rewriter.getF32Type());
  ArrayRef<char> wordBytes(reinterpret_cast<const char *>(packed.words.data()),
                           packed.words.size() * sizeof(int32_t));
  Value words = arith::ConstantOp::create(
      rewriter, loc, makeRawConstant(wordsType, wordBytes, (layer + ".packed").str()));
  Value scales = arith::ConstantOp::create(
      rewriter, loc, makeFloatConstant(scaleType, packed.scales, (layer + ".scales").str()));
  Value zeros;
  if (!packed.zeros.empty())
    zeros = arith::ConstantOp::create(
        rewriter, loc,
        makeFloatConstant(scaleType, packed.zeros,
                          (layer + (isMma ? ".zeros" : ".scaled_zeros")).str()));

  // The activations of float16 and bfloat16 layers are read as they are
  // (the generic widens them), not through an f32 copy.
  Value lhs2d = lhs;
  if (Value narrow = getWidenedSource(lhs2d))
    lhs2d = narrow;
  // Collapse leading batch dimensions into M.
  int64_t rank = cast<RankedTensorType>(lhs.getType()).getRank();
  SmallVector<ReassociationIndices> reassociation;
  if (rank > 2) {
    ReassociationIndices batch;
    for (int64_t d = 0; d < rank - 1; ++d)
      batch.push_back(d);
    reassociation = {batch, {rank - 1}};
    lhs2d = tensor::CollapseShapeOp::create(rewriter, loc, lhs2d, reassociation);
  }
  Value result =
      buildPackedGeneric(rewriter, loc, lhs2d, packed, bits, isSigned, words, scales, zeros);
  copyLayerAttrs(op, result.getDefiningOp());
  if (bias)
    result = addBias(rewriter, loc, result, bias);
  if (rank > 2)
    result = tensor::ExpandShapeOp::create(rewriter, loc, op->getResult(0).getType(), result,
                                           reassociation);
  // The kernel stores a following rounding to float16/bfloat16 itself
  // (nibble-cuda-dequant-matmul-kernels).
  if (!bias && rank == 2 && op->hasOneUse())
    if (auto narrowing = dyn_cast<linalg::GenericOp>(*op->getUsers().begin());
        narrowing && isNarrowingToHalf(narrowing))
      narrowing->setAttr(kKernelEpilogueAttrName, rewriter.getUnitAttr());
  rewriter.replaceOp(op, result);
}

struct NibbleCUDAPackMatmulWeightsPass final
    : nibble::impl::NibbleCUDAPackMatmulWeightsPassBase<NibbleCUDAPackMatmulWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (kernel != "auto" && kernel != "gemv" && kernel != "mma") {
      getOperation().emitError("nibble-cuda-pack-matmul-weights: unknown kernel '")
          << kernel << "'; use auto, gemv or mma";
      return signalPassFailure();
    }
    SmallVector<MatmulOp> matmuls;
    SmallVector<linalg::MatmulOp> floatMatmuls;
    getOperation().walk([&](Operation *op) {
      if (auto matmul = dyn_cast<MatmulOp>(op))
        matmuls.push_back(matmul);
      else if (auto matmul = dyn_cast<linalg::MatmulOp>(op))
        floatMatmuls.push_back(matmul);
    });
    IRRewriter rewriter(&getContext());
    for (MatmulOp op : matmuls) {
      auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
      int64_t rank = lhsType.getRank();
      if (rank == 1 || !lhsType.hasStaticShape())
        continue; // A vector lhs has no M; leave it to the reference path.
      int64_t m = lhsType.getNumElements() / lhsType.getDimSize(rank - 1);
      std::optional<PackedWeights> packed = packWeights(op, m, kernel);
      if (!packed)
        continue;
      auto bias = op.getBias();
      if (bias && !cast<ShapedType>(bias.getType()).getElementType().isF32())
        continue;
      SchemeAttr scheme = op.getScheme();
      replaceWithPackedGeneric(rewriter, op, op.getLhs(), *packed, scheme.getBits(),
                               scheme.getIsSigned(), bias);
    }
    for (linalg::MatmulOp op : floatMatmuls)
      if (std::optional<PackedWeights> packed = packFloatWeights(op, kernel))
        replaceWithPackedGeneric(
            rewriter, op, op.getInputs()[0], *packed,
            packed->layout == DequantKernelLayout::Mma ? kFloat16WeightBits : kFloat32WeightBits,
            /*isSigned=*/false, /*bias=*/Value());
  }
};

} // namespace
