//===- MatmulOps.cpp - ONNX MatMul and Gemm -------------------------------===//
//
// A product whose right operand is 2-D (a weight) becomes a 2-D
// linalg.matmul over the rows of all leading dims, tagged with its ONNX node
// so the quantize and fuse phases can find it. Products of two activations
// (attention) become a batched linalg.generic with numpy batch broadcasting.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"
#include "MatmulBuilders.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <map>
#include <set>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

Value mlir::nibble::onnx_import::buildWeightMatmul(NodeImporter &imp, Value lhs,
                                                   Value weight) {
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType lhsType = tensorTypeOf(lhs);
  int64_t k = lhsType.getShape().back();
  int64_t n = tensorTypeOf(weight).getDimSize(1);
  int64_t rows = lhsType.getNumElements() / std::max<int64_t>(k, 1);
  Value lhs2D = buildReshape(b, loc, lhs, {rows, k});
  // float16/bfloat16 layers compute in float32 and round once, as
  // onnxruntime does: the activations and the weight are widened around a
  // float32 product, so quantization, calibration and the kernels see the
  // float32 layer they know, while the weight constant stays 16-bit.
  Type elementType = lhsType.getElementType();
  bool isNarrowFloat = isa<Float16Type, BFloat16Type>(elementType);
  Type computeType = isNarrowFloat ? b.getF32Type() : elementType;
  lhs2D = buildFloatConversion(b, loc, lhs2D, computeType);
  weight = buildFloatConversion(b, loc, weight, computeType);
  Value init = buildZeroFilled(b, loc, {rows, n}, computeType);
  auto matmul = linalg::MatmulOp::create(b, loc, TypeRange{init.getType()},
                                         ValueRange{lhs2D, weight}, ValueRange{init});
  setLayerAttrs(matmul, imp.nodeName(), imp.node().op_type());
  SmallVector<int64_t> outShape(lhsType.getShape().drop_back());
  outShape.push_back(n);
  Value result = buildFloatConversion(b, loc, matmul.getResult(0), elementType);
  return buildReshape(b, loc, result, outShape);
}

Value mlir::nibble::onnx_import::buildBatchedMatmul(OpBuilder &b, Location loc,
                                                    Value lhs, Value rhs) {
  ArrayRef<int64_t> lhsShape = tensorTypeOf(lhs).getShape();
  ArrayRef<int64_t> rhsShape = tensorTypeOf(rhs).getShape();
  std::optional<SmallVector<int64_t>> batch =
      broadcastShapes({lhsShape.drop_back(2), rhsShape.drop_back(2)});
  if (!batch)
    return {};
  unsigned numBatch = batch->size();
  int64_t m = lhsShape[lhsShape.size() - 2], n = rhsShape.back();
  MLIRContext *ctx = b.getContext();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  // Loops: (batch..., m, n, k).
  SmallVector<AffineExpr> batchDims, lhsFrame, rhsFrame, outExprs;
  for (unsigned i = 0; i < numBatch; ++i)
    batchDims.push_back(d(i));
  AffineExpr mD = d(numBatch), nD = d(numBatch + 1), kD = d(numBatch + 2);
  lhsFrame = batchDims;
  lhsFrame.append({mD, kD});
  rhsFrame = batchDims;
  rhsFrame.append({kD, nD});
  outExprs = batchDims;
  outExprs.append({mD, nD});
  unsigned numLoops = numBatch + 3;

  auto operandFor = [&](Value v, ArrayRef<AffineExpr> frame,
                        ArrayRef<int64_t> lastTwo) {
    SmallVector<int64_t> fullShape(*batch);
    fullShape.append(lastTwo.begin(), lastTwo.end());
    auto [operand, map] = dropBroadcastDims(b, loc, v, fullShape);
    return std::make_pair(operand,
                          map.compose(AffineMap::get(numLoops, 0, frame, ctx)));
  };
  auto [lhsOperand, lhsMap] = operandFor(lhs, lhsFrame, lhsShape.take_back(2));
  auto [rhsOperand, rhsMap] = operandFor(rhs, rhsFrame, rhsShape.take_back(2));

  SmallVector<int64_t> outShape(*batch);
  outShape.append({m, n});
  // Narrow floats accumulate in float32 and round once, as numpy and ONNX
  // Runtime do: rounding every partial sum to float16 loses ~log2(K) bits.
  Type elementType = tensorTypeOf(lhs).getElementType();
  Type accumulatorType =
      elementType.getIntOrFloatBitWidth() < 32 ? b.getF32Type() : elementType;
  Value init = buildZeroFilled(b, loc, outShape, accumulatorType);
  SmallVector<utils::IteratorType> iterators(numLoops, utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{lhsOperand, rhsOperand}, ValueRange{init},
      {lhsMap, rhsMap, AffineMap::get(numLoops, 0, outExprs, ctx)}, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value lhsValue = convertFloatScalar(nb, nl, args[0], accumulatorType);
        Value rhsValue = convertFloatScalar(nb, nl, args[1], accumulatorType);
        Value product = arith::MulFOp::create(nb, nl, lhsValue, rhsValue);
        linalg::YieldOp::create(nb, nl, ValueRange{arith::AddFOp::create(nb, nl, args[2], product)});
      });
  return buildFloatConversion(b, loc, generic.getResult(0), elementType);
}

