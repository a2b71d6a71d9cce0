//===- MmaMatmulKernel.cpp - fused dequantize+GEMM on tensor cores --------===//
//
// The kernel of nibble-cuda-dequant-matmul-kernels for more than 4 rows (and
// float16 weights at any M): int4/int8 weights in the MMA layout
// (MmaLayout.h) unpacked in registers to f16 (float16 weights taken as they
// are) and multiplied by f16 activations with `mma.sync.m16n8k16`, summed in
// f32. Two launches (one when float16 activations need no conversion):
//
//  1. The activations are rounded to f16 once (saturating at f16's largest
//     finite value; float16 activations are taken as they are) and laid out
//     as the A fragments of the mma (one 16-byte run per lane, rows and K
//     zero-padded to whole tiles), so the GEMM reads each fragment with one
//     load and needs no bounds checks on them. With at most 8 rows, rows
//     g + 8 of the fragments would be padding and most of the 16 rows too:
//     the activations are then only rounded to f16 (K zero-padded to whole
//     blocks), and float16 activations over whole blocks need no launch at
//     all. The GEMM loads a lane's 4 values of a step (MmaLayout.h orders
//     them consecutively) with one 8-byte load and gives the mma any values
//     for rows g + 8, whose results are never stored.
//  2. The GEMM: each warp takes kTilesPerWarp tiles of 8 columns and up to
//     kMaxRowTiles tiles of 16 rows, and walks K in 128-wide blocks: one
//     16-byte (int4) or 32-byte (int8) load per tile and block gives a
//     lane its B fragments for 8 mma steps. The weights are unpacked without
//     conversions: a pair of fields OR-ed into the mantissa of 1024.0 is an
//     f16x2 register of 1024 + u, and subtracting 1024 + offset + zero point
//     leaves the exact integer weight. The products are summed per group
//     (or per block) in f32, then scaled into the accumulators in f32.
//     Warps of a block split K when the layer has too few tiles to fill the
//     GPU, adding their sums through workgroup memory as the GEMV does.
//
//===----------------------------------------------------------------------===//

#include "DequantKernels.h"

#include "nibble/Target/CUDA/MmaLayout.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace mlir::nibble;

namespace {

using mma::kWarpSize;
constexpr int64_t kWarpsPerBlock = 4;
constexpr int64_t kTilesPerWarp = 2;
constexpr int64_t kMaxRowTiles = 4;
// Up to this many rows, the A operand comes from the f16 activations
// directly (the mma's rows g + 8 are not needed).
constexpr int64_t kCompactMaxRows = 8;
// Blocks of K whose weight loads a warp issues together: more when the
// rows are few, so that a warp keeps as many bytes in flight as the GEMV
// (for int4 weights; as many bytes for wider ones).
constexpr int64_t kBlocksInFlight = 2;
constexpr int64_t kCompactBlocksInFlight = 4;
// Threads per block of the activation conversion.
constexpr int64_t kConvertThreads = 256;
// The largest finite f16, where activations beyond f16's range saturate.
constexpr float kLargestHalf = 65504.0f;
// f16x2 registers of one lane's A fragment: rows g and g + 8, k = 2c, 2c + 1
// and 8 + 2c, 8 + 2c + 1 (g = lane / 4, c = lane % 4).
constexpr int64_t kFragmentRegisters = 4;

class MmaKernelEmitter {
public:
  MmaKernelEmitter(linalg::GenericOp op, const DequantKernelShape &shape, Value out)
      : b(op.getLoc(), op), shape(shape), lhs(op.getDpsInputs()[0]),
        words(op.getDpsInputs()[1]), scales(op.getDpsInputs()[2]), out(out) {
    if (shape.hasZeroPoint)
      zeros = op.getDpsInputs()[3];
    rowTiles = llvm::divideCeil(shape.m, mma::kTileM);
    steps = mma::paddedK(shape.k) / mma::kStepK;
    blocks = mma::paddedK(shape.k) / mma::kBlockK;
    groups = shape.k / shape.groupSize;
    compactRows = shape.m <= kCompactMaxRows;
  }

