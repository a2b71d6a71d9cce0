//===- Int8DotMatmul.cpp - int8 x int8 matmuls with dot-product instructions ===//
//
// Replaces the integer product of a W8A8 matmul (the generic marked
// nibble.int8_dot_matmul) with vector loops around vpdpbusd, the AVX-512
// VNNI instruction that multiplies 4 unsigned bytes by 4 signed bytes and
// adds the 4 products into a 32-bit lane: 64 multiply-adds per instruction.
// Targets without VNNI get the same loops with the dot product spelled in
// plain vector arithmetic (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CPU/Passes.h"

#include "ColumnPanels.h"

#include "nibble/Conversion/Passes.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUINT8DOTMATMULPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

constexpr int64_t kLanes = 16;        // i32 lanes of a 512-bit vector
constexpr int64_t kPanelVectors = 4;  // column vectors sharing one activation broadcast
constexpr int64_t kRowTile = 4;       // rows sharing each weight vector

struct Int8DotShape {
  int64_t m, n, k;
  Value lhs, weight, out;
};

std::optional<Int8DotShape> matchInt8Dot(linalg::GenericOp op) {
  if (!getMarkedDenseBufferGeneric(op, kInt8DotMatmulAttr, 2, 2))
    return std::nullopt;
  Int8DotShape s{0, 0, 0, op.getDpsInputs()[0], op.getDpsInputs()[1], op.getDpsInits()[0]};
  auto lhsType = cast<MemRefType>(s.lhs.getType());
  auto weightType = cast<MemRefType>(s.weight.getType());
  auto outType = cast<MemRefType>(s.out.getType());
  if (lhsType.getRank() != 2 || outType.getRank() != 2 ||
      !lhsType.getElementType().isInteger(8) || !outType.getElementType().isInteger(32))
    return std::nullopt;
  s.m = lhsType.getDimSize(0);
  s.k = lhsType.getDimSize(1);
  s.n = outType.getDimSize(1);
  if (s.m < 1 || s.k < 1 || s.n < 1 ||
      weightType.getShape() != ArrayRef<int64_t>{static_cast<int64_t>(llvm::divideCeil(s.n, kLanes)),
                                 static_cast<int64_t>(llvm::divideCeil(s.k, 4)), 4 * kLanes})
    return std::nullopt;
  return s;
}

class Int8DotEmitter {
public:
  Int8DotEmitter(linalg::GenericOp op, const Int8DotShape &shape, bool vnni)
      : b(op.getLoc(), op), s(shape), vnni(vnni) {}

  void emit() {
    emitColumnPanels(b, s.n, kPanelVectors * kLanes, [&](Value first, int64_t width) {
      firstColumn = first;
      vectors = llvm::divideCeil(width, kLanes);
      // Only the last panel can end inside a vector; its last vector's
      // accumulators are loaded and stored through a mask.
      tailMask = width % kLanes == 0
                     ? Value()
                     : b.create<vector::CreateMaskOp>(VectorType::get({kLanes}, b.getI1Type()),
                                                      ValueRange{index(width % kLanes)})
                           .getResult();
      int64_t wholeTiles = s.m / kRowTile;
      if (wholeTiles > 0) {
        auto loop = b.create<scf::ForOp>(index(0), index(wholeTiles * kRowTile), index(kRowTile));
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(loop.getBody()->getTerminator());
        emitRowTile(loop.getInductionVar(), kRowTile);
      }
      if (s.m % kRowTile != 0)
        emitRowTile(index(wholeTiles * kRowTile), s.m % kRowTile);
    });
  }

private:
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  VectorType accType() { return VectorType::get({kLanes}, b.getI32Type()); }
  VectorType bytesType() { return VectorType::get({4 * kLanes}, b.getI8Type()); }
  Value add(Value a, int64_t c) { return b.create<arith::AddIOp>(a, index(c)); }
  bool masked(int64_t v) { return tailMask && v == vectors - 1; }

