//===- Int8DotMatmul.cpp - integer matmuls with dot-product instructions ===//
//
// Replaces the integer products of W8A8 and W4A8 matmuls (the generics
// marked nibble.int8_dot_matmul and nibble.int4_dot_matmul) with vector
// loops around vpdpbusd, the AVX-512 VNNI instruction that multiplies 4
// unsigned bytes by 4 signed bytes and adds the 4 products into a 32-bit
// lane: 64 multiply-adds per instruction. Targets without VNNI get the same
// loops with the dot product spelled in plain vector arithmetic (see
// Passes.td).
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

/// The loops both kernels share: column panels across threads, row tiles
/// within a panel, and the dot product itself.
class DotKernelEmitter {
protected:
  DotKernelEmitter(Operation *at, int64_t m, int64_t n, bool vnni)
      : b(at->getLoc(), at), m(m), n(n), vnni(vnni) {}

  /// Calls emitRowTile(firstRow, rows) for every row tile of every panel;
  /// firstColumn, vectors and tailMask describe the panel meanwhile.
  void emitPanels(function_ref<void(Value, int64_t)> emitRowTile) {
    emitColumnPanels(b, n, kPanelVectors * kLanes, [&](Value first, int64_t width) {
      firstColumn = first;
      vectors = llvm::divideCeil(width, kLanes);
      // Only the last panel can end inside a vector; its last vector's
      // outputs (and scales) go through a mask.
      tailMask = width % kLanes == 0
                     ? Value()
                     : b.create<vector::CreateMaskOp>(VectorType::get({kLanes}, b.getI1Type()),
                                                      ValueRange{index(width % kLanes)})
                           .getResult();
      emitRowTiles(b, m, kRowTile, emitRowTile);
    });
  }

  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value add(Value a, int64_t c) { return b.create<arith::AddIOp>(a, index(c)); }
  VectorType i32Vector() { return VectorType::get({kLanes}, b.getI32Type()); }
  VectorType f32Vector() { return VectorType::get({kLanes}, b.getF32Type()); }
  VectorType bytesVector() { return VectorType::get({4 * kLanes}, b.getI8Type()); }
  Value zeros(VectorType type) { return b.create<arith::ConstantOp>(b.getZeroAttr(type)); }
  Value splatI32(int32_t v) {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i32Vector(), b.getI32IntegerAttr(v).getValue()));
  }
  Value splatBytes(int8_t v) {
    return b.create<arith::ConstantOp>(DenseElementsAttr::get(bytesVector(), v));
  }
  bool masked(int64_t v) { return tailMask && v == vectors - 1; }

  /// Column vector v of the panel, in `memory` at `indices` (the column
  /// last), through the tail mask where needed.
  Value loadColumns(VectorType type, Value memory, ArrayRef<Value> indices, int64_t v) {
    if (!masked(v))
      return b.create<vector::LoadOp>(type, memory, indices);
    return b.create<vector::MaskedLoadOp>(type, memory, indices, tailMask, zeros(type));
  }
  void storeColumns(Value value, Value memory, ArrayRef<Value> indices, int64_t v) {
    if (masked(v))
      b.create<vector::MaskedStoreOp>(memory, indices, tailMask, value);
    else
      b.create<vector::StoreOp>(value, memory, indices);
  }

  /// `count` (4 or 8) activation bytes at `indices`, the first `valid` of
  /// them real (the rest read 0), as count / 4 words each repeated in all
  /// 16 lanes of a byte vector, optionally xor-ed with `flip`.
  SmallVector<Value> broadcastWords(Value lhs, ArrayRef<Value> indices, int64_t count,
                                    int64_t valid, std::optional<uint32_t> flip = {}) {
    auto bytesType = VectorType::get({count}, b.getI8Type());
    Value bytes;
    if (valid == count) {
      bytes = b.create<vector::LoadOp>(bytesType, lhs, indices);
    } else {
      Value mask = b.create<vector::CreateMaskOp>(VectorType::get({count}, b.getI1Type()),
                                                  ValueRange{index(valid)});
      bytes = b.create<vector::MaskedLoadOp>(bytesType, lhs, indices, mask, zeros(bytesType));
    }
    Value words =
        b.create<vector::BitCastOp>(VectorType::get({count / 4}, b.getI32Type()), bytes);
    SmallVector<Value> result;
    for (int64_t w = 0; w < count / 4; ++w) {
      Value word = b.create<vector::ExtractOp>(words, ArrayRef<int64_t>{w});
      if (flip)
        word = b.create<arith::XOrIOp>(
            word, b.create<arith::ConstantOp>(b.getI32IntegerAttr(int32_t(*flip))));
      result.push_back(b.create<vector::BitCastOp>(
          bytesVector(), b.create<vector::BroadcastOp>(i32Vector(), word)));
    }
    return result;
  }

  /// acc + the sums of 4 products of unsigned `u` and signed `s` bytes, per
  /// 32-bit lane.
  Value dot(Value acc, Value u, Value s) {
    if (vnni)
      return b.create<LLVM::CallIntrinsicOp>(i32Vector(),
                                             b.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
                                             ValueRange{acc, u, s})
          .getResult(0);
    // Without VNNI: the 4 bytes of each lane gathered by shuffles, widened,
    // multiplied and added.
    for (int64_t j = 0; j < 4; ++j) {
      SmallVector<int64_t> lanes;
      for (int64_t l = 0; l < kLanes; ++l)
        lanes.push_back(4 * l + j);
      Value uj = b.create<arith::ExtUIOp>(i32Vector(), b.create<vector::ShuffleOp>(u, u, lanes));
      Value sj = b.create<arith::ExtSIOp>(i32Vector(), b.create<vector::ShuffleOp>(s, s, lanes));
      acc = b.create<arith::AddIOp>(acc, b.create<arith::MulIOp>(uj, sj));
    }
    return acc;
  }

  ImplicitLocOpBuilder b;
  int64_t m, n;
  bool vnni;
  Value firstColumn, tailMask;
  int64_t vectors = 0;
};

