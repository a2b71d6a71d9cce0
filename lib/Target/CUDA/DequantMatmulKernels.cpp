//===- DequantMatmulKernels.cpp - fused dequantize+GEMV GPU kernels -------===//
//
// Replaces each bufferized generic marked nibble.dequant_matmul with a
// gpu.launch whose body is the fused kernel described in Passes.td. The
// kernel is written out op by op here (unrolled over the 32 values of a
// lane's chunk, the 4 columns of a warp and up to 8 rows of M), so what
// reaches the NVPTX backend is straight-line register code around 16-byte
// loads.
//
//===----------------------------------------------------------------------===//

#include "DequantKernels.h"

#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"
#include "nibble/Target/CUDA/GemvLayout.h"
#include "nibble/Target/CUDA/MmaLayout.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECUDADEQUANTMATMULKERNELSPASS
#include "nibble/Target/CUDA/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

using gemv::kWarpSize;
constexpr int64_t kWarpsPerBlock = 4;
constexpr int64_t kColumnsPerWarp = 4;
constexpr int64_t kMaxRowsPerTile = 4;
// Steps of a lane whose loads are issued together (memory-level parallelism).
constexpr int64_t kStepsInFlight = 2;

using KernelShape = DequantKernelShape;

std::optional<KernelShape> matchPackedMatmul(linalg::GenericOp op) {
  DictionaryAttr info = getMarkedDenseBufferGeneric(op, kDequantMatmulAttr, 3, 4);
  if (!info)
    return std::nullopt;
  auto bits = info.getAs<IntegerAttr>("bits");
  auto isSigned = info.getAs<BoolAttr>("signed");
  auto groupSize = info.getAs<IntegerAttr>("group_size");
  auto hasZeroPoint = info.getAs<BoolAttr>("has_zero_point");
  auto layout = info.getAs<StringAttr>("layout");
  if (!bits || !isSigned || !groupSize || !hasZeroPoint || !layout)
    return std::nullopt;
  auto lhsType = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto outType = cast<MemRefType>(op.getDpsInits()[0].getType());
  KernelShape shape{lhsType.getDimSize(0),  outType.getDimSize(1), lhsType.getDimSize(1),
                    bits.getInt(),          groupSize.getInt(),    isSigned.getValue(),
                    hasZeroPoint.getValue(), DequantKernelLayout::Gemv};
  auto wordsType = cast<MemRefType>(op.getDpsInputs()[1].getType());
  bool isMma = layout.getValue() == stringifyLayout(DequantKernelLayout::Mma);
  // 16-bit fields are float16 weights, which only the tensor-core kernel
  // takes; 32-bit fields are float32 weights, which only the GEMV takes.
  if (shape.bits != 4 && shape.bits != 8 && !(isMma && shape.bits == kFloat16WeightBits) &&
      !(!isMma && shape.bits == kFloat32WeightBits))
    return std::nullopt;
  if (isMma) {
    shape.layout = DequantKernelLayout::Mma;
    // The zero points are an operand only when there are any.
    int64_t inputs = shape.hasZeroPoint ? 4 : 3;
    if (op.getNumDpsInputs() != inputs || shape.k % 2 != 0 ||
        !mma::takesGroups(shape.groupSize, shape.k) ||
        wordsType.getDimSize(0) != mma::tiles(shape.n) ||
        wordsType.getDimSize(1) != mma::wordsPerTile(shape.k, shape.bits))
      return std::nullopt;
    return shape;
  }
  if (op.getNumDpsInputs() != 4 || shape.k % gemv::kValuesPerRun != 0 ||
      shape.groupSize % gemv::kValuesPerRun != 0 ||
      wordsType.getDimSize(1) != gemv::paddedK(shape.k) * shape.bits / 32)
    return std::nullopt;
  return shape;
}

