//===- ElementwiseOps.cpp - ONNX elementwise ops, Softmax, LogSoftmax -----===//
//
// The shared elementwise converter (same-typed operands, numpy broadcasting,
// one scalar body per output element) and the ops built on it: binary
// arithmetic (Add, Sub, Mul, Div, Mod), variadic Min, Max, Sum and Mean,
// comparisons, logical ops, and Where. Also Softmax and LogSoftmax with each
// opset's axis semantics. Unary math, activations, Pow, Clip and Cast are in
// MathOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

//===----------------------------------------------------------------------===//
// The shared elementwise converter
//===----------------------------------------------------------------------===//

Value ElementContext::constant(OpBuilder &b, Location loc, double value) const {
  if (isFloat())
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
  // Wraps to the type's width, so -1 is all ones in any integer type.
  APInt bits(type.getIntOrFloatBitWidth(), static_cast<int64_t>(value),
             /*isSigned=*/true, /*implicitTrunc=*/true);
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, bits));
}

unsigned mlir::nibble::onnx_import::elementClassOf(Type type) {
  // Narrow floats and sub-byte integers are storage types (NarrowTypes.h).
  if (isa<Float16Type, BFloat16Type, Float32Type, Float64Type>(type))
    return kFloatElements;
  if (type.isInteger(1))
    return kBoolElements;
  if (isa<IntegerType>(type) && type.getIntOrFloatBitWidth() >= 8)
    return kIntElements;
  return 0;
}

llvm::Error mlir::nibble::onnx_import::convertElementwise(
    NodeImporter &imp, ArrayRef<OnnxValue> operands, unsigned accepted,
    const ElementBody &body, int32_t resultOnnxType) {
  int32_t onnxType = operands.front().onnxType;
  for (const OnnxValue &operand : operands)
    if (operand.onnxType != onnxType)
      return imp.fail("operands have different types (" + onnxTypeName(onnxType) +
                      " and " + onnxTypeName(operand.onnxType) + ")");
  Type elementType = tensorTypeOf(operands.front().value).getElementType();
  if (!(elementClassOf(elementType) & accepted))
    return imp.fail("unsupported element type " + onnxTypeName(onnxType));
  if (resultOnnxType == 0)
    resultOnnxType = onnxType;
  Type resultType = getElementType(imp.context(), resultOnnxType);
  ElementContext context{elementType, isUnsignedOnnxType(onnxType), imp};
  SmallVector<Value> values;
  for (const OnnxValue &operand : operands)
    values.push_back(operand.value);
  Value result = buildElementwise(
      imp.builder(), imp.loc(), values, resultType,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return body(b, loc, args, context);
      });
  if (!result)
    return imp.fail("operand shapes do not broadcast");
  imp.setOutput(0, result, resultOnnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::addElementwiseConverter(
    ConverterRegistry &registry, llvm::StringRef opType, int arity,
    unsigned accepted, ElementBody body, int32_t resultOnnxType) {
  registry["::" + opType.str()] = [=](NodeImporter &imp) -> llvm::Error {
    int count = arity;
    if (count == 0) { // variadic: every input, at least one
      count = imp.numInputs();
      if (count == 0)
        return imp.fail("needs at least one input");
    }
    llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(count);
    if (!operands)
      return operands.takeError();
    return convertElementwise(imp, *operands, accepted, body, resultOnnxType);
  };
}

//===----------------------------------------------------------------------===//
// Arithmetic, comparisons and logic
//===----------------------------------------------------------------------===//

/// A body applying `FloatOp` to float operands, and `SignedOp` or
/// `UnsignedOp` to integer ones, folded left over all operands.
template <typename FloatOp, typename SignedOp, typename UnsignedOp = SignedOp>
static ElementBody foldLeft() {
  return [](OpBuilder &b, Location loc, ValueRange args,
            const ElementContext &ctx) -> Value {
    Value acc = args.front();
    for (Value next : args.drop_front()) {
      if (ctx.isFloat())
        acc = FloatOp::create(b, loc, acc, next);
      else if (ctx.isUnsigned)
        acc = UnsignedOp::create(b, loc, acc, next);
      else
        acc = SignedOp::create(b, loc, acc, next);
    }
    return acc;
  };
}

/// A body comparing two operands (bool result) with the float, signed or
/// unsigned predicate.
static ElementBody compare(arith::CmpFPredicate floatPredicate,
                           arith::CmpIPredicate signedPredicate,
                           arith::CmpIPredicate unsignedPredicate) {
  return [=](OpBuilder &b, Location loc, ValueRange args,
             const ElementContext &ctx) -> Value {
    if (ctx.isFloat())
      return arith::CmpFOp::create(b, loc, floatPredicate, args[0], args[1]);
    return arith::CmpIOp::create(b, loc,
                                 ctx.isUnsigned ? unsignedPredicate : signedPredicate,
                                 args[0], args[1]);
  };
}

/// BitShift on unsigned integers; shifting by the width or more gives 0,
/// as in the ONNX reference (numpy), where LLVM's shifts would be poison.
static llvm::Error convertBitShift(NodeImporter &imp) {
  std::optional<std::string> direction = imp.stringAttr("direction");
  if (!direction || (*direction != "LEFT" && *direction != "RIGHT"))
    return imp.fail("direction must be LEFT or RIGHT");
  bool left = *direction == "LEFT";
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  return convertElementwise(
      imp, *operands, kIntElements,
      [left](OpBuilder &b, Location loc, ValueRange args, const ElementContext &ctx) -> Value {
        Value shifted = left ? arith::ShLIOp::create(b, loc, args[0], args[1]).getResult()
                             : arith::ShRUIOp::create(b, loc, args[0], args[1]).getResult();
        Value width = ctx.constant(b, loc, ctx.type.getIntOrFloatBitWidth());
        Value inRange =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, args[1], width);
        return arith::SelectOp::create(b, loc, inRange, shifted, ctx.constant(b, loc, 0));
      });
}