  void emit() {
    Value scratch;
    if (!compactRows) {
      auto fragmentsType = MemRefType::get({rowTiles, steps, kWarpSize, kFragmentRegisters},
                                           b.getI32Type());
      scratch = fragments = b.create<memref::AllocOp>(fragmentsType);
      emitActivationConversion();
    } else if (cast<MemRefType>(lhs.getType()).getElementType().isF16() &&
               shape.k == mma::paddedK(shape.k)) {
      halfActivations = lhs;
    } else {
      auto halvesType = MemRefType::get({shape.m, mma::paddedK(shape.k)}, b.getF16Type());
      scratch = halfActivations = b.create<memref::AllocOp>(halvesType);
      emitHalfActivations();
    }
    emitGemm();
    if (scratch)
      b.create<memref::DeallocOp>(scratch);
  }

private:
  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value i32(int64_t v) {
    return b.create<arith::ConstantIntOp>(static_cast<int32_t>(v), 32);
  }
  Value f32(float v) { return b.create<arith::ConstantFloatOp>(b.getF32Type(), APFloat(v)); }
  Value splat(VectorType type, float v) {
    Attribute element = b.getFloatAttr(type.getElementType(), v);
    return b.create<arith::ConstantOp>(DenseElementsAttr::get(type, element));
  }
  Value minIndex(Value v, int64_t bound) { return b.create<arith::MinUIOp>(v, index(bound)); }
  Value less(Value v, int64_t bound) {
    return b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, v, index(bound));
  }

  /// A 1-D launch of `threads` per block; returns it with the builder inside
  /// its body (the caller restores the insertion point).
  gpu::LaunchOp createLaunch(int64_t gridSize, int64_t threads) {
    Value one = index(1);
    auto launch = b.create<gpu::LaunchOp>(index(gridSize), one, one, index(threads), one, one);
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    b.create<gpu::TerminatorOp>();
    b.setInsertionPointToStart(&body);
    return launch;
  }

  /// `values` (f32 or bfloat16 activations, scalar or vector) rounded to
  /// f16, saturating beyond f16's range instead of becoming infinite (NaN
  /// stays NaN).
  Value roundToHalf(Value values) {
    Type type = values.getType();
    auto vectorType = dyn_cast<VectorType>(type);
    auto withElement = [&](Type element) -> Type {
      return vectorType ? Type(VectorType::get(vectorType.getShape(), element)) : element;
    };
    if (getElementTypeOrSelf(type).isBF16())
      values = b.create<arith::ExtFOp>(withElement(b.getF32Type()), values);
    auto limit = [&](float v) -> Value {
      Type wide = withElement(b.getF32Type());
      if (auto wideVector = dyn_cast<VectorType>(wide))
        return splat(wideVector, v);
      return f32(v);
    };
    values = b.create<arith::MinimumFOp>(b.create<arith::MaximumFOp>(values, limit(-kLargestHalf)),
                                         limit(kLargestHalf));
    return b.create<arith::TruncFOp>(withElement(b.getF16Type()), values);
  }

  /// A launch of `threads` conversion threads (blocks of kConvertThreads),
  /// each running `body` with its index.
  void emitConversionLaunch(int64_t threads, function_ref<void(Value)> body) {
    OpBuilder::InsertionGuard guard(b);
    gpu::LaunchOp launch = createLaunch(llvm::divideCeil(threads, kConvertThreads),
                                        kConvertThreads);
    Value id = b.create<arith::AddIOp>(
        b.create<arith::MulIOp>(launch.getBlockIds().x, index(kConvertThreads)),
        launch.getThreadIds().x);
    b.create<scf::IfOp>(less(id, threads), [&](OpBuilder &, Location) {
      body(id);
      b.create<scf::YieldOp>();
    });
  }

