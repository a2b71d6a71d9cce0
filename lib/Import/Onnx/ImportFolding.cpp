//===- ImportFolding.cpp - fold a node's results to constants -------------===//

#include "ImportFolding.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

/// Constants larger than this are weights, not shape arithmetic: folding
/// them element by element would only slow the import down.
static constexpr int64_t kMaxFoldedElements = 4096;

namespace {
/// Folds the ops producing one value, memoizing per value.
class ConstantFolder {
public:
  /// The constant contents of `value`, or null.
  DenseElementsAttr fold(Value value) {
    auto it = cache.find(value);
    if (it != cache.end())
      return it->second;
    DenseElementsAttr result = compute(value);
    cache[value] = result;
    return result;
  }

private:
  DenseElementsAttr compute(Value value) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape() || type.getNumElements() > kMaxFoldedElements)
      return {};
    Operation *op = value.getDefiningOp();
    if (!op)
      return {};
    Attribute attr;
    if (matchPattern(value, m_Constant(&attr)))
      return dyn_cast<DenseElementsAttr>(attr);
    if (auto generic = dyn_cast<linalg::GenericOp>(op))
      return foldGeneric(generic, cast<OpResult>(value).getResultNumber());
    if (auto fill = dyn_cast<linalg::FillOp>(op)) {
      Attribute scalar;
      if (!matchPattern(fill.getInputs()[0], m_Constant(&scalar)))
        return {};
      return DenseElementsAttr::get(type, scalar);
    }
    return foldWithOpFolder(op, cast<OpResult>(value).getResultNumber());
  }

  /// Ops with upstream folders (reshapes, casts, extract_slice, ...). nibble
  /// ops are left alone: a dequantized constant weight must reach the fuse
  /// phase as nibble.dequantize, not as a float constant.
  DenseElementsAttr foldWithOpFolder(Operation *op, unsigned resultNumber) {
    if (op->getNumRegions() != 0 || !isPure(op) ||
        !isa<tensor::TensorDialect, arith::ArithDialect>(op->getDialect()))
      return {};
    SmallVector<Attribute> operands;
    for (Value operand : op->getOperands()) {
      if (isa<RankedTensorType>(operand.getType())) {
        DenseElementsAttr c = fold(operand);
        if (!c)
          return {};
        operands.push_back(c);
      } else {
        Attribute scalar;
        if (!matchPattern(operand, m_Constant(&scalar)))
          return {};
        operands.push_back(scalar);
      }
    }
    SmallVector<OpFoldResult> results;
    if (failed(op->fold(operands, results)) || results.size() != op->getNumResults())
      return {};
    if (auto attr = dyn_cast<Attribute>(results[resultNumber]))
      return dyn_cast<DenseElementsAttr>(attr);
    return fold(cast<Value>(results[resultNumber]));
  }

  /// Interprets an all-parallel linalg.generic element by element, folding
  /// each body op with its upstream folder.
  DenseElementsAttr foldGeneric(linalg::GenericOp op, unsigned resultNumber) {
    if (op.getNumReductionLoops() != 0)
      return {};
    SmallVector<DenseElementsAttr> inputs;
    for (Value input : op.getInputs()) {
      DenseElementsAttr c = fold(input);
      if (!c)
        return {};
      inputs.push_back(c);
    }
    // Outputs are only read if the body uses their block arguments.
    Block &body = op.getRegion().front();
    for (BlockArgument arg : body.getArguments().drop_front(op.getNumDpsInputs()))
      if (!arg.use_empty())
        return {};
    for (Operation &bodyOp : body.without_terminator())
      if (isa<linalg::IndexOp>(bodyOp) || bodyOp.getNumRegions() != 0)
        return {};

    auto resultType = cast<RankedTensorType>(op.getResultTypes()[resultNumber]);
    ArrayRef<int64_t> shape = resultType.getShape();
    SmallVector<AffineMap> inputMaps;
    for (OpOperand *operand : op.getDpsInputOperands())
      inputMaps.push_back(op.getMatchingIndexingMap(operand));
    AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(resultNumber));
    if (!outputMap.isIdentity())
      return {};
    SmallVector<SmallVector<Attribute>> inputValues;
    for (DenseElementsAttr input : inputs)
      inputValues.emplace_back(input.getValues<Attribute>().begin(),
                               input.getValues<Attribute>().end());

    SmallVector<Attribute> results;
    results.reserve(resultType.getNumElements());
    SmallVector<int64_t> index(shape.size(), 0);
    for (int64_t linear = 0, e = resultType.getNumElements(); linear < e; ++linear) {
      DenseMap<Value, Attribute> scalars;
      for (auto [i, map] : llvm::enumerate(inputMaps)) {
        auto inputType = cast<ShapedType>(inputs[i].getType());
        SmallVector<int64_t> at = map.compose(index);
        int64_t offset = 0;
        for (auto [d, size] : llvm::zip(at, inputType.getShape()))
          offset = offset * size + d;
        scalars[body.getArgument(i)] = inputValues[i][offset];
      }
      for (Operation &bodyOp : body.without_terminator()) {
        SmallVector<Attribute> operands;
        for (Value operand : bodyOp.getOperands()) {
          Attribute a = scalars.lookup(operand);
          if (!a && !matchPattern(operand, m_Constant(&a)))
            return {};
          operands.push_back(a);
        }
        SmallVector<OpFoldResult> folded;
        if (failed(bodyOp.fold(operands, folded)) || folded.size() != 1)
          return {};
        Attribute a = dyn_cast<Attribute>(folded[0]);
        if (!a)
          a = scalars.lookup(cast<Value>(folded[0]));
        if (!a)
          return {};
        scalars[bodyOp.getResult(0)] = a;
      }
      Value yielded = body.getTerminator()->getOperand(resultNumber);
      Attribute a = scalars.lookup(yielded);
      if (!a && !matchPattern(yielded, m_Constant(&a)))
        return {};
      results.push_back(a);
      // Next row-major index.
      for (int64_t d = shape.size() - 1; d >= 0; --d) {
        if (++index[d] < shape[d])
          break;
        index[d] = 0;
      }
    }
    return DenseElementsAttr::get(resultType, results);
  }

  DenseMap<Value, DenseElementsAttr> cache;
};
} // namespace

Value mlir::nibble::onnx_import::foldToConstant(OpBuilder &builder, Value value) {
  if (!value || !value.getDefiningOp() || isa<arith::ConstantOp>(value.getDefiningOp()))
    return value;
  ConstantFolder folder;
  DenseElementsAttr attr = folder.fold(value);
  if (!attr)
    return value;
  return arith::ConstantOp::create(builder, value.getLoc(), attr);
}