/// Mean: the float sum of all operands over their count.
static Value meanBody(OpBuilder &b, Location loc, ValueRange args,
                      const ElementContext &ctx) {
  Value sum = foldLeft<arith::AddFOp, arith::AddIOp>()(b, loc, args, ctx);
  return arith::DivFOp::create(b, loc, sum, ctx.constant(b, loc, args.size()));
}

/// Mod: with fmod=1 the remainder has the dividend's sign (C fmod); with
/// fmod=0 (integers only) the divisor's sign (Python %). Float inputs
/// always use fmod, as the ONNX reference does.
static llvm::Error convertMod(NodeImporter &imp) {
  int64_t fmod = imp.intAttr("fmod").value_or(0);
  if (fmod != 0 && fmod != 1)
    return imp.fail("fmod must be 0 or 1, got " + llvm::Twine(fmod));
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  return convertElementwise(
      imp, *operands, kNumericElements,
      [fmod](OpBuilder &b, Location loc, ValueRange args,
             const ElementContext &ctx) -> Value {
        Value lhs = args[0], rhs = args[1];
        if (ctx.isFloat())
          return arith::RemFOp::create(b, loc, lhs, rhs);
        if (ctx.isUnsigned)
          return arith::RemUIOp::create(b, loc, lhs, rhs);
        Value rem = arith::RemSIOp::create(b, loc, lhs, rhs);
        if (fmod == 1)
          return rem;
        // A nonzero remainder whose sign differs from the divisor's moves
        // by one divisor.
        Value zero = ctx.constant(b, loc, 0);
        Value nonzero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, rem, zero);
        Value remNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rem, zero);
        Value rhsNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rhs, zero);
        Value signsDiffer = arith::XOrIOp::create(b, loc, remNegative, rhsNegative);
        Value adjust = arith::AndIOp::create(b, loc, nonzero, signsDiffer);
        return arith::SelectOp::create(b, loc, adjust,
                                       arith::AddIOp::create(b, loc, rem, rhs), rem);
      });
}

