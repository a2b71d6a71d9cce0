//===- Passes.td - nibble dialect passes -------------------*- tablegen -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_TD
#define NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NibbleQuantizeWeightsPass : Pass<"nibble-quantize-weights", "func::FuncOp"> {
  let summary = "quantize constant matmul weights (RTN, or GPTQ with calibration)";
  let description = [{
    Rewrites every `linalg.matmul` whose right-hand side is a constant float
    `K x N` weight into a `nibble.matmul` over a quantized constant. The
    precision is the op's `nibble.precision` string attribute when it has one
    (set by `nibble-select-precision` or a precision config), else `mode`:

    - `int8`: signed, symmetric, one scale per output column
      (`scale = max|w[:, n]| / 127`);
    - `int4`: signed, symmetric, one scale per group of `group-size` rows of
      K in each column (`scale = max|w| / 7` over the group), clamped to
      [-8, 7];
    - with `asymmetric`, `uint8`/`uint4` with a zero point per scale:
      `scale = (max - min) / qmax` over a range that holds 0;
    - per-op names: `int8`, `uint8`, `int4-g128`, `uint4-g32`, ... (any
      group size), `fp16` (the weight stored as half floats and widened in
      the kernel), `fp32` (left alone).

    Values are rounded half to even, as ONNX QuantizeLinear does. A column or
    group of zeros gets scale 1 (no division by zero); a weight holding NaN or
    Inf is an error naming the layer.

    A matmul carrying `nibble.hessian` (a `K x K` f32 tensor, E[x^T x] over
    calibration activations, attached by calibration) is quantized with GPTQ:
    rows of K are rounded in order and each row's error is spread over the
    rows not yet rounded, minimising the layer's output error instead of the
    weight error. The attribute is dropped afterwards.

    Matmuls whose weight is not a constant (attention's batched products) are
    left alone, as are weights already quantized.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"int8\"",
           "default weight precision: int8, int4 or none (only per-op precisions)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "rows of K per scale for int4">,
    Option<"asymmetric", "asymmetric", "bool", /*default=*/"false",
           "unsigned storage with zero points instead of symmetric signed">
  ];
  let dependentDialects = ["::mlir::nibble::NibbleDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def NibbleSelectPrecisionPass : Pass<"nibble-select-precision", "func::FuncOp"> {
  let summary = "choose each layer's weight precision under a size or SQNR budget";
  let description = [{
    Reads each quantizable matmul's `nibble.sensitivity` dictionary
    (`{"int4-g128" = 31.2 : f64, ...}`: the model's end-to-end SQNR in dB with
    only this layer at that precision, as calibration measured it) and sets
    `nibble.precision` to a choice for every layer. fp32 is always a
    candidate, with no error. Layers that already carry `nibble.precision`
    (user overrides) keep it and only count towards the budget.

    The model's output noise is predicted as the sum of the layers' noise
    powers (`10^(-SQNR/10)`), and the choice is an exact multiple-choice
    knapsack (dynamic programming over bytes):

    - `budget-size=F`: the least predicted noise with all the function's
      constant bytes at most F times their float size;
    - `budget-sqnr=DB`: the fewest bytes with a predicted SQNR of at least DB.

    An impossible budget is an error that says the best reachable figure.
    The function gets `nibble.selection = {bytes, float_bytes,
    predicted_sqnr_db}`.
  }];
  let options = [
    Option<"budgetSize", "budget-size", "double", /*default=*/"0.0",
           "fraction of the float weight bytes the model may take">,
    Option<"budgetSqnr", "budget-sqnr", "double", /*default=*/"0.0",
           "least end-to-end SQNR in dB">
  ];
}

def NibbleInstrumentCalibrationPass : Pass<"nibble-instrument-calibration", "func::FuncOp"> {
  let summary = "lift weights to arguments and return matmul inputs, for calibration";
  let description = [{
    Makes the function a probe of itself, which calibration compiles once
    and runs many times. For each measurable layer, in IR walk order (a
    quantizable matmul over f32 activations, or a Gather from a constant
    table), the weight constant is replaced by a new trailing function
    argument, so trying a precision is a run with other weight data; each
    matmul's activation input is also returned as a new trailing result, so
    its statistics can be collected. The new arguments carry
    `nibble.weight_of = "<layer>"` and the new results `nibble.input_of =
    "<layer>"`.
  }];
}

def NibbleFuseDequantMatmulPass : Pass<"nibble-fuse-dequant-matmul", "func::FuncOp"> {
  let summary = "fuse dequantize + matmul into nibble.matmul";
  let description = [{
    Rewrites `linalg.matmul(A, nibble.dequantize(W))` into
    `nibble.matmul(A, W)`, so the weight stays in its narrow integer type all
    the way to code generation (this is what QDQ models and `MatMulNBits`
    import to).

    It declines when the weight's granularity is not one a GEMM kernel can
    stream (per channel along N, per group along K, or per tensor), when the
    dequantized weight has other users, or when the matmul does not start
    from a zero-filled accumulator.
  }];
  let dependentDialects = ["::mlir::nibble::NibbleDialect"];
}

#endif // NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_TD
