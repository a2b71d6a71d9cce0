//===- GridSampleOps.cpp - ONNX GridSample and AffineGrid ------------------===//
//
// GridSample (opsets 16 and 20) with nearest and linear modes over 2 or 3
// spatial dims and cubic over 2, every padding mode and align_corners, as one
// linalg.generic over the output [N, C, out...] whose body reads the grid
// and the input with tensor.extract. It follows the ONNX reference step by
// step: denormalize, round (nearest), pull coordinates outside the border
// back in (border: clamp, reflection: reflect), then read pixels with the
// padding rule (zeros: 0 outside).
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
using namespace mlir::nibble::onnx_import;

namespace {

enum class Padding { Zeros, Border, Reflection };

/// Scalar f32 helpers over one OpBuilder position.
struct Scalars {
  OpBuilder &b;
  Location loc;
  Value f(double v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value floor(Value x) { return math::FloorOp::create(b, loc, x); }
  Value lt(Value x, Value y) {
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, y);
  }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, loc, c, x, y); }
  Value clamp(Value x, Value lo, Value hi) {
    return arith::MinimumFOp::create(b, loc, arith::MaximumFOp::create(b, loc, x, lo), hi);
  }

  /// The reference's _gs_reflect: fold x back into [lo, hi] by mirroring.
  Value reflect(Value x, Value lo, Value hi) {
    Value range = sub(hi, lo);
    auto fold = [&](Value distance, Value nearEdge, Value farEdge, bool fromBelow) {
      Value turns = floor(div(distance, range));
      Value rest = sub(distance, mul(turns, range));
      Value half = mul(turns, f(0.5));
      Value even = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, floor(half), half);
      Value towardsFar = fromBelow ? add(nearEdge, rest) : sub(nearEdge, rest);
      Value towardsNear = fromBelow ? sub(farEdge, rest) : add(farEdge, rest);
      return select(even, towardsFar, towardsNear);
    };
    Value below = fold(sub(lo, x), lo, hi, /*fromBelow=*/true);
    Value above = fold(sub(x, hi), hi, lo, /*fromBelow=*/false);
    return select(lt(x, lo), below, select(lt(hi, x), above, x));
  }
};

} // namespace

