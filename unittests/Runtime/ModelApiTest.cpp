//===- ModelApiTest.cpp - Tests of the C API in nibble.h ------------------===//
//
// Defines a fake model (sum = a + b over f32[2,2]) in place of the code
// nibble-compile would generate, and checks the API's success and error paths.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/nibble.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace {

int EntryCalls = 0;
bool EntrySawUnaligned = false;

void addEntry(void *const *Buffers) {
  ++EntryCalls;
  for (int I = 0; I < 3; ++I)
    EntrySawUnaligned |= reinterpret_cast<uintptr_t>(Buffers[I]) % 64 != 0;
  const float *A = static_cast<const float *>(Buffers[0]);
  const float *B = static_cast<const float *>(Buffers[1]);
  float *Sum = static_cast<float *>(Buffers[2]);
  for (int I = 0; I < 4; ++I)
    Sum[I] = A[I] + B[I];
}

const int64_t Shape[] = {2, 2};
const nibble_tensor_desc Inputs[] = {{"a", NIBBLE_DTYPE_F32, 2, Shape},
                                     {"b", NIBBLE_DTYPE_F32, 2, Shape}};
const nibble_tensor_desc Outputs[] = {{"sum", NIBBLE_DTYPE_F32, 2, Shape}};
const nibble_layer_desc Layers[] = {{"add", "Add", "fp32", 0}};
// Mutable so that a test can break the descriptor (and restore it).
nibble_model_desc FakeDesc = {"add", "test", 2, Inputs,   1,      Outputs,
                              1,     Layers, 0, addEntry, nullptr};

// Device hooks for FakeDesc.device: the status is StatusBefore until the
// entry runs, then StatusAfter (an asynchronous kernel error).
const char *StatusBefore = nullptr;
const char *StatusAfter = nullptr;
bool EntryRan = false;

const char *fakeStatus() { return EntryRan ? StatusAfter : StatusBefore; }

void deviceEntry(void *const *Buffers) {
  EntryRan = true;
  addEntry(Buffers);
}

int noTimeRuns(void *const *, int32_t, double *) { return 1; }

const nibble_device_hooks FakeHooks = {fakeStatus, noTimeRuns, nullptr};

} // namespace

extern "C" const nibble_model_desc *nibble_model_descriptor(void) {
  return &FakeDesc;
}

namespace {

class ModelApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    Model = nibble_model_load();
    ASSERT_NE(Model, nullptr);
    EntryCalls = 0;
    EntrySawUnaligned = false;
  }
  void TearDown() override {
    nibble_model_free(Model);
    FakeDesc.entry = addEntry;
    FakeDesc.device = nullptr;
    StatusBefore = StatusAfter = nullptr;
    EntryRan = false;
  }

  void useFakeDevice(const char *Before, const char *After) {
    FakeDesc.entry = deviceEntry;
    FakeDesc.device = &FakeHooks;
    StatusBefore = Before;
    StatusAfter = After;
  }

  int run(int32_t N, const char *const *Names, const void *const *Data) {
    void *Out[] = {Sum};
    return nibble_model_run(Model, N, Names, Data, Out);
  }

  /// Checks that the last call failed without running the model and that the
  /// error is one line equal to Expected (or starting with it).
  void expectError(int Rc, const std::string &Expected) {
    EXPECT_NE(Rc, 0);
    EXPECT_EQ(EntryCalls, 0);
    std::string Error = nibble_model_last_error(Model);
    EXPECT_EQ(Error.substr(0, Expected.size()), Expected);
    EXPECT_EQ(Error.find('\n'), std::string::npos) << Error;
  }

  nibble_model *Model = nullptr;
  alignas(64) float A[4] = {1, 2, 3, 4};
  alignas(64) float B[4] = {10, 20, 30, 40};
  alignas(64) float Sum[4] = {};
  const char *Names[2] = {"a", "b"};
  const void *Data[2] = {A, B};
};

TEST_F(ModelApiTest, DescribesTheModel) {
  EXPECT_EQ(nibble_model_describe(Model), &FakeDesc);
  EXPECT_EQ(nibble_tensor_bytes(&Inputs[0]), 16u);
  nibble_tensor_desc Scalar = {"s", NIBBLE_DTYPE_I64, 0, nullptr};
  EXPECT_EQ(nibble_tensor_bytes(&Scalar), 8u);
  EXPECT_EQ(nibble_tensor_bytes(nullptr), 0u);
  EXPECT_STREQ(nibble_model_last_error(Model), "");
}

TEST_F(ModelApiTest, RunsWithInputsInAnyOrder) {
  const char *Reversed[] = {"b", "a"};
  const void *ReversedData[] = {B, A};
  ASSERT_EQ(run(2, Reversed, ReversedData), 0)
      << nibble_model_last_error(Model);
  EXPECT_EQ(EntryCalls, 1);
  EXPECT_FALSE(EntrySawUnaligned);
  EXPECT_EQ(Sum[0], 11);
  EXPECT_EQ(Sum[3], 44);
  EXPECT_STREQ(nibble_model_last_error(Model), "");
}

TEST_F(ModelApiTest, AlignsUnalignedBuffers) {
  alignas(64) unsigned char Storage[3][64 + 16 + 4];
  float *UA = reinterpret_cast<float *>(Storage[0] + 4);
  float *UB = reinterpret_cast<float *>(Storage[1] + 4);
  float *USum = reinterpret_cast<float *>(Storage[2] + 4);
  std::memcpy(UA, A, sizeof(A));
  std::memcpy(UB, B, sizeof(B));
  const void *In[] = {UA, UB};
  void *Out[] = {USum};
  for (int Round = 0; Round < 2; ++Round) {
    UA[0] = float(Round);
    ASSERT_EQ(nibble_model_run(Model, 2, Names, In, Out), 0);
    EXPECT_EQ(USum[0], 10 + Round);
    EXPECT_EQ(USum[3], 44);
  }
  EXPECT_FALSE(EntrySawUnaligned);
}

