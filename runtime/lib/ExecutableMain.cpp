//===- ExecutableMain.cpp - main() of a model compiled to an executable ---===//
//
// `nibble-compile --emit=exe` links this with the model. It runs the model on
// .npy files, benchmarks it (a device model with the device's own timer), or
// describes it. Every failure is one line on stderr starting with "nibble: "
// and exit code 2 (the command line does not fit the tool or the model's
// inputs) or 1 (a file or the data is bad).
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/Npy.h"
#include "nibble/Runtime/Tensor.h"
#include "nibble/Runtime/Threads.h"
#include "nibble/Runtime/nibble.h"

#include <getopt.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace nibble;

namespace {

enum ExitCode { ExitOk = 0, ExitDataError = 1, ExitUsageError = 2 };

/// Unwinds to main(), which prints "nibble: <Message>" and exits with Code.
struct Failure {
  int Code;
  std::string Message;
};

[[noreturn]] void failWith(int Code, std::string Message) {
  throw Failure{Code, std::move(Message)};
}

const char *str(const char *Text) { return Text ? Text : ""; }

void printUsage(const char *Prog) {
  std::printf(
      "usage: %s --input NAME=FILE.npy ... --output-dir DIR\n"
      "       %s --bench N [--warmup W] [--json] [--input NAME=FILE.npy ...]\n"
      "       %s --info\n\n"
      "  --input NAME=FILE.npy  data for graph input NAME (repeat per input)\n"
      "  --output-dir DIR       run once; write DIR/<output>.npy per output\n"
      "  --bench N              time N runs; inputs not given are random\n"
      "  --warmup W             untimed runs before --bench (default 3)\n"
      "  --json                 print the --bench result as one JSON line\n"
      "  --threads N            threads for the CPU kernels (0: every core;\n"
      "                         default NIBBLE_NUM_THREADS, then OMP_NUM_THREADS)\n"
      "  --info                 describe inputs, outputs and layers\n"
      "  -h, --help             show this help\n\n"
      "Exit status: 0 success, 1 bad file or data, 2 bad command line.\n",
      Prog, Prog, Prog);
}

struct Options {
  std::vector<std::string> Inputs; // Raw NAME=FILE arguments.
  std::string OutputDir;
  int64_t Bench = 0, Warmup = 3, Threads = -1;
  bool HaveOutputDir = false, HaveBench = false, HaveWarmup = false;
  bool Json = false, Info = false, Help = false;
};

int64_t parseCount(const char *Flag, const char *Text, int64_t Min) {
  char *End = nullptr;
  errno = 0;
  long long Value = std::strtoll(Text, &End, 10);
  if (errno || End == Text || *End || Value < Min || Value > 1000000000)
    failWith(ExitUsageError, std::string(Flag) + " needs an integer from " +
                                 std::to_string(Min) + " to 1000000000, got '" +
                                 Text + "'");
  return Value;
}

Options parseOptions(int Argc, char **Argv) {
  enum { OptInput = 256, OptOutputDir, OptBench, OptWarmup, OptJson, OptInfo, OptThreads };
  static const option LongOptions[] = {
      {"input", required_argument, nullptr, OptInput},
      {"output-dir", required_argument, nullptr, OptOutputDir},
      {"bench", required_argument, nullptr, OptBench},
      {"warmup", required_argument, nullptr, OptWarmup},
      {"json", no_argument, nullptr, OptJson},
      {"info", no_argument, nullptr, OptInfo},
      {"threads", required_argument, nullptr, OptThreads},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0}};
  Options Opts;
  opterr = 0; // We print our own one-line errors.
  int C;
  while ((C = getopt_long(Argc, Argv, ":h", LongOptions, nullptr)) != -1) {
    switch (C) {
    case OptInput:
      Opts.Inputs.push_back(optarg);
      break;
    case OptOutputDir:
      Opts.OutputDir = optarg;
      Opts.HaveOutputDir = true;
      break;
    case OptBench:
      Opts.Bench = parseCount("--bench", optarg, 1);
      Opts.HaveBench = true;
      break;
    case OptWarmup:
      Opts.Warmup = parseCount("--warmup", optarg, 0);
      Opts.HaveWarmup = true;
      break;
    case OptJson:
      Opts.Json = true;
      break;
    case OptThreads:
      Opts.Threads = parseCount("--threads", optarg, 0);
      break;
    case OptInfo:
      Opts.Info = true;
      break;
    case 'h':
      Opts.Help = true;
      break;
    case ':':
      failWith(ExitUsageError, std::string("option '") + Argv[optind - 1] +
                                   "' needs an argument; see --help");
    default: {
      std::string Opt = optopt ? std::string("-") + char(optopt)
                               : std::string(Argv[optind - 1]);
      failWith(ExitUsageError,
               "unknown or ambiguous option '" + Opt + "'; see --help");
    }
    }
  }
  if (optind < Argc)
    failWith(ExitUsageError, std::string("unexpected argument '") +
                                 Argv[optind] + "'; see --help");
  if (Opts.Help)
    return Opts;
  int Actions = Opts.Info + Opts.HaveBench + Opts.HaveOutputDir;
  if (Actions == 0 && !Opts.Inputs.empty())
    failWith(ExitUsageError, "--input needs --output-dir DIR to run the model "
                             "or --bench N to time it");
  if (Actions == 0)
    failWith(ExitUsageError, "nothing to do; pass --info, --bench N, or "
                             "--input NAME=FILE.npy --output-dir DIR (see "
                             "--help)");
  if (Actions > 1)
    failWith(ExitUsageError,
             "--info, --bench and --output-dir cannot be combined; pick one");
  if ((Opts.Json || Opts.HaveWarmup) && !Opts.HaveBench)
    failWith(ExitUsageError, "--json and --warmup only apply to --bench N");
  if (Opts.Info && !Opts.Inputs.empty())
    failWith(ExitUsageError, "--info takes no --input");
  return Opts;
}

