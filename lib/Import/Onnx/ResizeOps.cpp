//===- ResizeOps.cpp - ONNX Resize and Upsample ---------------------------===//
//
// Shapes and scales are known at import, so the whole sampling pattern is
// worked out here, one axis at a time, the way the ONNX reference does it:
// each output position along an axis reads a few input positions ("taps",
// clamped to the edge) with fixed weights. Nearest modes read one tap, so
// all axes become a single gather (linalg.generic with tensor.extract from
// constant index tables) that works for any element type. Linear and cubic
// modes weigh their taps, one linalg.generic per resized axis, with the taps
// as a reduction loop over constant index and weight tables.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

namespace {
enum class ResizeMode { Nearest, Linear, Cubic };

/// The sampling attributes of a Resize or Upsample node.
struct ResizeAttrs {
  ResizeMode mode = ResizeMode::Nearest;
  std::string coordinateMode = "half_pixel";
  /// "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", or
  /// "legacy" (Upsample and Resize-10: floor when upsampling, ceil when
  /// downsampling, as ONNX Runtime does).
  std::string nearestMode = "round_prefer_floor";
  double cubicA = -0.75;
  bool excludeOutside = false;
  double extrapolationValue = 0.0;
  bool antialias = false;
};

/// How one axis is resampled: output position o reads input positions
/// index[o * taps + t] (already clamped) with weight[o * taps + t], or is
/// the extrapolation value where outside[o] (tf_crop_and_resize).
struct AxisSampling {
  int64_t taps = 0;
  SmallVector<int64_t> index;
  SmallVector<double> weight;
  SmallVector<bool> outside;

  bool anyOutside() const { return llvm::is_contained(outside, true); }
};
} // namespace

/// The input coordinate output position `x` maps to. Computed in float32
/// exactly as ONNX Runtime does, so that nearest modes round the same way
/// where a coordinate lands on (or next to) an integer or a half. As the
/// spec says, align_corners, pytorch_half_pixel and tf_crop_and_resize use
/// the integer output length (the ONNX reference implementation uses
/// scale * inSize, which differs when that is fractional).
static double sourceCoordinate(const ResizeAttrs &attrs, int64_t outIndex,
                               int64_t inSize, int64_t outSize, float scale,
                               float roiStart, float roiEnd) {
  const std::string &mode = attrs.coordinateMode;
  float x = static_cast<float>(outIndex);
  float in = static_cast<float>(inSize), out = static_cast<float>(outSize);
  if (mode == "align_corners")
    return outSize == 1 ? 0.0f : x * (in - 1) / (out - 1);
  if (mode == "asymmetric")
    return x / scale;
  if (mode == "tf_crop_and_resize") {
    if (outSize == 1)
      return 0.5f * (roiStart + roiEnd) * (in - 1);
    return roiStart * (in - 1) + (x * (roiEnd - roiStart) * (in - 1)) / (out - 1);
  }
  if (mode == "pytorch_half_pixel")
    return outSize > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (mode == "half_pixel_symmetric") {
    // Centers the output on the input when floor() shortened it.
    float adjustment = out / (scale * in);
    float offset = in / 2 * (1 - adjustment);
    return offset + (x + 0.5f) / scale - 0.5f;
  }
  return (x + 0.5f) / scale - 0.5f; // half_pixel
}

