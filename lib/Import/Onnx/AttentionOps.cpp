//===- AttentionOps.cpp - ONNX Attention and RotaryEmbedding --------------===//
//
// Attention is scaled dot-product attention over heads:
//
//   scores = Q K^T * scale (+ mask, causal and key-padding bias)
//   Y      = softmax(softcap(scores)) V
//
// with an optional KV cache (past_key/past_value concatenated in front of
// K/V, returned as present_key/present_value) and grouped-query attention
// (fewer KV heads than query heads; query head h reads KV head
// h / (q_heads / kv_heads)). Grouping is a reshape, not a copy: queries
// become [B, kvHeads, groupSize, S, D] and keys [B, kvHeads, 1, S, D], so
// the batched matmul's broadcasting shares each KV head across its group.
//
// float16 and bfloat16 inputs are computed in float32 and rounded once at
// the end, as ONNX Runtime does.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"
#include "MatmulBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

namespace {
enum AttentionInput { kQuery, kKey, kValue, kMask, kPastKey, kPastValue, kNonpadLengths };
enum AttentionOutput { kY, kPresentKey, kPresentValue, kScores };
/// Which stage of the scores qk_matmul_output returns.
enum ScoresOutputMode { kRawScores, kMaskedScores, kSoftcappedScores, kProbabilities };
} // namespace

/// [B, S, heads * D] -> [B, heads, S, D].
static Value splitHeads(OpBuilder &b, Location loc, Value x, int64_t heads) {
  ArrayRef<int64_t> shape = tensorTypeOf(x).getShape();
  Value split = buildReshape(b, loc, x, {shape[0], shape[1], heads, shape[2] / heads});
  return buildTranspose(b, loc, split, {0, 2, 1, 3});
}

/// `past` and `current` concatenated along the sequence dim (2).
static Value appendToCache(OpBuilder &b, Location loc, Value past, Value current) {
  ArrayRef<int64_t> pastShape = tensorTypeOf(past).getShape();
  SmallVector<int64_t> shape(pastShape);
  shape[2] += tensorTypeOf(current).getDimSize(2);
  Value result = tensor::EmptyOp::create(b, loc, shape, tensorTypeOf(past).getElementType());
  if (pastShape[2] > 0)
    result = buildInsert(b, loc, past, result, {0, 0, 0, 0});
  return buildInsert(b, loc, current, result, {0, 0, pastShape[2], 0});
}

/// lhs [B, Hq, M, K] x rhs [B, Hkv, K, N] where every group of Hq / Hkv
/// consecutive query heads shares one KV head.
static Value buildGroupedMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  ArrayRef<int64_t> l = tensorTypeOf(lhs).getShape(), r = tensorTypeOf(rhs).getShape();
  int64_t groupSize = l[1] / r[1];
  if (groupSize == 1)
    return buildBatchedMatmul(b, loc, lhs, rhs);
  Value grouped = buildReshape(b, loc, lhs, {l[0], r[1], groupSize, l[2], l[3]});
  Value shared = buildReshape(b, loc, rhs, {r[0], r[1], 1, r[2], r[3]});
  Value product = buildBatchedMatmul(b, loc, grouped, shared);
  return buildReshape(b, loc, product, {l[0], l[1], l[2], r[3]});
}

namespace {
/// What the masking step adds to the scores besides the explicit mask.
struct MaskingOptions {
  double scale;
  bool causal;
  int64_t pastLength;
};
} // namespace