int32_t findInput(const nibble_model_desc &Desc, const std::string &Name) {
  for (int32_t I = 0; I < Desc.num_inputs; ++I)
    if (Name == str(Desc.inputs[I].name))
      return I;
  return -1;
}

/// Maps each --input NAME=FILE onto the model's inputs: Paths[i] is the file
/// for input i, or empty when not given.
std::vector<std::string> bindInputs(const nibble_model_desc &Desc,
                                    const std::vector<std::string> &Args) {
  std::vector<std::string> Paths(Desc.num_inputs);
  for (const std::string &Arg : Args) {
    size_t Eq = Arg.find('=');
    if (Eq == std::string::npos)
      failWith(ExitUsageError, "--input '" + Arg +
                                   "' is missing '='; write --input "
                                   "NAME=FILE.npy");
    // ONNX names may contain '=': prefer a split that names an input.
    int32_t Index = -1;
    for (size_t At = Eq; At != std::string::npos && Index < 0;
         At = Arg.find('=', At + 1))
      if ((Index = findInput(Desc, Arg.substr(0, At))) >= 0)
        Eq = At;
    std::string Name = Arg.substr(0, Eq), Path = Arg.substr(Eq + 1);
    if (Index < 0)
      failWith(ExitUsageError, "unknown input '" + Name +
                                   "'; the model's inputs are " +
                                   formatNames(Desc.inputs, Desc.num_inputs));
    if (!Paths[Index].empty())
      failWith(ExitUsageError,
               "input '" + Name + "' given twice; pass each input once");
    if (Path.empty())
      failWith(ExitUsageError, "--input '" + Arg + "' has no file name");
    Paths[Index] = Path;
  }
  return Paths;
}

/// Reads an input's .npy file into an aligned buffer, checking its dtype and
/// shape against the model.
AlignedBuffer loadInput(const nibble_tensor_desc &Desc,
                        const std::string &Path) {
  NpyArray Array;
  std::string Error;
  std::string Name = str(Desc.name);
  if (!readNpy(Path, Array, Error))
    failWith(ExitDataError, "input '" + Name + "': " + Error);
  if (!Array.adoptDtype(Desc.dtype))
    failWith(ExitDataError,
             "input '" + Name + "' has dtype " + Array.dtypeDescription() +
                 " but the model expects " + dtypeName(Desc.dtype) +
                 " (file '" + Path + "')");
  std::vector<int64_t> Expected(Desc.shape, Desc.shape + Desc.rank);
  if (Array.Shape != Expected)
    failWith(ExitDataError,
             "input '" + Name + "' has shape " + formatShape(Array.Shape) +
                 " but the model expects " + formatShape(Expected) +
                 " (file '" + Path + "')");
  AlignedBuffer Buffer(Array.Bytes.size());
  std::copy(Array.Bytes.begin(), Array.Bytes.end(),
            static_cast<uint8_t *>(Buffer.data()));
  return Buffer;
}

