//===- ReductionOps.cpp - ONNX Reduce* ops, ArgMax, ArgMin ----------------===//
//
// Every Reduce* op is one linalg.generic over the input whose reduced dims
// are "reduction" iterators: it folds `combine(acc, x)` from an initial
// value, then a `finish` step (mean, sqrt, log) runs on the result. The
// axes come from the attribute (older opsets) or a constant input
// (ReduceSum from opset 13, the others from opset 18); noop_with_empty_axes
// reduces over no dims at all, which still applies the per-element part
// (ReduceSumSquare squares). ReduceLogSumExp subtracts the max before exp.
// ArgMax/ArgMin carry (best value, index) pairs through one generic.
// (LogSoftmax shares Softmax's code in ElementwiseOps.cpp.)
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

namespace {
/// How one Reduce* op folds its input.
struct Reducer {
  /// Element classes accepted.
  unsigned accepted;
  /// The start value of the fold.
  std::function<TypedAttr(Builder &, const ElementContext &)> init;
  /// acc' = combine(acc, x).
  std::function<Value(OpBuilder &, Location, Value, Value, const ElementContext &)> combine;
  /// The final value from the folded one and the number of reduced
  /// elements; null keeps the folded value.
  std::function<Value(OpBuilder &, Location, Value, int64_t, const ElementContext &)> finish;
};
} // namespace

/// The lowest (`lowest`) or highest value of `type`, read as unsigned when
/// `isUnsigned`: -inf/+inf for floats.
static TypedAttr extremeValue(Builder &b, Type type, bool isUnsigned, bool lowest) {
  if (isa<FloatType>(type))
    return b.getFloatAttr(type, lowest ? -std::numeric_limits<double>::infinity()
                                       : std::numeric_limits<double>::infinity());
  unsigned width = type.getIntOrFloatBitWidth();
  if (isUnsigned)
    return b.getIntegerAttr(type, lowest ? APInt::getMinValue(width)
                                         : APInt::getMaxValue(width));
  return b.getIntegerAttr(type, lowest ? APInt::getSignedMinValue(width)
                                       : APInt::getSignedMaxValue(width));
}

/// The reduced axes of a Reduce* node over a rank-`rank` input, sorted and
/// unique. Empty axes mean all axes, or none under noop_with_empty_axes
/// (from the opset where axes became an input).
static llvm::Expected<SmallVector<int64_t>>
readReduceAxes(NodeImporter &imp, int64_t rank, int64_t axesInputOpset) {
  SmallVector<int64_t> axes;
  bool axesAreInput = imp.opset() >= axesInputOpset;
  if (axesAreInput && imp.hasInput(1)) {
    llvm::Expected<ElementsAttr> attr = imp.constantInput(1, "the axes input");
    if (!attr)
      return attr.takeError();
    std::optional<SmallVector<int64_t>> values = readIntElements(*attr, /*isSigned=*/true);
    if (!values)
      return imp.fail("the axes input must be an int64 constant");
    axes = *values;
  } else if (!axesAreInput) {
    axes = imp.intsAttr("axes").value_or(SmallVector<int64_t>{});
  }
  if (axes.empty()) {
    if (axesAreInput && imp.intAttr("noop_with_empty_axes").value_or(0) != 0)
      return axes;
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
    return axes;
  }
  for (int64_t &axis : axes) {
    if (axis < -rank || axis >= rank)
      return imp.fail("axis " + llvm::Twine(axis) + " is out of range for rank " +
                      llvm::Twine(rank));
    if (axis < 0)
      axis += rank;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

/// The output shape of reducing `shape` over `axes`: the reduced dims
/// become 1 (`keepDims`) or disappear.
static SmallVector<int64_t> reducedShape(ArrayRef<int64_t> shape,
                                         ArrayRef<int64_t> axes, bool keepDims) {
  SmallVector<int64_t> result;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(i)))
      result.push_back(d);
    else if (keepDims)
      result.push_back(1);
  }
  return result;
}

