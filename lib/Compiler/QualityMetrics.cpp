//===- QualityMetrics.cpp - how far quantized outputs are from float ------===//

#include "nibble/Compiler/QualityMetrics.h"

#include "nibble/Dialect/Nibble/Utils/PrecisionSelection.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::nibble;

/// Mean over outputs of error / signal; an output whose float values are
/// all zero counts its error against a signal of 1 per element.
static double meanRelativeNoise(const std::vector<double> &signal,
                                const std::vector<double> &error) {
  double sum = 0.0;
  int count = 0;
  for (size_t i = 0; i < signal.size(); ++i) {
    if (signal[i] < 0.0)
      continue; // not a float output
    sum += signal[i] > 0.0 ? error[i] / signal[i] : error[i];
    ++count;
  }
  return count ? sum / count : 0.0;
}

/// The relative noise power of `quantized` against `reference` for one
/// sample, as QualityMeter computes it over many.
static double relativeNoise(const std::vector<GraphTensorInfo> &outputs,
                            const OutputValues &reference, const OutputValues &quantized) {
  std::vector<double> signal(reference.size(), -1.0), error(reference.size(), 0.0);
  for (size_t o = 0; o < reference.size(); ++o) {
    if (reference[o].empty())
      continue;
    signal[o] = 0.0;
    for (size_t i = 0; i < reference[o].size(); ++i) {
      double y = reference[o][i], d = double(quantized[o][i]) - y;
      signal[o] += y * y;
      error[o] += d * d;
    }
  }
  return meanRelativeNoise(signal, error);
}

QualityMeter::QualityMeter(const std::vector<GraphTensorInfo> &outputs)
    : outputs(outputs) {
  worst.worstSampleSqnrDb = kMaxSqnrDb;
  for (const GraphTensorInfo &output : outputs) {
    bool isFloat = output.onnxType == static_cast<int32_t>(OnnxDType::Float) ||
                   output.onnxType == static_cast<int32_t>(OnnxDType::Float16) ||
                   output.onnxType == static_cast<int32_t>(OnnxDType::BFloat16);
    signal.push_back(isFloat ? 0.0 : -1.0);
    error.push_back(0.0);
    if (!isFloat)
      worst.skippedOutputs.push_back(output.name);
    // Class scores: a rank >= 2 float output whose last axis has > 1 entry.
    if (isFloat && output.shape.size() >= 2 && output.shape.back() > 1)
      worst.topOne.push_back({output.name, 0, 0});
  }
}

void QualityMeter::add(const OutputValues &reference, const OutputValues &quantized) {
  double sampleNoise = relativeNoise(outputs, reference, quantized);
  double sampleSqnr = sqnrDbFromNoise(sampleNoise);
  if (worst.worstSample < 0 || sampleSqnr < worst.worstSampleSqnrDb) {
    worst.worstSample = samples;
    worst.worstSampleSqnrDb = sampleSqnr;
  }
  size_t topOneIndex = 0;
  for (size_t o = 0; o < reference.size(); ++o) {
    const std::vector<float> &ref = reference[o], &got = quantized[o];
    if (ref.empty())
      continue;
    for (size_t i = 0; i < ref.size(); ++i) {
      double y = ref[i], q = got[i], d = std::fabs(q - y);
      signal[o] += y * y;
      error[o] += d * d;
      dot += y * q;
      referenceNorm += y * y;
      quantizedNorm += q * q;
      absErrorSum += d;
      if (d > worst.worstElement.absError || worst.worstElement.index < 0)
        worst.worstElement = {outputs[o].name, samples, static_cast<int64_t>(i), y, q, d};
    }
    elements += static_cast<int64_t>(ref.size());
    const GraphTensorInfo &info = outputs[o];
    if (topOneIndex < worst.topOne.size() && worst.topOne[topOneIndex].output == info.name) {
      TopOneAgreement &agreement = worst.topOne[topOneIndex++];
      size_t classes = static_cast<size_t>(info.shape.back());
      for (size_t row = 0; row + classes <= ref.size(); row += classes) {
        auto argmax = [&](const std::vector<float> &v) {
          return std::max_element(v.begin() + row, v.begin() + row + classes) - v.begin();
        };
        ++agreement.rows;
        agreement.agreeing += argmax(ref) == argmax(got);
      }
    }
  }
  ++samples;
}

double QualityMeter::noise() const { return meanRelativeNoise(signal, error); }

QualityFigures QualityMeter::figures() const {
  QualityFigures result = worst;
  result.sqnrDb = sqnrDbFromNoise(noise());
  result.cosine = referenceNorm > 0.0 && quantizedNorm > 0.0
                      ? dot / std::sqrt(referenceNorm * quantizedNorm)
                      : (referenceNorm == quantizedNorm ? 1.0 : 0.0);
  result.maxAbsError = worst.worstElement.absError;
  result.meanAbsError = elements ? absErrorSum / elements : 0.0;
  return result;
}
