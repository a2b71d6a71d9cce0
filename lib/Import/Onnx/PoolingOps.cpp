//===- PoolingOps.cpp - ONNX MaxPool, AveragePool, LpPool and Global* -----===//
//
// Every pooling op becomes one linalg.generic over (n, c, k..., o...) that
// reduces the kernel positions k of a padded input; a kernel-shaped empty
// tensor gives the k loops their bounds. The input is padded explicitly,
// also past its end where ceil_mode makes the last window overhang. Padding
// never counts: MaxPool pads with the lowest value, and AveragePool divides
// by the number of positions inside the input (or inside input and pads
// with count_include_pad), worked out per output position at compile time.
// The Global* forms are the same with the kernel covering the whole input.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

namespace {
enum class PoolKind { Max, Average, Lp };

/// What a pooling node computes, from its attributes.
struct PoolSpec {
  PoolKind kind;
  SlidingWindow window;
  /// AveragePool: padded positions count in the divisor.
  bool countIncludePad = false;
  /// LpPool: the norm's exponent.
  float p = 2.0f;
  /// MaxPool: also produce the Indices output (flat, row- or column-major).
  bool withIndices = false;
  bool columnMajorIndices = false;
};
} // namespace

/// The value padding and the reduction start from: the lowest value of the
/// type for max, zero for sums.
static TypedAttr poolInitValue(OpBuilder &b, Type elementType, PoolKind kind,
                               bool isUnsigned) {
  if (kind != PoolKind::Max)
    return b.getZeroAttr(elementType);
  if (auto floatType = dyn_cast<FloatType>(elementType))
    return b.getFloatAttr(floatType, APFloat::getInf(floatType.getFloatSemantics(),
                                                     /*Negative=*/true));
  unsigned width = elementType.getIntOrFloatBitWidth();
  return b.getIntegerAttr(elementType, isUnsigned ? APInt::getMinValue(width)
                                                  : APInt::getSignedMinValue(width));
}

/// acc combined with one window element x.
static Value combinePool(OpBuilder &b, Location loc, PoolKind kind,
                         bool isUnsigned, float p, Value acc, Value x) {
  Type type = x.getType();
  switch (kind) {
  case PoolKind::Max:
    if (isa<FloatType>(type))
      return arith::MaximumFOp::create(b, loc, acc, x);
    if (isUnsigned)
      return arith::MaxUIOp::create(b, loc, acc, x);
    return arith::MaxSIOp::create(b, loc, acc, x);
  case PoolKind::Average:
    return arith::AddFOp::create(b, loc, acc, x);
  case PoolKind::Lp: {
    Value magnitude = math::AbsFOp::create(b, loc, x);
    Value power =
        p == 2.0f ? arith::MulFOp::create(b, loc, magnitude, magnitude).getResult()
                  : math::PowFOp::create(
                        b, loc, magnitude,
                        arith::ConstantOp::create(b, loc, b.getFloatAttr(type, p)))
                        .getResult();
    return arith::AddFOp::create(b, loc, acc, power);
  }
  }
  llvm_unreachable("unknown pool kind");
}

/// The number of kernel positions of output position `o` along one spatial
/// dim that fall in [lo, hi) of the padded input.
static int64_t countWindowPositions(const SlidingWindow &window, size_t dim,
                                    int64_t o, int64_t lo, int64_t hi) {
  int64_t count = 0;
  for (int64_t k = 0; k < window.kernel[dim]; ++k) {
    int64_t position = o * window.strides[dim] + k * window.dilations[dim];
    count += position >= lo && position < hi;
  }
  return count;
}