/// A linalg.generic folding `input` over `axes` (dropped from the result)
/// into one accumulator per output element with `combine(acc, x)`.
static Value buildFold(OpBuilder &b, Location loc, Value input,
                       ArrayRef<int64_t> axes, TypedAttr init,
                       const ScalarBody &combine) {
  RankedTensorType type = tensorTypeOf(input);
  int64_t rank = type.getRank();
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = llvm::is_contained(axes, i);
    iterators.push_back(reduced ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
    if (!reduced)
      outExprs.push_back(b.getAffineDimExpr(i));
  }
  Value initValue = arith::ConstantOp::create(b, loc, init);
  Value empty = tensor::EmptyOp::create(b, loc, reducedShape(type.getShape(), axes, false),
                                        init.getType());
  Value filled = linalg::FillOp::create(b, loc, initValue, empty).getResult(0);
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank),
                              AffineMap::get(rank, 0, outExprs, b.getContext())};
  auto generic = linalg::GenericOp::create(
      b, loc, filled.getType(), ValueRange{input}, ValueRange{filled}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, combine(nb, nl, {args[1], args[0]}));
      });
  return generic.getResult(0);
}

/// Converts a Reduce* node folded by `reducer`.
static llvm::Error convertReduce(NodeImporter &imp, const Reducer &reducer,
                                 int64_t axesInputOpset) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  if (!(elementClassOf(elementType) & reducer.accepted))
    return imp.fail("unsupported element type " + onnxTypeName(x->onnxType));
  llvm::Expected<SmallVector<int64_t>> axes =
      readReduceAxes(imp, type.getRank(), axesInputOpset);
  if (!axes)
    return axes.takeError();
  bool keepDims = imp.intAttr("keepdims").value_or(1) != 0;
  ElementContext ctx{elementType, isUnsignedOnnxType(x->onnxType), imp};
  OpBuilder &b = imp.builder();
  Value folded = buildFold(b, imp.loc(), x->value, *axes, reducer.init(b, ctx),
                           [&](OpBuilder &nb, Location nl, ValueRange args) {
                             return reducer.combine(nb, nl, args[0], args[1], ctx);
                           });
  Value result = folded;
  if (reducer.finish) {
    int64_t count = 1;
    for (int64_t axis : *axes)
      count *= type.getDimSize(axis);
    result = buildElementwise(b, imp.loc(), {folded}, elementType,
                              [&](OpBuilder &nb, Location nl, ValueRange args) {
                                return reducer.finish(nb, nl, args[0], count, ctx);
                              });
  }
  result = buildReshape(b, imp.loc(), result,
                        reducedShape(type.getShape(), *axes, keepDims));
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

/// ReduceLogSumExp: max + log(sum(exp(x - max))), which does not overflow.
/// A max of -inf (empty or all -inf) shifts by 0 instead.
static llvm::Error convertReduceLogSumExp(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  llvm::Expected<SmallVector<int64_t>> axes = readReduceAxes(imp, type.getRank(), 18);
  if (!axes)
    return axes.takeError();
  bool keepDims = imp.intAttr("keepdims").value_or(1) != 0;
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  SmallVector<int64_t> keptShape = reducedShape(type.getShape(), *axes, true);
  Value max = buildFold(b, loc, x->value, *axes, extremeValue(b, elementType, false, true),
                        [](OpBuilder &nb, Location nl, ValueRange args) {
                          return arith::MaximumFOp::create(nb, nl, args[0], args[1]);
                        });
  Value shift = buildElementwise(
      b, loc, {buildReshape(b, loc, max, keptShape)}, elementType,
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value negInf = arith::ConstantOp::create(nb, nl, extremeValue(nb, elementType, false, true));
        Value zero = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 0.0));
        Value isNegInf = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, args[0], negInf);
        return arith::SelectOp::create(nb, nl, isNegInf, zero, args[0]);
      });
  Value exps = buildElementwise(
      b, loc, {x->value, shift}, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return math::ExpOp::create(nb, nl, arith::SubFOp::create(nb, nl, args[0], args[1]));
      });
  Value sum = buildFold(b, loc, exps, *axes, b.getFloatAttr(elementType, 0.0),
                        [](OpBuilder &nb, Location nl, ValueRange args) {
                          return arith::AddFOp::create(nb, nl, args[0], args[1]);
                        });
  Value result = buildElementwise(
      b, loc, {buildReshape(b, loc, sum, keptShape), shift}, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return arith::AddFOp::create(nb, nl, math::LogOp::create(nb, nl, args[0]), args[1]);
      });
  result = buildReshape(b, loc, result, reducedShape(type.getShape(), *axes, keepDims));
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

