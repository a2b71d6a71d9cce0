//===- QuantizationPlanner.cpp - calibrate, measure, select, verify -------===//

#include "nibble/Compiler/QuantizationPlanner.h"

#include "nibble/Compiler/ActivationCalibration.h"
#include "nibble/Compiler/CalibrationData.h"
#include "nibble/Compiler/PhaseRunner.h"
#include "nibble/Compiler/ProbeModel.h"
#include "nibble/Dialect/Nibble/IR/QuantMath.h"
#include "nibble/Dialect/Nibble/Transforms/Passes.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "nibble/Dialect/Nibble/Utils/PrecisionSelection.h"
#include "nibble/Dialect/Nibble/Utils/WeightQuantizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace mlir::nibble;

/// Samples drawn when the user gave no calibration data but asked for a
/// report.
static constexpr unsigned kRandomSamples = 8;
/// Samples each layer's sensitivity is measured on (the first ones): the
/// selection needs a ranking, and every candidate costs a pass over them.
/// The chosen plan is verified on all samples.
static constexpr size_t kSensitivitySamples = 8;
/// Bins of the |x| histogram percentiles come from.
static constexpr int kHistogramBins = 2048;

namespace {

struct Budget {
  enum class Kind { None, Size, Sqnr } kind = Kind::None;
  double value = 0.0;
};

/// One layer as the planner tracks it.
struct PlannedLayer {
  Operation *op = nullptr;
  /// An embedding table or convolution filter (fp32 or int8 per row only),
  /// not a matmul.
  bool rowScaled = false;
  /// The ONNX node name (nibble.layer).
  std::string name;
  int64_t k = 0;
  /// Set once the model is measured.
  const ProbeLayer *probe = nullptr;
  bool forced = false;
  WeightPrecision precision;
  /// E[x^T x] (K x K) for GPTQ, and its factorisation; empty for RTN.
  std::vector<float> hessian;
  std::optional<GPTQFactor> gptq;
  ActivationRange activation;
  /// max |x[:, k]| per input channel, for SmoothQuant.
  std::vector<float> channelAbsMax;
  /// |x| (|x / s| when smoothed) histogram over [0, histogramMax].
  std::vector<int64_t> histogram;
  double histogramMax = 0.0;
  /// W8A8: SmoothQuant factors (empty if off) and the static int8 scale.
  std::vector<float> smooth;
  double activationScale = 0.0;
  std::vector<std::pair<std::string, double>> sensitivity;
  /// Noise each measured precision causes alone, by name.
  std::map<std::string, double> noiseByPrecision;
};

} // namespace

static llvm::Expected<Budget> parseBudget(llvm::StringRef text) {
  Budget budget;
  if (text.empty())
    return budget;
  auto [kind, value] = text.split('=');
  if ((kind != "size" && kind != "sqnr") || value.getAsDouble(budget.value) ||
      !(budget.value > 0.0) || !std::isfinite(budget.value))
    return llvm::createStringError("--budget='" + text.str() +
                                   "' is not size=F (a fraction of the float weight bytes, "
                                   "e.g. size=0.25) or sqnr=DB (e.g. sqnr=30)");
  budget.kind = kind == "size" ? Budget::Kind::Size : Budget::Kind::Sqnr;
  return budget;
}

bool mlir::nibble::needsPlanning(const QuantizeOptions &quantize,
                                 const MeasurementOptions &options) {
  return quantize.mode == "auto" || quantize.mode == "w8a8" || quantize.mode == "w4a8" ||
         !options.calibrationPath.empty() || options.measure ||
         !options.precisionConfigPath.empty();
}

llvm::Error mlir::nibble::validateQuantizationFlags(const QuantizeOptions &quantize,
                                                    const MeasurementOptions &options) {
  llvm::Expected<Budget> budget = parseBudget(options.budget);
  if (!budget)
    return budget.takeError();
  if (quantize.mode == "auto") {
    if (budget->kind == Budget::Kind::None)
      return llvm::createStringError("--quantize=auto needs a budget: --budget=size=F (a "
                                     "fraction of the float weight bytes) or --budget=sqnr=DB");
    if (options.calibrationPath.empty())
      return llvm::createStringError(
          "--quantize=auto measures each layer on sample inputs; give them with "
          "--calibration=DIR|FILE.npz");
  } else if (budget->kind != Budget::Kind::None) {
    return llvm::createStringError("--budget applies to --quantize=auto, not --quantize=" +
                                   quantize.mode);
  }
  if (quantize.mode == "w8a8") {
    if (quantize.activations != "static" && quantize.activations != "dynamic")
      return llvm::createStringError("--activations='" + quantize.activations +
                                     "' is not static or dynamic");
    if (quantize.activations == "static" && options.calibrationPath.empty())
      return llvm::createStringError(
          "--quantize=w8a8 quantizes activations with scales calibrated on sample inputs; "
          "give them with --calibration=DIR|FILE.npz, or use --activations=dynamic");
  }
  if (quantize.mode == "w4a8" && quantize.asymmetric)
    return llvm::createStringError("--quantize=w4a8 stores symmetric int4 weights; drop "
                                   "--asymmetric");
  if (quantize.smoothQuant != 0.0) {
    if (quantize.mode != "w8a8")
      return llvm::createStringError("--smoothquant applies to --quantize=w8a8");
    if (!(quantize.smoothQuant > 0.0 && quantize.smoothQuant <= 1.0))
      return llvm::createStringError("--smoothquant must be in (0, 1], e.g. 0.5");
    if (options.calibrationPath.empty())
      return llvm::createStringError("--smoothquant needs the activation ranges of sample "
                                     "inputs; give them with --calibration=DIR|FILE.npz");
  }
  if (!parseActivationRangeMethod(options.activationRange))
    return llvm::createStringError("--activation-range='" + options.activationRange +
                                   "' is not minmax, percentile or entropy");
  if (options.method != "auto" && options.method != "rtn" && options.method != "gptq")
    return llvm::createStringError("--method='" + options.method +
                                   "' is not one of auto, rtn, gptq");
  if (options.method == "gptq" && options.calibrationPath.empty())
    return llvm::createStringError("--method=gptq needs calibration activations; give "
                                   "sample inputs with --calibration=DIR|FILE.npz");
  return llvm::Error::success();
}

