/*===- FakeDeviceModel.c - A stand-in for a model that runs on a device ---===//
 *
 * A model with device hooks that pretend to be a GPU, so that the executable's
 * handling of device models is tested on any machine:
 *
 *   input x f32[4];  output y f32[4] = 2 * x
 *
 * The hooks report NIBBLE_FAKE_DEVICE_ERROR, when set, as the device's status
 * (no device name, and timing fails). Otherwise the device is "Fake GPU
 * (sm_00)" and time_runs reports the run times 4, 1, 3, 2, 5, 4, 1, ... ms,
 * so that the printed statistics are known exactly.
 *
 *===----------------------------------------------------------------------===*/
#include "nibble/Runtime/ModelABI.h"

#include <stdint.h>
#include <stdlib.h>

static void doubleEntry(void *const *Buffers) {
  const float *X = (const float *)Buffers[0];
  float *Y = (float *)Buffers[1];
  int I;
  for (I = 0; I < 4; ++I)
    Y[I] = 2 * X[I];
}

static const char *fakeStatus(void) {
  return getenv("NIBBLE_FAKE_DEVICE_ERROR");
}

static const char *fakeDescribe(void) {
  return fakeStatus() ? NULL : "Fake GPU (sm_00)";
}

static int fakeTimeRuns(void *const *Buffers, int32_t Runs, double *Ms) {
  static const double Known[] = {4, 1, 3, 2, 5};
  int32_t I;
  if (fakeStatus())
    return 1;
  for (I = 0; I < Runs; ++I)
    Ms[I] = Known[I % 5];
  doubleEntry(Buffers);
  return 0;
}

static const int64_t Shape[] = {4};
static const nibble_tensor_desc Inputs[] = {{"x", NIBBLE_DTYPE_F32, 1, Shape}};
static const nibble_tensor_desc Outputs[] = {{"y", NIBBLE_DTYPE_F32, 1, Shape}};
static const nibble_device_hooks Hooks = {fakeStatus, fakeTimeRuns,
                                          fakeDescribe};
static const nibble_model_desc Desc = {
    "fake-device", "fake-gpu", 1,           Inputs, 1, Outputs, 0,
    NULL,          0,          doubleEntry, &Hooks};

const nibble_model_desc *nibble_model_descriptor(void) { return &Desc; }