/// Whether `a` beats `b`: is greater (`max`) or smaller, or with `orEqual`
/// also equal; integers compare with their ONNX signedness.
static Value compareBeats(OpBuilder &b, Location loc, Value a, Value bv, bool max,
                          bool orEqual, bool isUnsigned) {
  if (isa<FloatType>(a.getType())) {
    using P = arith::CmpFPredicate;
    P predicate = max ? (orEqual ? P::OGE : P::OGT) : (orEqual ? P::OLE : P::OLT);
    return arith::CmpFOp::create(b, loc, predicate, a, bv);
  }
  using P = arith::CmpIPredicate;
  P predicate = isUnsigned ? (max ? (orEqual ? P::uge : P::ugt) : (orEqual ? P::ule : P::ult))
                           : (max ? (orEqual ? P::sge : P::sgt) : (orEqual ? P::sle : P::slt));
  return arith::CmpIOp::create(b, loc, predicate, a, bv);
}

/// The int64 index of the largest (`max`) or smallest element of `x` along
/// `axis` (dropped from the shape): the first, or with `lastIndex` the last.
static Value buildArgExtreme(OpBuilder &b, Location loc, Value x, int64_t axis, bool max,
                             bool lastIndex, bool isUnsigned) {
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  int64_t rank = type.getRank();
  SmallVector<int64_t> axes{axis};
  SmallVector<int64_t> outShape = reducedShape(type.getShape(), axes, false);
  TypedAttr init = extremeValue(b, elementType, isUnsigned, /*lowest=*/max);
  Value bestInit = linalg::FillOp::create(
                       b, loc, arith::ConstantOp::create(b, loc, init).getResult(),
                       tensor::EmptyOp::create(b, loc, outShape, elementType).getResult())
                       .getResult(0);
  Value indexInit = buildZeroFilled(b, loc, outShape, b.getI64Type());
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t i = 0; i < rank; ++i) {
    iterators.push_back(i == axis ? utils::IteratorType::reduction
                                  : utils::IteratorType::parallel);
    if (i != axis)
      outExprs.push_back(b.getAffineDimExpr(i));
  }
  AffineMap outMap = AffineMap::get(rank, 0, outExprs, b.getContext());
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{bestInit.getType(), indexInit.getType()}, ValueRange{x},
      ValueRange{bestInit, indexInit},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank), outMap, outMap}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value value = args[0], best = args[1], bestIndex = args[2];
        // Strictly better keeps the first index; better-or-equal the last.
        Value better = compareBeats(nb, nl, value, best, max, lastIndex, isUnsigned);
        Value index = arith::IndexCastOp::create(nb, nl, nb.getI64Type(),
                                                 linalg::IndexOp::create(nb, nl, axis));
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::SelectOp::create(nb, nl, better, value, best),
                       arith::SelectOp::create(nb, nl, better, index, bestIndex)});
      });
  return generic.getResult(1);
}

