//===- ReportPlot.cpp - the quantization report as a chart (cairo) --------===//
//
// One row per layer: on the left a bar of its bytes (against its float
// bytes, drawn as an outline) coloured by the precision chosen; on the right
// the end-to-end SQNR with only this layer at each candidate precision (a
// dot per candidate, the chosen one ringed) and the layer's own output SQNR
// (a black tick). cairo draws it to PNG or SVG.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/QuantizationReport.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::nibble;

namespace {
struct Colour {
  double r, g, b;
};
} // namespace

/// A colour per precision family, the same in bars, dots and legend.
static Colour colourOf(llvm::StringRef precision) {
  if (precision == "fp32")
    return {0.62, 0.62, 0.62};
  if (precision == "fp16")
    return {0.12, 0.47, 0.71};
  if (precision.starts_with("w8a8"))
    return {0.58, 0.40, 0.74};
  if (precision == "int8" || precision == "uint8")
    return {0.17, 0.63, 0.17};
  if (precision.ends_with("-g32"))
    return {1.00, 0.50, 0.05};
  if (precision.ends_with("-g64"))
    return {0.89, 0.47, 0.76};
  if (precision.ends_with("-g128"))
    return {0.84, 0.15, 0.16};
  return {0.55, 0.34, 0.29}; // int4 per channel
}

namespace {
/// The chart's geometry, in points.
struct Layout {
  static constexpr double kRow = 22, kTop = 70, kNameWidth = 190, kBarWidth = 260,
                          kGap = 30, kSqnrWidth = 360;
  double width = kNameWidth + kBarWidth + kGap + kSqnrWidth + 20;
  double height;
  double barLeft = kNameWidth, sqnrLeft = kNameWidth + kBarWidth + kGap;
  int64_t maxBytes = 1;
  double maxDb = 40.0;

  explicit Layout(const QuantizationReport &report) {
    size_t rows = std::max<size_t>(1, report.layers.size());
    height = kTop + rows * kRow + 90;
    for (const LayerReport &layer : report.layers) {
      maxBytes = std::max(maxBytes, layer.floatBytes);
      for (const auto &[name, db] : layer.sensitivityDb)
        maxDb = std::max(maxDb, std::min(db, 120.0));
      maxDb = std::max(maxDb, std::min(layer.layerSqnrDb, 120.0));
    }
    maxDb = std::ceil(maxDb / 10.0) * 10.0;
  }
  double xForDb(double db) const {
    return sqnrLeft + kSqnrWidth * std::clamp(db, 0.0, maxDb) / maxDb;
  }
};
} // namespace

static void setColour(cairo_t *cr, Colour c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

static void text(cairo_t *cr, double x, double y, llvm::StringRef words, bool alignRight = false,
                 bool centred = false) {
  std::string owned = words.str();
  cairo_text_extents_t extents;
  cairo_text_extents(cr, owned.c_str(), &extents);
  if (alignRight)
    x -= extents.x_advance;
  else if (centred)
    x -= extents.x_advance / 2;
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, owned.c_str());
}

