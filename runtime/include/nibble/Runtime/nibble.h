/*===- nibble.h - C API of a compiled nibble model ----------------*- C -*-===//
 *
 * A shared library built with `nibble-compile --emit=lib` exports these
 * functions. The model's own header (OUT.h) includes this API and documents the
 * model's inputs and outputs. All functions are safe to call with a NULL model
 * (they fail with an error) and never abort the process.
 *
 *===----------------------------------------------------------------------===*/
#ifndef NIBBLE_RUNTIME_NIBBLE_H
#define NIBBLE_RUNTIME_NIBBLE_H

#include "nibble/Runtime/ModelABI.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nibble_model nibble_model;

/* Creates a handle on the model linked into this library. Never NULL unless
 * out of memory. */
nibble_model *nibble_model_load(void);

/* Releases a handle from nibble_model_load. NULL is ignored. */
void nibble_model_free(nibble_model *model);

/* The static description of the model (inputs, outputs, layers). */
const nibble_model_desc *nibble_model_describe(const nibble_model *model);

/* Bytes of one dense tensor of the given description. */
size_t nibble_tensor_bytes(const nibble_tensor_desc *desc);

/* Runs the model. `input_names[i]` names the graph input whose data is
 * `inputs[i]` (any order, each input exactly once); outputs are written in
 * descriptor order to `outputs[j]`, each of nibble_tensor_bytes(output j).
 * Returns 0 on success; otherwise non-zero and nibble_model_last_error() says
 * why in one line. Dtypes and shapes are those of the descriptor. */
int nibble_model_run(nibble_model *model, int32_t num_inputs,
                     const char *const *input_names,
                     const void *const *inputs, void *const *outputs);

/* The last error on this handle, or "" when the last call succeeded. */
const char *nibble_model_last_error(const nibble_model *model);

/* Sets how many threads the CPU kernels of the models in this process use
 * (the setting belongs to the calling thread, as OpenMP's does): 1 or more,
 * or 0 for every core. Returns 0, or non-zero for a negative count. Without
 * a call, the count comes from NIBBLE_NUM_THREADS (read by
 * nibble_model_load), then OMP_NUM_THREADS, then every core. */
int nibble_set_num_threads(int32_t threads);

/* The threads the next run's CPU kernels will use (1 for a model without
 * parallel kernels). */
int32_t nibble_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* NIBBLE_RUNTIME_NIBBLE_H */