//===----------------------------------------------------------------------===//
// W8A8: int8 x int8 into i32
//===----------------------------------------------------------------------===//

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
                                                 static_cast<int64_t>(llvm::divideCeil(s.k, 4)),
                                                 4 * kLanes})
    return std::nullopt;
  return s;
}

class Int8DotEmitter : DotKernelEmitter {
public:
  Int8DotEmitter(linalg::GenericOp op, const Int8DotShape &shape, bool vnni)
      : DotKernelEmitter(op, shape.m, shape.n, vnni), s(shape) {}

  void emit() {
    emitPanels([&](Value firstRow, int64_t rows) { emitRowTile(firstRow, rows); });
  }

private:
  /// Rows firstRow .. firstRow + rows - 1 of the panel: one accumulator per
  /// row and column vector, kept in registers over all of K.
  void emitRowTile(Value firstRow, int64_t rows) {
    SmallVector<Value> columns, acc;
    for (int64_t v = 0; v < vectors; ++v)
      columns.push_back(add(firstColumn, v * kLanes));
    // The accumulators start from the output, which holds the weight-sum
    // correction.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v)
        acc.push_back(loadColumns(i32Vector(), s.out, {add(firstRow, r), columns[v]}, v));
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
      for (int64_t v = 0; v < vectors; ++v)
        storeColumns(acc[r * vectors + v], s.out, {add(firstRow, r), columns[v]}, v);
  }

