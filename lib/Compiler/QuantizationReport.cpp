//===- QuantizationReport.cpp - JSON and table forms of the report --------===//

#include "nibble/Compiler/QuantizationReport.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::nibble;
using llvm::json::Array;
using llvm::json::Object;

/// Doubles rounded to 6 significant digits: the JSON stays readable.
static double rounded(double value) {
  if (value == 0.0 || !std::isfinite(value))
    return value;
  double scale = std::pow(10.0, 5 - std::floor(std::log10(std::fabs(value))));
  return std::round(value * scale) / scale;
}

static Object activationObject(const ActivationRange &range) {
  Object object{{"min", rounded(range.min)},
                {"max", rounded(range.max)},
                {"abs_p99_9", rounded(range.absP999)},
                {"abs_p99_99", rounded(range.absP9999)},
                {"smoothed", range.smoothed}};
  if (range.int8Scale > 0.0)
    object["int8_scale"] = range.int8Scale; // exact: the value compiled in
  return object;
}

llvm::json::Value mlir::nibble::toJSON(const QuantizationReport &report) {
  const QualityFigures &e2e = report.endToEnd;
  Array topOne;
  for (const TopOneAgreement &agreement : e2e.topOne)
    topOne.push_back(Object{{"output", agreement.output},
                            {"rows", agreement.rows},
                            {"agreement", rounded(agreement.fraction())}});
  Object worstSample{{"index", e2e.worstSample}, {"sqnr_db", rounded(e2e.worstSampleSqnrDb)}};
  if (e2e.worstSample >= 0 &&
      e2e.worstSample < static_cast<int64_t>(report.sampleSources.size()))
    worstSample["source"] = report.sampleSources[e2e.worstSample];
  Object endToEnd{
      {"sqnr_db", rounded(e2e.sqnrDb)},
      {"cosine", rounded(e2e.cosine)},
      {"max_abs_error", rounded(e2e.maxAbsError)},
      {"mean_abs_error", rounded(e2e.meanAbsError)},
      {"worst_sample", std::move(worstSample)},
      {"worst_element",
       Object{{"output", e2e.worstElement.output},
              {"sample", e2e.worstElement.sample},
              {"index", e2e.worstElement.index},
              {"reference", rounded(e2e.worstElement.reference)},
              {"quantized", rounded(e2e.worstElement.quantized)},
              {"abs_error", rounded(e2e.worstElement.absError)}}},
      {"top1_agreement", std::move(topOne)},
      {"outputs_not_compared", Array(e2e.skippedOutputs)},
  };
  if (report.predictedSqnrDb)
    endToEnd["predicted_sqnr_db"] = rounded(*report.predictedSqnrDb);

  Array layers;
  for (const LayerReport &layer : report.layers) {
    Object sensitivity;
    for (const auto &[precision, db] : layer.sensitivityDb)
      sensitivity[precision] = rounded(db);
    layers.push_back(Object{
        {"name", layer.name},
        {"op_type", layer.opType},
        {"shape", Array{layer.k, layer.n}},
        {"precision", layer.precision},
        {"forced", layer.forced},
        {"weight_bytes", layer.bytes},
        {"float_bytes", layer.floatBytes},
        {"sqnr_db", rounded(layer.layerSqnrDb)},
        {"sensitivity_db", std::move(sensitivity)},
        {"activation", activationObject(layer.activation)},
    });
  }
  return Object{
      {"model", report.model},
      {"mode", report.mode},
      {"method", report.method},
      {"budget", report.budget.empty() ? llvm::json::Value(nullptr)
                                       : llvm::json::Value(report.budget)},
      {"calibration", Object{{"source", report.calibration},
                             {"samples", static_cast<int64_t>(report.sampleSources.size())}}},
      {"float_weight_bytes", report.floatWeightBytes},
      {"weight_bytes", report.weightBytes},
      {"size_ratio", rounded(report.floatWeightBytes
                                 ? double(report.weightBytes) / report.floatWeightBytes
                                 : 1.0)},
      {"end_to_end", std::move(endToEnd)},
      {"layers", std::move(layers)},
      {"notes", Array(report.notes)},
  };
}


