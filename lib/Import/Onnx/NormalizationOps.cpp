//===- NormalizationOps.cpp - ONNX LayerNorm, BatchNorm, InstanceNorm -----===//
//
// LayerNormalization and InstanceNormalization standardize rows of a 2-D
// view of the input (the normalized dims flattened into one) and then
// apply a broadcast scale and bias. BatchNormalization (inference only)
// folds its running statistics into one per-channel multiply-add.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

namespace {
/// A standardized [rows, cols] tensor with its per-row statistics.
struct Standardized {
  Value normalized; // (x - mean) * invStdDev, [rows, cols]
  Value mean;       // [rows]
  Value invStdDev;  // [rows]: 1 / sqrt(var + epsilon)
};
} // namespace

static Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

/// Standardizes each row of the float [rows, cols] tensor `x` to mean 0 and
/// variance 1 (population variance, plus `epsilon`). Without `center`,
/// divides by the root mean square instead (RMSNormalization); `mean` is
/// then null.
static Standardized standardizeRows(OpBuilder &b, Location loc, Value x,
                                    double epsilon, bool center = true) {
  RankedTensorType type = tensorTypeOf(x);
  Type elementType = type.getElementType();
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  TypedAttr zero = b.getFloatAttr(elementType, 0.0);
  auto rowSum = [&](Value input, bool squares) {
    return buildReduction(b, loc, input, 1, zero,
                          [squares](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                            Value term = args[1];
                            if (squares)
                              term = arith::MulFOp::create(nb, nl, term, term);
                            return arith::AddFOp::create(nb, nl, args[0], term);
                          });
  };
  // mean = sum / cols and invStdDev = 1 / sqrt(sumSquares / cols + eps)
  // on the [rows] statistics.
  auto perRow = [&](Value sums, bool inverseStdDev) {
    return buildElementwise(
        b, loc, {sums}, elementType, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value average = arith::DivFOp::create(nb, nl, args[0],
                                                floatConstant(nb, nl, elementType, cols));
          if (!inverseStdDev)
            return average;
          Value variance = arith::AddFOp::create(nb, nl, average,
                                                 floatConstant(nb, nl, elementType, epsilon));
          return math::RsqrtOp::create(nb, nl, variance);
        });
  };
  Value mean, centered = x;
  if (center) {
    mean = perRow(rowSum(x, false), false);
    centered = buildElementwise(
        b, loc, {x, buildReshape(b, loc, mean, {rows, 1})}, elementType,
        [](OpBuilder &nb, Location nl, ValueRange args) {
          return arith::SubFOp::create(nb, nl, args[0], args[1]);
        });
  }
  Value invStdDev = perRow(rowSum(centered, true), true);
  Value normalized = buildElementwise(
      b, loc, {centered, buildReshape(b, loc, invStdDev, {rows, 1})}, elementType,
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return arith::MulFOp::create(nb, nl, args[0], args[1]);
      });
  return {normalized, mean, invStdDev};
}

/// x * scale (+ bias), broadcast numpy-style; null if they do not broadcast.
static Value scaleAndShift(OpBuilder &b, Location loc, Value x, Value scale,
                           Value bias) {
  SmallVector<Value> operands{x, scale};
  if (bias)
    operands.push_back(bias);
  return buildElementwise(
      b, loc, operands, tensorTypeOf(x).getElementType(),
      [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value scaled = arith::MulFOp::create(nb, nl, args[0], args[1]);
        if (args.size() == 3)
          return arith::AddFOp::create(nb, nl, scaled, args[2]);
        return scaled;
      });
}

/// Reads inputs 0 .. count-1 (absent optional ones stay null) and checks
/// that they share input 0's float type.
static llvm::Expected<SmallVector<OnnxValue, 5>>
readFloatOperands(NodeImporter &imp, int count, int required) {
  SmallVector<OnnxValue, 5> operands;
  for (int i = 0; i < count; ++i) {
    if (i >= required && !imp.hasInput(i)) {
      operands.push_back({});
      continue;
    }
    llvm::Expected<OnnxValue> operand = imp.input(i);
    if (!operand)
      return operand.takeError();
    operands.push_back(*operand);
  }
  if (!isa<FloatType>(tensorTypeOf(operands[0].value).getElementType()))
    return imp.fail("expects a float input, got " + onnxTypeName(operands[0].onnxType));
  for (const OnnxValue &operand : operands)
    if (operand.value && operand.onnxType != operands[0].onnxType)
      return imp.fail("all inputs must be " + onnxTypeName(operands[0].onnxType) +
                      ", got " + onnxTypeName(operand.onnxType));
  return operands;
}