static llvm::Error convertMatMul(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  OnnxValue *a = &(*operands)[0], *bIn = &(*operands)[1];
  if (!isa<FloatType>(tensorTypeOf(a->value).getElementType()) ||
      tensorTypeOf(a->value).getElementType() != tensorTypeOf(bIn->value).getElementType())
    return imp.fail("expects two float inputs of the same type (got " +
                    onnxTypeName(a->onnxType) + " and " + onnxTypeName(bIn->onnxType) + ")");
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value lhs = a->value, rhs = bIn->value;
  ArrayRef<int64_t> lhsShape = tensorTypeOf(lhs).getShape();
  ArrayRef<int64_t> rhsShape = tensorTypeOf(rhs).getShape();
  if (lhsShape.empty() || rhsShape.empty())
    return imp.fail("MatMul inputs must have rank >= 1");
  // numpy semantics for 1-D operands: promote, multiply, drop the added dim.
  bool lhsVector = lhsShape.size() == 1, rhsVector = rhsShape.size() == 1;
  if (lhsVector)
    lhs = buildReshape(b, loc, lhs, {1, lhsShape[0]});
  if (rhsVector)
    rhs = buildReshape(b, loc, rhs, {rhsShape[0], 1});
  lhsShape = tensorTypeOf(lhs).getShape();
  rhsShape = tensorTypeOf(rhs).getShape();
  if (lhsShape.back() != rhsShape[rhsShape.size() - 2])
    return imp.fail("inner dimensions differ: A has K = " + llvm::Twine(lhsShape.back()) +
                    " but B has K = " + llvm::Twine(rhsShape[rhsShape.size() - 2]));
  Value result = rhsShape.size() == 2 ? buildWeightMatmul(imp, lhs, rhs)
                                      : buildBatchedMatmul(b, loc, lhs, rhs);
  if (!result)
    return imp.fail("batch dimensions do not broadcast");
  SmallVector<int64_t> outShape(tensorTypeOf(result).getShape());
  if (rhsVector)
    outShape.erase(outShape.end() - 1);
  if (lhsVector)
    outShape.erase(outShape.end() - (rhsVector ? 1 : 2));
  imp.setOutput(0, buildReshape(b, loc, result, outShape), a->onnxType);
  return llvm::Error::success();
}