/// Reads `--precision-config` and sets nibble.precision on the layers it
/// names. Format: {"layers": [{"match": "GLOB", "precision": "int8"}, ...]};
/// the first matching entry wins; "skip" means fp32.
static llvm::Error applyPrecisionConfig(llvm::StringRef path,
                                        std::vector<PlannedLayer> &layers) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError("cannot read precision config '" + path.str() +
                                   "': " + buffer.getError().message());
  auto fail = [&](const llvm::Twine &what) {
    return llvm::createStringError("precision config '" + path.str() + "': " + what);
  };
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail("not valid JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Array *entries = root ? root->getArray("layers") : nullptr;
  if (!entries)
    return fail("expected {\"layers\": [{\"match\": \"PATTERN\", \"precision\": \"int8\"}, "
                "...]}");
  std::vector<bool> assigned(layers.size(), false);
  for (const llvm::json::Value &entry : *entries) {
    const llvm::json::Object *object = entry.getAsObject();
    std::optional<llvm::StringRef> match = object ? object->getString("match") : std::nullopt;
    std::optional<llvm::StringRef> name =
        object ? object->getString("precision") : std::nullopt;
    if (!match || !name)
      return fail("every entry of \"layers\" needs string fields \"match\" and \"precision\"");
    std::optional<WeightPrecision> precision =
        *name == "skip" ? WeightPrecision::fp32() : WeightPrecision::parse(*name);
    if (!precision)
      return fail("unknown precision '" + *name +
                  "'; use skip, fp32, fp16, int8, uint8, int4-gN or uint4-gN");
    llvm::Expected<llvm::GlobPattern> pattern = llvm::GlobPattern::create(*match);
    if (!pattern)
      return fail("bad pattern '" + *match + "': " + llvm::toString(pattern.takeError()));
    bool matchedAny = false;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (!pattern->match(layers[i].name))
        continue;
      matchedAny = true;
      if (assigned[i])
        continue;
      assigned[i] = true;
      if (layers[i].rowScaled && precision->name() != "fp32" && precision->name() != "int8")
        return fail("node '" + layers[i].name + "' has one scale per output (a table or a "
                    "filter): give it skip (fp32) or int8, not '" + *name + "'");
      layers[i].forced = true;
      layers[i].precision = precision->forRows(layers[i].k);
    }
    if (!matchedAny)
      return fail("pattern '" + *match + "' matches no quantizable layer; layers are named "
                  "after their ONNX nodes, e.g. '" +
                  (layers.empty() ? std::string("(none)") : layers.front().name) + "'");
  }
  return llvm::Error::success();
}

/// Adds the activation rows of one sample (M x K) to `hessian` (K x K,
/// upper triangle only).
static void accumulateHessian(const std::vector<float> &activation, int64_t k,
                              std::vector<double> &hessian) {
  int64_t rows = static_cast<int64_t>(activation.size()) / k;
  for (int64_t m = 0; m < rows; ++m) {
    const float *x = activation.data() + m * k;
    for (int64_t i = 0; i < k; ++i) {
      double xi = x[i];
      if (xi == 0.0)
        continue;
      double *row = hessian.data() + i * k;
      for (int64_t j = i; j < k; ++j)
        row[j] += xi * x[j];
    }
  }
}

namespace {
/// Runs the probe over all samples and keeps what the planner needs.
class Measurer {
public:
  Measurer(ProbeModel &probe, const std::vector<CalibrationSample> &samples,
           bool showProgress)
      : probe(probe), samples(samples), showProgress(showProgress) {}