/// The product of `shape[begin, end)`.
static int64_t product(ArrayRef<int64_t> shape, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i)
    result *= shape[i];
  return result;
}

/// The first normalized dim (`axis`, default -1) of LayerNormalization and
/// RMSNormalization, which must keep float32 statistics.
static llvm::Expected<int64_t> normalizedDimsStart(NodeImporter &imp, int64_t rank) {
  if (imp.intAttr("stash_type").value_or(1) != 1)
    return imp.fail("stash_type must be 1 (float32 statistics)");
  return resolveAxis(imp, imp.intAttr("axis").value_or(-1), rank);
}

/// LayerNormalization (opset 17): standardizes over dims [axis, rank), then
/// Y = normalized * Scale + B. The optional Mean and InvStdDev outputs have
/// the input's shape with the normalized dims set to 1.
/// RMSNormalization (opset 23, `rms`): x / sqrt(mean(x^2) + epsilon) over
/// the same dims, times Scale; no bias and no statistics outputs.
static llvm::Error convertTrailingNormalization(NodeImporter &imp, bool rms) {
  llvm::Expected<SmallVector<OnnxValue, 5>> operands = readFloatOperands(imp, rms ? 2 : 3, 2);
  if (!operands)
    return operands.takeError();
  const OnnxValue &x = (*operands)[0];
  RankedTensorType type = tensorTypeOf(x.value);
  int64_t rank = type.getRank();
  llvm::Expected<int64_t> axis = normalizedDimsStart(imp, rank);
  if (!axis)
    return axis.takeError();
  double epsilon = imp.floatAttr("epsilon").value_or(1e-5f);

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rows = product(shape, 0, *axis), cols = product(shape, *axis, rank);
  // The statistics and the normalized values are float32 (stash_type 1)
  // whatever X is; the normalized values are rounded to X's type before
  // Scale and B apply, as the ONNX function body does.
  Type elementType = type.getElementType();
  Type stashType = elementType.getIntOrFloatBitWidth() < 32 ? b.getF32Type() : elementType;
  Standardized standardized = standardizeRows(
      b, loc, buildFloatConversion(b, loc, buildReshape(b, loc, x.value, {rows, cols}), stashType),
      epsilon, /*center=*/!rms);
  Value normalized = buildFloatConversion(b, loc, standardized.normalized, elementType);
  Value bias = rms ? Value() : (*operands)[2].value;
  Value y = scaleAndShift(b, loc, buildReshape(b, loc, normalized, shape),
                          (*operands)[1].value, bias);
  if (!y)
    return imp.fail("Scale and B do not broadcast to the input's shape");
  imp.setOutput(0, y, x.onnxType);
  if (rms)
    return llvm::Error::success();
  SmallVector<int64_t> statsShape(shape.take_front(*axis));
  statsShape.append(rank - *axis, 1);
  int32_t stashOnnxType = stashType == elementType ? x.onnxType : onnx::TensorProto::FLOAT;
  imp.setOutput(1, buildReshape(b, loc, standardized.mean, statsShape), stashOnnxType);
  imp.setOutput(2, buildReshape(b, loc, standardized.invStdDev, statsShape), stashOnnxType);
  return llvm::Error::success();
}