  /// Rows 4 quad .. 4 quad + 3 of K (only the first `validRows` exist):
  /// one weight load per column vector, one broadcast per row, and
  /// rows x vectors dot products.
  SmallVector<Value> emitQuad(Value firstRow, int64_t rows, Value firstVector, Value quad,
                              ValueRange acc, int64_t validRows) {
    SmallVector<Value> weights;
    for (int64_t v = 0; v < vectors; ++v)
      weights.push_back(b.create<vector::LoadOp>(
          bytesVector(), s.weight, ValueRange{add(firstVector, v), quad, index(0)}));
    Value kIndex = b.create<arith::MulIOp>(quad, index(4));
    SmallVector<Value> updated(acc.begin(), acc.end());
    for (int64_t r = 0; r < rows; ++r) {
      // The 4 bytes flipped to unsigned (x + 128); past K they read 0, and
      // the padded weights are 0 anyway.
      Value x = broadcastWords(s.lhs, {add(firstRow, r), kIndex}, 4, validRows,
                               0x80808080u)[0];
      for (int64_t v = 0; v < vectors; ++v) {
        Value &a = updated[r * vectors + v];
        a = dot(a, x, weights[v]);
      }
    }
    return updated;
  }

  Int8DotShape s;
};

//===----------------------------------------------------------------------===//
// W4A8: int8 x int4 into i32 per group, then the float epilogue
//===----------------------------------------------------------------------===//

/// Whether `op` only writes `buffer` (or frees it): a fill, a generic
/// without inputs, a copy into it.
bool isBufferWrite(Operation *op, Value buffer) {
  if (isa<memref::DeallocOp>(op))
    return true;
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return copy.getTarget() == buffer && copy.getSource() != buffer;
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return fill.getOutputs()[0] == buffer;
  auto generic = dyn_cast<linalg::GenericOp>(op);
  return generic && generic.getNumDpsInputs() == 0 && generic.getDpsInits()[0] == buffer;
}

/// Erases the writes to `buffers` that nothing reads any more, and in turn
/// to the buffers those writes copied from.
void eraseUnreadWrites(SmallVector<Value> buffers) {
  while (!buffers.empty()) {
    Value buffer = buffers.pop_back_val();
    if (!llvm::all_of(buffer.getUsers(),
                      [&](Operation *user) { return isBufferWrite(user, buffer); }))
      continue;
    for (Operation *user : llvm::make_early_inc_range(buffer.getUsers())) {
      if (isa<memref::DeallocOp>(user))
        continue;
      if (auto copy = dyn_cast<memref::CopyOp>(user))
        buffers.push_back(copy.getSource());
      user->erase();
    }
  }
}

struct Int4DotShape {
  int64_t m, n, k, groupSize;
  Value lhs, weight, lhsScale, scale, out;
  linalg::GenericOp sums, epilogue;
  /// The weight's i8 zero point ([], [N] or [groups, N]), or null.
  Value zeroPoint;
};

std::optional<Int4DotShape> matchInt4Dot(linalg::GenericOp sums) {
  DictionaryAttr info = getMarkedDenseBufferGeneric(sums, kInt4DotMatmulAttr, 2, 3);
  if (!info)
    return std::nullopt;
  auto groupSize = info.getAs<IntegerAttr>("group_size");
  Value sumsBuffer = sums.getDpsInits()[0];
  // The epilogue reads the sums, and nothing else does (other users only
  // write the buffer, its zero fill or a copy of another layer's zeros, or
  // copy its zeros out before the sums).
  linalg::GenericOp epilogue;
  for (Operation *user : sumsBuffer.getUsers()) {
    if (user == sums || isBufferWrite(user, sumsBuffer))
      continue;
    // A copy of the zeros out (to another layer's sums) before the sums.
    if (isa<memref::CopyOp>(user) && user->getBlock() == sums->getBlock() &&
        user->isBeforeInBlock(sums))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || epilogue ||
        !getMarkedDenseBufferGeneric(generic, kGroupedEpilogueAttr, 3, 3) ||
        generic.getDpsInputs()[0] != sumsBuffer)
      return std::nullopt;
    epilogue = generic;
  }
  if (!groupSize || !epilogue || epilogue->getBlock() != sums->getBlock())
    return std::nullopt;
  Int4DotShape s{0, 0, 0, groupSize.getInt(), sums.getDpsInputs()[0], sums.getDpsInputs()[1],
                 epilogue.getDpsInputs()[1], epilogue.getDpsInputs()[2],
                 epilogue.getDpsInits()[0], sums, epilogue,
                 sums.getNumDpsInputs() == 3 ? sums.getDpsInputs()[2] : Value()};
  // The sums read the activations as [M, groups, G]; the kernel reads the
  // [M, K] buffer underneath.
  if (auto split = s.lhs.getDefiningOp<memref::ExpandShapeOp>())
    s.lhs = split.getSrc();
  auto lhsType = dyn_cast<MemRefType>(s.lhs.getType());
  auto outType = cast<MemRefType>(s.out.getType());
  if (!lhsType || !lhsType.getLayout().isIdentity() || lhsType.getRank() != 2 ||
      outType.getRank() != 2 || !outType.getElementType().isF32())
    return std::nullopt;
  s.m = lhsType.getDimSize(0);
  s.k = lhsType.getDimSize(1);
  s.n = outType.getDimSize(1);
  // Whole groups of whole row-sum steps of 8 rows of K.
  if (s.m < 1 || s.n < 1 || s.groupSize % 8 != 0 || s.k % s.groupSize != 0 ||
      cast<MemRefType>(s.weight.getType()).getShape() !=
          ArrayRef<int64_t>{static_cast<int64_t>(llvm::divideCeil(s.n, 2 * kLanes)), s.k / 4,
                            4 * kLanes})
    return std::nullopt;
  return s;
}

