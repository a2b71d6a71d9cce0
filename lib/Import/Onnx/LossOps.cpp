//===- LossOps.cpp - ONNX NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ===//
//
// Both losses pick, for every sample position, the (log-)probability of its
// target class: a gather from the class axis by the target tensor, written
// as one linalg.generic over the target's shape that reads the input with
// tensor.extract. Weighted, with an ignored class, and reduced by none, sum
// or mean (weighted mean: the sum of losses over the sum of the weights of
// the targets that are not ignored), as the ONNX reference computes them.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

namespace {

/// How a loss node reduces and which class it ignores.
struct LossOptions {
  std::string reduction;
  std::optional<int64_t> ignoreIndex;
  Value weight; // the optional per-class weights (input 2), or null
};

llvm::Expected<LossOptions> readLossOptions(NodeImporter &imp) {
  LossOptions options;
  if (imp.hasInput(2)) {
    llvm::Expected<OnnxValue> weight = imp.input(2);
    if (!weight)
      return weight.takeError();
    options.weight = weight->value;
  }
  options.reduction = imp.stringAttr("reduction").value_or("mean");
  if (options.reduction != "none" && options.reduction != "sum" && options.reduction != "mean")
    return imp.fail("reduction must be none, sum or mean, got '" + options.reduction + "'");
  options.ignoreIndex = imp.intAttr("ignore_index");
  return options;
}

/// Sums every element of `value` into a rank-0 tensor.
Value sumAll(OpBuilder &b, Location loc, Value value) {
  Type elementType = tensorTypeOf(value).getElementType();
  while (tensorTypeOf(value).getRank() > 0)
    value = buildReduction(b, loc, value, 0, b.getFloatAttr(elementType, 0.0),
                           [](OpBuilder &nb, Location nl, ValueRange args) {
                             return arith::AddFOp::create(nb, nl, args[0], args[1]);
                           });
  return value;
}

/// The negative log-likelihood of `logProbs` [N, C, d...] at `target`
/// [N, d...], weighted by `options.weight` [C] (if any), reduced as `options`.
llvm::Expected<Value> buildNegativeLogLikelihood(NodeImporter &imp, Value logProbs,
                                                 Value target, const LossOptions &options) {
  Value weight = options.weight;
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType inputType = tensorTypeOf(logProbs);
  RankedTensorType targetType = tensorTypeOf(target);
  Type elementType = inputType.getElementType();
  int64_t rank = targetType.getRank();
  if (inputType.getRank() < 2 || rank != inputType.getRank() - 1)
    return imp.fail("expects input [N, C, d1, ...] and target [N, d1, ...]");
  for (int64_t d = 0; d < rank; ++d)
    if (targetType.getDimSize(d) != inputType.getDimSize(d == 0 ? 0 : d + 1))
      return imp.fail("target shape does not match the input's N and spatial dimensions");
  if (!isa<IntegerType>(targetType.getElementType()))
    return imp.fail("target must be an integer tensor");
  if (weight && (tensorTypeOf(weight).getRank() != 1 ||
                 tensorTypeOf(weight).getDimSize(0) != inputType.getDimSize(1)))
    return imp.fail("weight must have one entry per class");

  // Per position: the weighted loss and the weight that counted.
  Value emptyLoss = tensor::EmptyOp::create(b, loc, targetType.getShape(), elementType);
  SmallVector<AffineMap> maps(3, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  std::optional<int64_t> ignoreIndex = options.ignoreIndex;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{emptyLoss.getType(), emptyLoss.getType()}, ValueRange{target},
      ValueRange{emptyLoss, emptyLoss}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value label = args[0];
        Type labelType = label.getType();
        Value ignored = arith::ConstantOp::create(nb, nl, nb.getBoolAttr(false));
        if (ignoreIndex)
          ignored = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::eq, label,
              arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(labelType, *ignoreIndex)));
        Value zeroLabel = arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(labelType, 0));
        Value safeLabel = arith::SelectOp::create(nb, nl, ignored, zeroLabel, label);
        Value classIndex = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), safeLabel);
        SmallVector<Value> indices = {linalg::IndexOp::create(nb, nl, 0), classIndex};
        for (int64_t d = 1; d < rank; ++d)
          indices.push_back(linalg::IndexOp::create(nb, nl, d));
        Value logProb = tensor::ExtractOp::create(nb, nl, logProbs, indices);
        Value classWeight =
            weight ? tensor::ExtractOp::create(nb, nl, weight, ValueRange{classIndex}).getResult()
                   : arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 1.0))
                         .getResult();
        Value zero = arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 0.0));
        Value counted = arith::SelectOp::create(nb, nl, ignored, zero, classWeight);
        Value loss = arith::NegFOp::create(nb, nl,
                                           arith::MulFOp::create(nb, nl, logProb, counted));
        linalg::YieldOp::create(nb, nl, ValueRange{loss, counted});
      });
  Value losses = generic.getResult(0), weights = generic.getResult(1);
  if (options.reduction == "none")
    return losses;
  Value total = sumAll(b, loc, losses);
  if (options.reduction == "sum")
    return total;
  return buildElementwise(b, loc, {total, sumAll(b, loc, weights)}, elementType,
                          [](OpBuilder &nb, Location nl, ValueRange args) {
                            return arith::DivFOp::create(nb, nl, args[0], args[1]);
                          });
}

/// NegativeLogLikelihoodLoss reads log-probabilities; SoftmaxCrossEntropyLoss
/// (`fromScores`) takes LogSoftmax of its scores along the class axis first
/// and can also return that LogSoftmax as its second output.
llvm::Error convertLoss(NodeImporter &imp, bool fromScores) {
  llvm::Expected<LossOptions> options = readLossOptions(imp);
  if (!options)
    return options.takeError();
  llvm::Expected<OnnxValue> input = imp.floatInput(0);
  if (!input)
    return input.takeError();
  llvm::Expected<OnnxValue> target = imp.input(1);
  if (!target)
    return target.takeError();
  if (tensorTypeOf(input->value).getRank() < 2)
    return imp.fail("expects input [N, C, d1, ...]");
  Value logProbs = fromScores ? buildSoftmax(imp.builder(), imp.loc(), input->value, 1,
                                             /*logarithm=*/true)
                              : input->value;
  llvm::Expected<Value> loss =
      buildNegativeLogLikelihood(imp, logProbs, target->value, *options);
  if (!loss)
    return loss.takeError();
  imp.setOutput(0, *loss, input->onnxType);
  if (fromScores && imp.node().output_size() > 1 && !imp.node().output(1).empty())
    imp.setOutput(1, logProbs, input->onnxType);
  return llvm::Error::success();
}

} // namespace

void mlir::nibble::onnx_import::registerLossConverters(ConverterRegistry &registry) {
  registry["::NegativeLogLikelihoodLoss"] = [](NodeImporter &imp) {
    return convertLoss(imp, /*fromScores=*/false);
  };
  registry["::SoftmaxCrossEntropyLoss"] = [](NodeImporter &imp) {
    return convertLoss(imp, /*fromScores=*/true);
  };
}