/// Emits the kernel for `op` at its position and erases `op`.
class KernelEmitter {
public:
  /// `out`: `op`'s f32 output, or a float16/bfloat16 buffer receiving it
  /// rounded.
  KernelEmitter(linalg::GenericOp op, const KernelShape &shape, Value out)
      : b(op.getLoc(), op), shape(shape), lhs(op.getDpsInputs()[0]),
        words(op.getDpsInputs()[1]), scales(op.getDpsInputs()[2]),
        scaledZeros(op.getDpsInputs()[3]), out(out),
        // float32 weights fill a lane's registers with one column.
        columnsPerWarp(shape.bits == kFloat32WeightBits ? 1 : kColumnsPerWarp) {}

  void emit() {
    kSplit = chooseKSplit(llvm::divideCeil(shape.n, columnsPerWarp),
                          gemv::paddedK(shape.k) / gemv::kBlockK, kWarpsPerBlock);
    int64_t columnsPerBlock = kWarpsPerBlock / kSplit * columnsPerWarp;
    Value grid = index(llvm::divideCeil(shape.n, columnsPerBlock));
    Value one = index(1);
    auto launch = gpu::LaunchOp::create(b, grid, one, one, index(kWarpSize * kWarpsPerBlock),
                                        one, one);
    rowsPerTile = std::min(shape.m, kMaxRowsPerTile);
    if (kSplit > 1) // every warp's totals, summed by the first warp of each split
      partials = launch.addWorkgroupAttribution(
          MemRefType::get({kWarpsPerBlock, rowsPerTile * columnsPerWarp}, b.getF32Type(),
                          AffineMap(),
                          gpu::AddressSpaceAttr::get(b.getContext(),
                                                     gpu::AddressSpace::Workgroup)),
          b.getLoc());
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    gpu::TerminatorOp::create(b);
    b.setInsertionPointToStart(&body);

    Value thread = launch.getThreadIds().x;
    lane = b.create<arith::RemUIOp>(thread, index(kWarpSize));
    warp = b.create<arith::DivUIOp>(thread, index(kWarpSize));
    // Warp w takes columns group w / kSplit and K steps w % kSplit,
    // w % kSplit + kSplit, ...
    kPart = b.create<arith::RemUIOp>(warp, index(kSplit));
    Value columnGroup = b.create<arith::DivUIOp>(warp, index(kSplit));
    Value blockColumn = b.create<arith::MulIOp>(launch.getBlockIds().x, index(columnsPerBlock));
    Value firstColumn = b.create<arith::AddIOp>(
        blockColumn, b.create<arith::MulIOp>(columnGroup, index(columnsPerWarp)));
    for (int64_t c = 0; c < columnsPerWarp; ++c) {
      Value column = b.create<arith::AddIOp>(firstColumn, index(c));
      columns.push_back(column);
      // Out-of-range columns read the last column and are not stored.
      loadColumns.push_back(b.create<arith::MinUIOp>(column, index(shape.n - 1)));
    }

    int64_t tiles = llvm::divideCeil(shape.m, rowsPerTile);
    if (tiles == 1) {
      emitRowTile(index(0));
    } else {
      auto loop = b.create<scf::ForOp>(index(0), index(tiles * rowsPerTile), index(rowsPerTile));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      emitRowTile(loop.getInductionVar());
    }
  }

private:
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value i32(int64_t v) { return b.create<arith::ConstantIntOp>(v, 32); }
  Value f32(float v) { return b.create<arith::ConstantFloatOp>(b.getF32Type(), APFloat(v)); }