/// AveragePool's sums [N, C, out...] divided by the number of counted
/// positions of each window. Windows are boxes, so the count is a product of
/// per-dim counts: one constant when they do not vary (no padding reaches a
/// window), else small constant vectors, one per spatial dim.
static Value divideByWindowCounts(OpBuilder &b, Location loc, Value sums,
                                  const PoolSpec &spec,
                                  ArrayRef<int64_t> inputSpatial) {
  const SlidingWindow &window = spec.window;
  RankedTensorType type = tensorTypeOf(sums);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  SmallVector<SmallVector<int64_t>> counts;
  bool uniform = true;
  int64_t product = 1;
  for (size_t i = 0; i < inputSpatial.size(); ++i) {
    int64_t lo = spec.countIncludePad ? 0 : window.padBegin[i];
    int64_t hi = spec.countIncludePad
                     ? inputSpatial[i] + window.padBegin[i] + window.padEnd[i]
                     : window.padBegin[i] + inputSpatial[i];
    SmallVector<int64_t> &dimCounts = counts.emplace_back();
    for (int64_t o = 0; o < window.outSize[i]; ++o)
      dimCounts.push_back(countWindowPositions(window, i, o, lo, hi));
    uniform &= llvm::all_equal(dimCounts);
    product *= dimCounts.front();
  }
  if (uniform) {
    Value divisor = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(elementType, static_cast<double>(product)));
    return buildElementwise(b, loc, {sums}, elementType,
                            [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                              return arith::DivFOp::create(nb, nl, args[0], divisor);
                            });
  }
  SmallVector<Value> inputs{sums};
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(rank)};
  for (auto [i, dimCounts] : llvm::enumerate(counts)) {
    SmallVector<APFloat> values;
    for (int64_t c : dimCounts)
      values.push_back(b.getFloatAttr(elementType, static_cast<double>(c)).getValue());
    auto countType =
        RankedTensorType::get({static_cast<int64_t>(values.size())}, elementType);
    inputs.push_back(arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(countType, values)));
    maps.push_back(AffineMap::get(rank, 0, b.getAffineDimExpr(2 + i), b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), elementType);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, inputs, ValueRange{init}, maps, iterators,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               Value count = args[1];
               for (Value c : args.drop_front(2).drop_back())
                 count = arith::MulFOp::create(nb, nl, count, c);
               linalg::YieldOp::create(
                   nb, nl, ValueRange{arith::DivFOp::create(nb, nl, args[0], count)});
             })
      .getResult(0);
}

/// LpPool's sums of |x|^p raised to 1/p.
static Value takeRoot(OpBuilder &b, Location loc, Value sums, float p) {
  Type elementType = tensorTypeOf(sums).getElementType();
  return buildElementwise(
      b, loc, {sums}, elementType, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        if (p == 2.0f)
          return math::SqrtOp::create(nb, nl, args[0]);
        Value inverse = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 1.0 / p));
        return math::PowFOp::create(nb, nl, args[0], inverse);
      });
}

/// The flat index into the input [N, C, spatial...] of the element a window
/// position reads (MaxPool's Indices), from the generic's loop indices.
static Value flatInputIndex(OpBuilder &b, Location loc, const PoolSpec &spec,
                            ArrayRef<int64_t> inputShape) {
  const SlidingWindow &window = spec.window;
  size_t rank = window.kernel.size();
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  };
  auto loopIndex = [&](unsigned dim) -> Value {
    return arith::IndexCastOp::create(b, loc, i64, linalg::IndexOp::create(b, loc, dim));
  };
  // Spatial coordinates in the unpadded input.
  SmallVector<Value> coords;
  for (size_t i = 0; i < rank; ++i) {
    Value k = loopIndex(2 + i), o = loopIndex(2 + rank + i);
    Value position = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, o, constant(window.strides[i])),
        arith::MulIOp::create(b, loc, k, constant(window.dilations[i])));
    coords.push_back(arith::SubIOp::create(b, loc, position, constant(window.padBegin[i])));
  }
  SmallVector<int64_t> order;
  for (size_t i = 0; i < rank; ++i)
    order.push_back(spec.columnMajorIndices ? rank - 1 - i : i);
  Value index = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, loopIndex(0), constant(inputShape[1])),
      loopIndex(1));
  for (size_t i : order)
    index = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, index, constant(inputShape[2 + i])),
        coords[i]);
  return index;
}

