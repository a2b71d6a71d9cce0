//===- QuantizationReport.h - what quantization cost, per layer -*- C++ -*-===//
//
// The report of `--report=FILE.json` (and Python's `model.report`): per
// layer, the precision chosen, its bytes and measured sensitivities; for the
// whole model, bytes against float and the end-to-end error including its
// tails. docs/quantization.md documents every field.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_QUANTIZATIONREPORT_H
#define NIBBLE_COMPILER_QUANTIZATIONREPORT_H

#include "nibble/Compiler/QualityMetrics.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir::nibble {

struct ActivationRange {
  double min = 0.0, max = 0.0;
  /// 99.9th and 99.99th percentiles of |x|, from a 2048-bin histogram.
  double absP999 = 0.0, absP9999 = 0.0;
  /// W8A8 with static activations: the int8 scale chosen (0 otherwise).
  double int8Scale = 0.0;
  bool smoothed = false;
};

struct LayerReport {
  std::string name, opType;
  int64_t k = 0, n = 0;
  std::string precision;
  /// Set by --precision-config rather than chosen.
  bool forced = false;
  int64_t bytes = 0, floatBytes = 0;
  /// End-to-end SQNR (dB) with only this layer at each candidate precision.
  std::vector<std::pair<std::string, double>> sensitivityDb;
  /// SQNR of this layer's own output at its precision, on its actual input.
  double layerSqnrDb = 0.0;
  ActivationRange activation;
};

struct QuantizationReport {
  std::string model, mode, method, budget;
  /// Where the measuring inputs came from, and how many samples.
  std::string calibration;
  std::vector<std::string> sampleSources;
  int64_t floatWeightBytes = 0, weightBytes = 0;
  std::optional<double> predictedSqnrDb;
  QualityFigures endToEnd;
  std::vector<LayerReport> layers;
  std::vector<std::string> notes;
};

llvm::json::Value toJSON(const QuantizationReport &report);

/// Draws the report (per-layer precision, bytes and sensitivities) to
/// `path`, a .png or .svg file (`--report-plot`).
llvm::Error writeReportPlot(const QuantizationReport &report, llvm::StringRef path);

/// `name` in at most `width` characters, keeping its end.
std::string shortLayerName(llvm::StringRef name, size_t width);

/// The readable table nibble-compile prints.
void printReportTable(const QuantizationReport &report, llvm::raw_ostream &os);

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_QUANTIZATIONREPORT_H