/// ArgMax (`max`) or ArgMin along `axis` as int64, the first index of the
/// extreme value, or the last with select_last_index.
static llvm::Error convertArgExtreme(NodeImporter &imp, bool max) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  if (!(elementClassOf(type.getElementType()) & kNumericElements))
    return imp.fail("unsupported element type " + onnxTypeName(x->onnxType));
  llvm::Expected<int64_t> axis =
      resolveAxis(imp, imp.intAttr("axis").value_or(0), type.getRank());
  if (!axis)
    return axis.takeError();
  bool keepDims = imp.intAttr("keepdims").value_or(1) != 0;
  bool lastIndex = imp.intAttr("select_last_index").value_or(0) != 0;
  OpBuilder &b = imp.builder();
  Value index = buildArgExtreme(b, imp.loc(), x->value, *axis, max, lastIndex,
                                isUnsignedOnnxType(x->onnxType));
  Value result = buildReshape(b, imp.loc(), index,
                              reducedShape(type.getShape(), {*axis}, keepDims));
  imp.setOutput(0, result, onnx::TensorProto::INT64);
  return llvm::Error::success();
}

/// Hardmax: 1 at the first largest element along the axis, 0 elsewhere.
/// Before opset 13 the input is seen as 2-D [before axis, from axis on].
static llvm::Error convertHardmax(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  bool coerceTo2D = imp.opset() < 13;
  llvm::Expected<int64_t> axis = resolveAxis(
      imp, imp.intAttr("axis").value_or(coerceTo2D ? 1 : -1), type.getRank());
  if (!axis)
    return axis.takeError();
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value input = x->value;
  int64_t reduceAxis = *axis;
  if (coerceTo2D) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < type.getRank(); ++i)
      (i < *axis ? outer : inner) *= type.getDimSize(i);
    input = buildReshape(b, loc, input, {outer, inner});
    reduceAxis = 1;
  }
  RankedTensorType inputType = tensorTypeOf(input);
  int64_t rank = inputType.getRank();
  Value index = buildArgExtreme(b, loc, input, reduceAxis, /*max=*/true,
                                /*lastIndex=*/false, /*isUnsigned=*/false);
  SmallVector<AffineExpr> indexExprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != reduceAxis)
      indexExprs.push_back(b.getAffineDimExpr(i));
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, indexExprs, b.getContext()),
                                 b.getMultiDimIdentityMap(rank)};
  Value empty = tensor::EmptyOp::create(b, loc, inputType.getShape(), elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, inputType, ValueRange{index}, ValueRange{empty}, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value here = arith::IndexCastOp::create(nb, nl, nb.getI64Type(),
                                                linalg::IndexOp::create(nb, nl, reduceAxis));
        Value isMax = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, here, args[0]);
        Value one = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 1.0));
        Value zero = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 0.0));
        linalg::YieldOp::create(nb, nl,
                                arith::SelectOp::create(nb, nl, isMax, one, zero).getResult());
      });
  imp.setOutput(0, buildReshape(b, loc, generic.getResult(0), type.getShape()), x->onnxType);
  return llvm::Error::success();
}

/// acc + x for floats or integers.
static Value addValues(OpBuilder &b, Location loc, Value acc, Value x,
                       const ElementContext &ctx) {
  return ctx.isFloat() ? Value(arith::AddFOp::create(b, loc, acc, x))
                       : Value(arith::AddIOp::create(b, loc, acc, x));
}

/// x * x for floats or integers.
static Value square(OpBuilder &b, Location loc, Value x, const ElementContext &ctx) {
  return ctx.isFloat() ? Value(arith::MulFOp::create(b, loc, x, x))
                       : Value(arith::MulIOp::create(b, loc, x, x));
}

/// The start value of the additive folds.
static TypedAttr zeroOf(Builder &b, const ElementContext &ctx) {
  return b.getZeroAttr(ctx.type);
}

/// Registers a Reduce* op whose axes become an input at `axesInputOpset`.
static void addReducer(ConverterRegistry &registry, llvm::StringRef opType,
                       int64_t axesInputOpset, Reducer reducer) {
  registry["::" + opType.str()] = [=](NodeImporter &imp) {
    return convertReduce(imp, reducer, axesInputOpset);
  };
}