/// Pools `x` [N, C, spatial...] as `spec` says; the results are the pooled
/// values and, for MaxPool with indices, the Indices output.
static SmallVector<Value> buildPool(OpBuilder &b, Location loc, Value x,
                                    bool isUnsigned, const PoolSpec &spec) {
  MLIRContext *ctx = b.getContext();
  const SlidingWindow &window = spec.window;
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  ArrayRef<int64_t> inputSpatial = type.getShape().drop_front(2);
  size_t rank = window.kernel.size();
  TypedAttr initValue = poolInitValue(b, elementType, spec.kind, isUnsigned);

  // Pad so that every window lies inside: the end may be cropped or extended
  // past `pads` when ceil_mode makes the last window overhang.
  SmallVector<int64_t> paddedSize, unitStrides(rank, 1);
  for (size_t i = 0; i < rank; ++i)
    paddedSize.push_back((window.outSize[i] - 1) * window.strides[i] + window.span(i));
  Value padded =
      buildStridedPad(b, loc, x, window.padBegin, unitStrides, paddedSize, initValue);

  // Loops (n, c, k..., o...): outputs innermost.
  unsigned numLoops = 2 + 2 * rank;
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  SmallVector<AffineExpr> inputExprs{d(0), d(1)}, windowExprs, outExprs{d(0), d(1)};
  for (size_t i = 0; i < rank; ++i) {
    AffineExpr k = d(2 + i), o = d(2 + rank + i);
    inputExprs.push_back(o * window.strides[i] + k * window.dilations[i]);
    windowExprs.push_back(k);
    outExprs.push_back(o);
  }
  AffineMap outMap = AffineMap::get(numLoops, 0, outExprs, ctx);
  SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, inputExprs, ctx),
                              AffineMap::get(numLoops, 0, windowExprs, ctx), outMap};
  Value windowShape = tensor::EmptyOp::create(b, loc, window.kernel, elementType);

  SmallVector<int64_t> outShape(type.getShape().take_front(2));
  outShape.append(window.outSize);
  Value init = linalg::FillOp::create(
                   b, loc, arith::ConstantOp::create(b, loc, initValue).getResult(),
                   tensor::EmptyOp::create(b, loc, outShape, elementType).getResult())
                   .getResult(0);
  SmallVector<Value> inits{init};
  if (spec.withIndices) {
    inits.push_back(buildZeroFilled(b, loc, outShape, b.getI64Type()));
    maps.push_back(outMap);
  }
  SmallVector<utils::IteratorType> iterators(numLoops, utils::IteratorType::parallel);
  for (size_t i = 0; i < rank; ++i)
    iterators[2 + i] = utils::IteratorType::reduction;
  SmallVector<Type> resultTypes;
  for (Value v : inits)
    resultTypes.push_back(v.getType());
  auto generic = linalg::GenericOp::create(
      b, loc, resultTypes, ValueRange{padded, windowShape}, inits, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value element = args[0], acc = args[2];
        if (!spec.withIndices) {
          linalg::YieldOp::create(
              nb, nl, combinePool(nb, nl, spec.kind, isUnsigned, spec.p, acc, element));
          return;
        }
        // The first maximum wins, as in ONNX Runtime.
        Value greater =
            isa<FloatType>(elementType)
                ? arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGT, element, acc)
                      .getResult()
                : arith::CmpIOp::create(nb, nl,
                                        isUnsigned ? arith::CmpIPredicate::ugt
                                                   : arith::CmpIPredicate::sgt,
                                        element, acc)
                      .getResult();
        Value index = flatInputIndex(nb, nl, spec, type.getShape());
        linalg::YieldOp::create(
            nb, nl,
            ValueRange{arith::SelectOp::create(nb, nl, greater, element, acc),
                       arith::SelectOp::create(nb, nl, greater, index, args[3])});
      });
  SmallVector<Value> results(generic.getResults());
  if (spec.kind == PoolKind::Average)
    results[0] = divideByWindowCounts(b, loc, results[0], spec, inputSpatial);
  else if (spec.kind == PoolKind::Lp)
    results[0] = takeRoot(b, loc, results[0], spec.p);
  return results;
}

/// LpPool's p: an int since opset 2, a float before.
static float readLpExponent(NodeImporter &imp) {
  const onnx::AttributeProto *p = imp.attr("p");
  if (!p)
    return 2.0f;
  return p->type() == onnx::AttributeProto::FLOAT ? p->f() : static_cast<float>(p->i());
}

