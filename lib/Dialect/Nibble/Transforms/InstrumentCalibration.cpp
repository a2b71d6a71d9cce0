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
        layer.conv->op->setOperand(1, argument);
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