std::string mlir::nibble::shortLayerName(llvm::StringRef name, size_t width) {
  // Exporters name nodes by path ("/model/encoder/layer.0/attn/q/MatMul"):
  // the end tells layers apart, so that is what is kept.
  if (name.size() <= width)
    return name.str();
  return "..." + name.take_back(width - 3).str();
}

void mlir::nibble::printReportTable(const QuantizationReport &report, llvm::raw_ostream &os) {
  os << "nibble: quantization of '" << report.model << "' (" << report.mode;
  if (!report.budget.empty())
    os << ", budget " << report.budget;
  os << ", " << report.method << ") measured on " << report.sampleSources.size()
     << " samples from " << report.calibration << "\n";
  size_t nameWidth = 5;
  for (const LayerReport &layer : report.layers)
    nameWidth = std::max(nameWidth, std::min<size_t>(layer.name.size(), 40));
  unsigned width = static_cast<unsigned>(nameWidth);
  os << "  " << llvm::left_justify("layer", width) << "  " << llvm::left_justify("op", 8)
     << " " << llvm::left_justify("K x N", 11) << " " << llvm::left_justify("precision", 10)
     << " " << llvm::right_justify("bytes", 10) << "  " << llvm::right_justify("SQNR dB", 9)
     << "  end-to-end SQNR dB with only this layer at\n";
  for (const LayerReport &layer : report.layers) {
    std::string sensitivity;
    for (const auto &[precision, db] : layer.sensitivityDb)
      sensitivity += llvm::formatv("{0} {1:f1}  ", precision, db).str();
    std::string shape = std::to_string(layer.k) + "x" + std::to_string(layer.n);
    os << "  " << llvm::left_justify(shortLayerName(layer.name, 40), width) << "  "
       << llvm::left_justify(layer.opType, 8) << " " << llvm::left_justify(shape, 11) << " "
       << llvm::left_justify(layer.precision + (layer.forced ? "*" : ""), 10) << " "
       << llvm::right_justify(formatByteCount(layer.bytes), 10) << "  "
       << llvm::right_justify(llvm::formatv("{0:f1}", layer.layerSqnrDb).str(), 9) << "  "
       << llvm::StringRef(sensitivity).rtrim() << "\n";
  }
  const QualityFigures &e2e = report.endToEnd;
  os << llvm::formatv("  weights: {0} -> {1} ({2:f3} of float)\n",
                      formatByteCount(report.floatWeightBytes), formatByteCount(report.weightBytes),
                      report.floatWeightBytes
                          ? double(report.weightBytes) / report.floatWeightBytes
                          : 1.0);
  os << llvm::formatv("  end to end: SQNR {0:f2} dB", e2e.sqnrDb);
  if (report.predictedSqnrDb)
    os << llvm::formatv(" (predicted {0:f2})", *report.predictedSqnrDb);
  os << llvm::formatv(", cosine {0:f6}, max |error| {1:e} (output '{2}' element {3}, "
                      "sample {4})\n",
                      e2e.cosine, e2e.maxAbsError, e2e.worstElement.output,
                      e2e.worstElement.index, e2e.worstElement.sample);
  if (e2e.worstSample >= 0 &&
      e2e.worstSample < static_cast<int64_t>(report.sampleSources.size()))
    os << llvm::formatv("  worst sample: {0} at {1:f2} dB\n",
                        report.sampleSources[e2e.worstSample], e2e.worstSampleSqnrDb);
  for (const TopOneAgreement &agreement : e2e.topOne)
    os << llvm::formatv("  top-1 agreement of '{0}': {1:f2}% of {2} rows\n", agreement.output,
                        100.0 * agreement.fraction(), agreement.rows);
  for (const std::string &note : report.notes)
    os << "  note: " << note << "\n";
  if (llvm::any_of(report.layers, [](const LayerReport &l) { return l.forced; }))
    os << "  (* set by --precision-config)\n";
}
