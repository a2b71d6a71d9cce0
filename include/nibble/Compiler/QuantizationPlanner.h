//===- QuantizationPlanner.h - calibrate, measure, select, verify -*- C++ -*-===//
//
// The driver's half of the quantize phase, which needs to run the model and
// so cannot be a pass. On the imported module it
//   1. applies `--precision-config` overrides (nibble.precision on layers);
//   2. runs the float probe (ProbeModel.h) on the calibration samples,
//      collecting activation ranges and, for GPTQ, each layer's Hessian;
//   3. for `--quantize=auto`, measures every layer's end-to-end sensitivity
//      to each candidate precision and runs nibble-select-precision under
//      the budget;
//   4. verifies the whole plan on the probe, and for an SQNR budget raises
//      the precision of the noisiest layer until the measured SQNR holds;
//   5. leaves nibble.precision (and nibble.hessian) on every layer for the
//      quantize pass, and returns the report.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_QUANTIZATIONPLANNER_H
#define NIBBLE_COMPILER_QUANTIZATIONPLANNER_H

#include "nibble/Compiler/Pipelines.h"
#include "nibble/Compiler/QuantizationReport.h"
#include "nibble/Import/Onnx/OnnxImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::nibble {

struct MeasurementOptions {
  /// `--calibration`: a .npz file or directory (CalibrationData.h).
  std::string calibrationPath;
  /// `--budget`: "size=F" or "sqnr=DB" (only with --quantize=auto).
  std::string budget;
  /// `--precision-config`: JSON overrides by node-name pattern.
  std::string precisionConfigPath;
  /// `--method`: "rtn", "gptq", or "auto" (GPTQ when calibration data is
  /// given, RTN otherwise).
  std::string method = "auto";
  /// How static int8 activation scales are set from the calibration
  /// histograms: "minmax", "percentile" or "entropy" (ActivationCalibration.h).
  std::string activationRange = "minmax";
  /// Measure and report even without calibration data (random inputs).
  bool measure = false;
  /// Print progress of long measurements on stderr.
  bool showProgress = false;
};

/// True if `options` ask for anything the planner does.
bool needsPlanning(const QuantizeOptions &quantize, const MeasurementOptions &options);

/// Checks flag combinations before any work: one line on misuse.
llvm::Error validateQuantizationFlags(const QuantizeOptions &quantize,
                                      const MeasurementOptions &options);

/// Runs steps 1-5 on `module`, whose entry is `entryName`. Returns the
/// report when the model was measured. `quantize.mode` "auto" means
/// selection; "int8"/"int4" are uniform (forced layers excepted).
llvm::Expected<std::optional<QuantizationReport>>
planQuantization(ModuleOp module, const ImportedModel &imported, llvm::StringRef entryName,
                 const QuantizeOptions &quantize, const MeasurementOptions &options);

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_QUANTIZATIONPLANNER_H
