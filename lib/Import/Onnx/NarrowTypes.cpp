//===- NarrowTypes.cpp - bfloat16, float8, float4, int4 and int2 ----------===//
//
// Conversions work on the float32 bit pattern with integer arithmetic: the
// rounding is then ONNX's (round to nearest, ties to even, with each
// format's overflow rule) whatever the target's float hardware does, and
// no backend needs to know the narrow formats.
//
//===----------------------------------------------------------------------===//

#include "NarrowTypes.h"

#include "IRBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nibble::onnx_import;

namespace {
/// How a format spends its top codes.
enum class Specials {
  Ieee,       ///< all-ones exponent: infinity (mantissa 0) or NaN
  NanOnly,    ///< only the all-ones code (sign aside) is NaN (e4m3fn)
  NegativeZeroIsNan, ///< 0x80 is the one NaN; no infinity, no -0 (fnuz)
  None,       ///< every code is a finite number (float4e2m1)
};

/// A sign-exponent-mantissa format.
struct FloatFormat {
  unsigned bits, mantissaBits;
  int bias;
  Specials specials;
  /// The code of the largest finite value (sign clear).
  uint32_t maxFiniteCode;
  /// The code of NaN (sign clear), or of infinity under Specials::Ieee.
  uint32_t nanCode, infinityCode;

  unsigned signShift() const { return bits - 1; }
  uint32_t magnitudeMask() const { return (1u << (bits - 1)) - 1; }
  /// The largest finite value.
  double maxFinite() const {
    int exponent = static_cast<int>(maxFiniteCode >> mantissaBits) - bias;
    double mantissa = 1.0 + static_cast<double>(maxFiniteCode & ((1u << mantissaBits) - 1)) /
                                (1u << mantissaBits);
    return std::ldexp(mantissa, exponent);
  }
};

std::optional<FloatFormat> formatOf(Type type) {
  if (isa<Float8E5M2Type>(type))
    return FloatFormat{8, 2, 15, Specials::Ieee, 0x7B, 0x7E, 0x7C};
  if (isa<Float8E4M3FNType>(type))
    return FloatFormat{8, 3, 7, Specials::NanOnly, 0x7E, 0x7F, 0};
  if (isa<Float8E4M3FNUZType>(type))
    return FloatFormat{8, 3, 8, Specials::NegativeZeroIsNan, 0x7F, 0x80, 0};
  if (isa<Float8E5M2FNUZType>(type))
    return FloatFormat{8, 2, 16, Specials::NegativeZeroIsNan, 0x7F, 0x80, 0};
  if (isa<Float4E2M1FNType>(type))
    return FloatFormat{4, 1, 1, Specials::None, 0x7, 0, 0};
  if (isa<BFloat16Type>(type))
    return FloatFormat{16, 7, 127, Specials::Ieee, 0x7F7F, 0x7FC0, 0x7F80};
  return std::nullopt;
}

/// Small helpers over i32 scalars.
struct IntBuilder {
  OpBuilder &b;
  Location loc;

  Value c(int64_t v) { return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v); }
  Value f(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, loc, x, y); }
  Value shr(Value x, Value y) { return arith::ShRUIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, loc, cond, x, y);
  }
  Value bitsOf(Value f32) { return arith::BitcastOp::create(b, loc, b.getI32Type(), f32); }
  Value floatOf(Value i32) { return arith::BitcastOp::create(b, loc, b.getF32Type(), i32); }
};

/// The code of a narrow float scalar `x` (at most 16 bits) as an i32.
Value codeOf(OpBuilder &b, Location loc, Value x) {
  unsigned width = x.getType().getIntOrFloatBitWidth();
  Value bits = arith::BitcastOp::create(b, loc, b.getIntegerType(width), x);
  return arith::ExtUIOp::create(b, loc, b.getI32Type(), bits);
}

/// The narrow float of type `type` whose code is the i32 `code`.
Value fromCode(OpBuilder &b, Location loc, Value code, Type type) {
  Type intType = b.getIntegerType(type.getIntOrFloatBitWidth());
  Value bits = arith::TruncIOp::create(b, loc, intType, code);
  return arith::BitcastOp::create(b, loc, type, bits);
}

/// float8e8m0: an unsigned power of two 2^(code - 127); 0xFF is NaN.
Value widenE8M0(IntBuilder &ib, Value code) {
  // 2^-127 is the float32 subnormal 0x00400000; the rest are exponents.
  Value bits = ib.select(ib.cmp(arith::CmpIPredicate::eq, code, ib.c(0)), ib.c(0x00400000),
                         ib.shl(code, ib.c(23)));
  bits = ib.select(ib.cmp(arith::CmpIPredicate::eq, code, ib.c(0xFF)), ib.c(0x7FC00000), bits);
  return ib.floatOf(bits);
}

