//===- ActivationQuantization.cpp - int8 activations and their products ---===//

#include "nibble/Dialect/Nibble/Transforms/ActivationQuantization.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nibble;

/// One int8 scale per row of x [M, K] (or per row and group of groupRows
/// columns), computed at run time: max |x| / 127 over the row (group), or 1
/// for zeros (no division by zero).
static Value buildRowScales(OpBuilder &builder, Location loc, Value x, int64_t groupRows) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = builder.getContext();
  Type f32 = builder.getF32Type();
  int64_t rows = type.getDimSize(0);
  int64_t groups = type.getDimSize(1) / groupRows;
  // One scale per row ([M]), or per row and group of columns ([M, groups]).
  SmallVector<int64_t> shape{rows};
  if (groups > 1)
    shape.push_back(groups);
  Value zero = arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(0.0f));
  Value empty = tensor::EmptyOp::create(builder, loc, shape, f32);
  Value init = linalg::FillOp::create(builder, loc, zero, empty).getResult(0);
  // Loops (row, column), or (row, group, column in group) over x viewed
  // as [rows, groups, columns per group].
  Value input = x;
  AffineMap inputMap = builder.getMultiDimIdentityMap(2);
  AffineMap outputMap = AffineMap::get(2, 0, builder.getAffineDimExpr(0), ctx);
  SmallVector<utils::IteratorType> iterators{utils::IteratorType::parallel,
                                             utils::IteratorType::reduction};
  if (groups > 1) {
    input = tensor::ExpandShapeOp::create(
        builder, loc, RankedTensorType::get({rows, groups, groupRows}, type.getElementType()),
        x, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    inputMap = builder.getMultiDimIdentityMap(3);
    outputMap = AffineMap::get(3, 0, {builder.getAffineDimExpr(0), builder.getAffineDimExpr(1)},
                               ctx);
    iterators.insert(iterators.begin() + 1, utils::IteratorType::parallel);
  }
  Value absMax =
      linalg::GenericOp::create(
          builder, loc, init.getType(), ValueRange{input}, init,
          ArrayRef<AffineMap>{inputMap, outputMap}, iterators,
          [](OpBuilder &b, Location l, ValueRange args) {
            Value magnitude = math::AbsFOp::create(b, l, args[0]);
            linalg::YieldOp::create(b, l,
                                    arith::MaximumFOp::create(b, l, args[1], magnitude)
                                        .getResult());
          })
          .getResult(0);
  AffineMap identity = builder.getMultiDimIdentityMap(shape.size());
  return linalg::GenericOp::create(
             builder, loc, init.getType(), ValueRange{absMax}, empty,
             ArrayRef<AffineMap>{identity, identity},
             SmallVector<utils::IteratorType>(shape.size(), utils::IteratorType::parallel),
             [](OpBuilder &b, Location l, ValueRange args) {
               Value zeroF = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0.0f));
               Value one = arith::ConstantOp::create(b, l, b.getF32FloatAttr(1.0f));
               Value qmax = arith::ConstantOp::create(b, l, b.getF32FloatAttr(127.0f));
               Value positive =
                   arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, args[0], zeroF);
               Value scale = arith::DivFOp::create(b, l, args[0], qmax);
               linalg::YieldOp::create(
                   b, l, arith::SelectOp::create(b, l, positive, scale, one).getResult());
             })
      .getResult(0);
}

DynamicInt8Activations mlir::nibble::quantizeActivationsDynamically(OpBuilder &builder,
                                                                    Location loc, Value x,
                                                                    int64_t groupRows) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = builder.getContext();
  Value scales = buildRowScales(builder, loc, x, groupRows);
  bool grouped = groupRows < type.getDimSize(1);
  auto scheme = grouped ? SchemeAttr::get(ctx, 8, true, Granularity::PerGroup, /*axis=*/1,
                                          groupRows, false, builder.getF32Type())
                        : SchemeAttr::get(ctx, 8, true, Granularity::PerChannel, /*axis=*/0,
                                          0, false, builder.getF32Type());
  Value values = QuantizeOp::create(builder, loc, type.clone(builder.getI8Type()), x, scales,
                                    /*zero_point=*/Value(), scheme);
  return {values, scales};
}

IntegerMatmulOp mlir::nibble::buildConstantWeightIntegerMatmul(
    OpBuilder &builder, Location loc, Type resultType, Value qx, Value xScale,
    ArrayRef<int64_t> values, ArrayRef<float> scales, int64_t k, int64_t n, unsigned bits,
    int64_t groupRows, StringRef name, ArrayRef<int64_t> zeroPoints) {
  // Zero points come per group (one group of all K rows at least).
  bool grouped = groupRows < k || !zeroPoints.empty();
  Value weight = arith::ConstantOp::create(
      builder, loc,
      makeIntConstant(RankedTensorType::get({k, n}, builder.getIntegerType(bits)), values,
                      (name + ".q").str()));
  SmallVector<int64_t> scaleShape{n};
  if (grouped)
    scaleShape.insert(scaleShape.begin(), k / groupRows);
  Value weightScale = arith::ConstantOp::create(
      builder, loc,
      makeFloatConstant(RankedTensorType::get(scaleShape, builder.getF32Type()), scales,
                        (name + ".scale").str()));
  Value zeroPoint;
  if (!zeroPoints.empty())
    zeroPoint = arith::ConstantOp::create(
        builder, loc,
        makeIntConstant(RankedTensorType::get(scaleShape, builder.getI8Type()), zeroPoints,
                        (name + ".zp").str()));
  return IntegerMatmulOp::create(builder, loc, resultType, qx, xScale, weight, weightScale,
                                 zeroPoint, /*bias=*/Value(),
                                 grouped ? builder.getI64IntegerAttr(groupRows) : IntegerAttr());
}