/// CumSum along a constant axis: out[.., i, ..] sums x[.., j, ..] over
/// j <= i (j < i when exclusive; j >= i / j > i when reverse), written as a
/// reduction over j with a mask, which is quadratic in the axis length but
/// exact in the ONNX summation order for integers.
static llvm::Error convertCumSum(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  if (!(elementClassOf(elementType) & kNumericElements))
    return imp.fail("expects a numeric input");
  llvm::Expected<ElementsAttr> axisAttr = imp.constantInput(1, "axis");
  if (!axisAttr)
    return axisAttr.takeError();
  std::optional<SmallVector<int64_t>> axisValues = readIntElements(*axisAttr, true);
  int64_t rank = type.getRank();
  if (!axisValues || axisValues->size() != 1)
    return imp.fail("axis must be a single integer");
  llvm::Expected<int64_t> resolved = resolveAxis(imp, (*axisValues)[0], rank);
  if (!resolved)
    return resolved.takeError();
  int64_t axis = *resolved;
  bool exclusive = imp.intAttr("exclusive").value_or(0) != 0;
  bool reverse = imp.intAttr("reverse").value_or(0) != 0;

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  MLIRContext *ctx = b.getContext();
  // Loops: the input's dims, then j (the summed position) last.
  SmallVector<AffineExpr> inputExprs, outputExprs;
  for (int64_t d = 0; d < rank; ++d) {
    outputExprs.push_back(getAffineDimExpr(d, ctx));
    inputExprs.push_back(getAffineDimExpr(d == axis ? rank : d, ctx));
  }
  SmallVector<AffineMap> maps = {AffineMap::get(rank + 1, 0, inputExprs, ctx),
                                 AffineMap::get(rank + 1, 0, outputExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  Value init = buildZeroFilled(b, loc, type.getShape(), elementType);
  auto predicate = reverse ? (exclusive ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::sge)
                           : (exclusive ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sle);
  bool isFloat = isa<FloatType>(elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{x->value}, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value i = linalg::IndexOp::create(nb, nl, axis);
        Value j = linalg::IndexOp::create(nb, nl, rank);
        Value included = arith::CmpIOp::create(nb, nl, predicate, j, i);
        Value sum = isFloat ? arith::AddFOp::create(nb, nl, args[1], args[0]).getResult()
                            : arith::AddIOp::create(nb, nl, args[1], args[0]).getResult();
        linalg::YieldOp::create(nb, nl,
                                arith::SelectOp::create(nb, nl, included, sum, args[1])
                                    .getResult());
      });
  imp.setOutput(0, generic.getResult(0), x->onnxType);
  return llvm::Error::success();
}

/// TopK with a constant K: every element's rank along the axis is counted
/// (elements that beat it, plus equal ones at lower indices, so ties keep
/// index order as ONNX requires), then output slot r takes the element of
/// rank r. Quadratic in the axis length, with no sort.
static llvm::Error convertTopK(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  if (!(elementClassOf(elementType) & kNumericElements))
    return imp.fail("expects a numeric input");
  int64_t rank = type.getRank();
  llvm::Expected<int64_t> axis = resolveAxis(imp, imp.intAttr("axis").value_or(-1), rank);
  if (!axis)
    return axis.takeError();
  int64_t k = 0;
  if (imp.opset() < 10) {
    k = imp.intAttr("k").value_or(0);
  } else {
    llvm::Expected<ElementsAttr> kAttr = imp.constantInput(1, "K");
    if (!kAttr)
      return kAttr.takeError();
    std::optional<SmallVector<int64_t>> values = readIntElements(*kAttr, true);
    if (!values || values->size() != 1)
      return imp.fail("K must be a single integer");
    k = (*values)[0];
  }
  int64_t length = type.getDimSize(*axis);
  if (k < 0 || k > length)
    return imp.fail("K = " + llvm::Twine(k) + " is outside [0, " + llvm::Twine(length) + "]");
  bool largest = imp.intAttr("largest").value_or(1) != 0;
  bool isFloat = isa<FloatType>(elementType);
  bool isUnsigned = isUnsignedOnnxType(x->onnxType);

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  MLIRContext *ctx = b.getContext();
  // Loops: the input's dims, plus one over the axis (j, or i for the pick).
  SmallVector<AffineExpr> here, other;
  for (int64_t d = 0; d < rank; ++d) {
    here.push_back(getAffineDimExpr(d, ctx));
    other.push_back(getAffineDimExpr(d == *axis ? rank : d, ctx));
  }
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto equal = [&](OpBuilder &nb, Location nl, Value a, Value bv) -> Value {
    if (isFloat)
      return arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, a, bv);
    return arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, a, bv);
  };
  // ranks[..., i, ...] = #{j: x_j beats x_i} + #{j < i: x_j == x_i}.
  Value rankInit = buildZeroFilled(b, loc, type.getShape(), b.getI64Type());
  auto ranks = linalg::GenericOp::create(
      b, loc, rankInit.getType(), ValueRange{x->value, x->value}, ValueRange{rankInit},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, here, ctx),
                             AffineMap::get(rank + 1, 0, other, ctx),
                             AffineMap::get(rank + 1, 0, here, ctx)},
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value i = linalg::IndexOp::create(nb, nl, *axis);
        Value j = linalg::IndexOp::create(nb, nl, rank);
        Value earlier = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, j, i);
        Value before = arith::OrIOp::create(
            nb, nl, compareBeats(nb, nl, args[1], args[0], largest, /*orEqual=*/false, isUnsigned),
            arith::AndIOp::create(nb, nl, earlier, equal(nb, nl, args[1], args[0])));
        Value one = arith::ExtUIOp::create(nb, nl, nb.getI64Type(), before);
        linalg::YieldOp::create(nb, nl, arith::AddIOp::create(nb, nl, args[2], one).getResult());
      });
  // Slot r of the output takes the element whose rank is r.
  SmallVector<int64_t> outShape(type.getShape());
  outShape[*axis] = k;
  Value valueInit = tensor::EmptyOp::create(b, loc, outShape, elementType);
  Value indexInit = buildZeroFilled(b, loc, outShape, b.getI64Type());
  auto pick = linalg::GenericOp::create(
      b, loc, TypeRange{valueInit.getType(), indexInit.getType()},
      ValueRange{x->value, ranks.getResult(0)}, ValueRange{valueInit, indexInit},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, other, ctx),
                             AffineMap::get(rank + 1, 0, other, ctx),
                             AffineMap::get(rank + 1, 0, here, ctx),
                             AffineMap::get(rank + 1, 0, here, ctx)},
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value slot = arith::IndexCastOp::create(nb, nl, nb.getI64Type(),
                                                linalg::IndexOp::create(nb, nl, *axis));
        Value i = arith::IndexCastOp::create(nb, nl, nb.getI64Type(),
                                             linalg::IndexOp::create(nb, nl, rank));
        Value chosen = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, args[1], slot);
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::SelectOp::create(nb, nl, chosen, args[0], args[2]),
                       arith::SelectOp::create(nb, nl, chosen, i, args[3])});
      });
  imp.setOutput(0, pick.getResult(0), x->onnxType);
  imp.setOutput(1, pick.getResult(1), onnx::TensorProto::INT64);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerReductionConverters(ConverterRegistry &registry) {
  registry["::TopK"] = convertTopK;
  registry["::CumSum"] = convertCumSum;
  registry["::Hardmax"] = convertHardmax;
  // The folds: sum, sum of squares, and max/min with the operands' signedness.
  auto sum = [](OpBuilder &b, Location loc, Value acc, Value x, const ElementContext &ctx) {
    return addValues(b, loc, acc, x, ctx);
  };
  auto sumSquares = [](OpBuilder &b, Location loc, Value acc, Value x,
                       const ElementContext &ctx) {
    return addValues(b, loc, acc, square(b, loc, x, ctx), ctx);
  };
  auto extreme = [](bool max) {
    return [max](OpBuilder &b, Location loc, Value acc, Value x,
                 const ElementContext &ctx) -> Value {
      if (ctx.isFloat())
        return max ? Value(arith::MaximumFOp::create(b, loc, acc, x))
                   : Value(arith::MinimumFOp::create(b, loc, acc, x));
      if (ctx.isUnsigned)
        return max ? Value(arith::MaxUIOp::create(b, loc, acc, x))
                   : Value(arith::MinUIOp::create(b, loc, acc, x));
      return max ? Value(arith::MaxSIOp::create(b, loc, acc, x))
                 : Value(arith::MinSIOp::create(b, loc, acc, x));
    };
  };
  auto extremeInit = [](bool max) {
    return [max](Builder &b, const ElementContext &ctx) {
      return extremeValue(b, ctx.type, ctx.isUnsigned, /*lowest=*/max);
    };
  };

  addReducer(registry, "ReduceMax", 18, {kAnyElements, extremeInit(true), extreme(true), nullptr});
  addReducer(registry, "ReduceMin", 18, {kAnyElements, extremeInit(false), extreme(false), nullptr});
  addReducer(registry, "ReduceSum", 13, {kNumericElements, zeroOf, sum, nullptr});
  addReducer(registry, "ReduceSumSquare", 18, {kNumericElements, zeroOf, sumSquares, nullptr});
  addReducer(registry, "ReduceMean", 18,
             {kNumericElements, zeroOf, sum,
              [](OpBuilder &b, Location loc, Value total, int64_t count,
                 const ElementContext &ctx) -> Value {
                Value n = ctx.constant(b, loc, count);
                if (ctx.isFloat())
                  return arith::DivFOp::create(b, loc, total, n);
                return ctx.isUnsigned ? Value(arith::DivUIOp::create(b, loc, total, n))
                                      : Value(arith::DivSIOp::create(b, loc, total, n));
              }});
  addReducer(registry, "ReduceProd", 18,
             {kNumericElements,
              [](Builder &b, const ElementContext &ctx) -> TypedAttr {
                return ctx.isFloat() ? TypedAttr(b.getFloatAttr(ctx.type, 1.0))
                                     : TypedAttr(b.getIntegerAttr(ctx.type, 1));
              },
              [](OpBuilder &b, Location loc, Value acc, Value x,
                 const ElementContext &ctx) -> Value {
                return ctx.isFloat() ? Value(arith::MulFOp::create(b, loc, acc, x))
                                     : Value(arith::MulIOp::create(b, loc, acc, x));
              },
              nullptr});
  addReducer(registry, "ReduceL1", 18,
             {kNumericElements, zeroOf,
              [](OpBuilder &b, Location loc, Value acc, Value x,
                 const ElementContext &ctx) -> Value {
                Value magnitude = ctx.isFloat()      ? Value(math::AbsFOp::create(b, loc, x))
                                  : ctx.isUnsigned ? x
                                                   : Value(math::AbsIOp::create(b, loc, x));
                return addValues(b, loc, acc, magnitude, ctx);
              },
              nullptr});
  addReducer(registry, "ReduceL2", 18,
             {kFloatElements, zeroOf, sumSquares,
              [](OpBuilder &b, Location loc, Value total, int64_t, const ElementContext &) {
                return math::SqrtOp::create(b, loc, total);
              }});
  addReducer(registry, "ReduceLogSum", 18,
             {kFloatElements, zeroOf, sum,
              [](OpBuilder &b, Location loc, Value total, int64_t, const ElementContext &) {
                return math::LogOp::create(b, loc, total);
              }});
  registry["::ReduceLogSumExp"] = convertReduceLogSumExp;
  registry["::ArgMax"] = [](NodeImporter &imp) { return convertArgExtreme(imp, true); };
  registry["::ArgMin"] = [](NodeImporter &imp) { return convertArgExtreme(imp, false); };
}
