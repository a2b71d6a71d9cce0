//===- ExecutableMainTest.cpp - Tests of a model executable's CLI ---------===//
//
// Runs nibble-fake-model (FakeModel.c + nibble_runtime_main) and the device
// models (FakeDeviceModel.c, FakeCudaModel.c) as processes and checks their
// output files, their stdout, and the error contract: one line on stderr
// starting with "nibble: ", exit code 2 for a bad command line and 1 for bad
// files or data.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/CudaRuntime.h"
#include "nibble/Runtime/Npy.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace nibble;

namespace {

struct Result {
  int Code;
  std::string Out, Err;
};

std::string readText(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  std::stringstream Text;
  Text << In.rdbuf();
  return Text.str();
}

void writeText(const std::string &Path, const std::string &Text) {
  std::ofstream(Path, std::ios::binary) << Text;
}

class ExecutableMainTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *Info = ::testing::UnitTest::GetInstance()->current_test_info();
    Dir = ::testing::TempDir() + "nibble-cli-" + Info->name() + "-" +
          std::to_string(getpid());
    std::filesystem::remove_all(Dir);
    std::filesystem::create_directories(Dir);
    writeArray("x.npy", NIBBLE_DTYPE_F32, {2, 3},
               std::vector<float>{0, 1, 2, 3, 4, 5});
    writeArray("ids.npy", NIBBLE_DTYPE_I64, {2}, std::vector<int64_t>{10, 20});
  }
  void TearDown() override { std::filesystem::remove_all(Dir); }

  template <typename T>
  void writeArray(const std::string &Name, nibble_dtype Dtype,
                  const std::vector<int64_t> &Shape,
                  const std::vector<T> &Data) {
    std::string Error;
    ASSERT_TRUE(writeNpy(Dir + "/" + Name, Dtype, Shape, Data.data(), Error))
        << Error;
  }

  /// Runs the fake model Exe with Args (a shell word list; "@" stands for
  /// Dir) and environment assignments Env ("NAME='value' ...").
  Result run(std::string Args, const char *Exe = NIBBLE_FAKE_MODEL,
             const std::string &Env = "") {
    for (size_t At; (At = Args.find('@')) != std::string::npos;)
      Args.replace(At, 1, Dir);
    std::string Cmd = Env + " '" + Exe + "' " + Args + " >'" + Dir +
                      "/stdout' 2>'" + Dir + "/stderr'";
    int Status = std::system(Cmd.c_str());
    return {WIFEXITED(Status) ? WEXITSTATUS(Status) : -1,
            readText(Dir + "/stdout"), readText(Dir + "/stderr")};
  }

  std::string Dir;
};

#define EXPECT_CONTAINS(Text, Part)                                            \
  EXPECT_NE(std::string(Text).find(Part), std::string::npos)                   \
      << "'" << (Text) << "' lacks '" << (Part) << "'"

TEST_F(ExecutableMainTest, PrintsHelp) {
  Result R = run("--help");
  EXPECT_EQ(R.Code, 0);
  EXPECT_CONTAINS(R.Out, "--input NAME=FILE.npy");
  EXPECT_EQ(R.Err, "");
}

TEST_F(ExecutableMainTest, PrintsInfo) {
  Result R = run("--info");
  EXPECT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  for (const char *Part :
       {"model:  fake", "target: x86_64 generic", "x     float32  [2,3]",
        "ids   int64    [2]", "y/sum  float32  [2,3]", "count  int32    []",
        "fc1   MatMul  int8       1024", "head  Gemm    int4-g128  512",
        "total weight bytes: 1536 (1.5 KiB)"})
    EXPECT_CONTAINS(R.Out, Part);
}