  /// Rows firstRow .. firstRow + rows - 1 of the panel: one accumulator per
  /// row and column vector, kept in registers over all of K.
  void emitRowTile(Value firstRow, int64_t rows) {
    SmallVector<Value> columns, acc;
    for (int64_t v = 0; v < vectors; ++v)
      columns.push_back(add(firstColumn, v * kLanes));
    // The accumulators start from the output, which holds the weight-sum
    // correction.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v) {
        SmallVector<Value, 2> at{add(firstRow, r), columns[v]};
        if (masked(v))
          acc.push_back(b.create<vector::MaskedLoadOp>(
              accType(), s.out, at, tailMask,
              b.create<arith::ConstantOp>(b.getZeroAttr(accType()))));
        else
          acc.push_back(b.create<vector::LoadOp>(accType(), s.out, at));
      }
    Value firstVector = b.create<arith::DivUIOp>(firstColumn, index(kLanes));
    int64_t quads = s.k / 4;
    if (quads > 0) {
      auto loop = b.create<scf::ForOp>(index(0), index(quads), index(1), acc);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      SmallVector<Value> updated = emitQuad(firstRow, rows, firstVector,
                                            loop.getInductionVar(), loop.getRegionIterArgs(),
                                            /*validRows=*/4);
      b.create<scf::YieldOp>(updated);
      acc.assign(loop.getResults().begin(), loop.getResults().end());
    }
    if (s.k % 4 != 0)
      acc = emitQuad(firstRow, rows, firstVector, index(quads), acc, s.k % 4);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v) {
        SmallVector<Value, 2> at{add(firstRow, r), columns[v]};
        Value value = acc[r * vectors + v];
        if (masked(v))
          b.create<vector::MaskedStoreOp>(s.out, at, tailMask, value);
        else
          b.create<vector::StoreOp>(value, s.out, at);
      }
  }

  /// Rows 4 quad .. 4 quad + 3 of K (only the first `validRows` exist):
  /// one weight load per column vector, one broadcast per row, and
  /// rows x vectors dot products.
  SmallVector<Value> emitQuad(Value firstRow, int64_t rows, Value firstVector, Value quad,
                              ValueRange acc, int64_t validRows) {
    SmallVector<Value> weights;
    for (int64_t v = 0; v < vectors; ++v)
      weights.push_back(b.create<vector::LoadOp>(
          bytesType(), s.weight, ValueRange{add(firstVector, v), quad, index(0)}));
    Value kIndex = b.create<arith::MulIOp>(quad, index(4));
    auto fourBytes = VectorType::get({4}, b.getI8Type());
    SmallVector<Value> updated(acc.begin(), acc.end());
    for (int64_t r = 0; r < rows; ++r) {
      SmallVector<Value, 2> at{add(firstRow, r), kIndex};
      Value x;
      if (validRows == 4) {
        x = b.create<vector::LoadOp>(fourBytes, s.lhs, at);
      } else {
        // Past K the activations read 0; the padded weights are 0 anyway.
        Value mask = b.create<vector::CreateMaskOp>(VectorType::get({4}, b.getI1Type()),
                                                    ValueRange{index(validRows)});
        x = b.create<vector::MaskedLoadOp>(fourBytes, s.lhs, at, mask,
                                           b.create<arith::ConstantOp>(b.getZeroAttr(fourBytes)));
      }
      // The 4 bytes as one i32, flipped to unsigned (x + 128) and repeated
      // in every lane.
      Value word = b.create<vector::ExtractOp>(
          b.create<vector::BitCastOp>(VectorType::get({1}, b.getI32Type()), x),
          ArrayRef<int64_t>{0});
      word = b.create<arith::XOrIOp>(
          word, b.create<arith::ConstantOp>(b.getI32IntegerAttr(int32_t(0x80808080u))));
      Value broadcast = b.create<vector::BitCastOp>(
          bytesType(), b.create<vector::BroadcastOp>(accType(), word));
      for (int64_t v = 0; v < vectors; ++v) {
        Value &a = updated[r * vectors + v];
        a = dot(a, broadcast, weights[v]);
      }
    }
    return updated;
  }

  /// acc + the sums of 4 products of unsigned `u` and signed `w` bytes, per
  /// 32-bit lane.
  Value dot(Value acc, Value u, Value w) {
    if (vnni)
      return b.create<LLVM::CallIntrinsicOp>(accType(),
                                             b.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
                                             ValueRange{acc, u, w})
          .getResult(0);
    // Without VNNI: the 4 bytes of each lane gathered by shuffles, widened,
    // multiplied and added.
    for (int64_t j = 0; j < 4; ++j) {
      SmallVector<int64_t> lanes;
      for (int64_t l = 0; l < kLanes; ++l)
        lanes.push_back(4 * l + j);
      Value uj = b.create<arith::ExtUIOp>(accType(), b.create<vector::ShuffleOp>(u, u, lanes));
      Value wj = b.create<arith::ExtSIOp>(accType(), b.create<vector::ShuffleOp>(w, w, lanes));
      acc = b.create<arith::AddIOp>(acc, b.create<arith::MulIOp>(uj, wj));
    }
    return acc;
  }

  ImplicitLocOpBuilder b;
  Int8DotShape s;
  bool vnni;
  Value firstColumn, tailMask;
  int64_t vectors = 0;
};

struct NibbleCPUInt8DotMatmulPass final
    : nibble::impl::NibbleCPUInt8DotMatmulPassBase<NibbleCPUInt8DotMatmulPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, Int8DotShape>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<Int8DotShape> shape = matchInt8Dot(op))
        matches.push_back({op, *shape});
    });
    for (auto &[op, shape] : matches) {
      Int8DotEmitter(op, shape, vnni).emit();
      op.erase();
    }
  }
};

} // namespace