/// The tap weights for the fractional position `ratio` in (0, 1] past the
/// tap left of the coordinate, from onnx/reference/ops/op_resize.py.
static SmallVector<double> tapWeights(const ResizeAttrs &attrs, double ratio,
                                      double scale, llvm::StringRef nearestMode) {
  if (attrs.mode == ResizeMode::Nearest) {
    if (ratio == 1.0)
      return {0, 1};
    bool right = nearestMode == "round_prefer_floor" ? ratio > 0.5
                 : nearestMode == "round_prefer_ceil" ? ratio >= 0.5
                                                      : nearestMode == "ceil";
    return {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
  }
  double a = attrs.cubicA;
  auto cubic = [a](double x) {
    x = std::abs(x);
    if (x <= 1)
      return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
      return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
  };
  if (!attrs.antialias) {
    if (attrs.mode == ResizeMode::Linear)
      return {1 - ratio, ratio};
    return {cubic(ratio + 1), cubic(ratio), cubic(1 - ratio), cubic(2 - ratio)};
  }
  // Antialiasing stretches the filter by 1 / scale when downsampling.
  scale = std::min(scale, 1.0);
  double support = attrs.mode == ResizeMode::Linear ? 1.0 : 2.0;
  int64_t start = static_cast<int64_t>(std::floor(-support / scale)) + 1;
  SmallVector<double> weights;
  double sum = 0;
  for (int64_t i = start; i < 2 - start; ++i) {
    double arg = (i - ratio) * scale;
    double w = attrs.mode == ResizeMode::Linear
                   ? std::clamp(1 - std::abs(arg), 0.0, 1.0)
                   : cubic(arg);
    weights.push_back(w);
    sum += w;
  }
  for (double &w : weights)
    w /= sum;
  return weights;
}

/// The `n` integers in [lo, hi) nearest to `x` (ties to the smaller), in
/// ascending order.
static SmallVector<int64_t> nearestIntegers(double x, int64_t n, int64_t lo,
                                            int64_t hi) {
  int64_t center = std::clamp<int64_t>(static_cast<int64_t>(std::floor(x)), lo, hi - 1);
  SmallVector<int64_t> candidates;
  for (int64_t i = std::max(lo, center - n - 1); i < std::min(hi, center + n + 2); ++i)
    candidates.push_back(i);
  llvm::stable_sort(candidates, [&](int64_t p, int64_t q) {
    return std::abs(x - p) < std::abs(x - q);
  });
  candidates.resize(std::min<size_t>(n, candidates.size()));
  llvm::sort(candidates);
  return candidates;
}

/// The sampling of one axis from `inSize` to `outSize` elements.
static AxisSampling sampleAxis(const ResizeAttrs &attrs, int64_t inSize,
                               int64_t outSize, double scale, double roiStart,
                               double roiEnd) {
  std::string nearestMode = attrs.nearestMode;
  if (nearestMode == "legacy")
    nearestMode = scale < 1 ? "ceil" : "floor";
  AxisSampling sampling;
  for (int64_t o = 0; o < outSize; ++o) {
    double x = sourceCoordinate(attrs, o, inSize, outSize, static_cast<float>(scale),
                                static_cast<float>(roiStart), static_cast<float>(roiEnd));
    bool outside = attrs.coordinateMode == "tf_crop_and_resize" &&
                   (x < 0 || x > inSize - 1);
    double ratio = x == std::floor(x) ? 1.0 : x - std::floor(x);
    SmallVector<double> weights = tapWeights(attrs, ratio, scale, nearestMode);
    int64_t n = weights.size();
    // The reference pads the input by ceil(n / 2) copies of the edge.
    int64_t pad = (n + 1) / 2;
    SmallVector<int64_t> positions = nearestIntegers(x, n, -pad, inSize + pad);
    if (attrs.excludeOutside && attrs.mode != ResizeMode::Nearest) {
      double sum = 0;
      for (int64_t t = 0; t < n; ++t) {
        if (positions[t] < 0 || positions[t] >= inSize)
          weights[t] = 0;
        sum += weights[t];
      }
      for (double &w : weights)
        w /= sum;
    }
    sampling.taps = n;
    for (int64_t t = 0; t < n; ++t) {
      sampling.index.push_back(std::clamp<int64_t>(positions[t], 0, inSize - 1));
      sampling.weight.push_back(outside ? 0.0 : weights[t]);
    }
    sampling.outside.push_back(outside);
  }
  return sampling;
}

/// Output position o of a nearest sampling reads this input position.
static int64_t nearestTap(const AxisSampling &sampling, int64_t o) {
  for (int64_t t = 0; t < sampling.taps; ++t)
    if (sampling.weight[o * sampling.taps + t] != 0)
      return sampling.index[o * sampling.taps + t];
  return sampling.index[o * sampling.taps];
}

/// Whether the axis reads input position o for every output position o.
static bool isIdentity(const AxisSampling &sampling, int64_t inSize) {
  int64_t outSize = sampling.outside.size();
  if (outSize != inSize || sampling.anyOutside())
    return false;
  for (int64_t o = 0; o < outSize; ++o) {
    double own = 0, others = 0;
    for (int64_t t = 0; t < sampling.taps; ++t) {
      int64_t i = o * sampling.taps + t;
      (sampling.index[i] == o ? own : others) += std::abs(sampling.weight[i]);
    }
    if (own != 1.0 || others != 0.0)
      return false;
  }
  return true;
}

static Value buildIndexTable(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                             ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get(shape, b.getI64Type());
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, values));
}