TEST_F(ExecutableMainTest, RunsAndWritesOutputs) {
  Result R =
      run("--input x=@/x.npy --input ids=@/ids.npy --output-dir @/out/a");
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  EXPECT_CONTAINS(R.Out, "y_sum.npy");
  NpyArray Y, Count;
  std::string Error;
  ASSERT_TRUE(readNpy(Dir + "/out/a/y_sum.npy", Y, Error)) << Error;
  EXPECT_EQ(Y.Dtype, NIBBLE_DTYPE_F32);
  EXPECT_EQ(Y.Shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(Y.Bytes.size(), 24u);
  const float *Values = reinterpret_cast<const float *>(Y.Bytes.data());
  EXPECT_EQ(std::vector<float>(Values, Values + 6),
            (std::vector<float>{10, 11, 12, 23, 24, 25}));
  ASSERT_TRUE(readNpy(Dir + "/out/a/count.npy", Count, Error)) << Error;
  EXPECT_EQ(Count.Dtype, NIBBLE_DTYPE_I32);
  EXPECT_TRUE(Count.Shape.empty());
  EXPECT_EQ(*reinterpret_cast<const int32_t *>(Count.Bytes.data()), 30);
}

TEST_F(ExecutableMainTest, BenchPrintsOneJsonLine) {
  Result R = run("--bench 5 --json");
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  const std::string Num = "([0-9]+(\\.[0-9]+)?)";
  std::regex Json("\\{\"n\":5,\"min_ms\":" + Num + ",\"p50_ms\":" + Num +
                  ",\"p90_ms\":" + Num + ",\"mean_ms\":" + Num +
                  ",\"timer\":\"host\",\"threads\":1\\}\n");
  std::smatch Match;
  ASSERT_TRUE(std::regex_match(R.Out, Match, Json)) << R.Out;
  double Min = std::stod(Match[1]), P50 = std::stod(Match[3]),
         P90 = std::stod(Match[5]);
  EXPECT_LE(Min, P50);
  EXPECT_LE(P50, P90);
}

TEST_F(ExecutableMainTest, BenchesOnGivenInputs) {
  Result R = run("--bench 3 --warmup 0 --input x=@/x.npy");
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_CONTAINS(R.Out, "n=3 ");
  EXPECT_CONTAINS(R.Out, "p90=");
  EXPECT_CONTAINS(R.Out, "timer=host");
  EXPECT_EQ(R.Err, "");
}

TEST_F(ExecutableMainTest, CpuModelHasNoDeviceLine) {
  Result R = run("--info");
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Out.find("device:"), std::string::npos) << R.Out;
}

// nibble-fake-device-model: device hooks that pretend to be a GPU.
const char NoDevice[] = "NIBBLE_FAKE_DEVICE_ERROR='nibble: no fake GPU here; "
                        "use the host'";

TEST_F(ExecutableMainTest, DeviceModelBenchUsesTheDeviceTimer) {
  // The fake device's runs take 4, 1, 3, 2, 5 ms.
  Result R = run("--bench 5 --json", NIBBLE_FAKE_DEVICE_MODEL);
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  EXPECT_EQ(R.Out, "{\"n\":5,\"min_ms\":1.000000,\"p50_ms\":3.000000,"
                   "\"p90_ms\":5.000000,\"mean_ms\":3.000000,"
                   "\"timer\":\"device\",\"threads\":1}\n");
  R = run("--bench 2 --warmup 0", NIBBLE_FAKE_DEVICE_MODEL);
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Out, "n=2  min=1.000 ms  p50=1.000 ms  p90=4.000 ms  "
                   "mean=2.500 ms  timer=device  threads=1\n");
}

TEST_F(ExecutableMainTest, DeviceModelInfoNamesTheDevice) {
  Result R = run("--info", NIBBLE_FAKE_DEVICE_MODEL);
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_CONTAINS(R.Out, "target: fake-gpu\ndevice: Fake GPU (sm_00)\n");
  R = run("--info", NIBBLE_FAKE_DEVICE_MODEL, NoDevice);
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  EXPECT_CONTAINS(R.Out,
                  "device: unavailable: no fake GPU here; use the host\n");
}

TEST_F(ExecutableMainTest, DeviceModelRuns) {
  writeArray("x4.npy", NIBBLE_DTYPE_F32, {4}, std::vector<float>{1, 2, 3, 4});
  Result R =
      run("--input x=@/x4.npy --output-dir @/out", NIBBLE_FAKE_DEVICE_MODEL);
  ASSERT_EQ(R.Code, 0) << R.Err;
  NpyArray Y;
  std::string Error;
  ASSERT_TRUE(readNpy(Dir + "/out/y.npy", Y, Error)) << Error;
  const float *Values = reinterpret_cast<const float *>(Y.Bytes.data());
  EXPECT_EQ(std::vector<float>(Values, Values + 4),
            (std::vector<float>{2, 4, 6, 8}));
}

TEST_F(ExecutableMainTest, DeviceModelFailsInOneLineWithoutItsDevice) {
  writeArray("x4.npy", NIBBLE_DTYPE_F32, {4}, std::vector<float>{1, 2, 3, 4});
  // Through nibble_model_run, then through time_runs (no warm-up run).
  for (const char *Args : {"--input x=@/x4.npy --output-dir @/out", "--bench 3",
                           "--bench 3 --warmup 0 --json"}) {
    Result R = run(Args, NIBBLE_FAKE_DEVICE_MODEL, NoDevice);
    EXPECT_EQ(R.Code, 1) << Args;
    EXPECT_EQ(R.Err, "nibble: no fake GPU here; use the host\n") << Args;
    EXPECT_EQ(R.Out, "") << Args;
  }
}

