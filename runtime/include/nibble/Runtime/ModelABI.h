/*===- ModelABI.h - Contract between generated code and the runtime -*- C -*-===//
 *
 * nibble-compile emits, next to the model's object code, a small C translation
 * unit that defines `nibble_model_descriptor()`. The runtime (the executable's
 * main, the C API of a shared library, the Python module) only ever talks to a
 * model through this descriptor, so the runtime knows nothing model-specific.
 *
 *===----------------------------------------------------------------------===*/
#ifndef NIBBLE_RUNTIME_MODELABI_H
#define NIBBLE_RUNTIME_MODELABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of graph inputs and outputs. Values match ONNX's
 * TensorProto.DataType so tools can map them without a table. */
typedef enum nibble_dtype {
  NIBBLE_DTYPE_F32 = 1,
  NIBBLE_DTYPE_U8 = 2,
  NIBBLE_DTYPE_I8 = 3,
  NIBBLE_DTYPE_U16 = 4,
  NIBBLE_DTYPE_I16 = 5,
  NIBBLE_DTYPE_I32 = 6,
  NIBBLE_DTYPE_I64 = 7,
  NIBBLE_DTYPE_BOOL = 9,
  NIBBLE_DTYPE_F16 = 10,
  NIBBLE_DTYPE_F64 = 11,
  NIBBLE_DTYPE_U32 = 12,
  NIBBLE_DTYPE_U64 = 13,
  /* Types numpy knows only through the ml_dtypes package. Each element takes
   * a whole byte (two for bfloat16) as in ml_dtypes arrays: the sub-byte
   * types (int4, uint4, int2, uint2, float4e2m1) sit in the low bits, the
   * high bits zero. */
  NIBBLE_DTYPE_BF16 = 16,
  NIBBLE_DTYPE_F8E4M3FN = 17,
  NIBBLE_DTYPE_F8E4M3FNUZ = 18,
  NIBBLE_DTYPE_F8E5M2 = 19,
  NIBBLE_DTYPE_F8E5M2FNUZ = 20,
  NIBBLE_DTYPE_U4 = 21,
  NIBBLE_DTYPE_I4 = 22,
  NIBBLE_DTYPE_F4E2M1 = 23,
  NIBBLE_DTYPE_F8E8M0 = 24,
  NIBBLE_DTYPE_U2 = 25,
  NIBBLE_DTYPE_I2 = 26,
} nibble_dtype;

/* One graph input or output: its ONNX name, element type and static shape. */
typedef struct nibble_tensor_desc {
  const char *name;
  nibble_dtype dtype;
  int32_t rank;
  const int64_t *shape; /* `rank` dimensions, all static */
} nibble_tensor_desc;

/* One quantizable layer (MatMul/Gemm) and the precision the compiler gave it. */
typedef struct nibble_layer_desc {
  const char *name;      /* ONNX node name */
  const char *op_type;   /* ONNX op type, e.g. "MatMul" */
  const char *precision; /* "fp32", "int8", "int4-g128", ... */
  int64_t weight_bytes;  /* bytes of weights (and scales) in the binary */
  const char *kernel;    /* GPU: "gemv", "tensor cores" or "generic loops"; CPU: "" */
} nibble_layer_desc;

/* Runs the model once. `buffers` holds the inputs in descriptor order, then
 * the outputs; each points to a dense row-major buffer of the described shape. */
typedef void (*nibble_entry_fn)(void *const *buffers);

/* Present when the model's code runs on an accelerator (e.g. CUDA); NULL for
 * CPU models. The entry still takes host buffers: it copies them to the device
 * and back itself. */
typedef struct nibble_device_hooks {
  /* NULL when the device is usable, else one line (no trailing newline) saying
   * why not, e.g. that no CUDA driver or GPU was found. Also reports the first
   * error of an earlier run. */
  const char *(*status)(void);
  /* Runs the model `runs` times on device-resident copies of `buffers` (inputs
   * then outputs in descriptor order, host memory), timing each run with
   * device events after one untimed warm-up run; writes milliseconds per run
   * to ms[0..runs). Copies the outputs back once at the end. Returns 0, or
   * non-zero with status() saying why. */
  int (*time_runs)(void *const *buffers, int32_t runs, double *ms);
  /* Human-readable device name for --info, e.g.
   * "NVIDIA H100 80GB HBM3 (sm_90)"; NULL if unknown. */
  const char *(*describe)(void);
} nibble_device_hooks;

typedef struct nibble_model_desc {
  const char *model_name;
  const char *target; /* e.g. "x86_64 skylake-avx512" */
  int32_t num_inputs;
  const nibble_tensor_desc *inputs;
  int32_t num_outputs;
  const nibble_tensor_desc *outputs;
  int32_t num_layers;
  const nibble_layer_desc *layers;
  int64_t weight_bytes; /* all constant data in the binary */
  nibble_entry_fn entry;
  const nibble_device_hooks *device; /* NULL on CPU */
} nibble_model_desc;

/* Defined by the code nibble-compile generates for each model. */
const nibble_model_desc *nibble_model_descriptor(void);

#ifdef __cplusplus
}
#endif

#endif /* NIBBLE_RUNTIME_MODELABI_H */
