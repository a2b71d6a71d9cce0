//===- ReportPlot.cpp - the quantization report as an SVG chart -----------===//
//
// One row per layer: on the left a bar of its bytes (against its float
// bytes, drawn as an outline) coloured by the precision chosen; on the right
// the end-to-end SQNR with only this layer at each candidate precision (a
// dot per candidate, the chosen one ringed) and the layer's own output SQNR
// (a black tick). SVG is text, so no image library is needed and browsers
// open it.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/QuantizationReport.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::nibble;

/// A colour per precision family, the same in bars, dots and legend.
static llvm::StringRef colourOf(llvm::StringRef precision) {
  if (precision == "fp32")
    return "#9e9e9e";
  if (precision == "fp16")
    return "#1f77b4";
  if (precision.starts_with("w8a8"))
    return "#9467bd";
  if (precision.contains("8"))
    return "#2ca02c";
  if (precision.ends_with("-g32"))
    return "#ff7f0e";
  if (precision.ends_with("-g64"))
    return "#e377c2";
  if (precision.ends_with("-g128"))
    return "#d62728";
  return "#8c564b"; // int4 per channel
}

static std::string escape(llvm::StringRef text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '&': out += "&amp;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

std::string mlir::nibble::renderReportSvg(const QuantizationReport &report) {
  constexpr int kRow = 22, kTop = 70, kNameWidth = 190, kBarWidth = 260, kGap = 30,
                kSqnrWidth = 360;
  const int width = kNameWidth + kBarWidth + kGap + kSqnrWidth + 20;
  const int rows = std::max<int>(1, static_cast<int>(report.layers.size()));
  const int height = kTop + rows * kRow + 90;
  int64_t maxBytes = 1;
  double maxDb = 40.0;
  for (const LayerReport &layer : report.layers) {
    maxBytes = std::max(maxBytes, layer.floatBytes);
    for (const auto &[name, db] : layer.sensitivityDb)
      maxDb = std::max(maxDb, std::min(db, 120.0));
    maxDb = std::max(maxDb, std::min(layer.layerSqnrDb, 120.0));
  }
  maxDb = std::ceil(maxDb / 10.0) * 10.0;
  const int barLeft = kNameWidth, sqnrLeft = kNameWidth + kBarWidth + kGap;
  auto xForDb = [&](double db) {
    return sqnrLeft + kSqnrWidth * std::clamp(db, 0.0, maxDb) / maxDb;
  };

  std::string svg;
  llvm::raw_string_ostream os(svg);
  os << llvm::formatv("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                      "font-family=\"sans-serif\" font-size=\"11\">\n",
                      width, height);
  os << llvm::formatv("<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n", width, height);
  os << llvm::formatv(
      "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{0}: {1}{2}, {3}</text>\n",
      escape(report.model), escape(report.mode),
      report.budget.empty() ? std::string() : " (" + escape(report.budget) + ")",
      escape(report.method));
  double ratio = report.floatWeightBytes
                     ? double(report.weightBytes) / double(report.floatWeightBytes)
                     : 1.0;
  os << llvm::formatv("<text x=\"10\" y=\"38\">weights {0} of {1} ({2:f3}); end-to-end SQNR "
                      "{3:f2} dB, worst sample {4:f2} dB, measured on {5} samples</text>\n",
                      formatByteCount(report.weightBytes),
                      formatByteCount(report.floatWeightBytes), ratio,
                      report.endToEnd.sqnrDb, report.endToEnd.worstSampleSqnrDb,
                      report.sampleSources.size());
  os << llvm::formatv("<text x=\"{0}\" y=\"{1}\">weight bytes (outline: float)</text>\n",
                      barLeft, kTop - 8);
  os << llvm::formatv("<text x=\"{0}\" y=\"{1}\">end-to-end SQNR dB with only this layer at "
                      "each precision (ring: chosen; tick: layer's own SQNR)</text>\n",
                      sqnrLeft, kTop - 8);
  // dB grid.
  for (double db = 0.0; db <= maxDb; db += 10.0) {
    double x = xForDb(db);
    os << llvm::formatv("<line x1=\"{0:f1}\" y1=\"{1}\" x2=\"{0:f1}\" y2=\"{2}\" "
                        "stroke=\"#e0e0e0\"/>\n",
                        x, kTop, kTop + rows * kRow);
    os << llvm::formatv("<text x=\"{0:f1}\" y=\"{1}\" text-anchor=\"middle\" "
                        "fill=\"#666\">{2}</text>\n",
                        x, kTop + rows * kRow + 14, static_cast<int>(db));
  }
  for (auto [index, layer] : llvm::enumerate(report.layers)) {
    int y = kTop + static_cast<int>(index) * kRow;
    std::string name = shortLayerName(layer.name, 28);
    os << llvm::formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"end\">{2}</text>\n",
                        kNameWidth - 8, y + 15, escape(name));
    double floatWidth = kBarWidth * double(layer.floatBytes) / double(maxBytes);
    double width = kBarWidth * double(layer.bytes) / double(maxBytes);
    os << llvm::formatv("<rect x=\"{0}\" y=\"{1}\" width=\"{2:f1}\" height=\"14\" fill=\"none\" "
                        "stroke=\"#bbb\"/>\n",
                        barLeft, y + 4, floatWidth);
    os << llvm::formatv("<rect x=\"{0}\" y=\"{1}\" width=\"{2:f1}\" height=\"14\" "
                        "fill=\"{3}\"><title>{4}: {5}</title></rect>\n",
                        barLeft, y + 4, width, colourOf(layer.precision),
                        escape(layer.precision), formatByteCount(layer.bytes));
    os << llvm::formatv("<text x=\"{0:f1}\" y=\"{1}\" fill=\"#333\">{2}{3}</text>\n",
                        barLeft + floatWidth + 4, y + 15, escape(layer.precision),
                        layer.forced ? "*" : "");
    for (const auto &[precision, db] : layer.sensitivityDb) {
      bool chosen = precision == layer.precision;
      os << llvm::formatv("<circle cx=\"{0:f1}\" cy=\"{1}\" r=\"{2}\" fill=\"{3}\"{4}>"
                          "<title>{5}: {6:f1} dB</title></circle>\n",
                          xForDb(db), y + 11, chosen ? 5 : 4, colourOf(precision),
                          chosen ? " stroke=\"black\" stroke-width=\"1.5\"" : "",
                          escape(precision), db);
    }
    double tick = xForDb(std::min(layer.layerSqnrDb, maxDb));
    os << llvm::formatv("<line x1=\"{0:f1}\" y1=\"{1}\" x2=\"{0:f1}\" y2=\"{2}\" "
                        "stroke=\"black\" stroke-width=\"2\"><title>layer SQNR {3:f1} dB"
                        "</title></line>\n",
                        tick, y + 3, y + 19, layer.layerSqnrDb);
  }
  // Legend.
  int legendY = kTop + rows * kRow + 40;
  int x = 10;
  for (const char *precision :
       {"fp32", "fp16", "int8", "w8a8", "int4-g32", "int4-g64", "int4-g128", "int4"}) {
    os << llvm::formatv("<rect x=\"{0}\" y=\"{1}\" width=\"12\" height=\"12\" fill=\"{2}\"/>"
                        "<text x=\"{3}\" y=\"{4}\">{5}</text>\n",
                        x, legendY, colourOf(precision), x + 16, legendY + 10, precision);
    x += 30 + 7 * static_cast<int>(llvm::StringRef(precision).size());
  }
  if (llvm::any_of(report.layers, [](const LayerReport &l) { return l.forced; }))
    os << llvm::formatv("<text x=\"10\" y=\"{0}\">* set by --precision-config</text>\n",
                        legendY + 30);
  os << "</svg>\n";
  return svg;
}