static Value buildWeightTable(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                              Type elementType, ArrayRef<double> values) {
  SmallVector<APFloat> floats;
  for (double v : values)
    floats.push_back(b.getFloatAttr(elementType, v).getValue());
  auto type = RankedTensorType::get(shape, elementType);
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, floats));
}

/// Nearest resize: one gather over the output, reading x at the looked-up
/// position of every resized axis (and the extrapolation value where a
/// position is outside, marked -1 in the table).
static Value buildNearestResize(OpBuilder &b, Location loc, Value x,
                                ArrayRef<std::optional<AxisSampling>> axes,
                                TypedAttr extrapolation) {
  RankedTensorType type = tensorTypeOf(x);
  unsigned rank = type.getRank();
  SmallVector<int64_t> outShape;
  SmallVector<Value> tables;
  SmallVector<AffineMap> maps;
  for (unsigned d = 0; d < rank; ++d) {
    if (!axes[d]) {
      outShape.push_back(type.getDimSize(d));
      continue;
    }
    const AxisSampling &sampling = *axes[d];
    SmallVector<int64_t> positions;
    for (size_t o = 0; o < sampling.outside.size(); ++o)
      positions.push_back(sampling.outside[o] ? -1 : nearestTap(sampling, o));
    outShape.push_back(positions.size());
    tables.push_back(buildIndexTable(b, loc, {static_cast<int64_t>(positions.size())},
                                     positions));
    maps.push_back(AffineMap::get(rank, 0, b.getAffineDimExpr(d), b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = tensor::EmptyOp::create(b, loc, outShape, type.getElementType());
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), tables, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> indices;
        Value valid;
        unsigned table = 0;
        for (unsigned d = 0; d < rank; ++d) {
          if (!axes[d]) {
            indices.push_back(linalg::IndexOp::create(nb, nl, d));
            continue;
          }
          Value position =
              arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[table++]);
          if (axes[d]->anyOutside()) {
            Value zero = arith::ConstantIndexOp::create(nb, nl, 0);
            Value inside = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge,
                                                 position, zero);
            valid = valid ? arith::AndIOp::create(nb, nl, valid, inside) : inside;
            position = arith::MaxSIOp::create(nb, nl, position, zero);
          }
          indices.push_back(position);
        }
        Value element = tensor::ExtractOp::create(nb, nl, x, indices);
        if (valid)
          element = arith::SelectOp::create(
              nb, nl, valid, element, arith::ConstantOp::create(nb, nl, extrapolation));
        linalg::YieldOp::create(nb, nl, element);
      });
  return generic.getResult(0);
}