  /// Rows firstRow .. firstRow + rowsPerTile of the output.
  void emitRowTile(Value firstRow) {
    SmallVector<Value> rows;
    for (int64_t r = 0; r < rowsPerTile; ++r)
      rows.push_back(b.create<arith::MinUIOp>(b.create<arith::AddIOp>(firstRow, index(r)),
                                              index(shape.m - 1)));
    SmallVector<Value> zeros(rowsPerTile * columnsPerWarp, f32(0.0f));

    // A warp step covers one 1024-wide block of K; each loop iteration
    // handles kStepsInFlight of the warp's steps (every kSplit-th step),
    // issuing all their weight loads first.
    int64_t steps = gemv::paddedK(shape.k) / gemv::kBlockK;
    int64_t warpSteps = llvm::divideCeil(steps, kSplit);
    int64_t stepsPerIteration = std::min(warpSteps, kStepsInFlight);
    int64_t iterations = llvm::divideCeil(warpSteps, stepsPerIteration);
    bool mayBePastEnd = steps % (kSplit * stepsPerIteration) != 0;
    auto loop = b.create<scf::ForOp>(index(0), index(iterations), index(1), zeros);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value firstStep = b.create<arith::MulIOp>(loop.getInductionVar(), index(stepsPerIteration));
      SmallVector<Chunk> chunks;
      for (int64_t s = 0; s < stepsPerIteration; ++s) {
        Value warpStep = b.create<arith::AddIOp>(firstStep, index(s));
        Value step = b.create<arith::AddIOp>(b.create<arith::MulIOp>(warpStep, index(kSplit)),
                                             kPart);
        chunks.push_back(loadChunk(step, mayBePastEnd));
      }
      SmallVector<Value> updated(loop.getRegionIterArgs());
      for (const Chunk &chunk : chunks)
        updated = accumulateChunk(chunk, rows, updated);
      b.create<scf::YieldOp>(updated);
    }

