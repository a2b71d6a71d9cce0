/*===- FakeModel.c - Hand-written stand-in for a compiled model ---*- C -*-===//
 *
 * Mirrors what nibble-compile emits for a model (an entry function and the
 * descriptor) so that the executable's main can be tested without the
 * compiler. It is C like the generated descriptor, and also valid C++.
 *
 *   inputs:  x f32[2,3], ids i64[2]
 *   outputs: "y/sum" f32[2,3] = x[r][c] + ids[r];  count i32[] = ids[0]+ids[1]
 *
 * The entry aborts on a buffer that is not 64-byte aligned, so a runtime that
 * breaks the alignment contract fails the tests.
 *
 *===----------------------------------------------------------------------===*/
#include "nibble/Runtime/ModelABI.h"

#include <stdint.h>
#include <stdlib.h>

static void fakeEntry(void *const *Buffers) {
  const float *X = (const float *)Buffers[0];
  const int64_t *Ids = (const int64_t *)Buffers[1];
  float *Y = (float *)Buffers[2];
  int32_t *Count = (int32_t *)Buffers[3];
  int I, R, C;
  for (I = 0; I < 4; ++I)
    if ((uintptr_t)Buffers[I] % 64 != 0)
      abort();
  for (R = 0; R < 2; ++R)
    for (C = 0; C < 3; ++C)
      Y[R * 3 + C] = X[R * 3 + C] + (float)Ids[R];
  *Count = (int32_t)(Ids[0] + Ids[1]);
}

static const int64_t XShape[] = {2, 3};
static const int64_t IdsShape[] = {2};

static const nibble_tensor_desc Inputs[] = {
    {"x", NIBBLE_DTYPE_F32, 2, XShape},
    {"ids", NIBBLE_DTYPE_I64, 1, IdsShape},
};
static const nibble_tensor_desc Outputs[] = {
    {"y/sum", NIBBLE_DTYPE_F32, 2, XShape},
    {"count", NIBBLE_DTYPE_I32, 0, NULL},
};
static const nibble_layer_desc Layers[] = {
    {"fc1", "MatMul", "int8", 1024},
    {"head", "Gemm", "int4-g128", 512},
};
/* A CPU model: no device hooks. */
static const nibble_model_desc Desc = {"fake", "x86_64 generic", 2,   Inputs,
                                       2,      Outputs,          2,   Layers,
                                       1536,   fakeEntry,        NULL};

const nibble_model_desc *nibble_model_descriptor(void) { return &Desc; }