/// float32 -> float8e8m0 as ONNX's reference: the float32 exponent field,
/// rounded by the mantissa; NaN and infinity become 0xFF.
Value narrowE8M0(IntBuilder &ib, Value x, bool saturate, PowerOfTwoRounding rounding) {
  Value bits = ib.bitsOf(x);
  Value exponent = ib.andI(ib.shr(bits, ib.c(23)), ib.c(0xFF));
  Value mantissa = ib.andI(bits, ib.c(0x7FFFFF));
  Value special = ib.cmp(arith::CmpIPredicate::eq, exponent, ib.c(0xFF));
  Value roundUp;
  switch (rounding) {
  case PowerOfTwoRounding::Down:
    break;
  case PowerOfTwoRounding::Up:
    roundUp = ib.cmp(arith::CmpIPredicate::ne, mantissa, ib.c(0));
    break;
  case PowerOfTwoRounding::Nearest: {
    // Up when the guard bit is set and anything else is: a lower mantissa
    // bit or an odd (non-zero) exponent, as the reference rounds.
    Value guard = ib.cmp(arith::CmpIPredicate::ne, ib.andI(bits, ib.c(0x400000)), ib.c(0));
    Value rest = ib.cmp(arith::CmpIPredicate::ne, ib.andI(bits, ib.c(0x3FFFFF)), ib.c(0));
    Value odd = ib.cmp(arith::CmpIPredicate::ugt, exponent, ib.c(0));
    roundUp = arith::AndIOp::create(ib.b, ib.loc, guard,
                                    arith::OrIOp::create(ib.b, ib.loc, rest, odd));
    break;
  }
  }
  Value code = exponent;
  if (roundUp) {
    if (saturate) // never round 2^127 up into NaN
      roundUp = arith::AndIOp::create(
          ib.b, ib.loc, roundUp, ib.cmp(arith::CmpIPredicate::ne, exponent, ib.c(0xFE)));
    code = ib.add(code, ib.select(roundUp, ib.c(1), ib.c(0)));
  }
  return ib.select(special, ib.c(0xFF), code);
}
} // namespace

bool mlir::nibble::onnx_import::isNarrowFloat(Type type) {
  return isa<FloatType>(type) && (formatOf(type) || isa<Float8E8M0FNUType>(type));
}

Type mlir::nibble::onnx_import::boundaryElementType(Type elementType) {
  if (isa<BFloat16Type>(elementType))
    return elementType;
  if (isNarrowFloat(elementType) ||
      (isa<IntegerType>(elementType) && elementType.getIntOrFloatBitWidth() < 8 &&
       !elementType.isInteger(1)))
    return IntegerType::get(elementType.getContext(), 8);
  return elementType;
}

Value mlir::nibble::onnx_import::fromBoundary(OpBuilder &b, Location loc, Value tensor,
                                              Type elementType) {
  if (boundaryElementType(elementType) == elementType)
    return tensor;
  return buildElementwise(
      b, loc, {tensor}, elementType, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        unsigned width = elementType.getIntOrFloatBitWidth();
        Value bits = args[0];
        if (width < 8)
          bits = arith::TruncIOp::create(nb, nl, nb.getIntegerType(width), bits);
        if (isa<FloatType>(elementType))
          bits = arith::BitcastOp::create(nb, nl, elementType, bits);
        return bits;
      });
}

Value mlir::nibble::onnx_import::toBoundary(OpBuilder &b, Location loc, Value tensor) {
  Type elementType = tensorTypeOf(tensor).getElementType();
  Type boundaryType = boundaryElementType(elementType);
  if (boundaryType == elementType)
    return tensor;
  return buildElementwise(
      b, loc, {tensor}, boundaryType, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        unsigned width = elementType.getIntOrFloatBitWidth();
        Value bits = args[0];
        if (isa<FloatType>(elementType))
          bits = arith::BitcastOp::create(nb, nl, nb.getIntegerType(width), bits);
        if (width < 8) // the high bits zero, as ml_dtypes stores them
          bits = arith::ExtUIOp::create(nb, nl, boundaryType, bits);
        return bits;
      });
}