    // Warp-reduce every accumulator; lane 0 stores the in-range ones.
    SmallVector<Value> totals;
    for (Value partial : loop.getResults()) {
      Value total = partial;
      for (int64_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
        Value other = b.create<gpu::ShuffleOp>(total, offset, kWarpSize, gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        total = b.create<arith::AddFOp>(total, other);
      }
      totals.push_back(total);
    }
    Value isLaneZero = b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, lane, index(0));
    Value stores = isLaneZero;
    if (kSplit > 1) {
      // Lane 0 of every warp publishes its totals; lane 0 of the first warp
      // of each split adds its partners' and stores.
      b.create<scf::IfOp>(isLaneZero, [&](OpBuilder &, Location) {
        for (auto [i, total] : llvm::enumerate(totals))
          b.create<memref::StoreOp>(total, partials, ValueRange{warp, index(i)});
        b.create<scf::YieldOp>();
      });
      b.create<gpu::BarrierOp>();
      for (size_t i = 0; i < totals.size(); ++i)
        for (int64_t p = 1; p < kSplit; ++p) {
          // Only the first warp of a split (kPart == 0) uses the sum; the
          // others read clamped addresses in the block and discard it.
          Value partner = b.create<arith::MinUIOp>(b.create<arith::AddIOp>(warp, index(p)),
                                                   index(kWarpsPerBlock - 1));
          totals[i] = b.create<arith::AddFOp>(
              totals[i], b.create<memref::LoadOp>(partials, ValueRange{partner, index(i)}));
        }
      // The next row tile reuses the buffer.
      b.create<gpu::BarrierOp>();
      Value isFirstPart = b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, kPart, index(0));
      stores = b.create<arith::AndIOp>(isLaneZero, isFirstPart);
    }
    b.create<scf::IfOp>(stores, [&](OpBuilder &, Location) {
      for (int64_t r = 0; r < rowsPerTile; ++r) {
        Value row = b.create<arith::AddIOp>(firstRow, index(r));
        Value rowOk = b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, row, index(shape.m));
        for (int64_t c = 0; c < columnsPerWarp; ++c) {
          Value columnOk =
              b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, columns[c], index(shape.n));
          Value ok = b.create<arith::AndIOp>(rowOk, columnOk);
          Value total = totals[r * columnsPerWarp + c];
          Type outElement = cast<MemRefType>(out.getType()).getElementType();
          if (outElement != total.getType())
            total = b.create<arith::TruncFOp>(outElement, total);
          b.create<scf::IfOp>(ok, [&](OpBuilder &, Location) {
            b.create<memref::StoreOp>(total, out, ValueRange{row, columns[c]});
            b.create<scf::YieldOp>();
          });
        }
      }
      b.create<scf::YieldOp>();
    });
  }

  /// One lane's part of one warp step: its packed words of each column and
  /// where its runs of k start.
  struct Chunk {
    SmallVector<Value> packed; // per column: the lane's run of words
    SmallVector<Value> runK;   // per run j: first k (clamped into range)
    SmallVector<Value> runOk;  // per run j: in range (null when always)
  };

  /// Issues the weight loads of step `step` (a block of 1024 k). Runs past
  /// the end of K (K padded to whole blocks, or a step past the last one
  /// when the steps do not divide evenly) read clamped addresses and get
  /// zero scales, so they add nothing and no branch is needed.
  Chunk loadChunk(Value step, bool mayBePastEnd) {
    int64_t steps = gemv::paddedK(shape.k) / gemv::kBlockK;
    int64_t wordsPerLane = gemv::wordsPerLane(shape.bits);
    auto wordVector = VectorType::get({wordsPerLane}, b.getI32Type());
    Chunk chunk;
    Value loadStep = mayBePastEnd ? b.create<arith::MinUIOp>(step, index(steps - 1)) : step;
    Value word0 = b.create<arith::AddIOp>(
        b.create<arith::MulIOp>(loadStep, index(kWarpSize * wordsPerLane)),
        b.create<arith::MulIOp>(lane, index(wordsPerLane)));
    for (int64_t c = 0; c < columnsPerWarp; ++c)
      chunk.packed.push_back(b.create<vector::LoadOp>(wordVector, words,
                                                      ValueRange{loadColumns[c], word0},
                                                      /*nontemporal=*/false,
                                                      llvm::MaybeAlign(16)));
    Value laneK = b.create<arith::AddIOp>(
        b.create<arith::MulIOp>(step, index(gemv::kBlockK)),
        b.create<arith::MulIOp>(lane, index(gemv::kValuesPerRun)));
    bool kIsWholeBlocks = shape.k % gemv::kBlockK == 0;
    for (int64_t j = 0; j < gemv::kRunsPerLane; ++j) {
      Value k = b.create<arith::AddIOp>(laneK, index(j * gemv::kRunStride));
      Value ok;
      if (!kIsWholeBlocks || mayBePastEnd) {
        ok = b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, k, index(shape.k));
        k = b.create<arith::MinUIOp>(k, index(shape.k - gemv::kValuesPerRun));
      }
      chunk.runK.push_back(k);
      chunk.runOk.push_back(ok);
    }
    return chunk;
  }

  /// Adds one chunk's products to the accumulators (row-major, rows x cols).
  ///
  /// Dequantization avoids int-to-float conversions (a quarter-rate
  /// instruction): a field u is OR-ed into the mantissa of 1.0, giving
  /// exactly f = 1 + u / 2^bits. Then over a run of 4 values sharing a
  /// scale, sum q x = 2^bits * dot(f, x) - (2^bits + offset) * sum(x), where
  /// q = u - offset and signed fields were biased by XOR-ing their sign bit
  /// (offset 2^(bits-1)).
  SmallVector<Value> accumulateChunk(const Chunk &chunk, ArrayRef<Value> rows,
                                     ArrayRef<Value> accumulators) {
    if (shape.bits == kFloat32WeightBits)
      return accumulateFloatChunk(chunk, rows, accumulators);
    int64_t bits = shape.bits;
    int64_t valuesPerWord = gemv::valuesPerWord(bits);
    int64_t levels = int64_t(1) << bits;
    int64_t offset = shape.isSigned ? levels / 2 : 0;
    uint32_t signBits = 0;
    for (int64_t field = 0; field < valuesPerWord; ++field)
      signBits |= uint32_t(1) << (field * bits + bits - 1);

    // The words of each column, biased to unsigned fields.
    SmallVector<SmallVector<Value>> columnWords(columnsPerWarp);
    for (int64_t c = 0; c < columnsPerWarp; ++c)
      for (int64_t w = 0; w < gemv::wordsPerLane(bits); ++w) {
        Value word = b.create<vector::ExtractOp>(chunk.packed[c], ArrayRef<int64_t>{w});
        if (shape.isSigned)
          word = b.create<arith::XOrIOp>(word, i32(static_cast<int32_t>(signBits)));
        columnWords[c].push_back(word);
      }

    SmallVector<Value> updated(accumulators);
    Value fieldScale = f32(static_cast<float>(levels));
    Value negSumScale = f32(-static_cast<float>(levels + offset));
    // Run by run: the warp's coalesced activation loads, then every column.
    for (int64_t j = 0; j < gemv::kRunsPerLane; ++j) {
      Value group = b.create<arith::DivUIOp>(chunk.runK[j], index(shape.groupSize));
      SmallVector<Value> runScales, runScaledZeros;
      for (int64_t c = 0; c < columnsPerWarp; ++c) {
        Value scale = b.create<memref::LoadOp>(scales, ValueRange{loadColumns[c], group});
        runScales.push_back(masked(scale, chunk.runOk[j]));
        if (shape.hasZeroPoint)
          runScaledZeros.push_back(masked(
              b.create<memref::LoadOp>(scaledZeros, ValueRange{loadColumns[c], group}),
              chunk.runOk[j]));
      }
      for (auto [r, row] : llvm::enumerate(rows)) {
        SmallVector<Value> x = loadActivationRun(row, chunk.runK[j]);
        Value xSum;
        for (Value value : x)
          xSum = xSum ? b.create<arith::AddFOp>(xSum, value).getResult() : value;
        Value sumTerm = b.create<arith::MulFOp>(negSumScale, xSum);
        for (int64_t c = 0; c < columnsPerWarp; ++c) {
          Value dot;
          for (int64_t e = 0; e < gemv::kValuesPerRun; ++e) {
            int64_t value = j * gemv::kValuesPerRun + e;
            Value f = unitFloat(columnWords[c][value / valuesPerWord], value % valuesPerWord);
            dot = dot ? b.create<math::FmaOp>(f, x[e], dot).getResult()
                      : b.create<arith::MulFOp>(f, x[e]).getResult();
          }
          Value dotQ = b.create<math::FmaOp>(fieldScale, dot, sumTerm);
          Value &acc = updated[r * columnsPerWarp + c];
          acc = b.create<math::FmaOp>(runScales[c], dotQ, acc);
          if (shape.hasZeroPoint)
            acc = b.create<arith::SubFOp>(acc,
                                          b.create<arith::MulFOp>(runScaledZeros[c], xSum));
        }
      }
    }
    return updated;
  }

  /// Loads a run of 4 activations of `row` at `k`, widened to f32 (float16
  /// and bfloat16 widen exactly).
  SmallVector<Value> loadActivationRun(Value row, Value k) {
    Type lhsElement = cast<MemRefType>(lhs.getType()).getElementType();
    auto xVector = VectorType::get({gemv::kValuesPerRun}, lhsElement);
    auto wideVector = VectorType::get({gemv::kValuesPerRun}, b.getF32Type());
    int64_t xBytes = gemv::kValuesPerRun * lhsElement.getIntOrFloatBitWidth() / 8;
    Value quad = b.create<vector::LoadOp>(xVector, lhs, ValueRange{row, k},
                                          /*nontemporal=*/false, llvm::MaybeAlign(xBytes));
    if (xVector != wideVector)
      quad = b.create<arith::ExtFOp>(wideVector, quad);
    SmallVector<Value> x;
    for (int64_t e = 0; e < gemv::kValuesPerRun; ++e)
      x.push_back(b.create<vector::ExtractOp>(quad, ArrayRef<int64_t>{e}));
    return x;
  }

  /// accumulateChunk for float32 weights (one column per warp, unit
  /// scales): each word is a weight; runs past the end of K add nothing.
  SmallVector<Value> accumulateFloatChunk(const Chunk &chunk, ArrayRef<Value> rows,
                                          ArrayRef<Value> accumulators) {
    SmallVector<Value> updated(accumulators);
    for (int64_t j = 0; j < gemv::kRunsPerLane; ++j)
      for (auto [r, row] : llvm::enumerate(rows)) {
        SmallVector<Value> x = loadActivationRun(row, chunk.runK[j]);
        Value dot;
        for (int64_t e = 0; e < gemv::kValuesPerRun; ++e) {
          Value word = b.create<vector::ExtractOp>(
              chunk.packed[0], ArrayRef<int64_t>{j * gemv::kValuesPerRun + e});
          Value weight = b.create<arith::BitcastOp>(b.getF32Type(), word);
          dot = dot ? b.create<math::FmaOp>(weight, x[e], dot).getResult()
                    : b.create<arith::MulFOp>(weight, x[e]).getResult();
        }
        updated[r] = b.create<arith::AddFOp>(updated[r], masked(dot, chunk.runOk[j]));
      }
    return updated;
  }

  Value masked(Value value, Value ok) {
    return ok ? b.create<arith::SelectOp>(ok, value, f32(0.0f)).getResult() : value;
  }

  /// 1 + u / 2^bits for the unsigned field `slot` of `word`, built by placing
  /// u at the top of the mantissa of 1.0f (exact; no conversion instruction).
  Value unitFloat(Value word, int64_t slot) {
    int64_t bits = shape.bits;
    int64_t fieldLow = slot * bits;
    int64_t mantissaLow = 23 - bits;
    Value moved = word;
    if (fieldLow < mantissaLow)
      moved = b.create<arith::ShLIOp>(word, i32(mantissaLow - fieldLow));
    else if (fieldLow > mantissaLow)
      moved = b.create<arith::ShRUIOp>(word, i32(fieldLow - mantissaLow));
    int64_t fieldMask = ((int64_t(1) << bits) - 1) << mantissaLow;
    Value field = b.create<arith::AndIOp>(moved, i32(fieldMask));
    Value bitsOfOne = b.create<arith::OrIOp>(field, i32(0x3F800000));
    return b.create<arith::BitcastOp>(b.getF32Type(), bitsOfOne);
  }

  ImplicitLocOpBuilder b;
  KernelShape shape;
  Value lhs, words, scales, scaledZeros, out;
  Value lane, warp, kPart;
  /// Warps splitting K per column group (see kSplitFor), and their shared
  /// buffer of totals when more than one.
  int64_t kSplit = 1;
  Value partials;
  SmallVector<Value> columns, loadColumns;
  int64_t rowsPerTile = 1;
  int64_t columnsPerWarp;
};