/// Linear or cubic resampling of `x` along `axis`: out[..., o, ...] =
/// sum over taps t of weight[o, t] * x[..., index[o, t], ...], or the
/// extrapolation value where o is outside.
static Value buildWeightedResample(OpBuilder &b, Location loc, Value x, unsigned axis,
                                   const AxisSampling &sampling,
                                   double extrapolation) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  int64_t outSize = sampling.outside.size();
  SmallVector<int64_t> outShape(type.getShape());
  outShape[axis] = outSize;
  Value index = buildIndexTable(b, loc, {outSize, sampling.taps}, sampling.index);
  Value weight = buildWeightTable(b, loc, {outSize, sampling.taps}, elementType,
                                  sampling.weight);
  // Outside positions have zero weights and start from the extrapolation
  // value; the others start from zero.
  Value init;
  if (sampling.anyOutside()) {
    SmallVector<double> start;
    for (bool outside : sampling.outside)
      start.push_back(outside ? extrapolation : 0.0);
    Value startTable = buildWeightTable(b, loc, {outSize}, elementType, start);
    Value empty = tensor::EmptyOp::create(b, loc, outShape, elementType);
    SmallVector<AffineMap> maps{AffineMap::get(rank, 0, b.getAffineDimExpr(axis), ctx),
                                b.getMultiDimIdentityMap(rank)};
    init = linalg::GenericOp::create(
               b, loc, empty.getType(), ValueRange{startTable}, ValueRange{empty}, maps,
               SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
               [](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(nb, nl, args[0]);
               })
               .getResult(0);
  } else {
    init = buildZeroFilled(b, loc, outShape, elementType);
  }
  // Loops (dims..., t); the tables are indexed by (axis, t).
  AffineMap tableMap = AffineMap::get(
      rank + 1, 0, {b.getAffineDimExpr(axis), b.getAffineDimExpr(rank)}, ctx);
  SmallVector<AffineExpr> outExprs;
  for (unsigned d = 0; d < rank; ++d)
    outExprs.push_back(b.getAffineDimExpr(d));
  SmallVector<utils::IteratorType> iterators(rank + 1, utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{index, weight}, ValueRange{init},
      {tableMap, tableMap, AffineMap::get(rank + 1, 0, outExprs, ctx)}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> indices;
        for (unsigned d = 0; d < rank; ++d)
          indices.push_back(
              d == axis ? arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[0])
                              .getResult()
                        : linalg::IndexOp::create(nb, nl, d).getResult());
        Value element = tensor::ExtractOp::create(nb, nl, x, indices);
        Value product = arith::MulFOp::create(nb, nl, element, args[1]);
        linalg::YieldOp::create(nb, nl,
                                ValueRange{arith::AddFOp::create(nb, nl, args[2], product)});
      });
  return generic.getResult(0);
}

/// The elements of input `i`, which must be a constant because it decides
/// the output shape.
static llvm::Expected<ElementsAttr> shapingConstant(NodeImporter &imp, int i,
                                                    llvm::StringRef what) {
  llvm::Expected<ElementsAttr> attr = imp.constantInput(i, what);
  if (attr)
    return attr;
  llvm::consumeError(attr.takeError());
  return imp.fail(what + " ('" + imp.node().input(i) +
                  "') is computed at run time, but nibble needs static output "
                  "shapes; make it a constant (fix the input shapes and fold the "
                  "shape computation, e.g. with onnxsim)");
}

/// A constant float input read as doubles; nullopt when the input is absent
/// or empty (ONNX's way of leaving out scales or roi).
static llvm::Expected<std::optional<SmallVector<double>>>
readOptionalFloats(NodeImporter &imp, int i, llvm::StringRef what) {
  if (!imp.hasInput(i))
    return std::nullopt;
  llvm::Expected<ElementsAttr> attr = shapingConstant(imp, i, what);
  if (!attr)
    return attr.takeError();
  if (attr->getNumElements() == 0)
    return std::nullopt;
  if (!isa<FloatType>(attr->getElementType()))
    return imp.fail(what + " must be a float tensor");
  SmallVector<double> values;
  for (APFloat v : attr->getValues<APFloat>()) {
    bool losesInfo;
    v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
    values.push_back(v.convertToDouble());
  }
  return values;
}

/// Resizes `x` to the given output sizes with the given per-dim scales and
/// roi ([starts..., ends...]).
static llvm::Error emitResize(NodeImporter &imp, const OnnxValue &x,
                              const ResizeAttrs &attrs, ArrayRef<int64_t> outSize,
                              ArrayRef<double> scales, ArrayRef<double> roi) {
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType type = tensorTypeOf(x.value);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  if (attrs.mode != ResizeMode::Nearest && !isa<FloatType>(elementType))
    return imp.fail("linear and cubic modes need a float input, got " +
                    onnxTypeName(x.onnxType));
  SmallVector<std::optional<AxisSampling>> axes(rank);
  for (unsigned d = 0; d < rank; ++d) {
    if (outSize[d] <= 0)
      return imp.fail("the output would be empty along dim " + llvm::Twine(d) +
                      " (size " + llvm::Twine(type.getDimSize(d)) + " scaled by " +
                      llvm::formatv("{0}", scales[d]).str() +
                      "); empty tensors are not supported");
    if (scales[d] <= 0)
      return imp.fail("scales must be positive");
    AxisSampling sampling = sampleAxis(attrs, type.getDimSize(d), outSize[d], scales[d],
                                       roi[d], roi[rank + d]);
    if (!isIdentity(sampling, type.getDimSize(d)))
      axes[d] = std::move(sampling);
  }
  Value result = x.value;
  if (attrs.mode == ResizeMode::Nearest) {
    TypedAttr extrapolation =
        isa<FloatType>(elementType)
            ? TypedAttr(b.getFloatAttr(elementType, attrs.extrapolationValue))
            : TypedAttr(b.getIntegerAttr(elementType,
                                         static_cast<int64_t>(attrs.extrapolationValue)));
    if (llvm::any_of(axes, [](const auto &a) { return a.has_value(); }))
      result = buildNearestResize(b, loc, x.value, axes, extrapolation);
  } else {
    for (unsigned d = 0; d < rank; ++d)
      if (axes[d])
        result = buildWeightedResample(b, loc, result, d, *axes[d],
                                       attrs.extrapolationValue);
  }
  imp.setOutput(0, result, x.onnxType);
  return llvm::Error::success();
}