/// SplitMix64: tiny and the same on every platform, so benchmark inputs are
/// reproducible across machines.
struct Random {
  uint64_t State = 0x6e6962626c65; // "nibble"
  uint64_t next() {
    uint64_t Z = (State += 0x9e3779b97f4a7c15ULL);
    Z = (Z ^ (Z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    Z = (Z ^ (Z >> 27)) * 0x94d049bb133111ebULL;
    return Z ^ (Z >> 31);
  }
};

/// The IEEE half-precision bits of `Value`, which must be a normal number
/// of magnitude below 2 (what fillRandom draws) or zero.
uint16_t halfBits(float Value) {
  uint32_t Bits;
  std::memcpy(&Bits, &Value, sizeof(Bits));
  uint16_t Sign = uint16_t((Bits >> 16) & 0x8000);
  int32_t Exponent = int32_t((Bits >> 23) & 0xFF) - 127 + 15;
  if (Exponent <= 0) // too small for a normal half: flush to zero
    return Sign;
  return uint16_t(Sign | (Exponent << 10) | ((Bits >> 13) & 0x3FF));
}

/// Floats uniform in [-1, 1); integers in [0, 4), small enough to be valid
/// indices for almost any Gather; bools 0 or 1.
void fillRandom(const nibble_tensor_desc &Desc, void *Data, Random &Rng) {
  size_t Size = dtypeSize(Desc.dtype);
  size_t Count = Size ? nibble_tensor_bytes(&Desc) / Size : 0;
  uint8_t *Bytes = static_cast<uint8_t *>(Data);
  for (size_t I = 0; I < Count; ++I) {
    uint64_t Bits = Rng.next();
    float F = float(Bits >> 40) * 0x1p-23f - 1.0f;
    double D = double(Bits >> 11) * 0x1p-52 - 1.0;
    uint16_t H = halfBits(F);
    uint64_t Int = Bits % (Desc.dtype == NIBBLE_DTYPE_BOOL ? 2 : 4);
    // The host is little-endian (see Npy.cpp), so the low Size bytes of Int
    // are the integer in any width.
    const void *Value = Desc.dtype == NIBBLE_DTYPE_F32   ? (const void *)&F
                        : Desc.dtype == NIBBLE_DTYPE_F64 ? (const void *)&D
                        : Desc.dtype == NIBBLE_DTYPE_F16 ? (const void *)&H
                                                         : &Int;
    std::memcpy(Bytes + I * Size, Value, Size);
  }
}

/// Keeps [A-Za-z0-9._-] so that an output name is a safe file name.
std::string fileNameFor(const std::string &Name) {
  std::string File = Name.empty() ? "_" : Name;
  for (char &C : File)
    if (!std::isalnum(static_cast<unsigned char>(C)) && !std::strchr("._-", C))
      C = '_';
  return File;
}

void writeOutputs(const nibble_model_desc &Desc,
                  const std::vector<AlignedBuffer> &Outputs,
                  const std::string &Dir) {
  namespace fs = std::filesystem;
  std::error_code Ec;
  fs::create_directories(Dir, Ec);
  if (!fs::is_directory(Dir))
    failWith(ExitDataError, "cannot create output directory '" + Dir + "': " +
                                (Ec ? Ec.message() : "not a directory"));
  std::set<std::string> Taken;
  for (int32_t I = 0; I < Desc.num_outputs; ++I) {
    const nibble_tensor_desc &Out = Desc.outputs[I];
    std::string File = fileNameFor(str(Out.name));
    // Distinct names can map to one file name ("a/b", "a:b"); keep both.
    if (!Taken.insert(File).second)
      Taken.insert(File += "_" + std::to_string(I));
    std::string Path = (fs::path(Dir) / (File + ".npy")).string();
    std::string Error;
    if (!writeNpy(Path, Out.dtype,
                  std::vector<int64_t>(Out.shape, Out.shape + Out.rank),
                  Outputs[I].data(), Error))
      failWith(ExitDataError,
               "output '" + std::string(str(Out.name)) + "': " + Error);
    std::printf("wrote %s (%s)\n", Path.c_str(), formatSignature(Out).c_str());
  }
}

/// The device's status line without the "nibble: " that main() adds back.
std::string deviceStatus(const nibble_device_hooks &Device) {
  const char *Status = Device.status ? Device.status() : nullptr;
  std::string Message =
      Status && *Status ? Status : "the device failed without saying why";
  return Message.rfind("nibble: ", 0) == 0 ? Message.substr(8) : Message;
}

/// Times Opts.Bench runs after Opts.Warmup untimed ones and prints the
/// latencies. A device model times itself with device events (Buffers are
/// the inputs then the outputs); host time would include the copies.
void bench(const std::function<void()> &Run, const nibble_model_desc &Desc,
           void *const *Buffers, const Options &Opts) {
  using Clock = std::chrono::steady_clock;
  for (int64_t I = 0; I < Opts.Warmup; ++I)
    Run();
  const nibble_device_hooks *Device =
      Desc.device && Desc.device->time_runs ? Desc.device : nullptr;
  std::vector<double> Ms;
  if (Device) {
    Ms.resize(Opts.Bench); // --bench is at most 1e9, so it fits an int32_t.
    if (Device->time_runs(Buffers, int32_t(Opts.Bench), Ms.data()) != 0)
      failWith(ExitDataError, deviceStatus(*Device));
  } else {
    Ms.reserve(Opts.Bench);
    for (int64_t I = 0; I < Opts.Bench; ++I) {
      Clock::time_point Start = Clock::now();
      Run();
      Ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - Start)
              .count());
    }
  }
  std::sort(Ms.begin(), Ms.end());
  // Nearest-rank percentiles: always one of the measured latencies.
  auto percentile = [&](double P) {
    size_t Rank = static_cast<size_t>(std::ceil(P * Ms.size()));
    return Ms[std::min(std::max<size_t>(Rank, 1), Ms.size()) - 1];
  };
  double Mean = 0;
  for (double M : Ms)
    Mean += M / Ms.size();
  const char *Format =
      Opts.Json ? "{\"n\":%zu,\"min_ms\":%.6f,\"p50_ms\":%.6f,\"p90_ms\":%.6f,"
                  "\"mean_ms\":%.6f,\"timer\":\"%s\",\"threads\":%d}\n"
                : "n=%zu  min=%.3f ms  p50=%.3f ms  p90=%.3f ms  mean=%.3f ms  "
                  "timer=%s  threads=%d\n";
  std::printf(Format, Ms.size(), Ms.front(), percentile(0.5), percentile(0.9),
              Mean, Device ? "device" : "host", static_cast<int>(nibble_get_num_threads()));
}