/// The last op before `op` that writes memory, if it only fills `op`'s
/// output with a value (linalg.fill, or its generalized form yielding a
/// captured value).
Operation *findInitFill(linalg::GenericOp op) {
  Operation *previous = op->getPrevNode();
  while (previous && isMemoryEffectFree(previous))
    previous = previous->getPrevNode();
  auto fill = dyn_cast_or_null<linalg::LinalgOp>(previous);
  if (!fill || fill.getNumDpsInits() != 1 || fill.getDpsInits()[0] != op.getDpsInits()[0])
    return nullptr;
  if (isa<linalg::FillOp>(fill))
    return fill;
  // The generalized form: scalar inputs only, a body that yields one of them
  // or a value from outside.
  if (llvm::any_of(fill.getDpsInputs(), [](Value in) { return isa<ShapedType>(in.getType()); }))
    return nullptr;
  Block *body = fill.getBlock();
  if (!body || body->getOperations().size() != 1)
    return nullptr;
  Value yielded = cast<linalg::YieldOp>(body->getTerminator()).getValues().front();
  auto argument = dyn_cast<BlockArgument>(yielded);
  bool yieldsInput = argument && argument.getOwner() == body &&
                     argument.getArgNumber() < fill.getNumDpsInputs();
  bool yieldsCapture = yielded.getParentBlock() != body;
  return yieldsInput || yieldsCapture ? fill.getOperation() : nullptr;
}

