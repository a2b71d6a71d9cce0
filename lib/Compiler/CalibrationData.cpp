//===- CalibrationData.cpp - loading and checking sample inputs ------------===//

#include "nibble/Compiler/CalibrationData.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <zip.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>

using namespace mlir;
using namespace mlir::nibble;
using ::nibble::NpyArray;

namespace {
/// Named arrays read from one file or directory, before they are split
/// into samples.
struct ArraySet {
  std::string source;
  llvm::StringMap<NpyArray> arrays;
};
} // namespace

static std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "a scalar";
  return llvm::join(llvm::map_range(shape, [](int64_t d) { return std::to_string(d); }),
                    "x");
}

/// Reads every `NAME.npy` member of the .npz archive at `path`.
static llvm::Expected<ArraySet> readNpz(llvm::StringRef path) {
  int openError = 0;
  zip_t *archive = zip_open(path.str().c_str(), ZIP_RDONLY, &openError);
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, openError);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return llvm::createStringError("cannot read calibration file '" + path.str() +
                                   "' as .npz: " + message);
  }
  auto closeArchive = llvm::make_scope_exit([&] { zip_discard(archive); });
  ArraySet set{path.str(), {}};
  zip_int64_t numEntries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < numEntries; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive, i, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME) ||
        !(stat.valid & ZIP_STAT_SIZE))
      return llvm::createStringError("cannot read member " + std::to_string(i) + " of '" +
                                     path.str() + "': " + zip_strerror(archive));
    llvm::StringRef member(stat.name);
    std::vector<uint8_t> bytes(stat.size);
    zip_file_t *file = zip_fopen_index(archive, i, 0);
    zip_int64_t read = file ? zip_fread(file, bytes.data(), stat.size) : -1;
    if (file)
      zip_fclose(file);
    if (read != static_cast<zip_int64_t>(stat.size))
      return llvm::createStringError("cannot read '" + member.str() + "' in '" + path.str() +
                                     "': " + zip_strerror(archive));
    std::string source = path.str() + ":" + member.str();
    NpyArray array;
    std::string error;
    if (!::nibble::parseNpy(bytes.data(), bytes.size(), source, array, error))
      return llvm::createStringError(error);
    member.consume_back(".npy");
    set.arrays[member] = std::move(array);
  }
  return set;
}

/// Reads every `NAME.npy` file directly in `dir`.
static llvm::Expected<ArraySet> readNpyDirectory(llvm::StringRef dir,
                                                 llvm::ArrayRef<std::string> files) {
  ArraySet set{dir.str() + "/", {}};
  for (const std::string &file : files) {
    NpyArray array;
    std::string error;
    if (!::nibble::readNpy(file, array, error))
      return llvm::createStringError(error);
    set.arrays[llvm::sys::path::stem(file)] = std::move(array);
  }
  return set;
}

/// The entries of `dir` in name order, split into .npy files, .npz files
/// and subdirectories.
static llvm::Error listDirectory(llvm::StringRef dir, std::vector<std::string> &npyFiles,
                                 std::vector<std::string> &npzFiles,
                                 std::vector<std::string> &subdirectories) {
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::StringRef path = it->path();
    if (it->type() == llvm::sys::fs::file_type::directory_file)
      subdirectories.push_back(path.str());
    else if (path.ends_with(".npy"))
      npyFiles.push_back(path.str());
    else if (path.ends_with(".npz"))
      npzFiles.push_back(path.str());
  }
  if (ec)
    return llvm::createStringError("cannot list calibration directory '" + dir.str() +
                                   "': " + ec.message());
  llvm::sort(npyFiles);
  llvm::sort(npzFiles);
  llvm::sort(subdirectories);
  return llvm::Error::success();
}