  /// Float outputs and activation statistics (and Hessians if asked).
  llvm::Error calibrate(std::vector<PlannedLayer> &layers, bool withHessians) {
    size_t numLayers = layers.size();
    std::vector<std::vector<double>> hessians(withHessians ? numLayers : 0);
    for (size_t l = 0; l < hessians.size(); ++l)
      if (!layers[l].rowScaled)
        hessians[l].assign(layers[l].probe->k * layers[l].probe->k, 0.0);
    std::vector<int64_t> rows(numLayers, 0);
    ProbeRun run;
    reference.clear();
    for (size_t s = 0; s < samples.size(); ++s) {
      progress("calibrating", s);
      if (llvm::Error err = probe.run(samples[s], {}, /*withActivations=*/true, run))
        return err;
      reference.push_back(run.outputs);
      for (size_t l = 0; l < numLayers; ++l) {
        ActivationRange &range = layers[l].activation;
        const std::vector<float> &x = run.activations[l];
        if (layers[l].rowScaled)
          continue;
        for (float v : x) {
          if (!std::isfinite(v))
            return llvm::createStringError(
                "the float model computes " + std::string(std::isnan(v) ? "NaN" : "Inf") +
                " entering " + layers[l].probe->opType + " node '" + layers[l].probe->name +
                "' on calibration sample " + samples[s].source +
                "; check that sample (inputs out of the model's range?)");
          range.min = std::min<double>(range.min, v);
          range.max = std::max<double>(range.max, v);
        }
        std::vector<float> &channels = layers[l].channelAbsMax;
        int64_t k = layers[l].probe->k;
        channels.resize(k, 0.0f);
        for (size_t i = 0; i < x.size(); ++i)
          channels[i % k] = std::max(channels[i % k], std::fabs(x[i]));
        if (withHessians) {
          accumulateHessian(x, layers[l].probe->k, hessians[l]);
          rows[l] += static_cast<int64_t>(x.size()) / layers[l].probe->k;
        }
      }
    }
    for (size_t l = 0; l < hessians.size(); ++l) {
      if (layers[l].rowScaled)
        continue;
      int64_t k = layers[l].probe->k;
      layers[l].hessian.assign(k * k, 0.0f);
      double scale = rows[l] ? 1.0 / rows[l] : 1.0;
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = i; j < k; ++j)
          layers[l].hessian[i * k + j] = layers[l].hessian[j * k + i] =
              static_cast<float>(hessians[l][i * k + j] * scale);
    }
    return llvm::Error::success();
  }

  /// A second pass: histograms of what each layer will quantize, |x| (or
  /// |x / s| when smoothed) over [0, its calibrated maximum], and their
  /// percentiles.
  llvm::Error collectHistograms(std::vector<PlannedLayer> &layers) {
    for (PlannedLayer &layer : layers) {
      layer.histogram.assign(kHistogramBins, 0);
      layer.histogramMax = 0.0;
      for (size_t k = 0; k < layer.channelAbsMax.size(); ++k)
        layer.histogramMax = std::max<double>(
            layer.histogramMax,
            layer.channelAbsMax[k] / (layer.smooth.empty() ? 1.0f : layer.smooth[k]));
    }
    ProbeRun run;
    for (size_t s = 0; s < samples.size(); ++s) {
      progress("collecting histograms", s);
      if (llvm::Error err = probe.run(samples[s], {}, /*withActivations=*/true, run))
        return err;
      for (size_t l = 0; l < layers.size(); ++l) {
        PlannedLayer &layer = layers[l];
        if (layer.histogramMax == 0.0)
          continue;
        int64_t k = layer.probe->k;
        const std::vector<float> &x = run.activations[l];
        for (size_t i = 0; i < x.size(); ++i) {
          float v = std::fabs(x[i]) / (layer.smooth.empty() ? 1.0f : layer.smooth[i % k]);
          auto bin = static_cast<int64_t>(v / layer.histogramMax * kHistogramBins);
          ++layer.histogram[std::min<int64_t>(bin, kHistogramBins - 1)];
        }
      }
    }
    for (PlannedLayer &layer : layers) {
      layer.activation.absP999 = histogramPercentile(layer.histogram, layer.histogramMax, 0.999);
      layer.activation.absP9999 =
          histogramPercentile(layer.histogram, layer.histogramMax, 0.9999);
    }
    return llvm::Error::success();
  }

  /// End-to-end relative noise with `weights` (nullptr = float weight) on
  /// the first `maxSamples` samples.
  llvm::Expected<double> noiseWith(const std::vector<const std::vector<float> *> &weights,
                                   size_t maxSamples) {
    QualityMeter meter(probe.getGraphOutputs());
    ProbeRun run;
    for (size_t s = 0; s < std::min(samples.size(), maxSamples); ++s) {
      if (llvm::Error err = probe.run(samples[s], weights, /*withActivations=*/false, run))
        return std::move(err);
      meter.add(reference[s], run.outputs);
    }
    return meter.noise();
  }