/// The `mode` attribute.
static llvm::Expected<ResizeMode> readMode(NodeImporter &imp) {
  std::string mode = imp.stringAttr("mode").value_or("nearest");
  if (mode == "nearest")
    return ResizeMode::Nearest;
  if (mode == "linear" || mode == "bilinear")
    return ResizeMode::Linear;
  if (mode == "cubic")
    return ResizeMode::Cubic;
  return imp.fail("mode '" + mode + "' is not one of nearest, linear, cubic");
}

/// Output sizes floor(in * scale) for per-dim scales.
static SmallVector<int64_t> sizesFromScales(ArrayRef<int64_t> shape,
                                            ArrayRef<double> scales) {
  SmallVector<int64_t> sizes;
  for (auto [in, scale] : llvm::zip(shape, scales))
    sizes.push_back(static_cast<int64_t>(std::floor(in * scale)));
  return sizes;
}

/// Upsample (opsets 7-9) and Resize-10: per-dim scales (an attribute in
/// Upsample-7, else input 1), asymmetric coordinates.
static llvm::Error convertLegacyResize(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  llvm::Expected<ResizeMode> mode = readMode(imp);
  if (!mode)
    return mode.takeError();
  if (*mode == ResizeMode::Cubic)
    return imp.fail("cubic mode needs Resize opset 11 or later");
  SmallVector<double> scales;
  if (imp.node().op_type() == "Upsample" && imp.opset() < 9) {
    if (const onnx::AttributeProto *a = imp.attr("scales"))
      scales.assign(a->floats().begin(), a->floats().end());
  } else {
    llvm::Expected<std::optional<SmallVector<double>>> given =
        readOptionalFloats(imp, 1, "the scales input");
    if (!given)
      return given.takeError();
    if (*given)
      scales = **given;
  }
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  if (scales.size() != shape.size())
    return imp.fail("scales must have one entry per input dim (" +
                    llvm::Twine(shape.size()) + ")");
  ResizeAttrs attrs;
  attrs.mode = *mode;
  attrs.coordinateMode = "asymmetric";
  attrs.nearestMode = "legacy";
  SmallVector<double> roi(shape.size(), 0.0);
  roi.append(shape.size(), 1.0);
  return emitResize(imp, *x, attrs, sizesFromScales(shape, scales), scales, roi);
}