/// Checks the input of a pooling node: rank >= 3 and an element type the
/// op accepts (floats; MaxPool also int8 and uint8).
static llvm::Error checkPoolInput(NodeImporter &imp, const OnnxValue &x, PoolKind kind) {
  RankedTensorType type = tensorTypeOf(x.value);
  if (type.getRank() < 3)
    return imp.fail("expects an input of rank >= 3 ([N, C, spatial...]), got rank " +
                    llvm::Twine(type.getRank()));
  bool isFloat = isa<FloatType>(type.getElementType());
  bool isByte = x.onnxType == onnx::TensorProto::INT8 || x.onnxType == onnx::TensorProto::UINT8;
  if (!isFloat && !(kind == PoolKind::Max && isByte))
    return imp.fail("unsupported element type " + onnxTypeName(x.onnxType));
  return llvm::Error::success();
}

/// MaxPool, AveragePool and LpPool: a window from the attributes.
static llvm::Error convertWindowPool(NodeImporter &imp, PoolKind kind) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  if (llvm::Error e = checkPoolInput(imp, *x, kind))
    return e;
  RankedTensorType type = tensorTypeOf(x->value);
  std::optional<SmallVector<int64_t>> kernel = imp.intsAttr("kernel_shape");
  if (!kernel || static_cast<int64_t>(kernel->size()) != type.getRank() - 2)
    return imp.fail("kernel_shape must give one size per spatial dim (" +
                    llvm::Twine(type.getRank() - 2) + ")");
  llvm::Expected<SlidingWindow> window = readSlidingWindow(imp, *kernel);
  if (!window)
    return window.takeError();
  window->negativeSamePads = true;
  bool ceilMode = imp.intAttr("ceil_mode").value_or(0) != 0;
  if (llvm::Error e = resolveSlidingWindow(imp, *window,
                                           type.getShape().drop_front(2), ceilMode))
    return e;
  PoolSpec spec{kind, *window};
  spec.countIncludePad = imp.intAttr("count_include_pad").value_or(0) != 0;
  spec.p = readLpExponent(imp);
  spec.withIndices = kind == PoolKind::Max && imp.node().output_size() > 1 &&
                     !imp.node().output(1).empty();
  spec.columnMajorIndices = imp.intAttr("storage_order").value_or(0) != 0;
  SmallVector<Value> results = buildPool(imp.builder(), imp.loc(), x->value,
                                         isUnsignedOnnxType(x->onnxType), spec);
  imp.setOutput(0, results[0], x->onnxType);
  if (spec.withIndices)
    imp.setOutput(1, results[1], onnx::TensorProto::INT64);
  return llvm::Error::success();
}

/// GlobalMaxPool, GlobalAveragePool and GlobalLpPool: one window covering
/// all spatial dims, giving [N, C, 1, ...].
static llvm::Error convertGlobalPool(NodeImporter &imp, PoolKind kind) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  if (llvm::Error e = checkPoolInput(imp, *x, kind))
    return e;
  ArrayRef<int64_t> spatial = tensorTypeOf(x->value).getShape().drop_front(2);
  size_t rank = spatial.size();
  PoolSpec spec{kind, SlidingWindow{}};
  spec.window.kernel.assign(spatial.begin(), spatial.end());
  spec.window.strides.assign(rank, 1);
  spec.window.dilations.assign(rank, 1);
  spec.window.padBegin.assign(rank, 0);
  spec.window.padEnd.assign(rank, 0);
  spec.window.outSize.assign(rank, 1);
  spec.p = readLpExponent(imp);
  imp.setOutput(0,
                buildPool(imp.builder(), imp.loc(), x->value,
                          isUnsignedOnnxType(x->onnxType), spec)[0],
                x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerPoolingConverters(ConverterRegistry &registry) {
  for (auto [name, kind] : {std::pair{"MaxPool", PoolKind::Max},
                            std::pair{"AveragePool", PoolKind::Average},
                            std::pair{"LpPool", PoolKind::Lp}}) {
    registry["::" + std::string(name)] = [kind](NodeImporter &imp) {
      return convertWindowPool(imp, kind);
    };
    registry["::Global" + std::string(name)] = [kind](NodeImporter &imp) {
      return convertGlobalPool(imp, kind);
    };
  }
}