static llvm::Error checkFinite(const NpyArray &array, llvm::StringRef source,
                               llvm::StringRef inputName) {
  if (array.Dtype != NIBBLE_DTYPE_F32)
    return llvm::Error::success();
  size_t count = array.Bytes.size() / sizeof(float);
  for (size_t i = 0; i < count; ++i) {
    float value;
    std::memcpy(&value, array.Bytes.data() + i * sizeof(float), sizeof(float));
    if (!std::isfinite(value))
      return llvm::createStringError(
          "calibration data " + source.str() + ": input '" + inputName.str() + "' holds " +
          (std::isnan(value) ? "NaN" : "Inf") + " at element " + std::to_string(i) +
          "; remove or fix that sample");
  }
  return llvm::Error::success();
}

/// Splits a set of arrays into samples: each array either has exactly the
/// input's shape (one sample) or a leading sample axis.
static llvm::Error appendSamples(ArraySet set, llvm::ArrayRef<GraphTensorInfo> inputs,
                                 std::vector<CalibrationSample> &samples) {
  for (const auto &entry : set.arrays)
    if (llvm::none_of(inputs, [&](const GraphTensorInfo &in) { return in.name == entry.getKey(); }))
      return llvm::createStringError(
          "calibration data " + set.source + " has an array '" + entry.getKey().str() +
          "', which is not an input of the model; its inputs are " +
          llvm::join(llvm::map_range(inputs, [](const GraphTensorInfo &in) { return "'" + in.name + "'"; }), ", "));
  int64_t count = -1;
  std::vector<bool> hasSampleAxis;
  for (const GraphTensorInfo &input : inputs) {
    auto it = set.arrays.find(input.name);
    if (it == set.arrays.end())
      return llvm::createStringError("calibration data " + set.source +
                                     " has no array for input '" + input.name +
                                     "'; save one named '" + input.name + "'");
    NpyArray &array = it->second;
    if (!array.adoptDtype(static_cast<nibble_dtype>(input.onnxType)) ||
        static_cast<int32_t>(array.Dtype) != input.onnxType) {
      NpyArray expected;
      expected.Dtype = static_cast<nibble_dtype>(input.onnxType);
      return llvm::createStringError("calibration data " + set.source + ": input '" +
                                     input.name + "' is " + array.dtypeDescription() +
                                     " but the model takes " + expected.dtypeDescription());
    }
    llvm::ArrayRef<int64_t> shape = array.Shape;
    bool batched = shape.size() == input.shape.size() + 1 &&
                   shape.drop_front() == llvm::ArrayRef<int64_t>(input.shape);
    if (!batched && shape != llvm::ArrayRef<int64_t>(input.shape))
      return llvm::createStringError(
          "calibration data " + set.source + ": input '" + input.name + "' has shape " +
          shapeText(shape) + " but the model takes " + shapeText(input.shape) +
          " (or [samples, " + shapeText(input.shape) + "]); fix the data or --input-shape");
    int64_t here = batched ? shape.front() : 1;
    if (count >= 0 && here != count)
      return llvm::createStringError("calibration data " + set.source +
                                     ": inputs hold different numbers of samples (" +
                                     std::to_string(count) + " and " + std::to_string(here) +
                                     " for '" + input.name + "')");
    count = here;
    hasSampleAxis.push_back(batched);
  }
  for (int64_t s = 0; s < count; ++s) {
    CalibrationSample sample;
    sample.source = count > 1 ? set.source + "[" + std::to_string(s) + "]" : set.source;
    for (auto [input, batched] : llvm::zip_equal(inputs, hasSampleAxis)) {
      const NpyArray &array = set.arrays[input.name];
      NpyArray one;
      one.Dtype = array.Dtype;
      one.Shape = input.shape;
      size_t bytes = batched ? array.Bytes.size() / count : array.Bytes.size();
      one.Bytes.assign(array.Bytes.begin() + s * bytes, array.Bytes.begin() + (s + 1) * bytes);
      if (llvm::Error err = checkFinite(one, sample.source, input.name))
        return err;
      sample.inputs.push_back(std::move(one));
    }
    samples.push_back(std::move(sample));
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<CalibrationSample>>
mlir::nibble::loadCalibrationData(llvm::StringRef path,
                                  llvm::ArrayRef<GraphTensorInfo> inputs) {
  std::vector<CalibrationSample> samples;
  if (!llvm::sys::fs::exists(path))
    return llvm::createStringError("calibration data '" + path.str() +
                                   "' does not exist; give a .npz file or a directory");
  if (!llvm::sys::fs::is_directory(path)) {
    llvm::Expected<ArraySet> set = readNpz(path);
    if (!set)
      return set.takeError();
    if (llvm::Error err = appendSamples(std::move(*set), inputs, samples))
      return std::move(err);
  } else {
    std::vector<std::string> npyFiles, npzFiles, subdirectories;
    if (llvm::Error err = listDirectory(path, npyFiles, npzFiles, subdirectories))
      return std::move(err);
    if (!npyFiles.empty()) {
      llvm::Expected<ArraySet> set = readNpyDirectory(path, npyFiles);
      if (!set)
        return set.takeError();
      if (llvm::Error err = appendSamples(std::move(*set), inputs, samples))
        return std::move(err);
    }
    for (const std::string &file : npzFiles) {
      llvm::Expected<ArraySet> set = readNpz(file);
      if (!set)
        return set.takeError();
      if (llvm::Error err = appendSamples(std::move(*set), inputs, samples))
        return std::move(err);
    }
    for (const std::string &dir : subdirectories) {
      std::vector<std::string> files, unusedNpz, unusedDirs;
      if (llvm::Error err = listDirectory(dir, files, unusedNpz, unusedDirs))
        return std::move(err);
      llvm::Expected<ArraySet> set = readNpyDirectory(dir, files);
      if (!set)
        return set.takeError();
      if (llvm::Error err = appendSamples(std::move(*set), inputs, samples))
        return std::move(err);
    }
  }
  if (samples.empty())
    return llvm::createStringError("calibration data '" + path.str() +
                                   "' holds no samples; see the accepted layouts in "
                                   "docs/quantization.md");
  return samples;
}

llvm::Expected<std::vector<CalibrationSample>>
mlir::nibble::makeRandomSamples(llvm::ArrayRef<GraphTensorInfo> inputs, unsigned count) {
  for (const GraphTensorInfo &input : inputs)
    if (input.onnxType != NIBBLE_DTYPE_F32 && input.onnxType != NIBBLE_DTYPE_F16 &&
        input.onnxType != NIBBLE_DTYPE_BF16)
      return llvm::createStringError(
          "input '" + input.name +
          "' is not a float (float32, float16 or bfloat16), so nibble cannot make up sample "
          "values for it; give real inputs with --calibration=DIR|FILE.npz");
  std::mt19937 generator(12345);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<CalibrationSample> samples(count);
  for (unsigned s = 0; s < count; ++s) {
    samples[s].source = "random sample " + std::to_string(s);
    for (const GraphTensorInfo &input : inputs) {
      NpyArray array;
      array.Dtype = static_cast<nibble_dtype>(input.onnxType);
      array.Shape = input.shape;
      int64_t elements = 1;
      for (int64_t d : input.shape)
        elements *= d;
      std::vector<float> values(elements);
      for (float &v : values)
        v = normal(generator);
      if (input.onnxType == NIBBLE_DTYPE_F32) {
        array.Bytes.resize(elements * sizeof(float));
        std::memcpy(array.Bytes.data(), values.data(), array.Bytes.size());
      } else {
        // 16-bit floats: the same values, rounded to the input's type.
        const llvm::fltSemantics &semantics = input.onnxType == NIBBLE_DTYPE_F16
                                                  ? llvm::APFloat::IEEEhalf()
                                                  : llvm::APFloat::BFloat();
        array.Bytes.resize(elements * 2);
        for (int64_t i = 0; i < elements; ++i) {
          uint16_t bits = mlir::nibble::narrowToHalfBits(values[i], semantics);
          std::memcpy(array.Bytes.data() + 2 * i, &bits, 2);
        }
      }
      samples[s].inputs.push_back(std::move(array));
    }
  }
  return samples;
}
