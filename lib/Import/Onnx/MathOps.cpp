//===- MathOps.cpp - ONNX unary math, activations, Pow, Clip, Cast --------===//
//
// Unary float functions (Sqrt, Exp, Log, Round, ...), the
// activations (Relu, Sigmoid, HardSwish, Gelu, ...), integer-capable Neg,
// Abs and Sign, and the ops with their own typing rules: Pow (mixed base
// and exponent types), Clip (bounds as attributes before opset 11, optional
// inputs after) and Cast/CastLike. All go through convertElementwise or
// buildElementwise, so they broadcast and fuse like the other elementwise
// ops.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"
#include "NarrowTypes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nibble::onnx_import;

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

using UnaryBody = std::function<Value(OpBuilder &, Location, Value, const ElementContext &)>;

/// Registers a one-input elementwise op computed by `body(x)`.
static void addUnary(ConverterRegistry &registry, llvm::StringRef opType,
                     unsigned accepted, UnaryBody body) {
  addElementwiseConverter(registry, opType, 1, accepted,
                          [body](OpBuilder &b, Location loc, ValueRange args,
                                 const ElementContext &ctx) {
                            return body(b, loc, args[0], ctx);
                          });
}

/// Registers a float op that is exactly one math dialect op.
template <typename MathOp>
static void addMathFunction(ConverterRegistry &registry, llvm::StringRef opType) {
  addUnary(registry, opType, kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &) -> Value {
             return MathOp::create(b, loc, x);
           });
}

/// The float attribute `name` of the node, or `fallback`.
static double floatAttrOr(const ElementContext &ctx, llvm::StringRef name,
                          double fallback) {
  std::optional<float> value = ctx.node.floatAttr(name);
  return value ? *value : fallback;
}

/// max(lo, min(hi, x)) for floats, propagating NaN.
static Value clampFloat(OpBuilder &b, Location loc, Value x, Value lo, Value hi) {
  return arith::MaximumFOp::create(b, loc, lo, arith::MinimumFOp::create(b, loc, hi, x));
}

/// max(0, min(1, alpha * x + beta)): HardSigmoid, and HardSwish's gate.
static Value hardSigmoid(OpBuilder &b, Location loc, Value x,
                         const ElementContext &ctx, double alpha, double beta) {
  Value linear = arith::AddFOp::create(
      b, loc, arith::MulFOp::create(b, loc, ctx.constant(b, loc, alpha), x),
      ctx.constant(b, loc, beta));
  return clampFloat(b, loc, linear, ctx.constant(b, loc, 0.0), ctx.constant(b, loc, 1.0));
}

/// x < 0 ? negative : x, with `negative` built only as the select operand.
static Value selectNegative(OpBuilder &b, Location loc, Value x,
                            const ElementContext &ctx, Value negative) {
  Value isNegative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                           ctx.constant(b, loc, 0.0));
  return arith::SelectOp::create(b, loc, isNegative, negative, x);
}

/// Sign: -1, 0 or 1 (NaN stays NaN; unsigned values are never negative).
static Value signOf(OpBuilder &b, Location loc, Value x, const ElementContext &ctx) {
  Value zero = ctx.constant(b, loc, 0), one = ctx.constant(b, loc, 1);
  Value minusOne = ctx.constant(b, loc, -1);
  if (ctx.isFloat()) {
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
    Value negative = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
    // Zero and NaN map to themselves.
    return arith::SelectOp::create(
        b, loc, positive, one, arith::SelectOp::create(b, loc, negative, minusOne, x));
  }
  Value positive = arith::CmpIOp::create(
      b, loc, ctx.isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt, x, zero);
  if (ctx.isUnsigned)
    return arith::SelectOp::create(b, loc, positive, one, zero);
  Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
  return arith::SelectOp::create(
      b, loc, positive, one, arith::SelectOp::create(b, loc, negative, minusOne, zero));
}