/// The rounding of `op`'s f32 output to float16/bfloat16 that the kernel
/// can store directly: a generic marked as a kernel epilogue
/// (nibble-cuda-pack-matmul-weights marks them) that is the only reader of
/// the output buffer, whose own output buffer exists before `op` or can be
/// allocated there, and that nothing else touches before the epilogue.
linalg::GenericOp findRoundingEpilogue(linalg::GenericOp op) {
  Value out = op.getDpsInits()[0];
  if (!out.getDefiningOp<memref::AllocOp>())
    return {};
  linalg::GenericOp epilogue;
  for (Operation *user : out.getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (epilogue || !generic || !generic->hasAttr(kKernelEpilogueAttrName) ||
        !isNarrowingToHalf(generic) || generic.getDpsInputs()[0] != out)
      return {};
    epilogue = generic;
  }
  if (!epilogue || epilogue->getBlock() != op->getBlock() || !op->isBeforeInBlock(epilogue) ||
      !epilogue.hasPureBufferSemantics())
    return {};
  Value narrow = epilogue.getDpsInits()[0];
  auto narrowType = cast<MemRefType>(narrow.getType());
  if (!narrowType.hasStaticShape() || !narrowType.getLayout().isIdentity())
    return {};
  if (auto alloc = narrow.getDefiningOp<memref::AllocOp>()) {
    if (!alloc->getOperands().empty() || alloc->getBlock() != op->getBlock())
      return {};
  } else if (!isa<BlockArgument>(narrow)) {
    return {};
  }
  // Nothing may read or write the 16-bit buffer before the epilogue (ops
  // nested in kernels count by their ancestor in this block).
  for (Operation *user : narrow.getUsers()) {
    Operation *ancestor = op->getBlock()->findAncestorOpInBlock(*user);
    if (user != epilogue && (!ancestor || ancestor->isBeforeInBlock(epilogue)))
      return {};
  }
  return epilogue;
}