/// Resize opset 11 and later: roi, scales and sizes inputs (constants),
/// opset 18's axes and keep_aspect_ratio_policy.
static llvm::Error convertResize(NodeImporter &imp) {
  if (imp.opset() < 11)
    return convertLegacyResize(imp);
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ResizeAttrs attrs;
  llvm::Expected<ResizeMode> mode = readMode(imp);
  if (!mode)
    return mode.takeError();
  attrs.mode = *mode;
  attrs.coordinateMode = imp.stringAttr("coordinate_transformation_mode").value_or("half_pixel");
  if (!llvm::is_contained({"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                           "align_corners", "asymmetric", "tf_crop_and_resize"},
                          attrs.coordinateMode))
    return imp.fail("coordinate_transformation_mode '" + attrs.coordinateMode +
                    "' is not supported");
  attrs.nearestMode = imp.stringAttr("nearest_mode").value_or("round_prefer_floor");
  if (!llvm::is_contained({"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"},
                          attrs.nearestMode))
    return imp.fail("nearest_mode '" + attrs.nearestMode + "' is not supported");
  attrs.cubicA = imp.floatAttr("cubic_coeff_a").value_or(-0.75f);
  attrs.excludeOutside = imp.intAttr("exclude_outside").value_or(0) != 0;
  attrs.extrapolationValue = imp.floatAttr("extrapolation_value").value_or(0.0f);
  attrs.antialias = imp.intAttr("antialias").value_or(0) != 0;
  if (attrs.antialias && attrs.mode == ResizeMode::Nearest)
    return imp.fail("antialias is not defined for nearest mode");

  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  int64_t rank = shape.size();
  // The resized axes (opset 18), all by default.
  SmallVector<int64_t> axes;
  if (std::optional<SmallVector<int64_t>> given = imp.intsAttr("axes");
      given && !given->empty()) {
    for (int64_t a : *given) {
      if (a < -rank || a >= rank)
        return imp.fail("axis " + llvm::Twine(a) + " is out of range");
      axes.push_back(a < 0 ? a + rank : a);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  size_t numAxes = axes.size();

  llvm::Expected<std::optional<SmallVector<double>>> scalesIn =
      readOptionalFloats(imp, 2, "the scales input");
  if (!scalesIn)
    return scalesIn.takeError();
  std::optional<SmallVector<int64_t>> sizesIn;
  if (imp.hasInput(3)) {
    llvm::Expected<ElementsAttr> attr = shapingConstant(imp, 3, "the sizes input");
    if (!attr)
      return attr.takeError();
    if (attr->getNumElements() != 0)
      sizesIn = readIntElements(*attr, /*isSigned=*/true);
    if (attr->getNumElements() != 0 && !sizesIn)
      return imp.fail("the sizes input must be an int64 tensor");
  }
  if (scalesIn->has_value() == sizesIn.has_value())
    return imp.fail("exactly one of scales and sizes must be given");
  if ((*scalesIn ? (*scalesIn)->size() : sizesIn->size()) != numAxes)
    return imp.fail(llvm::Twine(*scalesIn ? "scales" : "sizes") + " must have " +
                    llvm::Twine(numAxes) + " entries (one per resized axis)");

  SmallVector<double> scales(rank, 1.0);
  SmallVector<int64_t> outSize(shape);
  if (*scalesIn) {
    for (size_t i = 0; i < numAxes; ++i)
      scales[axes[i]] = (**scalesIn)[i];
    outSize = sizesFromScales(shape, scales);
  } else {
    for (size_t i = 0; i < numAxes; ++i) {
      outSize[axes[i]] = (*sizesIn)[i];
      scales[axes[i]] = static_cast<double>((*sizesIn)[i]) / shape[axes[i]];
    }
    std::string policy = imp.stringAttr("keep_aspect_ratio_policy").value_or("stretch");
    if (policy == "not_larger" || policy == "not_smaller") {
      double common = scales[axes[0]];
      for (int64_t a : axes)
        common = policy == "not_larger" ? std::min(common, scales[a])
                                        : std::max(common, scales[a]);
      for (int64_t a : axes) {
        scales[a] = common;
        outSize[a] = static_cast<int64_t>(common * shape[a] + 0.5);
      }
    } else if (policy != "stretch") {
      return imp.fail("keep_aspect_ratio_policy '" + policy + "' is not supported");
    }
  }

  SmallVector<double> roi(rank, 0.0);
  roi.append(rank, 1.0);
  if (attrs.coordinateMode == "tf_crop_and_resize") {
    llvm::Expected<std::optional<SmallVector<double>>> roiIn =
        readOptionalFloats(imp, 1, "the roi input");
    if (!roiIn)
      return roiIn.takeError();
    if (!*roiIn || (*roiIn)->size() != 2 * numAxes)
      return imp.fail("tf_crop_and_resize needs a roi with " + llvm::Twine(2 * numAxes) +
                      " entries");
    for (size_t i = 0; i < numAxes; ++i) {
      roi[axes[i]] = (**roiIn)[i];
      roi[rank + axes[i]] = (**roiIn)[numAxes + i];
    }
  }
  return emitResize(imp, *x, attrs, outSize, scales, roi);
}

void mlir::nibble::onnx_import::registerResizeConverters(ConverterRegistry &registry) {
  registry["::Resize"] = convertResize;
  registry["::Upsample"] = convertLegacyResize;
}