/// Gelu (opset 20): 0.5 x (1 + erf(x / sqrt(2))), or with approximate="tanh"
/// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
static llvm::Error convertGelu(NodeImporter &imp) {
  std::string approximate = imp.stringAttr("approximate").value_or("none");
  if (approximate != "none" && approximate != "tanh")
    return imp.fail("approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  bool useTanh = approximate == "tanh";
  return convertElementwise(
      imp, {*x}, kFloatElements,
      [useTanh](OpBuilder &b, Location loc, ValueRange args,
                const ElementContext &ctx) -> Value {
        Value x = args[0];
        Value inner;
        if (useTanh) {
          Value cube = arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
          Value poly = arith::AddFOp::create(
              b, loc, x,
              arith::MulFOp::create(b, loc, ctx.constant(b, loc, 0.044715), cube));
          inner = math::TanhOp::create(
              b, loc,
              arith::MulFOp::create(b, loc, ctx.constant(b, loc, std::sqrt(2.0 / M_PI)), poly));
        } else {
          inner = math::ErfOp::create(
              b, loc, arith::MulFOp::create(b, loc, x, ctx.constant(b, loc, M_SQRT1_2)));
        }
        Value onePlus = arith::AddFOp::create(b, loc, ctx.constant(b, loc, 1.0), inner);
        Value half = arith::MulFOp::create(b, loc, ctx.constant(b, loc, 0.5), x);
        return arith::MulFOp::create(b, loc, half, onePlus);
      });
}

/// The float activations and functions.
static void registerFloatUnaryOps(ConverterRegistry &registry) {
  addMathFunction<math::SqrtOp>(registry, "Sqrt");
  addMathFunction<math::ExpOp>(registry, "Exp");
  addMathFunction<math::LogOp>(registry, "Log");
  addMathFunction<math::FloorOp>(registry, "Floor");
  addMathFunction<math::CeilOp>(registry, "Ceil");
  addMathFunction<math::RoundEvenOp>(registry, "Round"); // halves to even
  addMathFunction<math::TanhOp>(registry, "Tanh");
  addMathFunction<math::ErfOp>(registry, "Erf");
  addMathFunction<math::SinOp>(registry, "Sin");
  addMathFunction<math::CosOp>(registry, "Cos");
  addMathFunction<math::TanOp>(registry, "Tan");
  addMathFunction<math::AsinOp>(registry, "Asin");
  addMathFunction<math::AcosOp>(registry, "Acos");
  addMathFunction<math::AtanOp>(registry, "Atan");
  addMathFunction<math::SinhOp>(registry, "Sinh");
  addMathFunction<math::CoshOp>(registry, "Cosh");
  addMathFunction<math::AsinhOp>(registry, "Asinh");
  addMathFunction<math::AcoshOp>(registry, "Acosh");
  addMathFunction<math::AtanhOp>(registry, "Atanh");

  addUnary(registry, "Reciprocal", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             return arith::DivFOp::create(b, loc, ctx.constant(b, loc, 1.0), x);
           });
  addUnary(registry, "Relu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // max(x, 0) that keeps NaN, as ONNX Runtime does.
             Value zero = ctx.constant(b, loc, 0.0);
             Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x, zero);
             return arith::SelectOp::create(b, loc, positive, x, zero);
           });
  addUnary(registry, "Sigmoid", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             Value one = ctx.constant(b, loc, 1.0);
             Value expNeg = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
             return arith::DivFOp::create(b, loc, one, arith::AddFOp::create(b, loc, one, expNeg));
           });
  addUnary(registry, "Softplus", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)), which does
             // not overflow for large x.
             Value positivePart = arith::MaximumFOp::create(b, loc, x, ctx.constant(b, loc, 0.0));
             Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
             return arith::AddFOp::create(
                 b, loc, positivePart,
                 math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs)));
           });
  addUnary(registry, "Softsign", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             Value denominator = arith::AddFOp::create(b, loc, ctx.constant(b, loc, 1.0),
                                                       math::AbsFOp::create(b, loc, x));
             return arith::DivFOp::create(b, loc, x, denominator);
           });
  addUnary(registry, "HardSigmoid", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) {
             return hardSigmoid(b, loc, x, ctx, floatAttrOr(ctx, "alpha", 0.2),
                                floatAttrOr(ctx, "beta", 0.5));
           });
  addUnary(registry, "HardSwish", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             return arith::MulFOp::create(b, loc, x,
                                          hardSigmoid(b, loc, x, ctx, 1.0 / 6.0, 0.5));
           });
  addUnary(registry, "LeakyRelu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) {
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 0.01));
             return selectNegative(b, loc, x, ctx, arith::MulFOp::create(b, loc, alpha, x));
           });
  addUnary(registry, "Elu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) {
             // alpha * (exp(x) - 1) for negative x.
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 1.0));
             Value negative = arith::MulFOp::create(b, loc, alpha, math::ExpM1Op::create(b, loc, x));
             return selectNegative(b, loc, x, ctx, negative);
           });
  addUnary(registry, "Selu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // gamma * (x > 0 ? x : alpha * (exp(x) - 1)).
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 1.67326319217681884765625));
             Value gamma = ctx.constant(b, loc, floatAttrOr(ctx, "gamma", 1.05070102214813232421875));
             Value negative = arith::MulFOp::create(b, loc, alpha, math::ExpM1Op::create(b, loc, x));
             Value isPositive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                                      ctx.constant(b, loc, 0.0));
             return arith::MulFOp::create(
                 b, loc, gamma, arith::SelectOp::create(b, loc, isPositive, x, negative));
           });
  addUnary(registry, "ThresholdedRelu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 1.0));
             Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, alpha);
             return arith::SelectOp::create(b, loc, above, x, ctx.constant(b, loc, 0.0));
           });
  addUnary(registry, "Shrink", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // x + bias below -lambd, x - bias above lambd, else 0.
             double lambd = floatAttrOr(ctx, "lambd", 0.5);
             Value bias = ctx.constant(b, loc, floatAttrOr(ctx, "bias", 0.0));
             Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                                 ctx.constant(b, loc, -lambd));
             Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                                 ctx.constant(b, loc, lambd));
             Value zero = ctx.constant(b, loc, 0.0);
             Value upper = arith::SelectOp::create(
                 b, loc, above, arith::SubFOp::create(b, loc, x, bias), zero);
             return arith::SelectOp::create(b, loc, below, arith::AddFOp::create(b, loc, x, bias),
                                            upper);
           });
  addUnary(registry, "Celu", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 1.0));
             Value zero = ctx.constant(b, loc, 0.0);
             Value expm1 = math::ExpM1Op::create(b, loc, arith::DivFOp::create(b, loc, x, alpha));
             Value negative = arith::MinimumFOp::create(
                 b, loc, zero, arith::MulFOp::create(b, loc, alpha, expm1));
             return arith::AddFOp::create(b, loc, arith::MaximumFOp::create(b, loc, zero, x),
                                          negative);
           });
  addUnary(registry, "Mish", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // x * tanh(softplus(x)), softplus as in Softplus.
             Value positivePart = arith::MaximumFOp::create(b, loc, x, ctx.constant(b, loc, 0.0));
             Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
             Value softplus = arith::AddFOp::create(
                 b, loc, positivePart,
                 math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs)));
             return arith::MulFOp::create(b, loc, x, math::TanhOp::create(b, loc, softplus));
           });
  addUnary(registry, "Swish", kFloatElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             // x * sigmoid(alpha * x).
             Value alpha = ctx.constant(b, loc, floatAttrOr(ctx, "alpha", 1.0));
             Value one = ctx.constant(b, loc, 1.0);
             Value expNeg = math::ExpOp::create(
                 b, loc, arith::NegFOp::create(b, loc, arith::MulFOp::create(b, loc, alpha, x)));
             return arith::DivFOp::create(b, loc, x, arith::AddFOp::create(b, loc, one, expNeg));
           });
  addElementwiseConverter(
      registry, "PRelu", 2, kNumericElements,
      [](OpBuilder &b, Location loc, ValueRange args, const ElementContext &ctx) -> Value {
        Value x = args[0], slope = args[1];
        if (ctx.isFloat())
          return selectNegative(b, loc, x, ctx, arith::MulFOp::create(b, loc, slope, x));
        Value negative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x,
                                               ctx.constant(b, loc, 0));
        return arith::SelectOp::create(b, loc, negative, arith::MulIOp::create(b, loc, slope, x),
                                       x);
      });
  const int32_t kBool = onnx::TensorProto::BOOL;
  addElementwiseConverter(
      registry, "IsNaN", 1, kFloatElements,
      [](OpBuilder &b, Location loc, ValueRange args, const ElementContext &) -> Value {
        return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, args[0], args[0]);
      },
      kBool);
  addElementwiseConverter(
      registry, "IsInf", 1, kFloatElements,
      [](OpBuilder &b, Location loc, ValueRange args, const ElementContext &ctx) -> Value {
        bool positive = ctx.node.intAttr("detect_positive").value_or(1) != 0;
        bool negative = ctx.node.intAttr("detect_negative").value_or(1) != 0;
        Value x = args[0];
        auto equals = [&](double v) {
          return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x,
                                       ctx.constant(b, loc, v))
              .getResult();
        };
        Value result = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
        if (positive)
          result = arith::OrIOp::create(b, loc, result, equals(HUGE_VAL));
        if (negative)
          result = arith::OrIOp::create(b, loc, result, equals(-HUGE_VAL));
        return result;
      },
      kBool);
  registry["::Gelu"] = convertGelu;
}

