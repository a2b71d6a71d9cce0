//===- CalibrationData.h - sample inputs for measuring a model ---*- C++ -*-===//
//
// `--calibration=PATH` names sample inputs the compiler runs the float model
// on. Accepted layouts, arrays named after graph inputs:
//
//   FILE.npz          each array holds a leading sample axis ([S, ...shape]),
//                     or is one sample of exactly the input's shape;
//   DIR/*.npz         one .npz per sample set (same rule, so a file may hold
//                     several samples), taken in name order;
//   DIR/NAME/*.npy    one subdirectory per sample, `<input>.npy` in each;
//   DIR/<input>.npy   like FILE.npz, one file per input.
//
// Every sample must give every input with the model's dtype and shape and,
// for floats, only finite values; anything else is a one-line error naming
// the file and the input.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_COMPILER_CALIBRATIONDATA_H
#define NIBBLE_COMPILER_CALIBRATIONDATA_H

#include "nibble/Import/Onnx/OnnxImporter.h"
#include "nibble/Runtime/Npy.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::nibble {

/// One set of graph inputs, in the order of the model's inputs.
struct CalibrationSample {
  /// Where it came from, for messages: "calib.npz[3]", "dir/s1/".
  std::string source;
  std::vector<::nibble::NpyArray> inputs;
};

/// Loads and checks every sample under `path` against `inputs`.
llvm::Expected<std::vector<CalibrationSample>>
loadCalibrationData(llvm::StringRef path, llvm::ArrayRef<GraphTensorInfo> inputs);

/// `count` samples of standard normal float inputs (fixed seed), for
/// measuring a model the user gave no data for. Fails if an input is not
/// float32: random integers would not be meaningful token ids or indices.
llvm::Expected<std::vector<CalibrationSample>>
makeRandomSamples(llvm::ArrayRef<GraphTensorInfo> inputs, unsigned count);

} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_CALIBRATIONDATA_H
