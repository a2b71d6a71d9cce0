//===- InstrumentCalibration.cpp - the float model as its own probe -------===//
//
// Weights become arguments and matmul inputs become results, in the order
// of findMeasurableLayers, which is how calibration (lib/Compiler/
// ProbeModel.cpp) addresses them.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Transforms/Passes.h"

#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLEINSTRUMENTCALIBRATIONPASS
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {
struct NibbleInstrumentCalibrationPass final
    : nibble::impl::NibbleInstrumentCalibrationPassBase<NibbleInstrumentCalibrationPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Builder builder(&getContext());
    SmallVector<Value> taps;
    SmallVector<StringAttr> tapNames;
    for (MeasurableLayer &layer : findMeasurableLayers(func)) {
      auto name = layer.op->getAttrOfType<StringAttr>(kLayerAttrName);
      if (!name)
        name = builder.getStringAttr("");
      // Weights are given in f32 (a float16 table reads the f32 value and
      // rounds it, which returns it exactly).
      auto weightType = cast<RankedTensorType>(layer.weight().getType());
      unsigned index = func.getNumArguments();
      auto attrs = builder.getDictionaryAttr(builder.getNamedAttr("nibble.weight_of", name));
      if (failed(func.insertArgument(index, weightType.clone(builder.getF32Type()), attrs,
                                     layer.op->getLoc()))) {
        func.emitError("cannot add an argument for the weight of '") << name.getValue() << "'";
        return signalPassFailure();
      }
      Value argument = func.getArgument(index);
      if (layer.table) {
        tensor::ExtractOp extract = layer.table->extract;
        if (weightType.getElementType().isF32()) {
          extract.getTensorMutable().assign(argument);
          continue;
        }
        OpBuilder at(extract);
        Value wide = tensor::ExtractOp::create(at, extract.getLoc(), argument,
                                               extract.getIndices());
        extract.replaceAllUsesWith(arith::TruncFOp::create(
            at, extract.getLoc(), weightType.getElementType(), wide).getResult());
        extract.erase();
        continue;
      }
      if (layer.conv) {
        Value filter = argument;
        if (!weightType.getElementType().isF32()) {
          // A 16-bit filter: the f32 values rounded back (exactly).
          OpBuilder at(layer.conv->op);
          Location loc = layer.conv->op->getLoc();
          Value empty = tensor::EmptyOp::create(at, loc, weightType.getShape(),
                                                weightType.getElementType());
          AffineMap identity = at.getMultiDimIdentityMap(weightType.getRank());
          filter = linalg::GenericOp::create(
                       at, loc, weightType, argument, empty, {identity, identity},
                       SmallVector<utils::IteratorType>(weightType.getRank(),
                                                        utils::IteratorType::parallel),
                       [&](OpBuilder &b, Location l, ValueRange args) {
                         linalg::YieldOp::create(
                             b, l, arith::TruncFOp::create(b, l, weightType.getElementType(),
                                                           args[0])
                                       .getResult());
                       })
                       .getResult(0);
        }
        layer.conv->op->setOperand(1, filter);
        continue;
      }
      linalg::MatmulOp matmul = layer.matmul->op;
      matmul->setOperand(1, argument);
      taps.push_back(matmul.getInputs()[0]);
      tapNames.push_back(name);
    }
    auto returnOp = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    for (auto [tap, name] : llvm::zip_equal(taps, tapNames)) {
      auto attrs = builder.getDictionaryAttr(builder.getNamedAttr("nibble.input_of", name));
      if (failed(func.insertResult(func.getNumResults(), tap.getType(), attrs))) {
        func.emitError("cannot return the input of '") << name.getValue() << "'";
        return signalPassFailure();
      }
      returnOp->insertOperands(returnOp->getNumOperands(), tap);
    }
  }
};
} // namespace