/// Neg, Abs and Sign, which take integers too.
static void registerNumericUnaryOps(ConverterRegistry &registry) {
  addUnary(registry, "Neg", kNumericElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             if (ctx.isFloat())
               return arith::NegFOp::create(b, loc, x);
             return arith::SubIOp::create(b, loc, ctx.constant(b, loc, 0), x);
           });
  addUnary(registry, "Abs", kNumericElements,
           [](OpBuilder &b, Location loc, Value x, const ElementContext &ctx) -> Value {
             if (ctx.isFloat())
               return math::AbsFOp::create(b, loc, x);
             if (ctx.isUnsigned)
               return x;
             return math::AbsIOp::create(b, loc, x);
           });
  addUnary(registry, "Sign", kNumericElements, signOf);
}

//===----------------------------------------------------------------------===//
// Cast and CastLike
//===----------------------------------------------------------------------===//

namespace {
/// Cast's rounding options for the narrow float types.
struct NarrowCastOptions {
  bool saturate = true;
  PowerOfTwoRounding rounding = PowerOfTwoRounding::Up;
};
} // namespace

/// Scalar `x` (unsigned when `fromUnsigned`) converted to `to`: floats
/// truncate toward zero into integers (wrapping into int4/int2), bool is
/// "nonzero", integers widen with their own signedness; narrow floats go
/// through float32 with `narrow`'s rounding.
static Value castScalar(OpBuilder &b, Location loc, Value x, bool fromUnsigned,
                        Type to, bool toUnsigned, NarrowCastOptions narrow = {}) {
  Type from = x.getType();
  if (from == to)
    return x;
  if (isNarrowFloat(from))
    return castScalar(b, loc, widenNarrowFloat(b, loc, x), false, to, toUnsigned, narrow);
  if (isNarrowFloat(to)) {
    Value wide = castScalar(b, loc, x, fromUnsigned, b.getF32Type(), false);
    // Saturation is a float8 option; bfloat16 overflows to infinity.
    bool saturate = narrow.saturate && to.getIntOrFloatBitWidth() == 8;
    return narrowFloat(b, loc, wide, cast<FloatType>(to), saturate, narrow.rounding);
  }
  if (isa<FloatType>(from) && isa<IntegerType>(to) && to.getIntOrFloatBitWidth() < 8 &&
      !to.isInteger(1)) {
    // As ml_dtypes: truncate to a 64-bit integer and keep the low bits; NaN,
    // infinities and values beyond int64 give 0.
    Value wide = arith::ExtFOp::create(b, loc, b.getF64Type(), x);
    Value inRange = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OLT, math::AbsFOp::create(b, loc, wide),
        arith::ConstantOp::create(b, loc, b.getF64FloatAttr(0x1p63)));
    Value integral = arith::FPToSIOp::create(b, loc, b.getI64Type(), wide);
    Value zero = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
    integral = arith::SelectOp::create(b, loc, inRange, integral, zero);
    return arith::TruncIOp::create(b, loc, to, integral);
  }
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (to.isInteger(1)) {
    if (fromFloat) // NaN is nonzero
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x,
                                   arith::ConstantOp::create(b, loc, b.getFloatAttr(from, 0.0)));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x,
                                 arith::ConstantOp::create(b, loc, b.getIntegerAttr(from, 0)));
  }
  unsigned fromWidth = from.getIntOrFloatBitWidth(), toWidth = to.getIntOrFloatBitWidth();
  if (fromFloat && toFloat)
    return convertFloatScalar(b, loc, x, to);
  if (fromFloat)
    return toUnsigned ? Value(arith::FPToUIOp::create(b, loc, to, x))
                      : Value(arith::FPToSIOp::create(b, loc, to, x));
  if (toFloat)
    return fromUnsigned ? Value(arith::UIToFPOp::create(b, loc, to, x))
                        : Value(arith::SIToFPOp::create(b, loc, to, x));
  if (fromWidth == toWidth) // int8 <-> uint8 keep their bits
    return x;
  if (fromWidth > toWidth)
    return arith::TruncIOp::create(b, loc, to, x);
  return fromUnsigned ? Value(arith::ExtUIOp::create(b, loc, to, x))
                      : Value(arith::ExtSIOp::create(b, loc, to, x));
}