  /// Whole-model figures with `modelWeights` in the probe, and each layer's
  /// own output SQNR: x W' against x W on the activations that run
  /// produces, W' = `layerWeights[l]`, and x first passed through
  /// `transform` when given (W8A8's activation quantization).
  llvm::Expected<QualityFigures>
  verify(const std::vector<const std::vector<float> *> &modelWeights,
         const std::vector<const std::vector<float> *> &layerWeights,
         std::vector<PlannedLayer> &layers, std::vector<double> &layerSqnrDb,
         llvm::function_ref<void(size_t, std::vector<float> &)> transform = {}) {
    QualityMeter meter(probe.getGraphOutputs());
    std::vector<double> signal(layers.size(), 0.0), error(layers.size(), 0.0);
    ProbeRun run;
    std::vector<float> quantizedInput;
    for (size_t s = 0; s < samples.size(); ++s) {
      progress("verifying", s);
      if (llvm::Error err = probe.run(samples[s], modelWeights, /*withActivations=*/true, run))
        return std::move(err);
      meter.add(reference[s], run.outputs);
      for (size_t l = 0; l < layers.size(); ++l) {
        if (!layerWeights[l])
          continue;
        const ProbeLayer &layer = *layers[l].probe;
        if (layer.rowScaled) {
          // No tapped input: the weight's own SQNR (once is enough).
          if (s == 0)
            for (size_t i = 0; i < layer.weight.size(); ++i) {
              double w = layer.weight[i], d = (*layerWeights[l])[i] - w;
              signal[l] += w * w;
              error[l] += d * d;
            }
          continue;
        }
        const std::vector<float> &x = run.activations[l];
        quantizedInput = x;
        if (transform)
          transform(l, quantizedInput);
        int64_t rows = static_cast<int64_t>(x.size()) / layer.k;
        std::vector<double> exact(layer.n), quantized(layer.n);
        for (int64_t m = 0; m < rows; ++m) {
          std::fill(exact.begin(), exact.end(), 0.0);
          std::fill(quantized.begin(), quantized.end(), 0.0);
          for (int64_t i = 0; i < layer.k; ++i) {
            double xi = x[m * layer.k + i], qi = quantizedInput[m * layer.k + i];
            const float *w = layer.weight.data() + i * layer.n;
            const float *q = layerWeights[l]->data() + i * layer.n;
            for (int64_t j = 0; j < layer.n; ++j) {
              exact[j] += xi * w[j];
              quantized[j] += qi * q[j];
            }
          }
          for (int64_t j = 0; j < layer.n; ++j) {
            signal[l] += exact[j] * exact[j];
            error[l] += (quantized[j] - exact[j]) * (quantized[j] - exact[j]);
          }
        }
      }
    }
    layerSqnrDb.assign(layers.size(), kMaxSqnrDb);
    for (size_t l = 0; l < layers.size(); ++l)
      if (layerWeights[l])
        layerSqnrDb[l] = sqnrDbFromNoise(signal[l] > 0.0 ? error[l] / signal[l] : error[l]);
    return meter.figures();
  }

  /// Whole-model figures of another build of the model (the quantized one,
  /// compiled as it will run) against the float outputs.
  llvm::Expected<QualityFigures> measure(ProbeModel &compiled) {
    QualityMeter meter(probe.getGraphOutputs());
    ProbeRun run;
    for (size_t s = 0; s < samples.size(); ++s) {
      progress("measuring the quantized model", s);
      if (llvm::Error err = compiled.run(samples[s], {}, /*withActivations=*/false, run))
        return std::move(err);
      meter.add(reference[s], run.outputs);
    }
    return meter.figures();
  }

  void progress(llvm::StringRef what, size_t sample) {
    size_t step = std::max<size_t>(samples.size() / 4, 1);
    if (showProgress && samples.size() >= 64 && sample % step == 0)
      llvm::errs() << "nibble: " << what << ": sample " << sample + 1 << "/" << samples.size()
                   << "\n";
  }

private:
  ProbeModel &probe;
  const std::vector<CalibrationSample> &samples;
  bool showProgress;
  std::vector<OutputValues> reference;
};
} // namespace

/// The weight layer `layer` would have at `precision`, as the quantize pass
/// will produce it (cached by precision name).
static llvm::Expected<const std::vector<float> *>
simulated(PlannedLayer &layer, const WeightPrecision &precision,
          std::map<std::string, std::vector<float>> &cache) {
  std::string key = precision.name();
  auto it = cache.find(key);
  if (it != cache.end())
    return &it->second;
  const ProbeLayer &probe = *layer.probe;
  if (!layer.hessian.empty() && !layer.gptq) {
    llvm::Expected<GPTQFactor> factor = GPTQFactor::compute(layer.hessian, probe.k);
    if (!factor)
      return llvm::createStringError("cannot use the calibration Hessian of " + probe.opType +
                                     " node '" + probe.name +
                                     "': " + llvm::toString(factor.takeError()));
    layer.gptq = std::move(*factor);
  }
  // A smoothed layer quantizes s W (and multiplies x / s).
  std::vector<float> smoothed;
  if (!layer.smooth.empty()) {
    smoothed = probe.weight;
    for (int64_t row = 0; row < probe.k; ++row)
      for (int64_t col = 0; col < probe.n; ++col)
        smoothed[row * probe.n + col] *= layer.smooth[row];
  }
  if (probe.rowScaled) {
    // The table [V, D] transposed is a K = D x N = V weight, one scale per
    // column: one per table row.
    std::vector<float> transposed = transposeMatrix<float>(probe.weight, probe.n, probe.k);
    llvm::Expected<SmallVector<float>> values =
        simulateWeightPrecision(transposed, probe.k, probe.n, precision, nullptr);
    if (!values)
      return llvm::createStringError("cannot quantize the weight of node '" +
                                     probe.name + "': " + llvm::toString(values.takeError()));
    return &(cache[key] = transposeMatrix<float>(*values, probe.k, probe.n));
  }
  llvm::Expected<SmallVector<float>> values = simulateWeightPrecision(
      smoothed.empty() ? probe.weight : smoothed, probe.k, probe.n, precision,
      layer.gptq ? &*layer.gptq : nullptr);
  if (!values)
    return llvm::createStringError("cannot quantize the weight of " + probe.opType + " node '" +
                                   probe.name + "': " + llvm::toString(values.takeError()));
  return &(cache[key] = std::vector<float>(values->begin(), values->end()));
}