// nibble-fake-cuda-model: the real CUDA runtime, with or without a GPU.
TEST_F(ExecutableMainTest, CudaModelInfoWorksWithoutAGpu) {
  Result R = run("--info", NIBBLE_FAKE_CUDA_MODEL);
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  EXPECT_CONTAINS(R.Out, "model:  fake-cuda\n");
  if (const char *Status = nibble_cuda_status())
    EXPECT_CONTAINS(R.Out,
                    "device: unavailable: " + std::string(Status + 8) + "\n");
  else
    EXPECT_CONTAINS(R.Out,
                    "device: " + std::string(nibble_cuda_describe()) + "\n");
}

TEST_F(ExecutableMainTest, CudaModelRunsOrSaysWhyNot) {
  writeArray("x8.npy", NIBBLE_DTYPE_F32, {8},
             std::vector<float>{10, 20, 30, 40, 50, 60, 70, 80});
  Result R =
      run("--input x=@/x8.npy --output-dir @/out", NIBBLE_FAKE_CUDA_MODEL);
  if (const char *Status = nibble_cuda_status()) {
    EXPECT_EQ(R.Code, 1);
    EXPECT_EQ(R.Err, std::string(Status) + "\n");
    EXPECT_FALSE(std::filesystem::exists(Dir + "/out"));
    return;
  }
  ASSERT_EQ(R.Code, 0) << R.Err;
  NpyArray Y, Ones, Halves;
  std::string Error;
  ASSERT_TRUE(readNpy(Dir + "/out/y.npy", Y, Error)) << Error;
  const float *Values = reinterpret_cast<const float *>(Y.Bytes.data());
  EXPECT_EQ(std::vector<float>(Values, Values + 8),
            (std::vector<float>{10, 21, 32, 43, 54, 65, 76, 87}));
  ASSERT_TRUE(readNpy(Dir + "/out/ones.npy", Ones, Error)) << Error;
  Values = reinterpret_cast<const float *>(Ones.Bytes.data());
  EXPECT_EQ(std::vector<float>(Values, Values + 8), std::vector<float>(8, 1));
  ASSERT_TRUE(readNpy(Dir + "/out/halves.npy", Halves, Error)) << Error;
  const uint16_t *Bits =
      reinterpret_cast<const uint16_t *>(Halves.Bytes.data());
  EXPECT_EQ(std::vector<uint16_t>(Bits, Bits + 4),
            std::vector<uint16_t>(4, 0x3c00));
}

TEST_F(ExecutableMainTest, CudaModelBenchesOrSaysWhyNot) {
  Result R = run("--bench 5 --json", NIBBLE_FAKE_CUDA_MODEL);
  if (const char *Status = nibble_cuda_status()) {
    EXPECT_EQ(R.Code, 1);
    EXPECT_EQ(R.Err, std::string(Status) + "\n");
    return;
  }
  ASSERT_EQ(R.Code, 0) << R.Err;
  EXPECT_EQ(R.Err, "");
  EXPECT_CONTAINS(R.Out, "{\"n\":5,\"min_ms\":");
  EXPECT_CONTAINS(R.Out, ",\"timer\":\"device\",\"threads\":");
  EXPECT_EQ(R.Out.find("\"min_ms\":0.000000"), std::string::npos) << R.Out;
}

TEST_F(ExecutableMainTest, CudaModelReportsAKernelErrorInOneLine) {
  if (const char *Status = nibble_cuda_status())
    GTEST_SKIP() << Status;
  writeArray("x8.npy", NIBBLE_DTYPE_F32, {8}, std::vector<float>(8, 1));
  Result R =
      run("--input x=@/x8.npy --output-dir @/out", NIBBLE_FAKE_CUDA_MODEL,
          "NIBBLE_FAKE_CUDA_KERNEL=nibble_test_missing");
  EXPECT_EQ(R.Code, 1);
  EXPECT_EQ(R.Err.rfind("nibble: CUDA error in cuModuleGetFunction (kernel "
                        "'nibble_test_missing'): ",
                        0),
            0u)
      << R.Err;
  EXPECT_EQ(R.Err.find('\n'), R.Err.size() - 1) << R.Err;
  EXPECT_FALSE(std::filesystem::exists(Dir + "/out"));
}

// Each bad invocation: arguments, exit code, and a part of the message.
struct BadCase {
  const char *Name, *Args;
  int Code;
  const char *Message;
};