static llvm::Error convertGridSample(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  llvm::Expected<OnnxValue> grid = imp.floatInput(1);
  if (!grid)
    return grid.takeError();
  RankedTensorType xType = tensorTypeOf(x->value);
  RankedTensorType gridType = tensorTypeOf(grid->value);
  if (!xType.getElementType().isF32() || !gridType.getElementType().isF32())
    return imp.fail("supports float32 X and grid");
  int64_t spatial = xType.getRank() - 2;
  if ((spatial != 2 && spatial != 3) || gridType.getRank() != spatial + 2 ||
      gridType.getDimSize(0) != xType.getDimSize(0) ||
      gridType.getShape().back() != spatial)
    return imp.fail("expects X [N, C, spatial...] with 2 or 3 spatial dims and grid "
                    "[N, out..., spatial count]");
  std::string mode = imp.stringAttr("mode").value_or(imp.opset() >= 20 ? "linear" : "bilinear");
  bool nearest = mode == "nearest";
  bool cubic = mode == "cubic" || mode == "bicubic";
  if (!nearest && !cubic && mode != "linear" && mode != "bilinear")
    return imp.fail("mode '" + mode + "' is not one of nearest, linear and cubic");
  if (cubic && spatial != 2)
    return imp.fail("cubic mode takes 2 spatial dims, got " + llvm::Twine(spatial));
  std::string paddingName = imp.stringAttr("padding_mode").value_or("zeros");
  Padding padding = paddingName == "border"       ? Padding::Border
                    : paddingName == "reflection" ? Padding::Reflection
                                                  : Padding::Zeros;
  if (padding == Padding::Zeros && paddingName != "zeros")
    return imp.fail("padding_mode must be zeros, border or reflection");
  bool alignCorners = imp.intAttr("align_corners").value_or(0) != 0;

  SmallVector<int64_t> outShape = {xType.getDimSize(0), xType.getDimSize(1)};
  llvm::append_range(outShape, gridType.getShape().drop_front().drop_back());
  int64_t rank = outShape.size();
  SmallVector<int64_t> dims(xType.getShape().drop_front(2));

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value empty = tensor::EmptyOp::create(b, loc, outShape, b.getF32Type());
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{}, ValueRange{empty},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange) {
        Scalars s{nb, nl};
        auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(nb, nl, v); };
        SmallVector<Value> out;
        for (int64_t d = 0; d < rank; ++d)
          out.push_back(linalg::IndexOp::create(nb, nl, d));
        // Coordinates per spatial dim (the grid's last axis is reversed:
        // it lists x first).
        SmallVector<Value> coords, lows, highs;
        for (int64_t i = 0; i < spatial; ++i) {
          SmallVector<Value> at = {out[0]};
          at.append(out.begin() + 2, out.end());
          at.push_back(index(spatial - 1 - i));
          Value g = tensor::ExtractOp::create(nb, nl, grid->value, at);
          double size = dims[i];
          Value c = alignCorners ? s.mul(s.mul(s.add(g, s.f(1)), s.f(0.5)), s.f(size - 1))
                                 : s.mul(s.sub(s.mul(s.add(g, s.f(1)), s.f(size)), s.f(1)),
                                         s.f(0.5));
          if (nearest)
            c = math::RoundEvenOp::create(nb, nl, c);
          Value lo = s.f(alignCorners ? 0.0 : -0.5);
          Value hi = s.f(alignCorners ? size - 1 : size - 0.5);
          if (padding == Padding::Border)
            c = s.select(s.lt(c, lo), s.clamp(c, s.f(0), s.f(size - 1)),
                         s.select(s.lt(hi, c), s.clamp(c, s.f(0), s.f(size - 1)), c));
          else if (padding == Padding::Reflection)
            c = s.reflect(c, lo, hi);
          coords.push_back(c);
          lows.push_back(lo);
          highs.push_back(hi);
        }
        // A pixel at integer (float-valued) coordinates, with the padding
        // rule; returns its value (0 outside for zeros padding).
        auto pixel = [&](ArrayRef<Value> at) -> Value {
          SmallVector<Value> indices = {out[0], out[1]};
          Value inside = arith::ConstantOp::create(nb, nl, nb.getBoolAttr(true));
          for (int64_t i = 0; i < spatial; ++i) {
            Value c = at[i];
            double size = dims[i];
            if (padding == Padding::Reflection)
              c = s.reflect(c, lows[i], highs[i]);
            inside = arith::AndIOp::create(
                nb, nl, inside,
                arith::AndIOp::create(nb, nl, s.lt(s.f(-1), c), s.lt(c, s.f(size))));
            Value clamped = s.clamp(c, s.f(0), s.f(size - 1));
            Value asInt = arith::FPToSIOp::create(nb, nl, nb.getI64Type(), clamped);
            indices.push_back(arith::IndexCastOp::create(nb, nl, nb.getIndexType(), asInt));
          }
          Value v = tensor::ExtractOp::create(nb, nl, x->value, indices);
          if (padding == Padding::Zeros)
            v = s.select(inside, v, s.f(0));
          return v;
        };
        Value result;
        if (nearest) {
          result = pixel(coords);
        } else if (cubic) {
          // Keys' cubic convolution (alpha = -0.75) over the 4 x 4 pixels
          // from floor(c) - 1, as the reference.
          SmallVector<Value> base;
          SmallVector<SmallVector<Value, 4>> weights;
          for (Value c : coords) {
            Value f0 = s.floor(c);
            base.push_back(s.sub(f0, s.f(1)));
            Value t = math::AbsFOp::create(nb, nl, s.sub(c, f0));
            Value a = s.f(-0.75);
            auto outer = [&](Value u) { // for distances 1 < u < 2
              return s.sub(s.mul(s.add(s.mul(s.sub(s.mul(a, u), s.mul(s.f(5), a)), u),
                                       s.mul(s.f(8), a)),
                                 u),
                           s.mul(s.f(4), a));
            };
            auto inner = [&](Value u) { // for distances u <= 1
              return s.add(s.mul(s.mul(s.sub(s.mul(s.add(a, s.f(2)), u), s.add(a, s.f(3))), u),
                                 u),
                           s.f(1));
            };
            weights.push_back({outer(s.add(t, s.f(1))), inner(t), inner(s.sub(s.f(1), t)),
                               outer(s.sub(s.f(2), t))});
          }
          result = s.f(0);
          for (int64_t i = 0; i < 4; ++i)
            for (int64_t j = 0; j < 4; ++j) {
              Value at[2] = {s.add(base[0], s.f(i)), s.add(base[1], s.f(j))};
              result = s.add(result, s.mul(s.mul(weights[0][i], weights[1][j]), pixel(at)));
            }
        } else {
          SmallVector<Value> base, frac;
          for (Value c : coords) {
            Value f0 = s.floor(c);
            base.push_back(f0);
            frac.push_back(s.sub(c, f0));
          }
          result = s.f(0);
          for (int64_t corner = 0; corner < (int64_t(1) << spatial); ++corner) {
            SmallVector<Value> at;
            Value weight = s.f(1);
            for (int64_t i = 0; i < spatial; ++i) {
              bool upper = (corner >> (spatial - 1 - i)) & 1;
              at.push_back(upper ? s.add(base[i], s.f(1)) : base[i]);
              weight = s.mul(weight, upper ? frac[i] : s.sub(s.f(1), frac[i]));
            }
            result = s.add(result, s.mul(weight, pixel(at)));
          }
        }
        linalg::YieldOp::create(nb, nl, result);
      });
  imp.setOutput(0, generic.getResult(0), x->onnxType);
  return llvm::Error::success();
}