/// W8A8: SmoothQuant factors s[k] = max|x_k|^alpha / max|W_k|^(1 - alpha)
/// (alpha 0: none). GPTQ then sees the Hessian of x / s.
static void chooseSmoothing(PlannedLayer &layer, double alpha) {
  const ProbeLayer &probe = *layer.probe;
  layer.smooth.clear();
  if (alpha <= 0.0)
    return;
  layer.smooth.assign(probe.k, 1.0f);
  for (int64_t row = 0; row < probe.k; ++row) {
    float weightMax = 0.0f;
    for (int64_t col = 0; col < probe.n; ++col)
      weightMax = std::max(weightMax, std::fabs(probe.weight[row * probe.n + col]));
    float activationMax = layer.channelAbsMax[row];
    if (weightMax > 0.0f && activationMax > 0.0f)
      layer.smooth[row] = std::clamp(
          static_cast<float>(std::pow(activationMax, alpha) / std::pow(weightMax, 1.0 - alpha)),
          1e-4f, 1e4f);
  }
  if (!layer.hessian.empty()) {
    for (int64_t i = 0; i < probe.k; ++i)
      for (int64_t j = 0; j < probe.k; ++j)
        layer.hessian[i * probe.k + j] /= layer.smooth[i] * layer.smooth[j];
    layer.gptq.reset();
  }
}

/// W8A8: the static int8 scale of the (smoothed) activations, from their
/// histogram by `method`.
static void chooseActivationScale(PlannedLayer &layer, ActivationRangeMethod method) {
  double threshold = activationThreshold(method, layer.histogram, layer.histogramMax);
  layer.activationScale = threshold > 0.0 ? threshold / 127.0 : 1.0;
}

/// W8A8 and W4A8 on the host, as the compiled layer computes it: x / s,
/// then int8 with the static scale or one scale per row (max|row| / 127;
/// per row and group of the weight's rows for W4A8), dequantized.
static void fakeQuantizeActivations(const PlannedLayer &layer, std::vector<float> &x) {
  int64_t k = layer.probe->k;
  if (!layer.smooth.empty())
    for (size_t i = 0; i < x.size(); ++i)
      x[i] /= layer.smooth[i % k];
  bool dynamic =
      layer.precision.activations == WeightPrecision::Activations::DynamicInt8;
  int64_t span = layer.precision.bits == 4 ? layer.precision.groupRows(k) : k;
  for (size_t row = 0; row * k < x.size(); ++row)
    for (int64_t first = 0; first < k; first += span) {
      float *values = x.data() + row * k + first;
      int64_t count = std::min(span, k - first);
      float scale = static_cast<float>(layer.activationScale);
      if (dynamic) {
        float absMax = 0.0f;
        for (int64_t i = 0; i < count; ++i)
          absMax = std::max(absMax, std::fabs(values[i]));
        scale = absMax > 0.0f ? absMax / 127.0f : 1.0f;
      }
      for (int64_t i = 0; i < count; ++i)
        values[i] = dequantizeScalar(quantizeScalar(values[i], scale, 0, -128, 127), scale, 0);
    }
}

/// The precisions --quantize=auto chooses from (fp32 is implicit).
static std::vector<WeightPrecision> autoCandidates(bool asymmetric) {
  return {WeightPrecision::fp16(), WeightPrecision::integer(8, !asymmetric, 0),
          WeightPrecision::integer(4, !asymmetric, 32),
          WeightPrecision::integer(4, !asymmetric, 64),
          WeightPrecision::integer(4, !asymmetric, 128),
          WeightPrecision::integer(4, !asymmetric, 0)};
}