/// Where(condition, X, Y): X where the bool condition holds, else Y, all
/// three broadcast together.
static llvm::Error convertWhere(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(3);
  if (!operands)
    return operands.takeError();
  const OnnxValue &condition = (*operands)[0], &x = (*operands)[1], &y = (*operands)[2];
  if (condition.onnxType != onnx::TensorProto::BOOL)
    return imp.fail("the condition must be bool, got " + onnxTypeName(condition.onnxType));
  if (x.onnxType != y.onnxType)
    return imp.fail("X and Y have different types (" + onnxTypeName(x.onnxType) +
                    " and " + onnxTypeName(y.onnxType) + ")");
  Value result = buildElementwise(
      imp.builder(), imp.loc(), {condition.value, x.value, y.value},
      tensorTypeOf(x.value).getElementType(),
      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
        return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
      });
  if (!result)
    return imp.fail("operand shapes do not broadcast");
  imp.setOutput(0, result, x.onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Softmax and LogSoftmax
//===----------------------------------------------------------------------===//

/// Softmax or LogSoftmax (`logarithm`) with the axis semantics of the
/// node's opset.
static llvm::Error convertSoftmax(NodeImporter &imp, bool logarithm) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
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
    result = buildReshape(b, imp.loc(),
                          buildSoftmax(b, imp.loc(), flat, 1, logarithm),
                          type.getShape());
  } else {
    result = buildSoftmax(b, imp.loc(), x->value, axis, logarithm);
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerElementwiseConverters(
    ConverterRegistry &registry) {
  using namespace arith;
  addElementwiseConverter(registry, "Add", 2, kNumericElements, foldLeft<AddFOp, AddIOp>());
  addElementwiseConverter(registry, "Sub", 2, kNumericElements, foldLeft<SubFOp, SubIOp>());
  addElementwiseConverter(registry, "Mul", 2, kNumericElements, foldLeft<MulFOp, MulIOp>());
  addElementwiseConverter(registry, "Div", 2, kNumericElements,
                          foldLeft<DivFOp, DivSIOp, DivUIOp>());
  registry["::Mod"] = convertMod;

  addElementwiseConverter(registry, "Max", 0, kNumericElements,
                          foldLeft<MaximumFOp, MaxSIOp, MaxUIOp>());
  addElementwiseConverter(registry, "Min", 0, kNumericElements,
                          foldLeft<MinimumFOp, MinSIOp, MinUIOp>());
  addElementwiseConverter(registry, "Sum", 0, kNumericElements, foldLeft<AddFOp, AddIOp>());
  addElementwiseConverter(registry, "Mean", 0, kFloatElements, meanBody);

  const int32_t kBool = onnx::TensorProto::BOOL;
  addElementwiseConverter(registry, "Equal", 2, kAnyElements,
                          compare(CmpFPredicate::OEQ, CmpIPredicate::eq, CmpIPredicate::eq),
                          kBool);
  addElementwiseConverter(registry, "Less", 2, kNumericElements,
                          compare(CmpFPredicate::OLT, CmpIPredicate::slt, CmpIPredicate::ult),
                          kBool);
  addElementwiseConverter(registry, "LessOrEqual", 2, kNumericElements,
                          compare(CmpFPredicate::OLE, CmpIPredicate::sle, CmpIPredicate::ule),
                          kBool);
  addElementwiseConverter(registry, "Greater", 2, kNumericElements,
                          compare(CmpFPredicate::OGT, CmpIPredicate::sgt, CmpIPredicate::ugt),
                          kBool);
  addElementwiseConverter(registry, "GreaterOrEqual", 2, kNumericElements,
                          compare(CmpFPredicate::OGE, CmpIPredicate::sge, CmpIPredicate::uge),
                          kBool);

  addElementwiseConverter(registry, "And", 2, kBoolElements, foldLeft<AndIOp, AndIOp>());
  addElementwiseConverter(registry, "Or", 2, kBoolElements, foldLeft<OrIOp, OrIOp>());
  addElementwiseConverter(registry, "Xor", 2, kBoolElements, foldLeft<XOrIOp, XOrIOp>());
  addElementwiseConverter(registry, "Not", 1, kBoolElements,
                          [](OpBuilder &b, Location loc, ValueRange args,
                             const ElementContext &ctx) -> Value {
                            return XOrIOp::create(b, loc, args[0], ctx.constant(b, loc, 1));
                          });
  addElementwiseConverter(registry, "BitwiseAnd", 2, kIntElements, foldLeft<AndIOp, AndIOp>());
  addElementwiseConverter(registry, "BitwiseOr", 2, kIntElements, foldLeft<OrIOp, OrIOp>());
  addElementwiseConverter(registry, "BitwiseXor", 2, kIntElements, foldLeft<XOrIOp, XOrIOp>());
  addElementwiseConverter(registry, "BitwiseNot", 1, kIntElements,
                          [](OpBuilder &b, Location loc, ValueRange args,
                             const ElementContext &ctx) -> Value {
                            return XOrIOp::create(b, loc, args[0], ctx.constant(b, loc, -1));
                          });
  registry["::BitShift"] = convertBitShift;
  registry["::Where"] = convertWhere;

  registry["::Softmax"] = [](NodeImporter &imp) { return convertSoftmax(imp, false); };
  registry["::LogSoftmax"] = [](NodeImporter &imp) { return convertSoftmax(imp, true); };
}