TEST_F(ModelApiTest, ClearsTheErrorAfterASuccess) {
  expectError(run(1, Names, Data), "nibble: missing input");
  ASSERT_EQ(run(2, Names, Data), 0);
  EXPECT_STREQ(nibble_model_last_error(Model), "");
}

TEST_F(ModelApiTest, RejectsANullModel) {
  EXPECT_NE(nibble_model_run(nullptr, 2, Names, Data, nullptr), 0);
  EXPECT_STREQ(nibble_model_last_error(nullptr),
               "nibble: model handle is NULL; create one with "
               "nibble_model_load()");
  EXPECT_EQ(nibble_model_describe(nullptr), nullptr);
  nibble_model_free(nullptr);
}

TEST_F(ModelApiTest, RejectsMissingInputs) {
  expectError(run(1, Names, Data),
              "nibble: missing input 'b' (expects f32[2,2])");
  expectError(run(0, nullptr, nullptr),
              "nibble: missing input 'a' (expects f32[2,2])");
}

TEST_F(ModelApiTest, RejectsDuplicateInputs) {
  const char *Twice[] = {"a", "a"};
  expectError(run(2, Twice, Data),
              "nibble: input 'a' given twice; pass each input exactly once");
}

TEST_F(ModelApiTest, RejectsUnknownInputs) {
  const char *Unknown[] = {"a", "c"};
  expectError(run(2, Unknown, Data),
              "nibble: unknown input 'c'; the model's inputs are 'a', 'b'");
  const char *Extra[] = {"a", "b", "c"};
  const void *ExtraData[] = {A, B, A};
  expectError(run(3, Extra, ExtraData), "nibble: unknown input 'c'");
}

TEST_F(ModelApiTest, RejectsNullPointers) {
  expectError(run(-1, Names, Data), "nibble: num_inputs is -1");
  expectError(run(2, nullptr, Data),
              "nibble: input_names is NULL but num_inputs is 2");
  expectError(run(2, Names, nullptr),
              "nibble: inputs is NULL but num_inputs is 2");
  const char *NullName[] = {"a", nullptr};
  expectError(run(2, NullName, Data), "nibble: input_names[1] is NULL");
  const void *NullData[] = {A, nullptr};
  expectError(run(2, Names, NullData),
              "nibble: data for input 'b' is NULL; pass a buffer of 16 bytes");
  expectError(nibble_model_run(Model, 2, Names, Data, nullptr),
              "nibble: outputs is NULL; pass 1 output buffer(s)");
  void *NullOut[] = {nullptr};
  expectError(nibble_model_run(Model, 2, Names, Data, NullOut),
              "nibble: buffer for output 'sum' is NULL; pass a buffer of 16 "
              "bytes");
}

TEST_F(ModelApiTest, RejectsADescriptorWithoutEntry) {
  FakeDesc.entry = nullptr;
  expectError(run(2, Names, Data), "nibble: the model has no descriptor or "
                                   "entry function");
}

TEST_F(ModelApiTest, RunsOnAWorkingDevice) {
  useFakeDevice(nullptr, nullptr);
  ASSERT_EQ(run(2, Names, Data), 0) << nibble_model_last_error(Model);
  EXPECT_EQ(EntryCalls, 1);
  EXPECT_EQ(Sum[3], 44);
  EXPECT_STREQ(nibble_model_last_error(Model), "");
}

TEST_F(ModelApiTest, FailsWithTheDeviceStatusBeforeTheRun) {
  const char Status[] = "nibble: no CUDA GPU found (cuDeviceGetCount returned "
                        "0); run the model on a machine with an NVIDIA GPU, "
                        "or recompile it with --target=host";
  useFakeDevice(Status, Status);
  EXPECT_NE(run(2, Names, Data), 0);
  EXPECT_EQ(EntryCalls, 0);
  // Exactly the device's line: "nibble: " is not repeated.
  EXPECT_STREQ(nibble_model_last_error(Model), Status);
}

TEST_F(ModelApiTest, FailsWithAnErrorTheRunLeftBehind) {
  useFakeDevice(nullptr, "nibble: CUDA error in cuStreamSynchronize: an "
                         "illegal memory access was encountered (code 700)");
  // An unaligned output goes through a scratch copy, which must not be
  // copied back when the device failed.
  alignas(64) unsigned char Storage[64 + 16 + 4];
  float *USum = reinterpret_cast<float *>(Storage + 4);
  for (int I = 0; I < 4; ++I)
    USum[I] = -1;
  void *Out[] = {USum};
  EXPECT_NE(nibble_model_run(Model, 2, Names, Data, Out), 0);
  EXPECT_EQ(EntryCalls, 1);
  EXPECT_STREQ(nibble_model_last_error(Model),
               "nibble: CUDA error in cuStreamSynchronize: an illegal memory "
               "access was encountered (code 700)");
  EXPECT_EQ(USum[0], -1);
}

TEST_F(ModelApiTest, PrefixesADeviceStatusThatLacksIt) {
  useFakeDevice("device lost", nullptr);
  EXPECT_NE(run(2, Names, Data), 0);
  EXPECT_STREQ(nibble_model_last_error(Model), "nibble: device lost");
}

} // namespace