Value mlir::nibble::onnx_import::widenNarrowFloat(OpBuilder &b, Location loc, Value x) {
  IntBuilder ib{b, loc};
  Value code = codeOf(b, loc, x);
  if (isa<Float8E8M0FNUType>(x.getType()))
    return widenE8M0(ib, code);
  FloatFormat format = *formatOf(x.getType());
  using P = arith::CmpIPredicate;
  Value magnitude = ib.andI(code, ib.c(format.magnitudeMask()));
  Value exponent = ib.shr(magnitude, ib.c(format.mantissaBits));
  Value mantissa = ib.andI(magnitude, ib.c((1u << format.mantissaBits) - 1));
  // Normal: rebias the exponent and widen the mantissa. Subnormal: m * 2^(1 - bias - mbits).
  Value normal = ib.floatOf(ib.orI(ib.shl(ib.add(exponent, ib.c(127 - format.bias)), ib.c(23)),
                                   ib.shl(mantissa, ib.c(23 - format.mantissaBits))));
  Value subnormal = arith::MulFOp::create(
      b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), mantissa),
      ib.f(std::ldexp(1.0, 1 - format.bias - static_cast<int>(format.mantissaBits))));
  Value value = ib.select(ib.cmp(P::eq, exponent, ib.c(0)), subnormal, normal);
  Value negative = ib.cmp(P::ne, ib.shr(code, ib.c(format.signShift())), ib.c(0));
  value = ib.select(negative, arith::NegFOp::create(b, loc, value), value);
  Value nan = ib.f(std::nan(""));
  switch (format.specials) {
  case Specials::Ieee: {
    Value allOnes = ib.c((1u << (format.bits - 1 - format.mantissaBits)) - 1);
    Value top = ib.cmp(P::eq, exponent, allOnes);
    Value infinity = ib.select(negative, ib.f(-INFINITY), ib.f(INFINITY));
    Value special = ib.select(ib.cmp(P::eq, mantissa, ib.c(0)), infinity, nan);
    return ib.select(top, special, value);
  }
  case Specials::NanOnly:
    return ib.select(ib.cmp(P::eq, magnitude, ib.c(format.nanCode)), nan, value);
  case Specials::NegativeZeroIsNan:
    return ib.select(ib.cmp(P::eq, code, ib.c(format.nanCode)), nan, value);
  case Specials::None:
    return value;
  }
  llvm_unreachable("unknown specials");
}

Value mlir::nibble::onnx_import::narrowFloat(OpBuilder &b, Location loc, Value x, FloatType to,
                                             bool saturate, PowerOfTwoRounding rounding) {
  IntBuilder ib{b, loc};
  if (isa<Float8E8M0FNUType>(to))
    return fromCode(b, loc, narrowE8M0(ib, x, saturate, rounding), to);
  FloatFormat format = *formatOf(to);
  using P = arith::CmpIPredicate;
  Value bits = ib.bitsOf(x);
  Value negative = ib.cmp(P::ne, ib.shr(bits, ib.c(31)), ib.c(0));
  Value isNan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  Value magnitude = math::AbsFOp::create(b, loc, x);
  if (saturate || format.specials == Specials::None)
    magnitude = arith::MinimumFOp::create(b, loc, magnitude, ib.f(format.maxFinite()));
  Value absBits = ib.bitsOf(magnitude);

  // Normal results: round the float32 mantissa to the format's width, to
  // nearest even (a carry correctly bumps the exponent), and rebias.
  int shift = 23 - static_cast<int>(format.mantissaBits);
  Value odd = ib.andI(ib.shr(absBits, ib.c(shift)), ib.c(1));
  Value rounded = ib.shr(ib.add(absBits, ib.add(ib.c((1 << (shift - 1)) - 1), odd)), ib.c(shift));
  Value code = ib.sub(rounded, ib.c((127 - format.bias) << format.mantissaBits));
  if (format.bias < 127) {
    // Below the smallest normal the format has subnormals of spacing
    // 2^(1 - bias - mbits): scale by its inverse (exact) and round to an
    // integer, ties to even, by adding and removing 2^23.
    double scale = std::ldexp(1.0, format.bias - 1 + static_cast<int>(format.mantissaBits));
    Value scaled = arith::MulFOp::create(b, loc, magnitude, ib.f(scale));
    Value magic = ib.f(8388608.0);
    Value integral = arith::SubFOp::create(b, loc, arith::AddFOp::create(b, loc, scaled, magic),
                                           magic);
    Value subnormalCode = arith::FPToUIOp::create(b, loc, b.getI32Type(), integral);
    Value belowNormal = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, magnitude,
                                              ib.f(std::ldexp(1.0, 1 - format.bias)));
    code = ib.select(belowNormal, subnormalCode, code);
  }
  // Overflow (only possible without saturation): infinity or NaN.
  Value overflow = ib.cmp(P::ugt, code, ib.c(format.maxFiniteCode));
  uint32_t overflowCode = format.specials == Specials::Ieee ? format.infinityCode : format.nanCode;
  code = ib.select(overflow, ib.c(overflowCode), code);
  code = ib.select(isNan, ib.c(format.nanCode), code);

  Value negated = ib.orI(code, ib.c(1u << format.signShift()));
  Value withSign = ib.select(negative, negated, code);
  if (format.specials == Specials::NegativeZeroIsNan) {
    // No negative zero; the one NaN code already has the sign bit.
    Value keepsCode = arith::OrIOp::create(b, loc, ib.cmp(P::eq, code, ib.c(0)),
                                           ib.cmp(P::eq, code, ib.c(format.nanCode)));
    withSign = ib.select(keepsCode, code, withSign);
  }
  return fromCode(b, loc, withSign, to);
}