static void draw(cairo_t *cr, const QuantizationReport &report, const Layout &layout) {
  const double row = Layout::kRow, top = Layout::kTop;
  size_t rows = std::max<size_t>(1, report.layers.size());
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(cr, 14);
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, 10, 20,
       report.model + ": " + report.mode +
           (report.budget.empty() ? std::string() : " (" + report.budget + ")") + ", " +
           report.method);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 11);
  double ratio = report.floatWeightBytes
                     ? double(report.weightBytes) / double(report.floatWeightBytes)
                     : 1.0;
  text(cr, 10, 38,
       llvm::formatv("weights {0} of {1} ({2:f3}); end-to-end SQNR {3:f2} dB, worst sample "
                     "{4:f2} dB, measured on {5} samples",
                     formatByteCount(report.weightBytes),
                     formatByteCount(report.floatWeightBytes), ratio, report.endToEnd.sqnrDb,
                     report.endToEnd.worstSampleSqnrDb, report.sampleSources.size())
           .str());
  text(cr, layout.barLeft, top - 8, "weight bytes (outline: float)");
  text(cr, layout.sqnrLeft, top - 8,
       "end-to-end SQNR dB with only this layer at each precision");
  // dB grid.
  for (double db = 0.0; db <= layout.maxDb; db += 10.0) {
    double x = layout.xForDb(db);
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, top + rows * row);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    text(cr, x, top + rows * row + 14, std::to_string(static_cast<int>(db)),
         /*alignRight=*/false, /*centred=*/true);
  }
  for (auto [index, layer] : llvm::enumerate(report.layers)) {
    double y = top + static_cast<double>(index) * row;
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, Layout::kNameWidth - 8, y + 15, shortLayerName(layer.name, 28),
         /*alignRight=*/true);
    double floatWidth = Layout::kBarWidth * double(layer.floatBytes) / double(layout.maxBytes);
    double width = Layout::kBarWidth * double(layer.bytes) / double(layout.maxBytes);
    setColour(cr, colourOf(layer.precision));
    cairo_rectangle(cr, layout.barLeft, y + 4, width, 14);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.73, 0.73, 0.73);
    cairo_rectangle(cr, layout.barLeft, y + 4, floatWidth, 14);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, layout.barLeft + floatWidth + 4, y + 15,
         layer.precision + (layer.forced ? "*" : ""));
    for (const auto &[precision, db] : layer.sensitivityDb) {
      bool chosen = precision == layer.precision;
      setColour(cr, colourOf(precision));
      cairo_arc(cr, layout.xForDb(db), y + 11, chosen ? 5 : 4, 0, 2 * M_PI);
      cairo_fill_preserve(cr);
      cairo_new_path(cr);
      if (chosen) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1.5);
        cairo_arc(cr, layout.xForDb(db), y + 11, 5, 0, 2 * M_PI);
        cairo_stroke(cr);
      }
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 2);
    double tick = layout.xForDb(std::min(layer.layerSqnrDb, layout.maxDb));
    cairo_move_to(cr, tick, y + 3);
    cairo_line_to(cr, tick, y + 19);
    cairo_stroke(cr);
  }
  // Legend.
  double legendY = top + rows * row + 40, x = 10;
  for (const char *precision :
       {"fp32", "fp16", "int8", "w8a8", "int4-g32", "int4-g64", "int4-g128", "int4"}) {
    setColour(cr, colourOf(precision));
    cairo_rectangle(cr, x, legendY, 12, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, x + 16, legendY + 10, precision);
    x += 30 + 7 * llvm::StringRef(precision).size();
  }
  text(cr, 10, legendY + 30,
       "ring: chosen precision; black tick: the layer's own output SQNR" +
           std::string(llvm::any_of(report.layers, [](const LayerReport &l) { return l.forced; })
                           ? "; * set by --precision-config"
                           : ""));
}

llvm::Error mlir::nibble::writeReportPlot(const QuantizationReport &report,
                                          llvm::StringRef path) {
  Layout layout(report);
  llvm::StringRef extension = llvm::sys::path::extension(path);
  bool svg = extension.equals_insensitive(".svg");
  if (!svg && !extension.equals_insensitive(".png"))
    return llvm::createStringError("--report-plot='" + path.str() +
                                   "': the plot is written as .png or .svg; name the file so");
  std::string file = path.str();
  cairo_surface_t *surface =
      svg ? cairo_svg_surface_create(file.c_str(), layout.width, layout.height)
          : cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(layout.width),
                                       static_cast<int>(layout.height));
  auto destroySurface = llvm::make_scope_exit([&] { cairo_surface_destroy(surface); });
  cairo_t *cr = cairo_create(surface);
  draw(cr, report, layout);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  if (status == CAIRO_STATUS_SUCCESS && !svg)
    status = cairo_surface_write_to_png(surface, file.c_str());
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status(surface);
  if (status != CAIRO_STATUS_SUCCESS)
    return llvm::createStringError("cannot write the plot '" + file +
                                   "': " + cairo_status_to_string(status));
  return llvm::Error::success();
}