/// scores * scale with every masked-out position set to -inf: where a bool
/// mask is false, a float mask is added, causal hides keys after the
/// query's position (offset by the cache length), and nonpad lengths hide
/// each batch's padded keys.
static Value maskScores(OpBuilder &b, Location loc, Value scores, Value mask,
                        Value nonpadLengths, const MaskingOptions &options) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = tensorTypeOf(scores).getShape();
  Type elementType = tensorTypeOf(scores).getElementType();
  SmallVector<Value> inputs{scores};
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(4)};
  if (mask) {
    auto [operand, map] = dropBroadcastDims(b, loc, mask, shape);
    inputs.push_back(operand);
    maps.push_back(map);
  }
  if (nonpadLengths) {
    inputs.push_back(nonpadLengths);
    maps.push_back(AffineMap::get(4, 0, {b.getAffineDimExpr(0)}, ctx));
  }
  maps.push_back(b.getMultiDimIdentityMap(4));
  Value init = tensor::EmptyOp::create(b, loc, shape, elementType);
  SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        auto constant = [&](double v) -> Value {
          return arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, v));
        };
        Value minusInf = constant(-std::numeric_limits<double>::infinity());
        Value value = arith::MulFOp::create(nb, nl, args[0], constant(options.scale));
        unsigned next = 1;
        if (mask) {
          Value m = args[next++];
          value = m.getType().isInteger(1)
                      ? arith::SelectOp::create(nb, nl, m, value, minusInf).getResult()
                      : arith::AddFOp::create(nb, nl, value, m).getResult();
        }
        Value key;
        if (options.causal || nonpadLengths)
          key = linalg::IndexOp::create(nb, nl, 3);
        auto hideWhere = [&](Value hidden) {
          value = arith::SelectOp::create(nb, nl, hidden, minusInf, value);
        };
        if (options.causal) {
          Value query = linalg::IndexOp::create(nb, nl, 2);
          Value lastVisible = arith::AddIOp::create(
              nb, nl, query, arith::ConstantIndexOp::create(nb, nl, options.pastLength));
          hideWhere(arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ugt, key,
                                          lastVisible));
        }
        if (nonpadLengths) {
          Value length = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[next++]);
          hideWhere(arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, key, length));
        }
        linalg::YieldOp::create(nb, nl, value);
      });
  return generic.getResult(0);
}

/// softcap * tanh(x / softcap).
static Value applySoftcap(OpBuilder &b, Location loc, Value x, double softcap) {
  Type elementType = tensorTypeOf(x).getElementType();
  return buildElementwise(
      b, loc, {x}, elementType, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value cap = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, softcap));
        Value squashed = math::TanhOp::create(nb, nl, arith::DivFOp::create(nb, nl, args[0], cap));
        return arith::MulFOp::create(nb, nl, squashed, cap);
      });
}

/// The attention mask read as a bias operand: a bool or float tensor whose
/// last dim (keys) is padded to `totalLength` with "hidden".
static llvm::Expected<Value> readMask(NodeImporter &imp, const OnnxValue &query,
                                      int64_t totalLength) {
  llvm::Expected<OnnxValue> mask = imp.input(kMask);
  if (!mask)
    return mask.takeError();
  RankedTensorType type = tensorTypeOf(mask->value);
  bool isBool = mask->onnxType == onnx::TensorProto::BOOL;
  if (!isBool && mask->onnxType != query.onnxType)
    return imp.fail("attn_mask must be bool or the type of Q (" +
                    onnxTypeName(query.onnxType) + "), got " + onnxTypeName(mask->onnxType));
  if (type.getRank() < 2 || type.getRank() > 4)
    return imp.fail("attn_mask must have rank 2 to 4, got rank " + llvm::Twine(type.getRank()));
  int64_t keys = type.getShape().back();
  if (keys > totalLength)
    return imp.fail("attn_mask covers " + llvm::Twine(keys) + " keys but there are only " +
                    llvm::Twine(totalLength));
  TypedAttr hidden =
      isBool ? TypedAttr(imp.builder().getBoolAttr(false))
             : TypedAttr(imp.builder().getFloatAttr(type.getElementType(),
                                        -std::numeric_limits<double>::infinity()));
  return buildStridedPad(imp.builder(), imp.loc(), mask->value, {0}, {1}, {totalLength},
                         hidden);
}

