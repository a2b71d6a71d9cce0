//===- CudaRuntimeTest.cpp - Tests of nibble_runtime_cuda -----------------===//
//
// Without a GPU (the usual case on a build machine) the runtime must say why
// in one line and turn every call into a harmless no-op; with one, the tests
// below that need it launch a hand-written PTX kernel. The first CUDA error
// is kept for the life of a process, so nothing here provokes one: errors on
// a GPU are tested through nibble-fake-cuda-model in ExecutableMainTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/CudaRuntime.h"

#include "TestKernels.h"

#include "gtest/gtest.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

bool driverInstalled() {
  void *Library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (Library)
    dlclose(Library);
  return Library != nullptr;
}

#define SKIP_WITH_GPU()                                                        \
  if (!nibble_cuda_status())                                                   \
  GTEST_SKIP() << "a CUDA GPU is present: " << nibble_cuda_describe()

#define SKIP_WITHOUT_GPU()                                                     \
  if (const char *Status = nibble_cuda_status())                               \
  GTEST_SKIP() << Status

TEST(CudaRuntimeTest, StatusSaysWhyInOneLine) {
  SKIP_WITH_GPU();
  std::string Status = nibble_cuda_status();
  EXPECT_EQ(Status.rfind("nibble: ", 0), 0u) << Status;
  EXPECT_EQ(Status.find("nibble: ", 1), std::string::npos) << Status;
  EXPECT_EQ(Status.find('\n'), std::string::npos) << Status;
  if (!driverInstalled()) {
    EXPECT_EQ(Status,
              "nibble: no CUDA driver: libcuda.so.1 cannot be loaded (this "
              "model was compiled for an NVIDIA GPU; run it on a machine with "
              "the NVIDIA driver, or recompile with --target=host)");
  }
  // The status is kept, so the pointer stays valid and the text the same.
  EXPECT_EQ(std::string(nibble_cuda_status()), Status);
  EXPECT_EQ(nibble_cuda_describe(), nullptr);
}

TEST(CudaRuntimeTest, LaunchABIIsANoOpWithoutAGpu) {
  SKIP_WITH_GPU();
  std::string Status = nibble_cuda_status();
  // Registering an image cannot know about the driver (it runs before
  // main()); everything after it returns null and does nothing.
  void *Module = mgpuModuleLoad(NibbleTestPtx, sizeof(NibbleTestPtx));
  EXPECT_NE(Module, nullptr);
  void *Function = mgpuModuleGetFunction(Module, "nibble_test_add");
  EXPECT_EQ(Function, nullptr);
  void *Stream = mgpuStreamCreate();
  EXPECT_EQ(Stream, nullptr);
  void *Event = mgpuEventCreate();
  EXPECT_EQ(Event, nullptr);
  EXPECT_EQ(mgpuMemAlloc(1024, Stream, false), nullptr);
  EXPECT_EQ(mgpuMemAlloc(0, nullptr, false), nullptr);

  int Host[4] = {1, 2, 3, 4};
  void *Bogus = reinterpret_cast<void *>(uintptr_t(0x1000));
  void *Params[] = {&Bogus, &Bogus, &Bogus, &Host[0]};
  mgpuLaunchKernel(Function, 1, 1, 1, 32, 1, 1, 0, Stream, Params, nullptr, 4);
  mgpuLaunchKernel(Bogus, 1, 1, 1, 32, 1, 1, 0, Bogus, Params, nullptr, 4);
  mgpuMemcpy(Host, Bogus, sizeof(Host), Stream);
  mgpuMemset32(Bogus, 7, 4, Stream);
  mgpuMemset16(Bogus, 7, 4, Stream);
  mgpuMemFree(Bogus, Stream);
  mgpuEventRecord(Event, Stream);
  mgpuStreamWaitEvent(Stream, Event);
  mgpuEventSynchronize(Event);
  mgpuEventDestroy(Event);
  mgpuStreamSynchronize(Stream);
  mgpuStreamDestroy(Stream);
  mgpuModuleUnload(Module);
  EXPECT_EQ(Host[0], 1);
  EXPECT_EQ(Host[3], 4);
  EXPECT_EQ(nibble_cuda_status(), Status);
}

TEST(CudaRuntimeTest, NothingRunsWithoutAGpu) {
  SKIP_WITH_GPU();
  static const float Weights[4] = {1, 2, 3, 4};
  EXPECT_EQ(nibble_cuda_resident(Weights, sizeof(Weights)), nullptr);

  static int EntryCalls = 0;
  static const int64_t Shape[] = {4};
  static const nibble_tensor_desc Tensors[] = {
      {"x", NIBBLE_DTYPE_F32, 1, Shape}};
  static const nibble_model_desc Desc = {
      "t", "gpu", 1, Tensors, 1, Tensors, 0, nullptr, 0, nullptr, nullptr};
  auto Entry = [](void *const *) { ++EntryCalls; };
  float X[4] = {1, 2, 3, 4}, Y[4] = {-1, -1, -1, -1};
  void *Buffers[] = {X, Y};
  nibble_cuda_run(&Desc, Entry, Buffers);
  double Ms[3] = {-1, -1, -1};
  EXPECT_NE(nibble_cuda_time_runs(&Desc, Entry, Buffers, 3, Ms), 0);
  EXPECT_EQ(EntryCalls, 0);
  EXPECT_EQ(Y[0], -1);
  EXPECT_EQ(Ms[0], -1);
}

TEST(CudaRuntimeTest, DescribesTheGpu) {
  SKIP_WITHOUT_GPU();
  const char *Name = nibble_cuda_describe();
  ASSERT_NE(Name, nullptr);
  EXPECT_NE(std::string(Name).find(" (sm_"), std::string::npos) << Name;
}