/// LpNormalization: x / ||x||_p along `axis` (p = 1 or 2).
static llvm::Error convertLpNormalization(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.floatInput(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  Type elementType = type.getElementType();
  llvm::Expected<int64_t> resolved =
      resolveAxis(imp, imp.intAttr("axis").value_or(-1), type.getRank());
  if (!resolved)
    return resolved.takeError();
  int64_t axis = *resolved;
  int64_t p = imp.intAttr("p").value_or(2);
  if (p != 1 && p != 2)
    return imp.fail("p must be 1 or 2, got " + llvm::Twine(p));
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value norm = buildReduction(
      b, loc, x->value, axis, b.getFloatAttr(elementType, 0.0),
      [p](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value term = p == 1 ? math::AbsFOp::create(nb, nl, args[1]).getResult()
                            : arith::MulFOp::create(nb, nl, args[1], args[1]).getResult();
        return arith::AddFOp::create(nb, nl, args[0], term);
      });
  SmallVector<int64_t> keptShape(type.getShape());
  keptShape[axis] = 1;
  Value y = buildElementwise(
      b, loc, {x->value, buildReshape(b, loc, norm, keptShape)}, elementType,
      [p](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value divisor = p == 1 ? args[1] : math::SqrtOp::create(nb, nl, args[1]).getResult();
        return arith::DivFOp::create(nb, nl, args[0], divisor);
      });
  imp.setOutput(0, y, x->onnxType);
  return llvm::Error::success();
}

/// `param` ([C], one value per channel) reshaped to broadcast along dim 1
/// of a rank-`rank` [N, C, ...] tensor: [C, 1, ..., 1].
static Value channelParameter(OpBuilder &b, Location loc, Value param, int64_t rank) {
  SmallVector<int64_t> shape{tensorTypeOf(param).getNumElements()};
  shape.append(std::max<int64_t>(rank - 2, 0), 1);
  return buildReshape(b, loc, param, shape);
}

/// Checks that the per-channel parameters have `channels` elements.
static llvm::Error checkChannelParameters(NodeImporter &imp, ArrayRef<OnnxValue> params,
                                          int64_t channels) {
  for (const OnnxValue &param : params)
    if (tensorTypeOf(param.value).getRank() != 1 ||
        tensorTypeOf(param.value).getDimSize(0) != channels)
      return imp.fail("the per-channel inputs must have shape [" + llvm::Twine(channels) +
                      "]");
  return llvm::Error::success();
}

/// InstanceNormalization: standardizes each (n, c) plane over the spatial
/// dims, then applies the per-channel scale and bias.
static llvm::Error convertInstanceNormalization(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 5>> operands = readFloatOperands(imp, 3, 3);
  if (!operands)
    return operands.takeError();
  const OnnxValue &x = (*operands)[0];
  ArrayRef<int64_t> shape = tensorTypeOf(x.value).getShape();
  int64_t rank = shape.size();
  if (rank < 2)
    return imp.fail("expects an [N, C, ...] input, got rank " + llvm::Twine(rank));
  if (llvm::Error err = checkChannelParameters(imp, ArrayRef(*operands).drop_front(), shape[1]))
    return err;
  double epsilon = imp.floatAttr("epsilon").value_or(1e-5f);
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  int64_t planes = shape[0] * shape[1], planeSize = product(shape, 2, rank);
  Standardized standardized = standardizeRows(
      b, loc, buildReshape(b, loc, x.value, {planes, planeSize}), epsilon);
  Value y = scaleAndShift(b, loc, buildReshape(b, loc, standardized.normalized, shape),
                          channelParameter(b, loc, (*operands)[1].value, rank),
                          channelParameter(b, loc, (*operands)[2].value, rank));
  imp.setOutput(0, y, x.onnxType);
  return llvm::Error::success();
}

/// BatchNormalization's multiplier a = scale / sqrt(var + epsilon) and offset
/// c = B - mean * a, folded at import when all four parameters are float32
/// constants (the usual case, which keeps them visible to later passes).
static std::optional<std::pair<Value, Value>>
foldBatchNormParameters(OpBuilder &b, Location loc, Value scale, Value bias,
                        Value mean, Value variance, double epsilon) {
  SmallVector<SmallVector<float>> values;
  for (Value param : {scale, bias, mean, variance}) {
    if (!cast<RankedTensorType>(param.getType()).getElementType().isF32())
      return std::nullopt;
    std::optional<SmallVector<float>> elements =
        readFloatElements(getConstantElements(param));
    if (!elements)
      return std::nullopt;
    values.push_back(std::move(*elements));
  }
  SmallVector<float> multiplier, offset;
  for (size_t i = 0; i < values[0].size(); ++i) {
    double a = values[0][i] / std::sqrt(static_cast<double>(values[3][i]) + epsilon);
    multiplier.push_back(static_cast<float>(a));
    offset.push_back(static_cast<float>(values[1][i] - values[2][i] * a));
  }
  auto type = cast<RankedTensorType>(scale.getType());
  auto constant = [&](ArrayRef<float> data, StringRef name) -> Value {
    return arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(makeFloatConstant(type, data, name)));
  };
  return std::make_pair(constant(multiplier, "batchnorm_multiplier"),
                        constant(offset, "batchnorm_offset"));
}