static llvm::Error convertAttention(NodeImporter &imp) {
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  llvm::Expected<OnnxValue> query = imp.floatInput(kQuery);
  if (!query)
    return query.takeError();
  llvm::Expected<SmallVector<OnnxValue, 4>> qkv = imp.inputs(3);
  if (!qkv)
    return qkv.takeError();
  for (const OnnxValue &v : *qkv)
    if (v.onnxType != query->onnxType)
      return imp.fail("Q, K and V must have one element type (got " +
                      onnxTypeName(query->onnxType) + " and " + onnxTypeName(v.onnxType) + ")");
  Value q = (*qkv)[kQuery].value, k = (*qkv)[kKey].value, v = (*qkv)[kValue].value;
  int64_t rank = tensorTypeOf(q).getRank();
  if (rank != 3 && rank != 4)
    return imp.fail("Q must have rank 3 or 4, got rank " + llvm::Twine(rank));
  if (tensorTypeOf(k).getRank() != rank || tensorTypeOf(v).getRank() != rank)
    return imp.fail("Q, K and V must have the same rank");

  // Bring Q, K and V to [B, heads, S, D].
  if (rank == 3) {
    std::optional<int64_t> qHeads = imp.intAttr("q_num_heads");
    std::optional<int64_t> kvHeads = imp.intAttr("kv_num_heads");
    if (!qHeads || !kvHeads || *qHeads <= 0 || *kvHeads <= 0)
      return imp.fail("3-D inputs need positive q_num_heads and kv_num_heads attributes");
    for (auto [value, heads, name] :
         {std::tuple(q, *qHeads, "Q"), std::tuple(k, *kvHeads, "K"), std::tuple(v, *kvHeads, "V")})
      if (tensorTypeOf(value).getDimSize(2) % heads != 0)
        return imp.fail(llvm::Twine(name) + "'s hidden size " +
                        llvm::Twine(tensorTypeOf(value).getDimSize(2)) +
                        " is not a multiple of its " + llvm::Twine(heads) + " heads");
    q = splitHeads(b, loc, q, *qHeads);
    k = splitHeads(b, loc, k, *kvHeads);
    v = splitHeads(b, loc, v, *kvHeads);
  }
  ArrayRef<int64_t> qShape = tensorTypeOf(q).getShape();
  ArrayRef<int64_t> kShape = tensorTypeOf(k).getShape();
  ArrayRef<int64_t> vShape = tensorTypeOf(v).getShape();
  int64_t batch = qShape[0], qHeads = qShape[1], qLength = qShape[2], headSize = qShape[3];
  int64_t kvHeads = kShape[1];
  if (kShape[0] != batch || vShape[0] != batch)
    return imp.fail("Q, K and V must have the same batch size");
  if (vShape[1] != kvHeads || vShape[2] != kShape[2])
    return imp.fail("K and V must have the same heads and sequence length");
  if (kShape[3] != headSize)
    return imp.fail("K's head size " + llvm::Twine(kShape[3]) + " differs from Q's " +
                    llvm::Twine(headSize));
  if (qHeads % kvHeads != 0)
    return imp.fail(llvm::Twine(qHeads) + " query heads cannot share " +
                    llvm::Twine(kvHeads) + " KV heads evenly");

  // The KV cache.
  int64_t pastLength = 0;
  if (imp.hasInput(kPastKey) != imp.hasInput(kPastValue))
    return imp.fail("past_key and past_value must be given together");
  if (imp.hasInput(kPastKey)) {
    llvm::Expected<OnnxValue> pastKey = imp.input(kPastKey);
    if (!pastKey)
      return pastKey.takeError();
    llvm::Expected<OnnxValue> pastValue = imp.input(kPastValue);
    if (!pastValue)
      return pastValue.takeError();
    ArrayRef<int64_t> pk = tensorTypeOf(pastKey->value).getShape();
    ArrayRef<int64_t> pv = tensorTypeOf(pastValue->value).getShape();
    if (pastKey->onnxType != query->onnxType || pastValue->onnxType != query->onnxType ||
        pk.size() != 4 || pv.size() != 4 || pk[0] != batch || pk[1] != kvHeads ||
        pk[3] != headSize || pv[0] != batch || pv[1] != kvHeads || pv[2] != pk[2] ||
        pv[3] != vShape[3])
      return imp.fail("past_key/past_value must be [batch, kv_heads, past_length, head_size] "
                      "tensors of Q's type matching K and V");
    pastLength = pk[2];
    k = appendToCache(b, loc, pastKey->value, k);
    v = appendToCache(b, loc, pastValue->value, v);
  }
  imp.setOutput(kPresentKey, k, query->onnxType);
  imp.setOutput(kPresentValue, v, query->onnxType);
  int64_t totalLength = kShape[2] + pastLength;

  Value mask, nonpadLengths;
  if (imp.hasInput(kMask)) {
    llvm::Expected<Value> read = readMask(imp, *query, totalLength);
    if (!read)
      return read.takeError();
    mask = *read;
    if (!broadcastShapes({tensorTypeOf(mask).getShape(),
                          ArrayRef<int64_t>{batch, qHeads, qLength, totalLength}}))
      return imp.fail("attn_mask does not broadcast to [batch, q_heads, q_length, "
                      "total_length] = [" + llvm::Twine(batch) + ", " + llvm::Twine(qHeads) +
                      ", " + llvm::Twine(qLength) + ", " + llvm::Twine(totalLength) + "]");
  }
  if (imp.hasInput(kNonpadLengths)) {
    llvm::Expected<OnnxValue> lengths = imp.input(kNonpadLengths);
    if (!lengths)
      return lengths.takeError();
    ArrayRef<int64_t> shape = tensorTypeOf(lengths->value).getShape();
    if (lengths->onnxType != onnx::TensorProto::INT64 || shape.size() != 1 || shape[0] != batch)
      return imp.fail("nonpad_kv_seqlen must be an int64 tensor of shape [batch]");
    nonpadLengths = lengths->value;
  }

  MaskingOptions options;
  options.scale = 1.0 / std::sqrt(static_cast<double>(headSize));
  if (std::optional<float> scale = imp.floatAttr("scale"))
    options.scale = *scale;
  options.causal = imp.intAttr("is_causal").value_or(0) != 0;
  options.pastLength = pastLength;
  double softcap = imp.floatAttr("softcap").value_or(0.0f);
  int64_t scoresMode = imp.intAttr("qk_matmul_output_mode").value_or(kRawScores);
  if (scoresMode < kRawScores || scoresMode > kProbabilities)
    return imp.fail("qk_matmul_output_mode must be 0 to 3, got " + llvm::Twine(scoresMode));

  // The arithmetic, in float32 for narrower inputs.
  Type inputType = tensorTypeOf(q).getElementType();
  Type computeType = inputType.getIntOrFloatBitWidth() < 32 ? b.getF32Type() : inputType;
  q = buildFloatConversion(b, loc, q, computeType);
  Value kTransposed = buildTranspose(b, loc, buildFloatConversion(b, loc, k, computeType), {0, 1, 3, 2});
  v = buildFloatConversion(b, loc, v, computeType);
  if (mask && !tensorTypeOf(mask).getElementType().isInteger(1))
    mask = buildFloatConversion(b, loc, mask, computeType);

  bool wantsScores = imp.node().output_size() > kScores && !imp.node().output(kScores).empty();
  Value rawScores = buildGroupedMatmul(b, loc, q, kTransposed);
  Value scores = maskScores(b, loc, rawScores, mask, nonpadLengths, options);
  Value scoresOutput = scores;
  if (wantsScores && scoresMode == kRawScores) {
    MaskingOptions scaleOnly{options.scale, false, 0};
    scoresOutput = maskScores(b, loc, rawScores, Value(), Value(), scaleOnly);
  }
  if (softcap > 0.0)
    scores = applySoftcap(b, loc, scores, softcap);
  if (scoresMode == kSoftcappedScores)
    scoresOutput = scores;
  Value probabilities = buildSoftmax(b, loc, scores, 3, /*logarithm=*/false);
  if (scoresMode == kProbabilities)
    scoresOutput = probabilities;
  Value y = buildGroupedMatmul(b, loc, probabilities, v);

  if (rank == 3) {
    y = buildTranspose(b, loc, y, {0, 2, 1, 3});
    ArrayRef<int64_t> shape = tensorTypeOf(y).getShape();
    y = buildReshape(b, loc, y, {shape[0], shape[1], shape[2] * shape[3]});
  }
  imp.setOutput(kY, buildFloatConversion(b, loc, y, inputType), query->onnxType);
  if (wantsScores)
    imp.setOutput(kScores, buildFloatConversion(b, loc, scoresOutput, inputType), query->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// RotaryEmbedding (opset 23)
//===----------------------------------------------------------------------===//

/// RotaryEmbedding rotates the first rotary_embedding_dim (R) values of
/// every head by position-dependent angles: pairs (x1, x2), the two halves
/// of those R values or (interleaved) neighbours, become
/// (cos x1 - sin x2, sin x1 + cos x2) with cos/sin read from the caches at
/// the token's position (position_ids[b, s], or the caches are already
/// [B, S, R/2]). One generic over the output gathers what each element
/// needs, so nothing is split, concatenated or copied.
static llvm::Error convertRotaryEmbedding(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(3);
  if (!operands)
    return operands.takeError();
  Value cosCache = (*operands)[1].value, sinCache = (*operands)[2].value;
  for (const OnnxValue &cache : ArrayRef(*operands).drop_front())
    if (cache.onnxType != x->onnxType)
      return imp.fail("cos_cache and sin_cache must have the input's type " +
                      onnxTypeName(x->onnxType));
  RankedTensorType type = tensorTypeOf(x->value);
  ArrayRef<int64_t> shape = type.getShape();
  // Where batch, heads, sequence and the head's values are in the input:
  // [B, H, S, D], or [B, S, H * D] with num_heads.
  bool rank3 = type.getRank() == 3;
  if (!rank3 && type.getRank() != 4)
    return imp.fail("input must have rank 3 or 4, got rank " + llvm::Twine(type.getRank()));
  int64_t heads = rank3 ? imp.intAttr("num_heads").value_or(0) : shape[1];
  if (heads <= 0 || (rank3 && shape[2] % heads != 0))
    return imp.fail("3-D input needs a num_heads attribute that divides its hidden size " +
                    llvm::Twine(shape[2]));
  int64_t headSize = rank3 ? shape[2] / heads : shape[3];
  int64_t rotated = imp.intAttr("rotary_embedding_dim").value_or(0);
  if (rotated == 0)
    rotated = headSize;
  if (rotated < 0 || rotated > headSize || rotated % 2 != 0)
    return imp.fail("rotary_embedding_dim " + llvm::Twine(rotated) +
                    " must be even and at most the head size " + llvm::Twine(headSize));
  int64_t half = rotated / 2;
  bool interleaved = imp.intAttr("interleaved").value_or(0) != 0;
  int64_t batch = shape[0], sequence = rank3 ? shape[1] : shape[2];

  Value positions;
  ArrayRef<int64_t> cacheShape = tensorTypeOf(cosCache).getShape();
  if (imp.hasInput(3)) {
    llvm::Expected<OnnxValue> ids = imp.input(3);
    if (!ids)
      return ids.takeError();
    if (ids->onnxType != onnx::TensorProto::INT64 ||
        tensorTypeOf(ids->value).getShape() != ArrayRef<int64_t>{batch, sequence})
      return imp.fail("position_ids must be an int64 tensor of shape [batch, sequence]");
    if (cacheShape.size() != 2 || cacheShape[1] != half)
      return imp.fail("with position_ids the caches must be [max_position, " +
                      llvm::Twine(half) + "]");
    positions = ids->value;
  } else if (cacheShape != ArrayRef<int64_t>{batch, sequence, half}) {
    return imp.fail("without position_ids the caches must be [batch, sequence, " +
                    llvm::Twine(half) + "]");
  }
  if (tensorTypeOf(sinCache).getShape() != cacheShape)
    return imp.fail("cos_cache and sin_cache have different shapes");

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Type elementType = type.getElementType();
  Value init = tensor::EmptyOp::create(b, loc, shape, elementType);
  unsigned rank = type.getRank();
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{}, ValueRange{init},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange) {
        auto index = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(nb, nl, v); };
        SmallVector<Value> at;
        for (unsigned d = 0; d < rank; ++d)
          at.push_back(linalg::IndexOp::create(nb, nl, d));
        Value b0 = at[0], s0 = rank3 ? at[1] : at[2];
        // The element's position within its head, and where its head starts
        // in the last dim (3-D inputs keep all heads there).
        Value last = at.back();
        Value d = rank3 ? arith::RemUIOp::create(nb, nl, last, index(headSize)).getResult() : last;
        Value headStart = arith::SubIOp::create(nb, nl, last, d);
        auto readX = [&](Value inHead) {
          SmallVector<Value> where(at);
          where.back() = arith::AddIOp::create(nb, nl, headStart, inHead);
          return tensor::ExtractOp::create(nb, nl, x->value, where).getResult();
        };
        Value self = tensor::ExtractOp::create(nb, nl, x->value, at);
        // Clamped so that positions past the rotated part read in bounds;
        // the select below keeps their own value.
        Value dr = arith::MinUIOp::create(nb, nl, d, index(rotated - 1));
        Value pair, isFirst, firstIndex;
        if (interleaved) {
          pair = arith::DivUIOp::create(nb, nl, dr, index(2));
          isFirst = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                          arith::RemUIOp::create(nb, nl, dr, index(2)), index(0));
          firstIndex = arith::MulIOp::create(nb, nl, pair, index(2));
        } else {
          isFirst = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, dr, index(half));
          pair = arith::SelectOp::create(nb, nl, isFirst, dr,
                                         arith::SubIOp::create(nb, nl, dr, index(half)));
          firstIndex = pair;
        }
        Value secondIndex = arith::AddIOp::create(nb, nl, firstIndex, index(interleaved ? 1 : half));
        Value x1 = readX(firstIndex), x2 = readX(secondIndex);
        SmallVector<Value> cacheAt;
        if (positions) {
          Value id = tensor::ExtractOp::create(nb, nl, positions, ValueRange{b0, s0});
          Value position = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), id);
          // Out-of-range ids are invalid models; clamp instead of reading
          // out of bounds.
          position = arith::MinUIOp::create(nb, nl, position, index(cacheShape[0] - 1));
          cacheAt = {position, pair};
        } else {
          cacheAt = {b0, s0, pair};
        }
        Value c = tensor::ExtractOp::create(nb, nl, cosCache, cacheAt);
        Value sn = tensor::ExtractOp::create(nb, nl, sinCache, cacheAt);
        Value real = arith::SubFOp::create(nb, nl, arith::MulFOp::create(nb, nl, c, x1),
                                           arith::MulFOp::create(nb, nl, sn, x2));
        Value imag = arith::AddFOp::create(nb, nl, arith::MulFOp::create(nb, nl, sn, x1),
                                           arith::MulFOp::create(nb, nl, c, x2));
        Value rotatedValue = arith::SelectOp::create(nb, nl, isFirst, real, imag);
        Value inRotated = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ult, d, index(rotated));
        linalg::YieldOp::create(nb, nl,
                                ValueRange{arith::SelectOp::create(nb, nl, inRotated,
                                                                   rotatedValue, self)});
      });
  imp.setOutput(0, generic.getResult(0), x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerAttentionConverters(ConverterRegistry &registry) {
  registry["::Attention"] = convertAttention;
  registry["::RotaryEmbedding"] = convertRotaryEmbedding;
}