llvm::Expected<std::optional<QuantizationReport>>
mlir::nibble::planQuantization(ModuleOp module, const ImportedModel &imported,
                               llvm::StringRef entryName, const QuantizeOptions &quantize,
                               const MeasurementOptions &options) {
  if (llvm::Error err = validateQuantizationFlags(quantize, options))
    return std::move(err);
  Budget budget = *parseBudget(options.budget);
  auto entry = module.lookupSymbol<func::FuncOp>(entryName);
  if (!entry)
    return llvm::createStringError("the model has no entry function '" + entryName.str() + "'");
  MLIRContext *ctx = module.getContext();

  SmallVector<MeasurableLayer> found = findMeasurableLayers(entry);
  std::vector<PlannedLayer> layers(found.size());
  std::optional<WeightPrecision> uniform;
  if (quantize.mode == "int8")
    uniform = WeightPrecision::integer(8, !quantize.asymmetric, 0);
  else if (quantize.mode == "int4")
    uniform = WeightPrecision::integer(4, !quantize.asymmetric, quantize.groupSize);
  else if (quantize.mode == "w8a8")
    uniform = WeightPrecision::w8a8(quantize.activations == "dynamic");
  else if (quantize.mode == "w4a8")
    uniform = WeightPrecision::w4a8(quantize.groupSize);
  for (size_t l = 0; l < layers.size(); ++l) {
    layers[l].op = found[l].op;
    layers[l].rowScaled = !found[l].matmul;
    layers[l].k = found[l].matmul ? found[l].matmul->k : found[l].columns();
    if (auto name = found[l].op->getAttrOfType<StringAttr>(kLayerAttrName))
      layers[l].name = name.str();
    layers[l].precision = uniform.value_or(WeightPrecision::fp32()).forRows(layers[l].k);
    // Tables and filters are int8 per row whenever weights are quantized.
    if (layers[l].rowScaled && uniform)
      layers[l].precision = WeightPrecision::integer(8, true, 0);
  }
  if (!options.precisionConfigPath.empty())
    if (llvm::Error err = applyPrecisionConfig(options.precisionConfigPath, layers))
      return std::move(err);
  Builder builder(ctx);
  bool measure =
      quantize.mode == "auto" || !options.calibrationPath.empty() || options.measure;
  if (!measure) {
    // Overrides, and every layer of the modes the quantize pass does not
    // apply itself (dynamic W8A8 and W4A8 need no data; their tables and
    // filters are int8); the pass gives the other modes' layers the mode.
    bool activationModes = quantize.mode == "w8a8" || quantize.mode == "w4a8";
    for (PlannedLayer &layer : layers)
      if (layer.forced || activationModes)
        layer.op->setAttr(kPrecisionAttrName, builder.getStringAttr(layer.precision.name()));
    return std::optional<QuantizationReport>();
  }

  // The probe holds each layer's float weight.
  llvm::Expected<std::unique_ptr<ProbeModel>> probe =
      ProbeModel::build(module, entryName, imported.inputs, imported.outputs);
  if (!probe)
    return probe.takeError();
  if (layers.size() != (*probe)->getLayers().size())
    return llvm::createStringError("internal error: the calibration build lost track of layers");
  for (size_t l = 0; l < layers.size(); ++l)
    layers[l].probe = &(*probe)->getLayers()[l];

  // Samples: the user's, or random normal inputs when only a report was
  // asked for.
  QuantizationReport report;
  report.model = imported.graphName;
  report.mode = quantize.mode;
  report.budget = options.budget;
  std::vector<CalibrationSample> samples;
  if (!options.calibrationPath.empty()) {
    llvm::Expected<std::vector<CalibrationSample>> loaded =
        loadCalibrationData(options.calibrationPath, imported.inputs);
    if (!loaded)
      return loaded.takeError();
    samples = std::move(*loaded);
    report.calibration = options.calibrationPath;
  } else {
    llvm::Expected<std::vector<CalibrationSample>> random =
        makeRandomSamples(imported.inputs, kRandomSamples);
    if (!random)
      return llvm::createStringError("cannot measure the quantized model: " +
                                     llvm::toString(random.takeError()));
    samples = std::move(*random);
    report.calibration = "random normal inputs";
    report.notes.push_back("no --calibration data: figures were measured on random normal "
                           "inputs, which may not represent real ones");
  }
  for (const CalibrationSample &sample : samples)
    report.sampleSources.push_back(sample.source);
  bool useGPTQ = options.method == "gptq" ||
                 (options.method == "auto" && !options.calibrationPath.empty());
  report.method = useGPTQ ? "gptq" : "rtn";

  Measurer measurer(**probe, samples, options.showProgress);
  if (llvm::Error err = measurer.calibrate(layers, useGPTQ))
    return std::move(err);
  for (PlannedLayer &layer : layers)
    if (layer.precision.quantizesActivations())
      chooseSmoothing(layer, quantize.smoothQuant);
  if (llvm::Error err = measurer.collectHistograms(layers))
    return std::move(err);
  ActivationRangeMethod rangeMethod = *parseActivationRangeMethod(options.activationRange);
  for (PlannedLayer &layer : layers)
    if (layer.precision.quantizesActivations())
      chooseActivationScale(layer, rangeMethod);
  std::vector<std::map<std::string, std::vector<float>>> cache(layers.size());

  if (quantize.mode == "auto") {
    // Sensitivity: the model with one layer at one candidate at a time.
    std::vector<WeightPrecision> candidates = autoCandidates(quantize.asymmetric);
    for (size_t l = 0; l < layers.size(); ++l) {
      if (options.showProgress && layers.size() * candidates.size() * samples.size() >= 512)
        llvm::errs() << "nibble: measuring layer " << l + 1 << "/" << layers.size() << " ('"
                     << layers[l].probe->name << "')\n";
      if (layers[l].forced)
        continue;
      SmallVector<NamedAttribute> sensitivity;
      // Group sizes of at least K collapse into one per-channel candidate.
      std::vector<WeightPrecision> distinct;
      if (layers[l].rowScaled)
        distinct.push_back(WeightPrecision::integer(8, true, 0));
      for (const WeightPrecision &candidate : layers[l].rowScaled
                                                  ? std::vector<WeightPrecision>{}
                                                  : candidates) {
        // A layer already stored in 16 bits gains nothing from fp16.
        bool alreadyHalf = candidate.kind == WeightPrecision::Kind::Float16 &&
                           layers[l].probe->storedType != "fp32";
        if (!alreadyHalf && !llvm::is_contained(distinct, candidate.forRows(layers[l].k)))
          distinct.push_back(candidate.forRows(layers[l].k));
      }
      for (const WeightPrecision &candidate : distinct) {
        llvm::Expected<const std::vector<float> *> weight =
            simulated(layers[l], candidate, cache[l]);
        if (!weight)
          return weight.takeError();
        std::vector<const std::vector<float> *> weights(layers.size(), nullptr);
        weights[l] = *weight;
        llvm::Expected<double> noise = measurer.noiseWith(weights, kSensitivitySamples);
        if (!noise)
          return noise.takeError();
        double db = sqnrDbFromNoise(*noise);
        layers[l].sensitivity.emplace_back(candidate.name(), db);
        layers[l].noiseByPrecision[candidate.name()] = *noise;
        sensitivity.push_back(builder.getNamedAttr(candidate.name(), builder.getF64FloatAttr(db)));
      }
      // Other candidates' weights are not needed again.
      cache[l].clear();
      layers[l].op->setAttr(kSensitivityAttrName, builder.getDictionaryAttr(sensitivity));
    }
    for (PlannedLayer &layer : layers)
      if (layer.forced)
        layer.op->setAttr(kPrecisionAttrName, builder.getStringAttr(layer.precision.name()));
    NibbleSelectPrecisionPassOptions selectOptions;
    (budget.kind == Budget::Kind::Size ? selectOptions.budgetSize : selectOptions.budgetSqnr) =
        budget.value;
    if (llvm::Error err = runPhase(
            module,
            [&](OpPassManager &pm) {
              pm.addNestedPass<func::FuncOp>(createNibbleSelectPrecisionPass(selectOptions));
            },
            "select"))
      return std::move(err);
    for (PlannedLayer &layer : layers)
      layer.precision = *WeightPrecision::parse(
          layer.op->getAttrOfType<StringAttr>(kPrecisionAttrName).getValue());
    if (auto selection = entry->getAttrOfType<DictionaryAttr>("nibble.selection"))
      if (auto predicted = selection.getAs<FloatAttr>("predicted_sqnr_db"))
        report.predictedSqnrDb = predicted.getValueAsDouble();
  }

  // Leaves the decisions on the IR for the quantize pass.
  auto annotate = [&] {
    for (PlannedLayer &layer : layers) {
      const ProbeLayer &probeLayer = *layer.probe;
      Operation *op = layer.op;
      op->setAttr(kPrecisionAttrName, builder.getStringAttr(layer.precision.name()));
      op->removeAttr(kSensitivityAttrName);
      for (StringRef name : {kHessianAttrName, kSmoothAttrName, kActivationScaleAttrName})
        op->removeAttr(name);
      if (useGPTQ && layer.precision.isInteger() && !layer.hessian.empty()) {
        auto type = RankedTensorType::get({probeLayer.k, probeLayer.k}, Float32Type::get(ctx));
        op->setAttr(kHessianAttrName,
                    makeFloatConstant(type, layer.hessian, probeLayer.name + ".hessian"));
      }
      if (!layer.precision.quantizesActivations())
        continue;
      if (!layer.smooth.empty()) {
        auto type = RankedTensorType::get({probeLayer.k}, Float32Type::get(ctx));
        op->setAttr(kSmoothAttrName,
                    makeFloatConstant(type, layer.smooth, probeLayer.name + ".smooth"));
      }
      op->setAttr(kActivationScaleAttrName,
                  builder.getF32FloatAttr(static_cast<float>(layer.activationScale)));
    }
  };

  // Every layer's weight at its chosen precision (nullptr: float).
  auto chosenWeights = [&]() -> llvm::Expected<std::vector<const std::vector<float> *>> {
    std::vector<const std::vector<float> *> weights(layers.size(), nullptr);
    for (size_t l = 0; l < layers.size(); ++l) {
      if (layers[l].precision.kind == WeightPrecision::Kind::Float32)
        continue;
      llvm::Expected<const std::vector<float> *> weight =
          simulated(layers[l], layers[l].precision, cache[l]);
      if (!weight)
        return weight.takeError();
      weights[l] = *weight;
    }
    return weights;
  };

  std::vector<double> layerSqnrDb;
  QualityFigures figures;
  bool quantizesActivations = llvm::any_of(
      layers, [](const PlannedLayer &l) { return l.precision.quantizesActivations(); });
  if (quantizesActivations) {
    // Activation quantization happens inside the model, which weight
    // substitution cannot reproduce: compile the quantized model as it
    // will run and measure that. Each layer's own SQNR is emulated on the
    // host from the float activations.
    llvm::Expected<std::vector<const std::vector<float> *>> weights = chosenWeights();
    if (!weights)
      return weights.takeError();
    std::vector<const std::vector<float> *> none(layers.size(), nullptr);
    auto transform = [&](size_t l, std::vector<float> &x) {
      if (layers[l].precision.quantizesActivations())
        fakeQuantizeActivations(layers[l], x);
    };
    if (llvm::Error err = measurer.verify(none, *weights, layers, layerSqnrDb, transform)
                              .takeError())
      return std::move(err);
    annotate();
    OwningOpRef<ModuleOp> quantized(module.clone());
    if (llvm::Error err = runPhase(
            *quantized, [&](OpPassManager &pm) { buildQuantizePhase(pm, quantize); },
            "quantize"))
      return std::move(err);
    if (llvm::Error err = runPhase(*quantized, buildFusePhase, "fuse"))
      return std::move(err);
    llvm::Expected<std::unique_ptr<ProbeModel>> compiled = ProbeModel::build(
        *quantized, entryName, imported.inputs, imported.outputs, /*instrument=*/false);
    if (!compiled)
      return compiled.takeError();
    llvm::Expected<QualityFigures> measured = measurer.measure(**compiled);
    if (!measured)
      return measured.takeError();
    figures = *measured;
    report.notes.push_back("int8 activations: end-to-end figures measured on the compiled "
                           "model; per-layer SQNR emulated on float activations");
  }
  // Verify the whole plan; under an SQNR budget, raise the noisiest free
  // layer's precision until the measured SQNR holds.
  while (!quantizesActivations) {
    llvm::Expected<std::vector<const std::vector<float> *>> weights = chosenWeights();
    if (!weights)
      return weights.takeError();
    llvm::Expected<QualityFigures> verified =
        measurer.verify(*weights, *weights, layers, layerSqnrDb);
    if (!verified)
      return verified.takeError();
    figures = *verified;
    if (budget.kind != Budget::Kind::Sqnr || figures.sqnrDb >= budget.value)
      break;
    // The free layer whose precision costs the most noise moves to the
    // cheapest candidate that costs less (fp32 if none).
    PlannedLayer *noisiest = nullptr;
    double worstNoise = 0.0;
    for (PlannedLayer &layer : layers) {
      if (layer.forced || layer.precision.kind == WeightPrecision::Kind::Float32)
        continue;
      double noise = layer.noiseByPrecision[layer.precision.name()];
      if (!noisiest || noise > worstNoise) {
        noisiest = &layer;
        worstNoise = noise;
      }
    }
    if (!noisiest)
      return llvm::createStringError(llvm::formatv(
          "budget {0} cannot be met: with every selectable layer in fp32 the model "
          "measures {1:f2} dB (the --precision-config layers cost the rest); lower the "
          "target or relax the config",
          options.budget, figures.sqnrDb));
    int64_t k = noisiest->probe->k, n = noisiest->probe->n;
    WeightPrecision next = WeightPrecision::fp32();
    for (const auto &[name, noise] : noisiest->noiseByPrecision) {
      WeightPrecision candidate = *WeightPrecision::parse(name);
      if (noise < worstNoise && candidate.weightBytes(k, n) < next.weightBytes(k, n))
        next = candidate;
    }
    report.notes.push_back(llvm::formatv("measured {0:f2} dB < {1}: raised '{2}' from "
                                         "{3} to {4}",
                                         figures.sqnrDb, options.budget, noisiest->probe->name,
                                         noisiest->precision.name(), next.name())
                               .str());
    noisiest->precision = next;
  }

  annotate();
  for (size_t l = 0; l < layers.size(); ++l) {
    PlannedLayer &layer = layers[l];
    const ProbeLayer &probeLayer = *layer.probe;
    LayerReport row;
    row.name = probeLayer.name;
    row.opType = probeLayer.opType;
    // Tables and filters report rows x columns ([V, D], [outputs, rest]).
    row.k = probeLayer.rowScaled ? probeLayer.n : probeLayer.k;
    row.n = probeLayer.rowScaled ? probeLayer.k : probeLayer.n;
    // An unquantized layer keeps the model's own float type.
    bool unquantized = layer.precision.kind == WeightPrecision::Kind::Float32;
    row.precision = unquantized ? probeLayer.storedType : layer.precision.name();
    row.forced = layer.forced;
    row.floatBytes = probeLayer.storedBytes();
    row.bytes = unquantized ? row.floatBytes
                            : layer.precision.weightBytes(probeLayer.k, probeLayer.n);
    row.sensitivityDb = layer.sensitivity;
    row.layerSqnrDb = layerSqnrDb[l];
    row.activation = layer.activation;
    row.activation.smoothed = !layer.smooth.empty();
    if (layer.precision.activations == WeightPrecision::Activations::StaticInt8)
      row.activation.int8Scale = static_cast<float>(layer.activationScale);
    report.layers.push_back(std::move(row));
  }
  entry->removeAttr("nibble.selection");
  report.endToEnd = figures;
  return std::optional<QuantizationReport>(std::move(report));
}