/// Whether Cast handles ONNX type `onnxType` (as source or target).
static bool isCastableType(MLIRContext *ctx, int32_t onnxType) {
  return static_cast<bool>(getElementType(ctx, onnxType));
}

/// Casts input 0 to ONNX type `to`, reading the saturate and round_mode
/// attributes (opsets 19 and 24) for the narrow float types.
static llvm::Error castTo(NodeImporter &imp, int32_t to) {
  NarrowCastOptions narrow;
  narrow.saturate = imp.intAttr("saturate").value_or(1) != 0;
  std::string roundMode = imp.stringAttr("round_mode").value_or("up");
  if (roundMode == "down")
    narrow.rounding = PowerOfTwoRounding::Down;
  else if (roundMode == "nearest")
    narrow.rounding = PowerOfTwoRounding::Nearest;
  else if (roundMode != "up")
    return imp.fail("round_mode '" + roundMode + "' is not one of up, down and nearest");
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  for (int32_t type : {x->onnxType, to})
    if (!isCastableType(imp.context(), type))
      return imp.fail("cannot cast " + llvm::Twine(type == to ? "to " : "from ") +
                      onnxTypeName(type) +
                      "; nibble casts between the numeric ONNX types and bool");
  if (x->onnxType == to) {
    imp.setOutput(0, x->value, to);
    return llvm::Error::success();
  }
  Type toType = getElementType(imp.context(), to);
  bool fromUnsigned = isUnsignedOnnxType(x->onnxType), toUnsigned = isUnsignedOnnxType(to);
  Value result = buildElementwise(
      imp.builder(), imp.loc(), {x->value}, toType,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return castScalar(b, loc, args[0], fromUnsigned, toType, toUnsigned, narrow);
      });
  imp.setOutput(0, result, to);
  return llvm::Error::success();
}