/// The transpose of a 2-D operand; constants are transposed at compile time
/// so the weight stays a constant the quantize phase can see.
static Value transpose2D(OpBuilder &b, Location loc, Value v) {
  RankedTensorType type = tensorTypeOf(v);
  Type elementType = type.getElementType();
  std::optional<SmallVector<float>> values;
  if (isa<Float32Type, Float16Type, BFloat16Type>(elementType))
    values = readFloatElements(getConstantElements(v));
  if (!values)
    return buildTranspose(b, loc, v, {1, 0});
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  SmallVector<float> transposed(values->size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      transposed[c * rows + r] = (*values)[r * cols + c];
  // 16-bit values widened to float are stored back exactly.
  auto newType = RankedTensorType::get({cols, rows}, elementType);
  return arith::ConstantOp::create(b, loc, makeFloatConstant(newType, transposed, "weight_t"));
}

static llvm::Error convertGemm(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> operands = imp.inputs(2);
  if (!operands)
    return operands.takeError();
  OnnxValue *a = &(*operands)[0], *bIn = &(*operands)[1];
  if (tensorTypeOf(a->value).getRank() != 2 || tensorTypeOf(bIn->value).getRank() != 2)
    return imp.fail("A and B must be 2-D");
  Type elementType = tensorTypeOf(a->value).getElementType();
  if (!isa<Float32Type, Float16Type, BFloat16Type>(elementType) ||
      tensorTypeOf(bIn->value).getElementType() != elementType)
    return imp.fail("expects float32, float16 or bfloat16 inputs of one type, got " +
                    onnxTypeName(a->onnxType) + " and " + onnxTypeName(bIn->onnxType));
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Type f32 = b.getF32Type();
  Value lhs = a->value, rhs = bIn->value;
  if (imp.intAttr("transA").value_or(0))
    lhs = transpose2D(b, loc, lhs);
  if (imp.intAttr("transB").value_or(0))
    rhs = transpose2D(b, loc, rhs);
  if (tensorTypeOf(lhs).getDimSize(1) != tensorTypeOf(rhs).getDimSize(0))
    return imp.fail("inner dimensions differ after transA/transB");
  float alpha = imp.floatAttr("alpha").value_or(1.0f);
  float beta = imp.floatAttr("beta").value_or(1.0f);
  // float16/bfloat16: alpha A B + beta C is computed in float32 and rounded
  // once (the 16-bit weight is widened where it is read, so it stays
  // quantizable).
  Value result = buildWeightMatmul(imp, buildFloatConversion(b, loc, lhs, f32), rhs);
  if (alpha != 1.0f) {
    Value alphaValue = buildF32Constant(b, loc, alpha);
    result = buildElementwise(b, loc, {result}, f32,
                              [&](OpBuilder &nb, Location nl, ValueRange args) {
                                return arith::MulFOp::create(nb, nl, args[0], alphaValue);
                              });
  }
  if (imp.hasInput(2) && beta != 0.0f) {
    llvm::Expected<OnnxValue> c = imp.input(2);
    if (!c)
      return c.takeError();
    Value betaValue = buildF32Constant(b, loc, beta);
    Value sum = buildElementwise(
        b, loc, {result, buildFloatConversion(b, loc, c->value, f32)}, f32,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value scaled = beta == 1.0f ? args[1]
                                      : arith::MulFOp::create(nb, nl, args[1], betaValue);
          return arith::AddFOp::create(nb, nl, args[0], scaled);
        });
    if (!sum || tensorTypeOf(sum).getShape() != tensorTypeOf(result).getShape())
      return imp.fail("C does not broadcast to the [M, N] output");
    result = sum;
  }
  imp.setOutput(0, buildFloatConversion(b, loc, result, elementType), a->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

/// The subscripts of an Einsum equation: one letter string per operand and
/// the output's. `...` becomes the digits '0', '1', ... standing for the
/// broadcast dims, right-aligned across operands as numpy does (operand i
/// of rank r with e letters gets the last r - e of them). An implicit
/// output is the broadcast dims, then the letters used exactly once in
/// alphabetical order (numpy's rule).
static llvm::Expected<std::pair<SmallVector<std::string>, std::string>>
parseEinsumEquation(NodeImporter &imp, StringRef equation, ArrayRef<int64_t> ranks) {
  std::string compact;
  for (char c : equation)
    if (!isspace(static_cast<unsigned char>(c)))
      compact += c;
  auto [lhs, rhs] = StringRef(compact).split("->");
  SmallVector<StringRef> parts;
  lhs.split(parts, ',');
  if (parts.size() != ranks.size())
    return imp.fail("the equation names " + Twine(parts.size()) + " operands but the node has " +
                    Twine(ranks.size()));
  auto lettersOf = [&](StringRef part) -> llvm::Expected<std::string> {
    std::string letters = part.str();
    size_t dots = letters.find("...");
    if (dots != std::string::npos)
      letters.erase(dots, 3);
    for (char c : letters)
      if (!isalpha(static_cast<unsigned char>(c)))
        return imp.fail("unexpected character '" + Twine(c) + "' in the equation");
    return letters;
  };
  // The number of broadcast dims: the most any operand's '...' covers.
  int64_t broadcastRank = 0;
  SmallVector<int64_t> covered;
  for (auto [part, rank] : llvm::zip(parts, ranks)) {
    llvm::Expected<std::string> letters = lettersOf(part);
    if (!letters)
      return letters.takeError();
    int64_t count = part.contains("...") ? rank - static_cast<int64_t>(letters->size()) : 0;
    if (count < 0 || (!part.contains("...") && rank != static_cast<int64_t>(letters->size())))
      return imp.fail("operand subscripts '" + part + "' do not match its rank " + Twine(rank));
    covered.push_back(count);
    broadcastRank = std::max(broadcastRank, count);
  }
  if (broadcastRank > 10)
    return imp.fail("'...' covers more than 10 dimensions");
  std::string broadcastDims;
  for (int64_t i = 0; i < broadcastRank; ++i)
    broadcastDims += static_cast<char>('0' + i);
  auto expand = [&](StringRef part, int64_t count) {
    std::string text = part.str();
    size_t dots = text.find("...");
    if (dots != std::string::npos)
      text.replace(dots, 3, broadcastDims.substr(broadcastRank - count));
    return text;
  };
  SmallVector<std::string> operands;
  std::map<char, int> uses;
  for (auto [part, count] : llvm::zip(parts, covered)) {
    operands.push_back(expand(part, count));
    for (char c : std::set<char>(operands.back().begin(), operands.back().end()))
      ++uses[c];
  }
  std::string output;
  if (compact.find("->") != std::string::npos) {
    llvm::Expected<std::string> letters = lettersOf(rhs);
    if (!letters)
      return letters.takeError();
    output = expand(rhs, broadcastRank);
  } else {
    output = broadcastDims;
    for (auto [letter, count] : uses)
      if (count == 1 && isalpha(static_cast<unsigned char>(letter)) &&
          llvm::count(llvm::join(operands, ""), letter) == 1)
        output += letter;
  }
  for (char c : output) {
    if (!uses.count(c))
      return imp.fail("output letter '" + Twine(c) + "' appears in no operand");
    if (llvm::count(output, c) > 1)
      return imp.fail("output letter '" + Twine(c) + "' appears twice");
  }
  return std::make_pair(operands, output);
}

/// Einsum is one linalg.generic: a loop per letter, output letters
/// parallel, the others summed. A letter repeated within an operand reads
/// its diagonal (the same loop indexes both dims); a broadcast dim of size
/// 1 reads index 0.
static llvm::Error convertEinsum(NodeImporter &imp) {
  std::optional<std::string> equation = imp.stringAttr("equation");
  if (!equation)
    return imp.fail("the equation attribute is required");
  SmallVector<OnnxValue> operands;
  for (int i = 0; i < imp.numInputs(); ++i) {
    llvm::Expected<OnnxValue> v = imp.input(i);
    if (!v)
      return v.takeError();
    operands.push_back(*v);
  }
  if (operands.empty())
    return imp.fail("needs at least one input");
  SmallVector<int64_t> ranks;
  for (const OnnxValue &operand : operands)
    ranks.push_back(tensorTypeOf(operand.value).getRank());
  auto parsed = parseEinsumEquation(imp, *equation, ranks);
  if (!parsed)
    return parsed.takeError();
  auto &[subscripts, output] = *parsed;
  Type elementType = tensorTypeOf(operands[0].value).getElementType();
  // Loop order: output letters, then summed letters by first appearance.
  std::string loops = output;
  std::map<char, int64_t> sizes;
  for (auto [operand, letters] : llvm::zip(operands, subscripts)) {
    RankedTensorType type = tensorTypeOf(operand.value);
    if (type.getElementType() != elementType)
      return imp.fail("operands have different element types");
    for (auto [letter, size] : llvm::zip(letters, type.getShape())) {
      // Broadcast dims may be 1 in some operands.
      bool broadcasts = isdigit(static_cast<unsigned char>(letter));
      auto [it, inserted] = sizes.insert({letter, size});
      if (!inserted && it->second != size) {
        if (!broadcasts || (size != 1 && it->second != 1))
          return imp.fail("letter '" + Twine(letter) + "' has sizes " + Twine(it->second) +
                          " and " + Twine(size));
        it->second = std::max(it->second, size);
      }
      if (loops.find(letter) == std::string::npos)
        loops += letter;
    }
  }
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  MLIRContext *ctx = imp.context();
  auto mapOf = [&](StringRef letters, ArrayRef<int64_t> shape) {
    SmallVector<AffineExpr> exprs;
    for (auto [i, c] : llvm::enumerate(letters))
      exprs.push_back(shape[i] == 1 && sizes[c] != 1 ? b.getAffineConstantExpr(0)
                                                     : b.getAffineDimExpr(loops.find(c)));
    return AffineMap::get(loops.size(), 0, exprs, ctx);
  };
  SmallVector<AffineMap> maps;
  SmallVector<Value> inputs;
  for (auto [operand, letters] : llvm::zip(operands, subscripts)) {
    inputs.push_back(operand.value);
    maps.push_back(mapOf(letters, tensorTypeOf(operand.value).getShape()));
  }
  SmallVector<int64_t> outShape;
  for (char c : output)
    outShape.push_back(sizes[c]);
  maps.push_back(mapOf(output, outShape));
  SmallVector<utils::IteratorType> iterators(loops.size(), utils::IteratorType::parallel);
  for (size_t i = output.size(); i < loops.size(); ++i)
    iterators[i] = utils::IteratorType::reduction;
  bool isFloat = isa<FloatType>(elementType);
  Value init = buildZeroFilled(b, loc, outShape, elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value product = args[0];
        for (Value v : args.drop_front().drop_back())
          product = isFloat ? arith::MulFOp::create(nb, nl, product, v).getResult()
                            : arith::MulIOp::create(nb, nl, product, v).getResult();
        Value sum = isFloat ? arith::AddFOp::create(nb, nl, args.back(), product).getResult()
                            : arith::AddIOp::create(nb, nl, args.back(), product).getResult();
        linalg::YieldOp::create(nb, nl, ValueRange{sum});
      });
  imp.setOutput(0, generic.getResult(0), operands[0].onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerMatmulConverters(ConverterRegistry &registry) {
  registry["::Einsum"] = convertEinsum;
  registry["::MatMul"] = convertMatMul;
  registry["::Gemm"] = convertGemm;
}