/// BatchNormalization in inference mode: Y = X * a + c per channel, with
/// a = scale / sqrt(var + epsilon) and c = B - mean * a. Before opset 9,
/// spatial=0 gives the parameters the shape of one sample ([C, D1, ...]).
static llvm::Error convertBatchNormalization(NodeImporter &imp) {
  if (imp.intAttr("training_mode").value_or(0) != 0)
    return imp.fail("training_mode=1 is not supported; export the model for inference");
  for (int i = 1; i < imp.node().output_size(); ++i)
    if (!imp.node().output(i).empty())
      return imp.fail("the running mean/variance outputs are training-only and not "
                      "supported; export the model for inference");
  llvm::Expected<SmallVector<OnnxValue, 5>> operands = readFloatOperands(imp, 5, 5);
  if (!operands)
    return operands.takeError();
  const OnnxValue &x = (*operands)[0];
  ArrayRef<int64_t> shape = tensorTypeOf(x.value).getShape();
  int64_t rank = shape.size();
  if (rank < 2)
    return imp.fail("expects an [N, C, ...] input, got rank " + llvm::Twine(rank));
  ArrayRef<OnnxValue> params = ArrayRef(*operands).drop_front();
  bool perElement = imp.opset() < 9 && imp.intAttr("spatial").value_or(1) == 0;
  if (perElement) {
    for (const OnnxValue &param : params)
      if (tensorTypeOf(param.value).getShape() != shape.drop_front())
        return imp.fail("with spatial=0 the parameters must have the shape of one sample");
  } else if (llvm::Error err = checkChannelParameters(imp, params, shape[1])) {
    return err;
  }
  double epsilon = imp.floatAttr("epsilon").value_or(1e-5f);
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Type elementType = tensorTypeOf(x.value).getElementType();
  Value scale = params[0].value, bias = params[1].value, mean = params[2].value,
        variance = params[3].value;
  Value multiplier, offset;
  if (auto folded = foldBatchNormParameters(b, loc, scale, bias, mean, variance, epsilon)) {
    std::tie(multiplier, offset) = *folded;
  } else {
    multiplier = buildElementwise(
        b, loc, {scale, variance}, elementType,
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value shifted = arith::AddFOp::create(nb, nl, args[1],
                                                floatConstant(nb, nl, elementType, epsilon));
          return arith::MulFOp::create(nb, nl, args[0], math::RsqrtOp::create(nb, nl, shifted));
        });
    offset = buildElementwise(
        b, loc, {bias, mean, multiplier}, elementType,
        [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          return arith::SubFOp::create(nb, nl, args[0],
                                       arith::MulFOp::create(nb, nl, args[1], args[2]));
        });
  }
  if (!perElement) {
    multiplier = channelParameter(b, loc, multiplier, rank);
    offset = channelParameter(b, loc, offset, rank);
  }
  imp.setOutput(0, scaleAndShift(b, loc, x.value, multiplier, offset), x.onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerNormalizationConverters(
    ConverterRegistry &registry) {
  registry["::LayerNormalization"] = [](NodeImporter &imp) {
    return convertTrailingNormalization(imp, /*rms=*/false);
  };
  registry["::RMSNormalization"] = [](NodeImporter &imp) {
    return convertTrailingNormalization(imp, /*rms=*/true);
  };
  registry["::LpNormalization"] = convertLpNormalization;
  registry["::InstanceNormalization"] = convertInstanceNormalization;
  registry["::BatchNormalization"] = convertBatchNormalization;
}