// Copies Count floats from device memory to the host through the stream.
std::vector<float> download(const void *Device, size_t Count, void *Stream) {
  std::vector<float> Host(Count, -1);
  mgpuMemcpy(Host.data(), const_cast<void *>(Device), Count * sizeof(float),
             Stream);
  mgpuStreamSynchronize(Stream);
  return Host;
}

TEST(CudaRuntimeTest, LaunchesAKernel) {
  SKIP_WITHOUT_GPU();
  static const float A[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  static const float B[8] = {10, 20, 30, 40, 50, 60, 70, 80};
  void *Module = mgpuModuleLoad(NibbleTestPtx, sizeof(NibbleTestPtx));
  void *Function = mgpuModuleGetFunction(Module, "nibble_test_add");
  ASSERT_NE(Function, nullptr) << nibble_cuda_status();
  EXPECT_EQ(mgpuModuleGetFunction(Module, "nibble_test_add"), Function);

  void *Stream = mgpuStreamCreate();
  ASSERT_NE(Stream, nullptr);
  EXPECT_EQ(mgpuStreamCreate(), Stream); // One shared stream.
  void *DA = nibble_cuda_resident(A, sizeof(A));
  void *DB = nibble_cuda_resident(B, sizeof(B));
  ASSERT_NE(DA, nullptr);
  EXPECT_EQ(nibble_cuda_resident(A, sizeof(A)), DA); // Uploaded once.
  EXPECT_EQ(mgpuMemAlloc(0, Stream, false), nullptr);
  void *Out = mgpuMemAlloc(sizeof(A), Stream, false);
  ASSERT_NE(Out, nullptr) << nibble_cuda_status();

  uint32_t N = 8;
  void *Params[] = {&DA, &DB, &Out, &N};
  mgpuLaunchKernel(Function, 1, 1, 1, 32, 1, 1, 0, Stream, Params, nullptr, 4);
  void *Event = mgpuEventCreate();
  mgpuEventRecord(Event, Stream);
  mgpuStreamWaitEvent(Stream, Event);
  mgpuEventSynchronize(Event);
  mgpuEventDestroy(Event);
  EXPECT_EQ(download(Out, 8, Stream),
            (std::vector<float>{10, 21, 32, 43, 54, 65, 76, 87}));

  mgpuMemset32(Out, 0x3f800000u, 8, Stream); // 1.0f
  EXPECT_EQ(download(Out, 8, Stream), std::vector<float>(8, 1.0f));
  mgpuMemset16(Out, 0x4000, 16, nullptr); // 2.0 in f16; null = shared stream
  std::vector<uint16_t> Halves(16);
  mgpuMemcpy(Halves.data(), Out, 32, nullptr);
  mgpuStreamSynchronize(nullptr);
  EXPECT_EQ(Halves, std::vector<uint16_t>(16, 0x4000));

  mgpuMemFree(Out, Stream);
  mgpuStreamSynchronize(Stream);
  mgpuStreamDestroy(Stream);
  EXPECT_EQ(nibble_cuda_status(), nullptr) << nibble_cuda_status();
}

// A model that adds its two inputs on the GPU, as generated code would.
void *AddModule = nullptr;

void addOnDevice(void *const *Buffers) {
  void *A = Buffers[0], *B = Buffers[1], *Out = Buffers[2];
  uint32_t N = 4;
  void *Params[] = {&A, &B, &Out, &N};
  void *Stream = mgpuStreamCreate();
  mgpuLaunchKernel(mgpuModuleGetFunction(AddModule, "nibble_test_add"), 1, 1, 1,
                   32, 1, 1, 0, Stream, Params, nullptr, 4);
  mgpuStreamSynchronize(Stream);
}

const int64_t Shape4[] = {4};
const nibble_tensor_desc AddInputs[] = {{"a", NIBBLE_DTYPE_F32, 1, Shape4},
                                        {"b", NIBBLE_DTYPE_F32, 1, Shape4}};
const nibble_tensor_desc AddOutputs[] = {{"sum", NIBBLE_DTYPE_F32, 1, Shape4}};
const nibble_model_desc AddDesc = {
    "add", "gpu", 2, AddInputs, 1, AddOutputs, 0, nullptr, 0, nullptr, nullptr};

TEST(CudaRuntimeTest, RunsAndTimesAModel) {
  SKIP_WITHOUT_GPU();
  AddModule = mgpuModuleLoad(NibbleTestPtx, sizeof(NibbleTestPtx));
  float A[4] = {1, 2, 3, 4}, B[4] = {10, 20, 30, 40}, Sum[4] = {};
  void *Buffers[] = {A, B, Sum};
  nibble_cuda_run(&AddDesc, addOnDevice, Buffers);
  ASSERT_EQ(nibble_cuda_status(), nullptr) << nibble_cuda_status();
  EXPECT_EQ(std::vector<float>(Sum, Sum + 4),
            (std::vector<float>{11, 22, 33, 44}));

  // The device buffers are reused: new inputs give new outputs.
  A[0] = 100;
  nibble_cuda_run(&AddDesc, addOnDevice, Buffers);
  EXPECT_EQ(Sum[0], 110);

  A[0] = 1000;
  std::memset(Sum, 0, sizeof(Sum));
  double Ms[5] = {-1, -1, -1, -1, -1};
  ASSERT_EQ(nibble_cuda_time_runs(&AddDesc, addOnDevice, Buffers, 5, Ms), 0)
      << nibble_cuda_status();
  for (double M : Ms)
    EXPECT_GT(M, 0);
  EXPECT_EQ(Sum[0], 1010); // Copied back once at the end.
  EXPECT_EQ(Sum[3], 44);
  EXPECT_EQ(nibble_cuda_status(), nullptr);
}

} // namespace