  /// halfActivations[row][k] = the activations in f16, zero for k >= K.
  void emitHalfActivations() {
    int64_t paddedK = mma::paddedK(shape.k);
    emitConversionLaunch(shape.m * paddedK, [&](Value id) {
      Value row = b.create<arith::DivUIOp>(id, index(paddedK));
      Value k = b.create<arith::RemUIOp>(id, index(paddedK));
      Value value = b.create<memref::LoadOp>(lhs, ValueRange{row, minIndex(k, shape.k - 1)});
      if (!value.getType().isF16())
        value = roundToHalf(value);
      Value zero = b.create<arith::ConstantFloatOp>(b.getF16Type(), APFloat::getZero(
                                                                        APFloat::IEEEhalf()));
      value = b.create<arith::SelectOp>(less(k, shape.k), value, zero);
      b.create<memref::StoreOp>(value, halfActivations, ValueRange{row, k});
    });
  }

  /// fragments[tile][step][lane] = the lane's A fragment of rows
  /// 16 tile .. 16 tile + 15 and the step's 16 values of k (in the order of
  /// MmaLayout.h), in f16 (zero beyond M and K).
  void emitActivationConversion() {
    emitConversionLaunch(rowTiles * steps * kWarpSize, [&](Value id) {
      Value lane = b.create<arith::RemUIOp>(id, index(kWarpSize));
      Value fragmentIndex = b.create<arith::DivUIOp>(id, index(kWarpSize));
      Value step = b.create<arith::RemUIOp>(fragmentIndex, index(steps));
      Value tile = b.create<arith::DivUIOp>(fragmentIndex, index(steps));
      Value row = b.create<arith::AddIOp>(b.create<arith::MulIOp>(tile, index(mma::kTileM)),
                                          b.create<arith::DivUIOp>(lane, index(4)));
      Value k = b.create<arith::AddIOp>(
          b.create<arith::MulIOp>(step, index(mma::kStepK)),
          b.create<arith::MulIOp>(b.create<arith::RemUIOp>(lane, index(4)), index(4)));
      Type lhsElement = cast<MemRefType>(lhs.getType()).getElementType();
      auto pairType = VectorType::get({2}, lhsElement);
      Value zeroPair = splat(pairType, 0.0f);
      SmallVector<Value> registers;
      // Register order of the mma's A operand: (g, k), (g + 8, k),
      // (g, k + 2), (g + 8, k + 2), k = 16 step + 4 c (positions 2 c and
      // 8 + 2 c).
      for (int64_t reg = 0; reg < 4; ++reg) {
        Value r = b.create<arith::AddIOp>(row, index(reg % 2 * 8));
        Value kk = b.create<arith::AddIOp>(k, index(reg / 2 * 2));
        Value ok = b.create<arith::AndIOp>(less(r, shape.m), less(kk, shape.k));
        Value pair = b.create<vector::LoadOp>(pairType, lhs,
                                              ValueRange{minIndex(r, shape.m - 1),
                                                         minIndex(kk, shape.k - 2)});
        pair = b.create<arith::SelectOp>(ok, pair, zeroPair);
        // f16 activations are the fragments already.
        Value half = lhsElement.isF16() ? pair : roundToHalf(pair);
        Value word = b.create<vector::BitCastOp>(VectorType::get({1}, b.getI32Type()), half);
        registers.push_back(b.create<vector::ExtractOp>(word, ArrayRef<int64_t>{0}));
      }
      Value fragment = b.create<vector::FromElementsOp>(
          VectorType::get({kFragmentRegisters}, b.getI32Type()), registers);
      b.create<vector::StoreOp>(fragment, fragments, ValueRange{tile, step, lane, index(0)});
    });
  }