/// AffineGrid: the sampling grid [N, (D,) H, W, R] of R = 2 or 3 spatial
/// dims that GridSample takes, theta[n] (R x R+1) applied to each output
/// pixel's normalized coordinates (x over W, y over H, z over D, then 1):
/// -1 + 2k / (S - 1) with align_corners, else (2k + 1) / S - 1. One generic
/// over the grid computes each element's dot product.
static llvm::Error convertAffineGrid(NodeImporter &imp) {
  llvm::Expected<OnnxValue> theta = imp.floatInput(0);
  if (!theta)
    return theta.takeError();
  llvm::Expected<ElementsAttr> sizeAttr = imp.constantInput(1, "size");
  if (!sizeAttr)
    return sizeAttr.takeError();
  std::optional<SmallVector<int64_t>> size =
      mlir::nibble::readIntElements(*sizeAttr, /*isSigned=*/true);
  if (!size || (size->size() != 4 && size->size() != 5))
    return imp.fail("size must list [N, C, H, W] or [N, C, D, H, W]");
  int64_t spatial = size->size() - 2;
  ArrayRef<int64_t> thetaShape = tensorTypeOf(theta->value).getShape();
  if (thetaShape != ArrayRef<int64_t>{(*size)[0], spatial, spatial + 1})
    return imp.fail("theta must be [N, " + llvm::Twine(spatial) + ", " +
                    llvm::Twine(spatial + 1) + "] for this size");
  bool alignCorners = imp.intAttr("align_corners").value_or(0) != 0;
  SmallVector<int64_t> outShape = {(*size)[0]};
  outShape.append(size->begin() + 2, size->end());
  outShape.push_back(spatial);
  for (int64_t d : outShape)
    if (d < 0)
      return imp.fail("size has a negative dimension");
  int64_t rank = outShape.size();
  Type elementType = tensorTypeOf(theta->value).getElementType();

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value empty = tensor::EmptyOp::create(b, loc, outShape, elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{}, ValueRange{empty},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange) {
        auto constant = [&](double v) -> Value {
          return arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, v));
        };
        Value n = linalg::IndexOp::create(nb, nl, 0);
        Value row = linalg::IndexOp::create(nb, nl, rank - 1);
        // Column j of theta multiplies the coordinate over spatial dim
        // R - 1 - j (x first), the last column 1.
        Value sum = tensor::ExtractOp::create(
            nb, nl, theta->value,
            ValueRange{n, row, arith::ConstantIndexOp::create(nb, nl, spatial)});
        for (int64_t j = 0; j < spatial; ++j) {
          int64_t dim = spatial - j; // the output loop over that spatial dim
          double extent = outShape[dim];
          Value k = arith::UIToFPOp::create(
              nb, nl, elementType,
              arith::IndexCastUIOp::create(nb, nl, nb.getI64Type(),
                                           linalg::IndexOp::create(nb, nl, dim)));
          Value coordinate;
          if (alignCorners) {
            Value step = constant(extent > 1 ? 2 / (extent - 1) : 0);
            coordinate = arith::AddFOp::create(nb, nl, constant(-1),
                                               arith::MulFOp::create(nb, nl, k, step));
          } else {
            Value twice = arith::AddFOp::create(nb, nl, arith::AddFOp::create(nb, nl, k, k),
                                                constant(1));
            coordinate = arith::SubFOp::create(
                nb, nl, arith::MulFOp::create(nb, nl, twice, constant(1 / extent)), constant(1));
          }
          Value weight = tensor::ExtractOp::create(
              nb, nl, theta->value, ValueRange{n, row, arith::ConstantIndexOp::create(nb, nl, j)});
          sum = arith::AddFOp::create(nb, nl, sum, arith::MulFOp::create(nb, nl, weight, coordinate));
        }
        linalg::YieldOp::create(nb, nl, sum);
      });
  imp.setOutput(0, generic.getResult(0), theta->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerGridSampleConverters(ConverterRegistry &registry) {
  registry["::GridSample"] = convertGridSample;
  registry["::AffineGrid"] = convertAffineGrid;
}