static llvm::Error convertCast(NodeImporter &imp) {
  std::optional<int64_t> to = imp.intAttr("to");
  if (!to)
    return imp.fail("has no 'to' attribute");
  return castTo(imp, static_cast<int32_t>(*to));
}

/// CastLike: Cast to the element type of input 1.
static llvm::Error convertCastLike(NodeImporter &imp) {
  llvm::Expected<OnnxValue> like = imp.input(1);
  if (!like)
    return like.takeError();
  return castTo(imp, like->onnxType);
}

//===----------------------------------------------------------------------===//
// Pow and Clip
//===----------------------------------------------------------------------===//

/// Pow(X, Y) with X's type. A float base takes the exponent converted to
/// its type; an integer base is computed in float64 and truncated, as
/// ONNX Runtime's std::pow does.
static llvm::Error convertPow(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  const OnnxValue &base = (*operands)[0], &exponent = (*operands)[1];
  Type baseType = tensorTypeOf(base.value).getElementType();
  Type exponentType = tensorTypeOf(exponent.value).getElementType();
  for (Type type : {baseType, exponentType})
    if (!(elementClassOf(type) & kNumericElements))
      return imp.fail("unsupported operand types " + onnxTypeName(base.onnxType) +
                      " and " + onnxTypeName(exponent.onnxType));
  bool baseUnsigned = isUnsignedOnnxType(base.onnxType);
  bool exponentUnsigned = isUnsignedOnnxType(exponent.onnxType);
  Type computeType = isa<FloatType>(baseType) ? baseType : imp.builder().getF64Type();
  Value result = buildElementwise(
      imp.builder(), imp.loc(), {base.value, exponent.value}, baseType,
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value x = castScalar(b, loc, args[0], baseUnsigned, computeType, false);
        Value y = castScalar(b, loc, args[1], exponentUnsigned, computeType, false);
        Value power = math::PowFOp::create(b, loc, x, y);
        return castScalar(b, loc, power, false, baseType, baseUnsigned);
      });
  if (!result)
    return imp.fail("operand shapes do not broadcast");
  imp.setOutput(0, result, base.onnxType);
  return llvm::Error::success();
}

