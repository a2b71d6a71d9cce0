//===- NibbleModule.cpp - the nibble._nibble Python extension -------------===//
//
// Binds the compiler driver only; everything else of the Python package is
// plain Python over the C API of compiled models.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/Driver.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace mlir::nibble;

/// Compiles `modelPath` into `dir/lib<name>.so` + `dir/<name>.h` for
/// `outputPath` = `dir/<name>`, and the quantization report to `reportPath`
/// when the model is measured (auto, calibration data, or a report path). Raises RuntimeError with the one-line
/// compiler message on failure.
static void compileModelToLibrary(const std::string &modelPath,
                                  const std::string &outputPath,
                                  const std::string &quantize,
                                  const std::string &target, int64_t groupSize,
                                  const std::vector<std::string> &inputShapes,
                                  bool asymmetric, const std::string &calibration,
                                  const std::string &budget,
                                  const std::string &precisionConfig,
                                  const std::string &method,
                                  const std::string &reportPath, bool measure,
                                  const std::string &activations, double smoothQuant,
                                  const std::string &activationRange) {
  CompilerOptions options;
  options.emit = EmitKind::Library;
  options.output = outputPath;
  options.quantize.mode = quantize;
  options.quantize.groupSize = groupSize;
  options.quantize.asymmetric = asymmetric;
  options.quantize.activations = activations;
  options.quantize.smoothQuant = smoothQuant;
  options.measurement.calibrationPath = calibration;
  options.measurement.budget = budget;
  options.measurement.precisionConfigPath = precisionConfig;
  options.measurement.method = method;
  options.reportPath = reportPath;
  options.measurement.measure = measure;
  options.measurement.activationRange = activationRange;
  options.target = target;
  for (const std::string &spec : inputShapes)
    if (llvm::Error err = parseInputShape(spec, options.import))
      throw std::runtime_error(llvm::toString(std::move(err)));
  llvm::Error err = llvm::Error::success();
  {
    // Compilation holds no Python objects; let other threads run.
    py::gil_scoped_release release;
    err = compileModel(modelPath, options);
  }
  if (err)
    throw std::runtime_error(llvm::toString(std::move(err)));
}

PYBIND11_MODULE(_nibble, m) {
  m.doc() = "nibble's compiler driver (use nibble.compile instead)";
  m.def("compile_model", &compileModelToLibrary, py::arg("model_path"),
        py::arg("output_path"), py::arg("quantize") = "none",
        py::arg("target") = "host", py::arg("group_size") = 128,
        py::arg("input_shapes") = std::vector<std::string>{}, py::arg("asymmetric") = false,
        py::arg("calibration") = "", py::arg("budget") = "",
        py::arg("precision_config") = "", py::arg("method") = "auto",
        py::arg("report_path") = "", py::arg("measure") = false,
        py::arg("activations") = "static", py::arg("smoothquant") = 0.0,
        py::arg("activation_range") = "minmax",
        "Compile an ONNX model to a shared library (lib<name>.so + <name>.h).");
}