class ExecutableErrorTest : public ExecutableMainTest,
                            public ::testing::WithParamInterface<BadCase> {};

TEST_P(ExecutableErrorTest, FailsWithOneLine) {
  writeArray("x_i64.npy", NIBBLE_DTYPE_I64, {2, 3}, std::vector<int64_t>(6, 1));
  writeArray("x_3x2.npy", NIBBLE_DTYPE_F32, {3, 2}, std::vector<float>(6, 1));
  writeText(Dir + "/garbage.npy", "this is not numpy");
  std::string Fortran = readText(Dir + "/x.npy");
  Fortran.replace(Fortran.find("False"), 5, "True ");
  writeText(Dir + "/fortran.npy", Fortran);
  writeText(Dir + "/short.npy", readText(Dir + "/x.npy").substr(0, 140));
  writeText(Dir + "/afile", "");

  Result R = run(GetParam().Args);
  EXPECT_EQ(R.Code, GetParam().Code) << R.Err;
  EXPECT_EQ(R.Err.rfind("nibble: ", 0), 0u) << R.Err;
  ASSERT_FALSE(R.Err.empty());
  EXPECT_EQ(R.Err.find('\n'), R.Err.size() - 1) << R.Err;
  EXPECT_CONTAINS(R.Err, GetParam().Message);
}

void PrintTo(const BadCase &Case, std::ostream *OS) { *OS << Case.Name; }

#define BOTH_INPUTS "--input x=@/x.npy --input ids=@/ids.npy "
const BadCase BadCases[] = {
    {"MissingFile",
     "--input x=@/nope.npy --input ids=@/ids.npy --output-dir @/o", 1,
     "nibble: input 'x': cannot open '"},
    {"NotNpy", "--input x=@/garbage.npy --input ids=@/ids.npy --output-dir @/o",
     1, "is not a .npy file"},
    {"TruncatedNpy",
     "--input x=@/short.npy --input ids=@/ids.npy --output-dir @/o", 1,
     "is truncated"},
    {"FortranNpy",
     "--input x=@/fortran.npy --input ids=@/ids.npy --output-dir @/o", 1,
     "Fortran order"},
    {"WrongDtype",
     "--input x=@/x_i64.npy --input ids=@/ids.npy --output-dir @/o", 1,
     "nibble: input 'x' has dtype int64 but the model expects float32"},
    {"WrongShape",
     "--input x=@/x_3x2.npy --input ids=@/ids.npy --output-dir @/o", 1,
     "nibble: input 'x' has shape [3,2] but the model expects [2,3]"},
    {"OutputDirIsAFile", BOTH_INPUTS "--output-dir @/afile", 1,
     "cannot create output directory"},
    {"UnknownInput", BOTH_INPUTS "--input z=@/x.npy --output-dir @/o", 2,
     "nibble: unknown input 'z'; the model's inputs are 'x', 'ids'"},
    {"MissingInput", "--input x=@/x.npy --output-dir @/o", 2,
     "nibble: missing input 'ids' (expects i64[2])"},
    {"DuplicateInput", BOTH_INPUTS "--input x=@/x.npy --output-dir @/o", 2,
     "nibble: input 'x' given twice"},
    {"MissingEquals", "--input x --output-dir @/o", 2, "is missing '='"},
    {"EmptyFileName", "--input x= --output-dir @/o", 2, "has no file name"},
    {"UnknownFlag", "--frobnicate", 2, "'--frobnicate'"},
    {"UnknownShortFlag", "-q", 2, "'-q'"},
    {"MissingArgument", "--info --input", 2,
     "option '--input' needs an argument"},
    {"UnexpectedArgument", "--info extra", 2, "unexpected argument 'extra'"},
    {"NoAction", "", 2, "nothing to do"},
    {"InputWithoutAction", "--input x=@/x.npy", 2, "--output-dir"},
    {"TwoActions", "--info --bench 2", 2, "cannot be combined"},
    {"JsonWithoutBench", "--json --info", 2, "only apply to --bench"},
    {"BadBenchCount", "--bench many", 2, "--bench needs an integer"},
    {"ZeroBenchCount", "--bench 0", 2, "--bench needs an integer"},
    {"NegativeWarmup", "--bench 1 --warmup -1", 2, "--warmup needs an integer"},
    {"NewlineInName", "--input \"$(printf 'a\\nb')=x.npy\" --output-dir @/o", 2,
     "unknown input 'a?b'"},
};

INSTANTIATE_TEST_SUITE_P(, ExecutableErrorTest, ::testing::ValuesIn(BadCases),
                         [](const auto &Info) { return Info.param.Name; });

} // namespace