void printTable(const std::vector<std::vector<std::string>> &Rows) {
  std::vector<size_t> Width(Rows[0].size(), 0);
  for (const auto &Row : Rows)
    for (size_t I = 0; I < Row.size(); ++I)
      Width[I] = std::max(Width[I], Row[I].size());
  for (const auto &Row : Rows) {
    std::string Line = " ";
    for (size_t I = 0; I < Row.size(); ++I)
      Line +=
          " " + Row[I] +
          (I + 1 < Row.size() ? std::string(Width[I] - Row[I].size() + 1, ' ')
                              : "");
    std::printf("%s\n", Line.c_str());
  }
}

void printTensors(const char *Title, const nibble_tensor_desc *Descs,
                  int32_t Count) {
  std::vector<std::vector<std::string>> Rows = {{"name", "dtype", "shape"}};
  for (int32_t I = 0; I < Count; ++I)
    Rows.push_back({str(Descs[I].name), dtypeName(Descs[I].dtype),
                    formatShape(Descs[I].shape, Descs[I].rank)});
  std::printf("\n%s\n", Title);
  printTable(Rows);
}

void printInfo(const nibble_model_desc &Desc) {
  std::printf("model:  %s\ntarget: %s\n", str(Desc.model_name),
              str(Desc.target));
  // Describing the model must work where it cannot run: no driver or GPU.
  if (const nibble_device_hooks *Device = Desc.device) {
    const char *Name = Device->describe ? Device->describe() : nullptr;
    const char *Status = Device->status ? Device->status() : nullptr;
    if (Name && *Name)
      std::printf("device: %s\n", oneLine(Name).c_str());
    else if (Status && *Status)
      std::printf("device: unavailable: %s\n",
                  oneLine(deviceStatus(*Device)).c_str());
    else
      std::printf("device: unknown\n");
  }
  printTensors("inputs", Desc.inputs, Desc.num_inputs);
  printTensors("outputs", Desc.outputs, Desc.num_outputs);
  // GPU models also say which kernel runs each layer.
  bool HasKernels = false;
  for (int32_t I = 0; I < Desc.num_layers; ++I)
    HasKernels |= Desc.layers[I].kernel && *Desc.layers[I].kernel;
  std::vector<std::vector<std::string>> Rows = {
      {"name", "op", "precision", "weight bytes"}};
  if (HasKernels)
    Rows.front().push_back("kernel");
  for (int32_t I = 0; I < Desc.num_layers; ++I) {
    const nibble_layer_desc &Layer = Desc.layers[I];
    Rows.push_back({str(Layer.name), str(Layer.op_type), str(Layer.precision),
                    std::to_string(Layer.weight_bytes)});
    if (HasKernels)
      Rows.back().push_back(str(Layer.kernel));
  }
  std::printf("\nlayers\n");
  if (Desc.num_layers > 0)
    printTable(Rows);
  else
    std::printf("  (none)\n");
  double Size = double(Desc.weight_bytes);
  const char *Unit = "B";
  for (const char *Next : {"KiB", "MiB", "GiB"})
    if (Size >= 1024) {
      Size /= 1024;
      Unit = Next;
    }
  std::printf("\ntotal weight bytes: %" PRId64 " (%.1f %s)\n",
              Desc.weight_bytes, Size, Unit);
}