/// Clip(x, min, max) = min(max(x, lo), hi): bounds are the min/max
/// attributes before opset 11 and optional scalar inputs from opset 11.
static llvm::Error convertClip(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  SmallVector<OnnxValue, 3> operands{*x};
  bool hasLow, hasHigh;
  double lowAttr = -std::numeric_limits<double>::infinity();
  double highAttr = std::numeric_limits<double>::infinity();
  if (imp.opset() < 11) {
    std::optional<float> low = imp.floatAttr("min"), high = imp.floatAttr("max");
    hasLow = low.has_value();
    hasHigh = high.has_value();
    lowAttr = low.value_or(0);
    highAttr = high.value_or(0);
    if (!isa<FloatType>(tensorTypeOf(x->value).getElementType()))
      return imp.fail("expects a float input before opset 11");
  } else {
    hasLow = imp.hasInput(1);
    hasHigh = imp.hasInput(2);
    for (int i : {1, 2}) {
      if (!imp.hasInput(i))
        continue;
      llvm::Expected<OnnxValue> bound = imp.input(i);
      if (!bound)
        return bound.takeError();
      if (tensorTypeOf(bound->value).getNumElements() != 1)
        return imp.fail("min and max must be scalars");
      operands.push_back(*bound);
    }
  }
  bool boundsAreInputs = imp.opset() >= 11;
  return convertElementwise(
      imp, operands, kNumericElements,
      [=](OpBuilder &b, Location loc, ValueRange args, const ElementContext &ctx) -> Value {
        Value result = args[0];
        unsigned next = 1;
        auto bound = [&](double attrValue) -> Value {
          return boundsAreInputs ? args[next++] : ctx.constant(b, loc, attrValue);
        };
        if (hasLow) {
          Value low = bound(lowAttr);
          result = ctx.isFloat() ? Value(arith::MaximumFOp::create(b, loc, result, low))
                   : ctx.isUnsigned ? Value(arith::MaxUIOp::create(b, loc, result, low))
                                    : Value(arith::MaxSIOp::create(b, loc, result, low));
        }
        if (hasHigh) {
          Value high = bound(highAttr);
          result = ctx.isFloat() ? Value(arith::MinimumFOp::create(b, loc, result, high))
                   : ctx.isUnsigned ? Value(arith::MinUIOp::create(b, loc, result, high))
                                    : Value(arith::MinSIOp::create(b, loc, result, high));
        }
        return result;
      });
}

void mlir::nibble::onnx_import::registerMathConverters(ConverterRegistry &registry) {
  registerFloatUnaryOps(registry);
  registerNumericUnaryOps(registry);
  registry["::Cast"] = convertCast;
  registry["::CastLike"] = convertCastLike;
  registry["::Pow"] = convertPow;
  registry["::Clip"] = convertClip;
}