class Int4DotEmitter : DotKernelEmitter {
public:
  Int4DotEmitter(const Int4DotShape &shape, bool vnni)
      : DotKernelEmitter(shape.epilogue, shape.m, shape.n, vnni), s(shape) {}

  void emit() {
    // The sum of each row's activations per group, for the weights' offset
    // of 8: done once, before the panels.
    rowSums = b.create<memref::AllocOp>(
        MemRefType::get({s.m, s.k / s.groupSize}, b.getI32Type()));
    emitRowSums();
    emitPanels([&](Value firstRow, int64_t rows) { emitRowTile(firstRow, rows); });
    b.create<memref::DeallocOp>(rowSums);
  }

private:
  void emitRowSums() {
    auto rowLoop = b.create<scf::ForOp>(index(0), index(s.m), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(rowLoop.getBody()->getTerminator());
    auto groupLoop = b.create<scf::ForOp>(index(0), index(s.k / s.groupSize), index(1));
    b.setInsertionPoint(groupLoop.getBody()->getTerminator());
    Value row = rowLoop.getInductionVar(), group = groupLoop.getInductionVar();
    auto wide = VectorType::get({8}, b.getI32Type());
    Value first = b.create<arith::MulIOp>(group, index(s.groupSize));
    auto stepLoop = b.create<scf::ForOp>(index(0), index(s.groupSize), index(8),
                                         ValueRange{zeros(wide)});
    {
      OpBuilder::InsertionGuard stepGuard(b);
      b.setInsertionPointToStart(stepLoop.getBody());
      Value at = b.create<arith::AddIOp>(first, stepLoop.getInductionVar());
      Value bytes = b.create<vector::LoadOp>(VectorType::get({8}, b.getI8Type()), s.lhs,
                                             ValueRange{row, at});
      b.create<scf::YieldOp>(ValueRange{b.create<arith::AddIOp>(
          stepLoop.getRegionIterArgs()[0], b.create<arith::ExtSIOp>(wide, bytes))});
    }
    Value total =
        b.create<vector::ReductionOp>(vector::CombiningKind::ADD, stepLoop.getResult(0));
    b.create<memref::StoreOp>(total, rowSums, ValueRange{row, group});
  }

  /// Rows firstRow .. firstRow + rows - 1 of the panel, group by group: the
  /// group's exact i32 sums stay in registers, then one fused multiply-add
  /// per output vector folds them into the output.
  void emitRowTile(Value firstRow, int64_t rows) {
    SmallVector<Value> columns;
    for (int64_t v = 0; v < vectors; ++v)
      columns.push_back(add(firstColumn, v * kLanes));
    // Panels start at multiples of 64 columns: vector v of the panel is the
    // low (v even) or high (v odd) nibble of column pair firstPair + v / 2.
    Value firstPair = b.create<arith::DivUIOp>(firstColumn, index(2 * kLanes));
    int64_t quadsPerGroup = s.groupSize / 4;
    auto groupLoop = b.create<scf::ForOp>(index(0), index(s.k / s.groupSize), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(groupLoop.getBody()->getTerminator());
    Value group = groupLoop.getInductionVar();
    Value firstQuad = b.create<arith::MulIOp>(group, index(quadsPerGroup));
    // The weights are q + 8 (low nibbles) and 16 (q + 8) (high nibbles):
    // starting the sums at -8 and -128 times the row's group sum of
    // activations leaves sum(q x) and 16 sum(q x). A zero point z adds to
    // the offset: -(8 + z) and -16 (8 + z) per column.
    SmallVector<Value> offsets;
    for (int64_t v = 0; v < vectors; ++v)
      offsets.push_back(s.zeroPoint ? loadNegatedOffsets(group, columns[v], v)
                                    : splatI32(v % 2 == 0 ? -8 : -128));
    SmallVector<Value> init;
    for (int64_t r = 0; r < rows; ++r) {
      Value rowSum = b.create<vector::BroadcastOp>(
          i32Vector(), b.create<memref::LoadOp>(rowSums, ValueRange{add(firstRow, r), group}));
      for (int64_t v = 0; v < vectors; ++v)
        init.push_back(b.create<arith::MulIOp>(rowSum, offsets[v]));
    }
    auto quadLoop = b.create<scf::ForOp>(index(0), index(quadsPerGroup), index(1), init);
    {
      OpBuilder::InsertionGuard quadGuard(b);
      b.setInsertionPointToStart(quadLoop.getBody());
      Value quad = b.create<arith::AddIOp>(firstQuad, quadLoop.getInductionVar());
      b.create<scf::YieldOp>(
          emitQuad(firstRow, rows, firstPair, quad, quadLoop.getRegionIterArgs()));
    }
    Value four = splatI32(4);
    for (int64_t r = 0; r < rows; ++r) {
      Value row = add(firstRow, r);
      Value rowScale = b.create<vector::BroadcastOp>(f32Vector(), loadRowScale(row, group));
      for (int64_t v = 0; v < vectors; ++v) {
        // The high nibbles' sums are 16 times exact ones: shifting is exact.
        Value exact = quadLoop.getResult(r * vectors + v);
        if (v % 2 == 1)
          exact = b.create<arith::ShRSIOp>(exact, four);
        Value scale = b.create<arith::MulFOp>(rowScale, loadColumnScale(group, columns[v], v));
        SmallVector<Value, 2> at{row, columns[v]};
        Value total = loadColumns(f32Vector(), s.out, at, v);
        total = b.create<math::FmaOp>(b.create<arith::SIToFPOp>(f32Vector(), exact), scale,
                                      total);
        storeColumns(total, s.out, at, v);
      }
    }
  }

  /// Rows 4 quad .. 4 quad + 3 of K: per column pair one 64-byte load
  /// masked into low nibbles (unsigned q + 8) and high nibbles (16 (q + 8)),
  /// per row one broadcast activation word, and one dot product per row and
  /// vector.
  SmallVector<Value> emitQuad(Value firstRow, int64_t rows, Value firstPair, Value quad,
                              ValueRange acc) {
    SmallVector<Value> nibbles;
    for (int64_t v = 0; v < vectors; v += 2) {
      Value bytes = b.create<vector::LoadOp>(
          bytesVector(), s.weight, ValueRange{add(firstPair, v / 2), quad, index(0)});
      nibbles.push_back(b.create<arith::AndIOp>(bytes, splatBytes(0x0F)));
      if (v + 1 < vectors)
        nibbles.push_back(b.create<arith::AndIOp>(bytes, splatBytes(int8_t(0xF0))));
    }
    Value kIndex = b.create<arith::MulIOp>(quad, index(4));
    SmallVector<Value> updated(acc.begin(), acc.end());
    for (int64_t r = 0; r < rows; ++r) {
      Value x = broadcastWords(s.lhs, {add(firstRow, r), kIndex}, 4, 4).front();
      for (int64_t v = 0; v < vectors; ++v) {
        Value &a = updated[r * vectors + v];
        a = dot(a, nibbles[v], x);
      }
    }
    return updated;
  }

  /// -(8 + zero point) of column vector v in `group` as i32 lanes, times
  /// 16 for the high nibbles (odd v).
  Value loadNegatedOffsets(Value group, Value column, int64_t v) {
    auto bytes = VectorType::get({kLanes}, b.getI8Type());
    Value zeroPoint;
    switch (cast<MemRefType>(s.zeroPoint.getType()).getRank()) {
    case 0:
      zeroPoint = b.create<vector::BroadcastOp>(
          bytes, b.create<memref::LoadOp>(s.zeroPoint, ValueRange{}));
      break;
    case 1:
      zeroPoint = loadColumns(bytes, s.zeroPoint, {column}, v);
      break;
    default:
      zeroPoint = loadColumns(bytes, s.zeroPoint, {group, column}, v);
    }
    Value offset =
        b.create<arith::AddIOp>(b.create<arith::ExtSIOp>(i32Vector(), zeroPoint), splatI32(8));
    return b.create<arith::MulIOp>(offset, splatI32(v % 2 == 0 ? -1 : -16));
  }

  /// The activation scale of `row` in `group`: [], [M] or [M, groups].
  Value loadRowScale(Value row, Value group) {
    switch (cast<MemRefType>(s.lhsScale.getType()).getRank()) {
    case 0:
      return b.create<memref::LoadOp>(s.lhsScale, ValueRange{});
    case 1:
      return b.create<memref::LoadOp>(s.lhsScale, ValueRange{row});
    default:
      return b.create<memref::LoadOp>(s.lhsScale, ValueRange{row, group});
    }
  }

  /// The weight scales of `group` for column vector v: [], [N] or
  /// [groups, N].
  Value loadColumnScale(Value group, Value column, int64_t v) {
    switch (cast<MemRefType>(s.scale.getType()).getRank()) {
    case 0:
      return b.create<vector::BroadcastOp>(f32Vector(),
                                           b.create<memref::LoadOp>(s.scale, ValueRange{}));
    case 1:
      return loadColumns(f32Vector(), s.scale, {column}, v);
    default:
      return loadColumns(f32Vector(), s.scale, {group, column}, v);
    }
  }

  Int4DotShape s;
  Value rowSums;
};

struct NibbleCPUInt8DotMatmulPass final
    : nibble::impl::NibbleCPUInt8DotMatmulPassBase<NibbleCPUInt8DotMatmulPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, Int8DotShape>> int8Matches;
    SmallVector<Int4DotShape> int4Matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<Int8DotShape> shape = matchInt8Dot(op))
        int8Matches.push_back({op, *shape});
      else if (std::optional<Int4DotShape> shape = matchInt4Dot(op))
        int4Matches.push_back(*shape);
    });
    for (auto &[op, shape] : int8Matches) {
      Int8DotEmitter(op, shape, vnni).emit();
      op.erase();
    }
    SmallVector<Value> sumsBuffers;
    for (Int4DotShape &shape : int4Matches) {
      Int4DotEmitter(shape, vnni).emit();
      // The sums are never materialized: drop their producer and the
      // epilogue the kernel replaced, then what zeroed their buffer.
      sumsBuffers.push_back(shape.sums.getDpsInits()[0]);
      shape.epilogue.erase();
      shape.sums.erase();
    }
    eraseUnreadWrites(sumsBuffers);
  }
};

} // namespace
