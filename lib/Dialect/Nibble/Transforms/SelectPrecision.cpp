//===- SelectPrecision.cpp - per-layer precision under a budget -----------===//
//
// Turns the measured `nibble.sensitivity` of every quantizable matmul into a
// `nibble.precision`, solving the knapsack of PrecisionSelection.h over the
// function's weight bytes.
//
//===----------------------------------------------------------------------===//

#include "nibble/Dialect/Nibble/Transforms/Passes.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/MatmulMatchers.h"
#include "nibble/Dialect/Nibble/Utils/PrecisionSelection.h"
#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLESELECTPRECISIONPASS
#include "nibble/Dialect/Nibble/Transforms/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;
using namespace mlir::nibble;

namespace {

/// One layer the pass decides for, with its candidates.
struct FreeLayer {
  Operation *op;
  SmallVector<std::string> names;
  LayerOptions options;
};

/// 0.2 as "0.2", not "0.20".
static std::string formatShortest(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", value);
  return text;
}


struct NibbleSelectPrecisionPass final
    : nibble::impl::NibbleSelectPrecisionPassBase<NibbleSelectPrecisionPass> {
  using NibbleSelectPrecisionPassBase::NibbleSelectPrecisionPassBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if ((budgetSize > 0.0) == (budgetSqnr > 0.0)) {
      func.emitError("nibble-select-precision: give exactly one of budget-size "
                     "(a fraction of the float weight bytes) and budget-sqnr (dB)");
      return signalPassFailure();
    }
    // Bytes no decision here changes: constants that are not free layers'
    // weights, and forced layers at their precision.
    int64_t floatBytes = getConstantBytes(func);
    int64_t fixedBytes = floatBytes;
    SmallVector<FreeLayer> layers;
    // A layer's weight is K x N (an embedding table [V, D] counts as
    // K = D, N = V: one scale per table row), stored unquantized in
    // `storedBytes` (2 bytes a value in float16 and bfloat16 models).
    auto visit = [&](Operation *op, int64_t k, int64_t n, int64_t storedBytes) -> WalkResult {
      fixedBytes -= storedBytes;
      if (auto forced = op->getAttrOfType<StringAttr>(kPrecisionAttrName)) {
        std::optional<WeightPrecision> precision = WeightPrecision::parse(forced.getValue());
        if (!precision)
          return op->emitError() << "unknown precision '" << forced.getValue() << "'";
        fixedBytes += precision->weightBytes(k, n);
        return WalkResult::advance();
      }
      auto sensitivity = op->getAttrOfType<DictionaryAttr>(kSensitivityAttrName);
      if (!sensitivity)
        return op->emitError("layer has neither nibble.precision nor "
                             "nibble.sensitivity; calibrate the model first");
      FreeLayer layer{op, {"fp32"}, {}};
      layer.options.bytes.push_back(storedBytes);
      layer.options.noise.push_back(0.0);
      for (NamedAttribute entry : sensitivity) {
        std::optional<WeightPrecision> precision = WeightPrecision::parse(entry.getName());
        auto sqnr = dyn_cast<FloatAttr>(entry.getValue());
        if (!precision || !sqnr)
          return op->emitError() << "nibble.sensitivity entry '" << entry.getName()
                                 << "' must map a precision name to an SQNR in dB";
        if (precision->kind == WeightPrecision::Kind::Float32)
          continue;
        layer.names.push_back(precision->name());
        layer.options.bytes.push_back(precision->weightBytes(k, n));
        layer.options.noise.push_back(noiseFromSqnrDb(sqnr.getValueAsDouble()));
      }
      layers.push_back(std::move(layer));
      return WalkResult::advance();
    };
    WalkResult walk = func.walk([&](linalg::MatmulOp op) -> WalkResult {
      if (std::optional<QuantizableMatmul> match = matchQuantizableMatmul(op))
        return visit(op, match->k, match->n,
                     match->k * match->n *
                         getElementTypeOrSelf(match->data.getType()).getIntOrFloatBitWidth() / 8);
      return WalkResult::advance();
    });
    if (!walk.wasInterrupted())
      walk = func.walk([&](linalg::GenericOp op) -> WalkResult {
        if (std::optional<EmbeddingGather> match = matchEmbeddingGather(op))
          return visit(
              op, match->columns, match->rows,
              match->columns * match->rows *
                  getElementTypeOrSelf(match->table.getType()).getIntOrFloatBitWidth() / 8);
        if (std::optional<ConvFilter> conv = matchConvFilter(op))
          return visit(
              op, conv->columns, conv->rows,
              conv->columns * conv->rows *
                  getElementTypeOrSelf(conv->filter.getType()).getIntOrFloatBitWidth() / 8);
        return WalkResult::advance();
      });
    if (walk.wasInterrupted())
      return signalPassFailure();

    SmallVector<LayerOptions> options;
    for (const FreeLayer &layer : layers)
      options.push_back(layer.options);
    std::optional<Selection> selection;
    if (budgetSize > 0.0) {
      auto budgetBytes = static_cast<int64_t>(budgetSize * static_cast<double>(floatBytes));
      selection = selectWithinBytes(options, budgetBytes - fixedBytes);
      if (!selection) {
        int64_t smallest = fixedBytes;
        for (const LayerOptions &layer : options)
          smallest += *std::min_element(layer.bytes.begin(), layer.bytes.end());
        func.emitError(llvm::formatv(
            "budget size={0} cannot be met: the smallest model nibble can make is "
            "{1:f3} of the float weight bytes ({2} of {3}); raise the budget or "
            "allow smaller precisions",
            formatShortest(budgetSize),
            static_cast<double>(smallest) / floatBytes,
            formatByteCount(smallest), formatByteCount(floatBytes)));
        return signalPassFailure();
      }
    } else {
      // fp32 is a noiseless candidate of every free layer, so this always
      // succeeds; whether forced layers allow the target is for the
      // whole-model verification to measure.
      selection = selectWithinNoise(options, noiseFromSqnrDb(budgetSqnr));
      assert(selection && "fp32 everywhere meets any noise budget");
    }
    Builder builder(&getContext());
    for (auto [layer, choice] : llvm::zip_equal(layers, selection->choice))
      layer.op->setAttr(kPrecisionAttrName, builder.getStringAttr(layer.names[choice]));
    int64_t totalBytes = fixedBytes + selection->bytes;
    func->setAttr("nibble.selection",
                  builder.getDictionaryAttr({
                      builder.getNamedAttr("bytes", builder.getI64IntegerAttr(totalBytes)),
                      builder.getNamedAttr("float_bytes", builder.getI64IntegerAttr(floatBytes)),
                      builder.getNamedAttr("predicted_sqnr_db",
                                           builder.getF64FloatAttr(sqnrDbFromNoise(selection->noise))),
                  }));
  }
};

} // namespace
