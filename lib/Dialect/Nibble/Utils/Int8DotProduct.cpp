//===- Int8DotProduct.cpp - integer products for dot-product kernels ------===//

#include "nibble/Dialect/Nibble/Utils/Int8DotProduct.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/WeightPacking.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlir::nibble;

SmallVector<int64_t> mlir::nibble::weightColumnSums(ArrayRef<int64_t> weight, int64_t k,
                                                    int64_t n) {
  SmallVector<int64_t> sums(n, 0);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col)
      sums[col] += weight[row * n + col];
  return sums;
}

Value mlir::nibble::buildInt8DotProduct(OpBuilder &builder, Location loc, Value x,
                                        ArrayRef<int64_t> weight, int64_t k, int64_t n,
                                        Value init) {
  MLIRContext *ctx = builder.getContext();
  SmallVector<int8_t> packed = packForInt8Dot(weight, k, n);
  auto packedType = RankedTensorType::get({static_cast<int64_t>(llvm::divideCeil(n, 16)),
                                           static_cast<int64_t>(llvm::divideCeil(k, 4)), 64},
                                          builder.getI8Type());
  Value packedWeight = arith::ConstantOp::create(
      builder, loc,
      makeRawConstant(packedType,
                      ArrayRef<char>(reinterpret_cast<const char *>(packed.data()),
                                     packed.size()),
                      "packed_int8_dot"));
  AffineExpr row = builder.getAffineDimExpr(0), col = builder.getAffineDimExpr(1),
             red = builder.getAffineDimExpr(2);
  SmallVector<AffineMap> maps{
      AffineMap::get(3, 0, {row, red}, ctx),
      AffineMap::get(3, 0, {col.floorDiv(16), red.floorDiv(4), (col % 16) * 4 + red % 4},
                     ctx),
      AffineMap::get(3, 0, {row, col}, ctx)};
  SmallVector<utils::IteratorType> iterators{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel,
                                             utils::IteratorType::reduction};
  auto generic = linalg::GenericOp::create(
      builder, loc, init.getType(), ValueRange{x, packedWeight}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &b, Location l, ValueRange args) {
        Value signBit = arith::ConstantOp::create(b, l, b.getI8IntegerAttr(-128));
        Value unsignedX = arith::ExtUIOp::create(
            b, l, b.getI32Type(), arith::XOrIOp::create(b, l, args[0], signBit));
        Value w = arith::ExtSIOp::create(b, l, b.getI32Type(), args[1]);
        Value sum =
            arith::AddIOp::create(b, l, args[2], arith::MulIOp::create(b, l, unsignedX, w));
        linalg::YieldOp::create(b, l, sum);
      });
  generic->setAttr(kInt8DotMatmulAttr, builder.getDictionaryAttr({}));
  return generic.getResult(0);
}
