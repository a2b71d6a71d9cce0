//===- NibbleDialect.cpp - nibble dialect and scheme attribute ------------===//

#include "nibble/Dialect/Nibble/IR/NibbleDialect.h"
#include "nibble/Dialect/Nibble/IR/NibbleOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nibble;

#include "nibble/Dialect/Nibble/IR/NibbleEnums.cpp.inc"
#include "nibble/Dialect/Nibble/IR/NibbleOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "nibble/Dialect/Nibble/IR/NibbleAttrs.cpp.inc"

void NibbleDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "nibble/Dialect/Nibble/IR/NibbleAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "nibble/Dialect/Nibble/IR/NibbleOps.cpp.inc"
      >();
}

Operation *NibbleDialect::materializeConstant(OpBuilder &builder,
                                              Attribute value, Type type,
                                              Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}

//===----------------------------------------------------------------------===//
// SchemeAttr
//===----------------------------------------------------------------------===//

LogicalResult
SchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError, unsigned bits,
                   bool isSigned, Granularity granularity, int64_t axis,
                   int64_t groupSize, bool hasZeroPoint, FloatType scaleType) {
  if (bits != 2 && bits != 4 && bits != 8 && bits != 16)
    return emitError() << "scheme bits must be 2, 4, 8 or 16, got " << bits;
  if (axis < 0)
    return emitError() << "scheme axis must be non-negative, got " << axis;
  if (granularity == Granularity::PerGroup && groupSize < 2)
    return emitError() << "per_group scheme needs a group size of at least "
                          "2, got "
                       << groupSize;
  if (granularity != Granularity::PerGroup && groupSize != 0)
    return emitError() << "only per_group schemes have a group size";
  if (granularity == Granularity::PerTensor && axis != 0)
    return emitError() << "per_tensor schemes have no axis";
  if (!scaleType.isF32() && !scaleType.isF16() && !scaleType.isBF16())
    return emitError() << "scheme scale type must be f32, f16 or bf16, got "
                       << scaleType;
  return success();
}

int64_t SchemeAttr::getQMin() const {
  return getIsSigned() ? -(int64_t(1) << (getBits() - 1)) : 0;
}

int64_t SchemeAttr::getQMax() const {
  return getIsSigned() ? (int64_t(1) << (getBits() - 1)) - 1
                       : (int64_t(1) << getBits()) - 1;
}

IntegerType SchemeAttr::getStorageType() const {
  return IntegerType::get(getContext(), getBits());
}

SmallVector<int64_t>
SchemeAttr::getScaleShape(ArrayRef<int64_t> valueShape) const {
  switch (getGranularity()) {
  case Granularity::PerTensor:
    return {};
  case Granularity::PerChannel:
    return {valueShape[getAxis()]};
  case Granularity::PerGroup: {
    SmallVector<int64_t> shape(valueShape);
    int64_t &dim = shape[getAxis()];
    if (!ShapedType::isDynamic(dim))
      dim = llvm::divideCeil(dim, getGroupSize());
    return shape;
  }
  }
  llvm_unreachable("unknown granularity");
}

AffineMap SchemeAttr::getScaleMap(unsigned valueRank) const {
  MLIRContext *ctx = getContext();
  switch (getGranularity()) {
  case Granularity::PerTensor:
    return AffineMap::get(valueRank, 0, ctx);
  case Granularity::PerChannel:
    return AffineMap::get(valueRank, 0, getAffineDimExpr(getAxis(), ctx));
  case Granularity::PerGroup: {
    SmallVector<AffineExpr> exprs;
    for (unsigned d = 0; d < valueRank; ++d) {
      AffineExpr e = getAffineDimExpr(d, ctx);
      exprs.push_back(d == getAxis() ? e.floorDiv(getGroupSize()) : e);
    }
    return AffineMap::get(valueRank, 0, exprs, ctx);
  }
  }
  llvm_unreachable("unknown granularity");
}

std::string SchemeAttr::getShortName() const {
  std::string name = (getIsSigned() ? "int" : "uint") + std::to_string(getBits());
  if (isPerGroup())
    name += "-g" + std::to_string(getGroupSize());
  return name;
}

/// Parses `i8`, `u4`, ... into bits and signedness.
static ParseResult parseStorage(AsmParser &parser, unsigned &bits,
                                bool &isSigned) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&keyword))
    return failure();
  if (keyword.size() < 2 || (keyword[0] != 'i' && keyword[0] != 'u') ||
      keyword.drop_front().getAsInteger(10, bits))
    return parser.emitError(loc, "expected a storage type like i8, u8, i4 "
                                 "or u4, got '")
           << keyword << "'";
  isSigned = keyword[0] == 'i';
  return success();
}

Attribute SchemeAttr::parse(AsmParser &parser, Type) {
  unsigned bits = 0;
  bool isSigned = true;
  int64_t axis = 0, groupSize = 0;
  Granularity granularity;
  Type scaleType;
  StringRef granularityName, zeroPointName;

  if (parser.parseLess() || parseStorage(parser, bits, isSigned) ||
      parser.parseComma())
    return {};
  SMLoc granularityLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&granularityName))
    return {};
  std::optional<Granularity> parsed = symbolizeGranularity(granularityName);
  if (!parsed) {
    parser.emitError(granularityLoc, "expected per_tensor, per_channel or "
                                     "per_group, got '")
        << granularityName << "'";
    return {};
  }
  granularity = *parsed;
  if (granularity != Granularity::PerTensor) {
    if (parser.parseLess() || parser.parseKeyword("axis") ||
        parser.parseEqual() || parser.parseInteger(axis))
      return {};
    if (granularity == Granularity::PerGroup &&
        (parser.parseComma() || parser.parseKeyword("size") ||
         parser.parseEqual() || parser.parseInteger(groupSize)))
      return {};
    if (parser.parseGreater())
      return {};
  }
  SMLoc zeroPointLoc = parser.getCurrentLocation();
  if (parser.parseComma() || parser.parseKeyword(&zeroPointName))
    return {};
  if (zeroPointName != "symmetric" && zeroPointName != "zero_point") {
    parser.emitError(zeroPointLoc, "expected 'symmetric' or 'zero_point'");
    return {};
  }
  SMLoc scaleLoc;
  if (parser.parseComma() || parser.parseKeyword("scale") ||
      parser.parseEqual() || (scaleLoc = parser.getCurrentLocation(), false) ||
      parser.parseType(scaleType) || parser.parseGreater())
    return {};
  auto floatType = dyn_cast<FloatType>(scaleType);
  if (!floatType) {
    parser.emitError(scaleLoc, "scale type must be a float type");
    return {};
  }
  return parser.getChecked<SchemeAttr>(
      parser.getContext(), bits, isSigned, granularity, axis, groupSize,
      zeroPointName == "zero_point", floatType);
}

void SchemeAttr::print(AsmPrinter &printer) const {
  printer << "<" << (getIsSigned() ? "i" : "u") << getBits() << ", "
          << stringifyGranularity(getGranularity());
  if (isPerChannel())
    printer << "<axis = " << getAxis() << ">";
  if (isPerGroup())
    printer << "<axis = " << getAxis() << ", size = " << getGroupSize() << ">";
  printer << ", " << (getHasZeroPoint() ? "zero_point" : "symmetric")
          << ", scale = " << getScaleType() << ">";
}