struct NibbleCUDADequantMatmulKernelsPass final
    : nibble::impl::NibbleCUDADequantMatmulKernelsPassBase<NibbleCUDADequantMatmulKernelsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, KernelShape>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<KernelShape> shape = matchPackedMatmul(op))
        matches.push_back({op, *shape});
    });
    NamedAttrList layerKernels(
        getOperation()->getAttrOfType<DictionaryAttr>(kLayerKernelsAttrName));
    for (auto &[op, shape] : matches) {
      if (auto layer = op->getAttrOfType<StringAttr>(kLayerAttrName))
        layerKernels.set(layer, StringAttr::get(&getContext(),
                                                shape.layout == DequantKernelLayout::Mma
                                                    ? "tensor cores"
                                                    : "gemv"));
      // The kernel writes every output element: the zero fill that
      // initialized the reference's accumulator is dead.
      if (Operation *fill = findInitFill(op))
        fill->erase();
      // float16/bfloat16 layers: the kernel stores the rounded output, and
      // the f32 buffer goes.
      Value out = op.getDpsInits()[0];
      linalg::GenericOp epilogue = findRoundingEpilogue(op);
      if (epilogue) {
        out = epilogue.getDpsInits()[0];
        if (auto alloc = out.getDefiningOp<memref::AllocOp>(); alloc && op->isBeforeInBlock(alloc))
          alloc->moveBefore(op);
      }
      if (shape.layout == DequantKernelLayout::Mma)
        emitMmaMatmulKernel(op, shape, out);
      else
        KernelEmitter(op, shape, out).emit();
      Value wideOut = op.getDpsInits()[0];
      op.erase();
      if (epilogue) {
        epilogue.erase();
        for (Operation *user : llvm::make_early_inc_range(wideOut.getUsers()))
          user->erase(); // the deallocations
        wideOut.getDefiningOp()->erase();
      }
    }
    if (!layerKernels.empty())
      getOperation()->setAttr(kLayerKernelsAttrName, layerKernels.getDictionary(&getContext()));
  }
};

} // namespace