  void emitGemm() {
    int64_t tileGroups = llvm::divideCeil(mma::tiles(shape.n), kTilesPerWarp);
    rowTilesPerWarp = std::min(rowTiles, kMaxRowTiles);
    int64_t rowChunks = llvm::divideCeil(rowTiles, rowTilesPerWarp);
    kSplit = chooseKSplit(tileGroups * rowChunks, blocks, kWarpsPerBlock);
    int64_t groupsPerBlock = kWarpsPerBlock / kSplit;
    int64_t columnBlocks = llvm::divideCeil(tileGroups, groupsPerBlock);

    OpBuilder::InsertionGuard guard(b);
    gpu::LaunchOp launch = createLaunch(columnBlocks * rowChunks, kWarpSize * kWarpsPerBlock);
    int64_t accumulatorValues = rowTilesPerWarp * kTilesPerWarp * 4;
    if (kSplit > 1)
      partials = launch.addWorkgroupAttribution(
          MemRefType::get({kWarpsPerBlock, accumulatorValues, kWarpSize}, b.getF32Type(),
                          AffineMap(),
                          gpu::AddressSpaceAttr::get(b.getContext(),
                                                     gpu::AddressSpace::Workgroup)),
          b.getLoc());

    Value thread = launch.getThreadIds().x;
    lane = b.create<arith::RemUIOp>(thread, index(kWarpSize));
    laneRow = b.create<arith::DivUIOp>(lane, index(4));     // g
    laneColumn = b.create<arith::RemUIOp>(lane, index(4));  // c
    warp = b.create<arith::DivUIOp>(thread, index(kWarpSize));
    kPart = b.create<arith::RemUIOp>(warp, index(kSplit));
    Value block = launch.getBlockIds().x;
    Value columnBlock = b.create<arith::RemUIOp>(block, index(columnBlocks));
    Value rowChunk = b.create<arith::DivUIOp>(block, index(columnBlocks));
    Value tileGroup = b.create<arith::AddIOp>(
        b.create<arith::MulIOp>(columnBlock, index(groupsPerBlock)),
        b.create<arith::DivUIOp>(warp, index(kSplit)));
    Value firstTile = b.create<arith::MulIOp>(tileGroup, index(kTilesPerWarp));
    for (int64_t t = 0; t < kTilesPerWarp; ++t) {
      Value tile = b.create<arith::AddIOp>(firstTile, index(t));
      loadTiles.push_back(minIndex(tile, mma::tiles(shape.n) - 1));
      // The column of the lane's B values (for zero points) and of its
      // accumulators (for scales and stores).
      Value tileColumn = b.create<arith::MulIOp>(tile, index(mma::kTileN));
      weightColumns.push_back(
          minIndex(b.create<arith::AddIOp>(tileColumn, laneRow), shape.n - 1));
      outColumns.push_back(b.create<arith::AddIOp>(
          tileColumn, b.create<arith::MulIOp>(laneColumn, index(2))));
    }
    Value firstRowTile = b.create<arith::MulIOp>(rowChunk, index(rowTilesPerWarp));
    for (int64_t r = 0; r < rowTilesPerWarp; ++r)
      rowTileIds.push_back(b.create<arith::AddIOp>(firstRowTile, index(r)));
    // Lanes of rows past M read the last row; their sums are not stored.
    if (compactRows)
      compactRow = minIndex(laneRow, shape.m - 1);

    emitKLoop();
    emitReductionAndStores();
  }

  /// Loads for one 128-wide block of K: per tile, the lane's run of words.
  struct BlockLoads {
    Value block;                  // the block this warp meant to load
    Value ok;                     // block < blocks (null when always)
    SmallVector<Value> tileWords; // per tile: vector<bits x i32>
  };

  BlockLoads loadBlock(Value block, bool mayBePastEnd) {
    BlockLoads loads;
    loads.block = mayBePastEnd ? minIndex(block, blocks - 1) : block;
    if (mayBePastEnd)
      loads.ok = less(block, blocks);
    int64_t wordsPerLane = mma::wordsPerLane(shape.bits);
    Value firstWord = b.create<arith::MulIOp>(
        b.create<arith::AddIOp>(b.create<arith::MulIOp>(loads.block, index(kWarpSize)), lane),
        index(wordsPerLane));
    auto type = VectorType::get({wordsPerLane}, b.getI32Type());
    for (Value tile : loadTiles)
      loads.tileWords.push_back(b.create<vector::LoadOp>(type, words, ValueRange{tile, firstWord},
                                                         /*nontemporal=*/false,
                                                         llvm::MaybeAlign(16)));
    return loads;
  }

