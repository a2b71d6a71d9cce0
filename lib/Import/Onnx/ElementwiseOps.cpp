//===- ElementwiseOps.cpp - ONNX elementwise ops and Softmax --------------===//
//
// Binary arithmetic with numpy broadcasting (Add, Sub, Mul, Div), unary
// activations (Relu, Sigmoid, Tanh, Erf) and Softmax with each opset's axis
// semantics.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

/// Registers a binary op whose float and integer forms are `FloatOp` and
/// `IntOp` (signed and unsigned integer division differ).
template <typename FloatOp, typename SignedIntOp, typename UnsignedIntOp = SignedIntOp>
static void addBinary(ConverterRegistry &registry, llvm::StringRef opType) {
  registry["::" + opType.str()] = [](NodeImporter &imp) -> llvm::Error {
    llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
    if (!operands)
      return operands.takeError();
    OnnxValue *lhs = &(*operands)[0], *rhs = &(*operands)[1];
    if (lhs->onnxType != rhs->onnxType)
      return imp.fail("operands have different types (" +
                      onnxTypeName(lhs->onnxType) + " and " +
                      onnxTypeName(rhs->onnxType) + ")");
    Type elementType = tensorTypeOf(lhs->value).getElementType();
    bool isUnsigned = isUnsignedOnnxType(lhs->onnxType);
    if (!isa<FloatType>(elementType) && !isa<IntegerType>(elementType))
      return imp.fail("unsupported element type " + onnxTypeName(lhs->onnxType));
    Value result = buildElementwise(
        imp.builder(), imp.loc(), {lhs->value, rhs->value}, elementType,
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          if (isa<FloatType>(elementType))
            return FloatOp::create(b, loc, args[0], args[1]);
          if (isUnsigned)
            return UnsignedIntOp::create(b, loc, args[0], args[1]);
          return SignedIntOp::create(b, loc, args[0], args[1]);
        });
    if (!result)
      return imp.fail("operand shapes do not broadcast");
    imp.setOutput(0, result, lhs->onnxType);
    return llvm::Error::success();
  };
}

/// Registers a float unary op computed by `body(x)`.
static void addUnaryFloat(ConverterRegistry &registry, llvm::StringRef opType,
                          std::function<Value(OpBuilder &, Location, Value)> body) {
  registry["::" + opType.str()] = [body](NodeImporter &imp) -> llvm::Error {
    llvm::Expected<OnnxValue> x = imp.input(0);
    if (!x)
      return x.takeError();
    Type elementType = tensorTypeOf(x->value).getElementType();
    if (!isa<FloatType>(elementType))
      return imp.fail("expects a float input, got " + onnxTypeName(x->onnxType));
    Value result = buildElementwise(
        imp.builder(), imp.loc(), {x->value}, elementType,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          return body(b, loc, args[0]);
        });
    imp.setOutput(0, result, x->onnxType);
    return llvm::Error::success();
  };
}

static Value floatConstantLike(OpBuilder &b, Location loc, Value like, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(like.getType(), v));
}

/// Softmax along `axis` of `x`: exp(x - max) / sum(exp(x - max)).
static Value buildSoftmax(OpBuilder &b, Location loc, Value x, int64_t axis) {
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  Value max = buildReduction(
      b, loc, x, axis,
      b.getFloatAttr(elementType, -std::numeric_limits<double>::infinity()),
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return arith::MaximumFOp::create(nb, nl, args[0], args[1]);
      });
  // Re-insert the reduced axis as size 1 so it broadcasts back.
  SmallVector<int64_t> keptShape(type.getShape());
  keptShape[axis] = 1;
  Value maxKept = buildReshape(b, loc, max, keptShape);
  Value exps = buildElementwise(
      b, loc, {x, maxKept}, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return math::ExpOp::create(nb, nl,
                                   arith::SubFOp::create(nb, nl, args[0], args[1]));
      });
  Value sum = buildReduction(b, loc, exps, axis, b.getFloatAttr(elementType, 0.0),
                             [](OpBuilder &nb, Location nl, ValueRange args) {
                               return arith::AddFOp::create(nb, nl, args[0], args[1]);
                             });
  Value sumKept = buildReshape(b, loc, sum, keptShape);
  return buildElementwise(b, loc, {exps, sumKept}, elementType,
                          [](OpBuilder &nb, Location nl, ValueRange args) {
                            return arith::DivFOp::create(nb, nl, args[0], args[1]);
                          });
}

static llvm::Error convertSoftmax(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  if (!isa<FloatType>(type.getElementType()))
    return imp.fail("expects a float input");
  int64_t rank = type.getRank();
  // Opset 13 changed the default axis from 1 to -1 and the meaning from
  // "flatten to 2-D at axis" to "along axis".
  bool coerceTo2D = imp.opset() < 13;
  int64_t axis = imp.intAttr("axis").value_or(coerceTo2D ? 1 : -1);
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    return imp.fail("axis " + llvm::Twine(axis) + " is out of range for rank " +
                    llvm::Twine(rank));
  if (axis < 0)
    axis += rank;
  OpBuilder &b = imp.builder();
  Value result;
  if (coerceTo2D) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i)
      (i < axis ? outer : inner) *= type.getDimSize(i);
    Value flat = buildReshape(b, imp.loc(), x->value, {outer, inner});
    result = buildReshape(b, imp.loc(), buildSoftmax(b, imp.loc(), flat, 1),
                          type.getShape());
  } else {
    result = buildSoftmax(b, imp.loc(), x->value, axis);
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerElementwiseConverters(
    ConverterRegistry &registry) {
  addBinary<arith::AddFOp, arith::AddIOp>(registry, "Add");
  addBinary<arith::SubFOp, arith::SubIOp>(registry, "Sub");
  addBinary<arith::MulFOp, arith::MulIOp>(registry, "Mul");
  addBinary<arith::DivFOp, arith::DivSIOp, arith::DivUIOp>(registry, "Div");

  addUnaryFloat(registry, "Relu", [](OpBuilder &b, Location loc, Value x) -> Value {
    // max(x, 0) that keeps NaN, as ONNX Runtime does.
    Value zero = floatConstantLike(b, loc, x, 0.0);
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x, zero);
    return arith::SelectOp::create(b, loc, positive, x, zero);
  });
  addUnaryFloat(registry, "Sigmoid", [](OpBuilder &b, Location loc, Value x) -> Value {
    Value one = floatConstantLike(b, loc, x, 1.0);
    Value expNeg = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, expNeg));
  });
  addUnaryFloat(registry, "Tanh", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::TanhOp::create(b, loc, x);
  });
  addUnaryFloat(registry, "Erf", [](OpBuilder &b, Location loc, Value x) -> Value {
    return math::ErfOp::create(b, loc, x);
  });
  registry["::Softmax"] = convertSoftmax;
}