int runMain(int Argc, char **Argv) {
  Options Opts = parseOptions(Argc, Argv);
  if (Opts.Help) {
    printUsage(Argc > 0 ? Argv[0] : "model");
    return ExitOk;
  }
  std::unique_ptr<nibble_model, void (*)(nibble_model *)> Model(
      nibble_model_load(), nibble_model_free);
  if (!Model || !nibble_model_describe(Model.get()))
    failWith(ExitDataError, "cannot load the model (out of memory)");
  if (std::string Error = applyThreadsFromEnvironment(); !Error.empty())
    failWith(ExitUsageError, Error);
  if (Opts.Threads >= 0)
    nibble_set_num_threads(static_cast<int32_t>(std::min<int64_t>(Opts.Threads, 4096)));
  const nibble_model_desc &Desc = *nibble_model_describe(Model.get());
  if (Opts.Info) {
    printInfo(Desc);
    return ExitOk;
  }

  std::vector<std::string> Paths = bindInputs(Desc, Opts.Inputs);
  for (int32_t I = 0; I < Desc.num_inputs; ++I)
    if (Paths[I].empty() && !Opts.HaveBench) // --bench fills in random data.
      failWith(ExitUsageError,
               "missing input '" + std::string(str(Desc.inputs[I].name)) +
                   "' (expects " + formatSignature(Desc.inputs[I]) +
                   "); pass --input " + str(Desc.inputs[I].name) + "=FILE.npy");
  std::vector<AlignedBuffer> Inputs, Outputs;
  Random Rng;
  for (int32_t I = 0; I < Desc.num_inputs; ++I) {
    const nibble_tensor_desc &In = Desc.inputs[I];
    if (!Paths[I].empty()) {
      Inputs.push_back(loadInput(In, Paths[I]));
    } else {
      Inputs.emplace_back(nibble_tensor_bytes(&In));
      fillRandom(In, Inputs.back().data(), Rng);
    }
  }
  for (int32_t I = 0; I < Desc.num_outputs; ++I)
    Outputs.emplace_back(nibble_tensor_bytes(&Desc.outputs[I]));

  // Build the call's arguments once so that --bench times only the call.
  std::vector<const char *> Names;
  std::vector<const void *> In;
  std::vector<void *> Out;
  for (int32_t I = 0; I < Desc.num_inputs; ++I) {
    Names.push_back(Desc.inputs[I].name);
    In.push_back(Inputs[I].data());
  }
  for (const AlignedBuffer &Buffer : Outputs)
    Out.push_back(Buffer.data());
  std::vector<void *> All; // Inputs then outputs, for the device's timer.
  for (const AlignedBuffer &Buffer : Inputs)
    All.push_back(Buffer.data());
  All.insert(All.end(), Out.begin(), Out.end());
  auto Run = [&] {
    if (nibble_model_run(Model.get(), Desc.num_inputs, Names.data(), In.data(),
                         Out.data()) == 0)
      return;
    std::string Error = nibble_model_last_error(Model.get());
    failWith(ExitDataError,
             Error.rfind("nibble: ", 0) == 0 ? Error.substr(8) : Error);
  };
  if (Opts.HaveBench) {
    bench(Run, Desc, All.data(), Opts);
  } else {
    Run();
    writeOutputs(Desc, Outputs, Opts.OutputDir);
  }
  return ExitOk;
}

} // namespace

int main(int Argc, char **Argv) {
  try {
    return runMain(Argc, Argv);
  } catch (const Failure &F) {
    std::fflush(stdout);
    std::fprintf(stderr, "nibble: %s\n", oneLine(F.Message).c_str());
    return F.Code;
  } catch (const std::bad_alloc &) {
    std::fputs("nibble: out of memory\n", stderr);
  } catch (const std::exception &E) {
    std::fprintf(stderr, "nibble: internal error: %s\n",
                 oneLine(E.what()).c_str());
  }
  return ExitDataError;
}