  void emitKLoop() {
    int64_t warpBlocks = llvm::divideCeil(blocks, kSplit);
    // Up to 8 rows, the same bytes in flight for every width of weights;
    // float16 weights fill the registers with one block.
    int64_t blocksInFlight = compactRows ? std::max<int64_t>(1, kCompactBlocksInFlight * 4 /
                                                                    shape.bits)
                                         : (shape.bits == kFloat16WeightBits ? 1 : kBlocksInFlight);
    int64_t blocksPerIteration = std::min(warpBlocks, blocksInFlight);
    int64_t iterations = llvm::divideCeil(warpBlocks, blocksPerIteration);
    bool mayBePastEnd = blocks % (kSplit * blocksPerIteration) != 0;
    auto accumulatorType = VectorType::get({2, 2}, b.getF32Type());
    SmallVector<Value> zerosInit(rowTilesPerWarp * kTilesPerWarp,
                                 splat(accumulatorType, 0.0f));
    auto loop = b.create<scf::ForOp>(index(0), index(iterations), index(1), zerosInit);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value first = b.create<arith::MulIOp>(loop.getInductionVar(), index(blocksPerIteration));
      SmallVector<BlockLoads> loads;
      for (int64_t i = 0; i < blocksPerIteration; ++i) {
        Value warpBlock = b.create<arith::AddIOp>(first, index(i));
        loads.push_back(loadBlock(
            b.create<arith::AddIOp>(b.create<arith::MulIOp>(warpBlock, index(kSplit)), kPart),
            mayBePastEnd));
      }
      SmallVector<Value> accumulators(loop.getRegionIterArgs());
      for (const BlockLoads &blockLoads : loads)
        accumulators = accumulateBlock(blockLoads, accumulators);
      b.create<scf::YieldOp>(accumulators);
    }
    accumulators.assign(loop.getResults().begin(), loop.getResults().end());
  }

  /// Steps of K summed in f32 before they are scaled: a group, or the
  /// block when groups are at least as long.
  int64_t stepsPerFlush() const {
    if (shape.groupSize >= shape.k || shape.groupSize % mma::kBlockK == 0)
      return mma::kStepsPerBlock;
    return shape.groupSize / mma::kStepK;
  }

  /// The i32 `word` as an f16x2 register (vector<2xf16>).
  Value halfPair(Value word) {
    Value asVector = b.create<vector::BroadcastOp>(VectorType::get({1}, b.getI32Type()), word);
    return b.create<vector::BitCastOp>(VectorType::get({2}, b.getF16Type()), asVector);
  }

  /// What centers the B values of tile `t` in quantization group `group`,
  /// z = offset + zero point, in both halves of an f16x2: `bias` = 1024 + z
  /// for fields OR-ed into the mantissa of 1024 as they are, and
  /// `scaledNegBias` = -(64 + z) for int4 fields taken 4 bits up (1024 + 16 u,
  /// centered as (1024 + 16 u) / 16 - (64 + z)). Both are exact in f16.
  struct WeightBias {
    Value bias, scaledNegBias;
  };
  WeightBias weightBias(int64_t t, Value group) {
    if (shape.bits == kFloat16WeightBits)
      return {}; // float16 weights need no centering
    auto halfPairType = VectorType::get({2}, b.getF16Type());
    if (!shape.hasZeroPoint) {
      float offset = shape.isSigned ? static_cast<float>(int64_t(1) << (shape.bits - 1)) : 0.0f;
      return {splat(halfPairType, 1024.0f + offset), splat(halfPairType, -(64.0f + offset))};
    }
    Value zero = b.create<memref::LoadOp>(zeros, ValueRange{weightColumns[t], group});
    auto halfOf = [&](Value value) -> Value {
      return b.create<vector::BroadcastOp>(halfPairType,
                                           b.create<arith::TruncFOp>(b.getF16Type(), value));
    };
    return {halfOf(b.create<arith::AddFOp>(zero, f32(1024.0f))),
            halfOf(b.create<arith::SubFOp>(f32(-64.0f), zero))};
  }

  /// value / 16 + addend as one fma.rn.f16x2: a multiply and an add that may
  /// contract (math.fma of f16 would go through f32 in the NVVM lowering).
  /// The product is exact, so the result does not depend on the fusion.
  Value scaleDownAndAdd(Value value, Value addend) {
    auto contract = arith::FastMathFlags::contract;
    Value sixteenth = splat(cast<VectorType>(value.getType()), 1.0f / 16.0f);
    Value scaled = b.create<arith::MulFOp>(value, sixteenth, contract);
    return b.create<arith::AddFOp>(scaled, addend, contract);
  }

  /// The lane's B operand (vector<2x2xf16>) of tile `t` at step `step` of a
  /// block: pairs 2 step and 2 step + 1 of its run, unpacked and centered.
  /// int4 words give pairs 0 and 1 from the word itself and 2 and 3 from
  /// the word shifted by 8: the odd pair's fields stay 4 bits up and are
  /// scaled down while centered, which saves two shifts per word.
  Value weightFragment(Value tileWords, int64_t step, const WeightBias &bias) {
    int64_t bits = shape.bits, pairsPerWord = mma::pairsPerWord(bits);
    uint32_t fieldMask = (1u << bits) - 1;
    uint32_t pairMask = fieldMask | fieldMask << 16;
    uint32_t bitsOf1024 = mma::kF16Bits1024 | mma::kF16Bits1024 << 16;
    Value fragment = splat(VectorType::get({2, 2}, b.getF16Type()), 0.0f);
    for (int64_t half = 0; half < 2; ++half) {
      int64_t pair = 2 * step + half;
      Value word = b.create<vector::ExtractOp>(tileWords, ArrayRef<int64_t>{pair / pairsPerWord});
      if (bits == kFloat16WeightBits) { // float16 weights: the word is the f16x2 register
        fragment = b.create<vector::InsertOp>(halfPair(word), fragment, ArrayRef<int64_t>{half});
        continue;
      }
      int64_t field = pair % pairsPerWord;
      bool raised = bits == 4 && field % 2 == 1;
      int64_t shift = bits == 4 ? 8 * (field / 2) : bits * field;
      if (shift)
        word = b.create<arith::ShRUIOp>(word, i32(shift));
      Value fields = b.create<arith::AndIOp>(word, i32(raised ? pairMask << 4 : pairMask));
      Value biased = halfPair(b.create<arith::OrIOp>(fields, i32(bitsOf1024)));
      Value centered = raised ? scaleDownAndAdd(biased, bias.scaledNegBias)
                              : b.create<arith::SubFOp>(biased, bias.bias).getResult();
      fragment = b.create<vector::InsertOp>(centered, fragment, ArrayRef<int64_t>{half});
    }
    return fragment;
  }

  /// The lane's A operand (vector<4x2xf16>) of row tile `r` at step
  /// `globalStep` of K.
  Value activationOperand(int64_t r, Value globalStep) {
    Value operand = splat(VectorType::get({4, 2}, b.getF16Type()), 0.0f);
    // The operand's registers, i32 words of two f16 each: up to 8 rows,
    // positions 2 c, 2 c + 1 and 8 + 2 c, 8 + 2 c + 1 of row g are
    // k = 16 step + 4 c .. + 3 (one 8-byte load), and rows g + 8 get the
    // same values; else the fragment, one 16-byte load.
    Value words;
    if (compactRows) {
      Value k = b.create<arith::AddIOp>(b.create<arith::MulIOp>(globalStep, index(mma::kStepK)),
                                        b.create<arith::MulIOp>(laneColumn, index(4)));
      Value quad = b.create<vector::LoadOp>(VectorType::get({4}, b.getF16Type()), halfActivations,
                                            ValueRange{compactRow, k},
                                            /*nontemporal=*/false, llvm::MaybeAlign(8));
      words = b.create<vector::BitCastOp>(VectorType::get({2}, b.getI32Type()), quad);
    } else {
      Value tile = minIndex(rowTileIds[r], rowTiles - 1);
      words = b.create<vector::LoadOp>(VectorType::get({kFragmentRegisters}, b.getI32Type()),
                                       fragments, ValueRange{tile, globalStep, lane, index(0)},
                                       /*nontemporal=*/false, llvm::MaybeAlign(16));
    }
    for (int64_t reg = 0; reg < kFragmentRegisters; ++reg) {
      int64_t word = compactRows ? reg / 2 : reg;
      Value pair = halfPair(b.create<vector::ExtractOp>(words, ArrayRef<int64_t>{word}));
      operand = b.create<vector::InsertOp>(pair, operand, ArrayRef<int64_t>{reg});
    }
    return operand;
  }

  /// Adds one block's products to the accumulators (row tile major).
  SmallVector<Value> accumulateBlock(const BlockLoads &loads, ArrayRef<Value> accumulators) {
    SmallVector<Value> updated(accumulators);
    auto accumulatorType = VectorType::get({2, 2}, b.getF32Type());
    int64_t flushSteps = stepsPerFlush();
    Value blockK = b.create<arith::MulIOp>(loads.block, index(mma::kBlockK));
    for (int64_t first = 0; first < mma::kStepsPerBlock; first += flushSteps) {
      Value k = b.create<arith::AddIOp>(blockK, index(first * mma::kStepK));
      // K padding past the last group holds zero activations: any group's
      // scale gives zero there.
      Value group = minIndex(b.create<arith::DivUIOp>(k, index(shape.groupSize)), groups - 1);
      SmallVector<WeightBias> biases;
      for (int64_t t = 0; t < kTilesPerWarp; ++t)
        biases.push_back(weightBias(t, group));
      // float16 weights have unit scales: their products go straight into
      // the accumulators (a block past the end of K adds nothing).
      const bool unscaled = shape.bits == kFloat16WeightBits;
      SmallVector<Value> sums =
          unscaled ? updated : SmallVector<Value>(updated.size(), splat(accumulatorType, 0.0f));
      for (int64_t step = first; step < first + flushSteps; ++step) {
        SmallVector<Value> weightOperands;
        for (int64_t t = 0; t < kTilesPerWarp; ++t)
          weightOperands.push_back(weightFragment(loads.tileWords[t], step, biases[t]));
        Value globalStep = b.create<arith::AddIOp>(
            b.create<arith::MulIOp>(loads.block, index(mma::kStepsPerBlock)), index(step));
        for (int64_t r = 0; r < rowTilesPerWarp; ++r) {
          Value activations = activationOperand(r, globalStep);
          for (int64_t t = 0; t < kTilesPerWarp; ++t) {
            Value &sum = sums[r * kTilesPerWarp + t];
            sum = b.create<nvgpu::MmaSyncOp>(activations, weightOperands[t], sum,
                                             ArrayRef<int64_t>{mma::kTileM, mma::kTileN,
                                                               mma::kStepK});
          }
        }
      }
      if (unscaled) {
        for (auto [accumulator, sum] : llvm::zip_equal(updated, sums))
          accumulator = loads.ok ? b.create<arith::SelectOp>(loads.ok, sum, accumulator) : sum;
        continue;
      }
      // accumulator += scale (of the lane's two columns) * sum, in f32.
      for (int64_t t = 0; t < kTilesPerWarp; ++t) {
        SmallVector<Value> columnScales;
        for (int64_t e = 0; e < 2; ++e) {
          Value column = minIndex(b.create<arith::AddIOp>(outColumns[t], index(e)), shape.n - 1);
          Value scale = b.create<memref::LoadOp>(scales, ValueRange{column, group});
          if (loads.ok)
            scale = b.create<arith::SelectOp>(loads.ok, scale, f32(0.0f));
          columnScales.push_back(scale);
        }
        Value scalePair =
            b.create<vector::FromElementsOp>(VectorType::get({2}, b.getF32Type()), columnScales);
        // Both rows of the accumulator (an n-D broadcast would not lower).
        Value scale = splat(accumulatorType, 0.0f);
        for (int64_t h = 0; h < 2; ++h)
          scale = b.create<vector::InsertOp>(scalePair, scale, ArrayRef<int64_t>{h});
        for (int64_t r = 0; r < rowTilesPerWarp; ++r) {
          int64_t i = r * kTilesPerWarp + t;
          updated[i] = b.create<math::FmaOp>(scale, sums[i], updated[i]);
        }
      }
    }
    return updated;
  }

  /// Adds the split warps' accumulators (first warp of each split) and
  /// stores the in-range ones. Accumulator element (h, e) of tile (r, t) is
  /// row 16 r + g + 8 h, column 8 t + 2 c + e.
  void emitReductionAndStores() {
    SmallVector<Value> values;
    for (Value accumulator : accumulators)
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t e = 0; e < 2; ++e)
          values.push_back(b.create<vector::ExtractOp>(accumulator, ArrayRef<int64_t>{h, e}));
    Value stores;
    if (kSplit > 1) {
      for (size_t i = 0; i < values.size(); ++i)
        b.create<memref::StoreOp>(values[i], partials, ValueRange{warp, index(i), lane});
      b.create<gpu::BarrierOp>();
      for (size_t i = 0; i < values.size(); ++i)
        for (int64_t p = 1; p < kSplit; ++p) {
          // Only the first warp of a split (kPart == 0) uses the sum.
          Value partner = minIndex(b.create<arith::AddIOp>(warp, index(p)), kWarpsPerBlock - 1);
          values[i] = b.create<arith::AddFOp>(
              values[i], b.create<memref::LoadOp>(partials, ValueRange{partner, index(i), lane}));
        }
      stores = b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, kPart, index(0));
    }
    for (int64_t r = 0; r < rowTilesPerWarp; ++r)
      for (int64_t t = 0; t < kTilesPerWarp; ++t)
        for (int64_t h = 0; h < 2; ++h) {
          Value row = b.create<arith::AddIOp>(
              b.create<arith::MulIOp>(rowTileIds[r], index(mma::kTileM)),
              b.create<arith::AddIOp>(laneRow, index(8 * h)));
          for (int64_t e = 0; e < 2; ++e) {
            Value column = b.create<arith::AddIOp>(outColumns[t], index(e));
            Value ok = b.create<arith::AndIOp>(less(row, shape.m), less(column, shape.n));
            if (stores)
              ok = b.create<arith::AndIOp>(ok, stores);
            Value value = values[((r * kTilesPerWarp + t) * 2 + h) * 2 + e];
            Type outElement = cast<MemRefType>(out.getType()).getElementType();
            if (outElement != value.getType())
              value = b.create<arith::TruncFOp>(outElement, value);
            b.create<scf::IfOp>(ok, [&](OpBuilder &, Location) {
              b.create<memref::StoreOp>(value, out, ValueRange{row, column});
              b.create<scf::YieldOp>();
            });
          }
        }
  }

  ImplicitLocOpBuilder b;
  DequantKernelShape shape;
  Value lhs, words, scales, zeros, out;
  int64_t rowTiles = 0, steps = 0, blocks = 0, groups = 0;
  Value fragments; // the f16 A fragments (launch 1 -> launch 2), more than 8 rows
  bool compactRows = false;
  Value halfActivations; // the f16 activations [M][padded K], up to 8 rows
  Value compactRow;      // the row a lane loads its A values from
  // The GEMM's ids and per-warp positions.
  int64_t rowTilesPerWarp = 1, kSplit = 1;
  Value lane, laneRow, laneColumn, warp, kPart, partials;
  SmallVector<Value> loadTiles, weightColumns, outColumns, rowTileIds;
  SmallVector<Value> accumulators;
};

} // namespace

void mlir::nibble::emitMmaMatmulKernel(linalg::GenericOp op, const DequantKernelShape &shape,
                                       Value out) {
  MmaKernelEmitter(op, shape, out).emit();
}
