//===- QualityMetrics.h - how far quantized outputs are from float -*- C++ -*-===//
//
// Compares a model's outputs under quantization with its float outputs over
// a set of samples. Quantization hurts in the tails, so besides the average
// (SQNR, cosine) it keeps the worst sample, the worst element and, for
// outputs shaped like class scores, how often the top-1 class still agrees.
//
// SQNR of one output = 10 log10(sum y^2 / sum (y' - y)^2) over all samples;
// a model with several float outputs averages their relative noise powers.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_QUALITYMETRICS_H
#define NIBBLE_COMPILER_QUALITYMETRICS_H

#include "nibble/Import/Onnx/OnnxImporter.h"

#include <string>
#include <vector>

namespace mlir::nibble {

/// The float outputs of one run, in output order (non-float ones empty).
using OutputValues = std::vector<std::vector<float>>;

struct WorstElement {
  std::string output;
  int64_t sample = -1;
  int64_t index = -1;
  double reference = 0.0, quantized = 0.0, absError = 0.0;
};

struct TopOneAgreement {
  std::string output;
  int64_t rows = 0, agreeing = 0;
  double fraction() const { return rows ? double(agreeing) / double(rows) : 1.0; }
};

struct QualityFigures {
  double sqnrDb = 0.0;
  double cosine = 1.0;
  double maxAbsError = 0.0;
  double meanAbsError = 0.0;
  int64_t worstSample = -1;
  double worstSampleSqnrDb = 0.0;
  WorstElement worstElement;
  std::vector<TopOneAgreement> topOne;
  /// Non-float outputs (ids, masks) are not compared; named here.
  std::vector<std::string> skippedOutputs;
};

/// Accumulates sample by sample.
class QualityMeter {
public:
  explicit QualityMeter(const std::vector<GraphTensorInfo> &outputs);

  void add(const OutputValues &reference, const OutputValues &quantized);
  /// Relative output noise power so far (what SQNR is made of).
  double noise() const;
  QualityFigures figures() const;

private:
  const std::vector<GraphTensorInfo> &outputs;
  std::vector<double> signal, error;
  double dot = 0.0, referenceNorm = 0.0, quantizedNorm = 0.0;
  double absErrorSum = 0.0;
  int64_t elements = 0, samples = 0;
  QualityFigures worst;
};

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_QUALITYMETRICS_H
