//===- Passes.td - nibble dialect passes -------------------*- tablegen -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_TD
#define NIBBLE_DIALECT_NIBBLE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NibbleQuantizeWeightsPass : Pass<"nibble-quantize-weights", "func::FuncOp"> {
  let summary = "quantize constant matmul weights by round to nearest";
  let description = [{
    Rewrites every `linalg.matmul` whose right-hand side is a constant float
    `K x N` weight into a `nibble.matmul` over a quantized constant:

    - `int8`: signed, symmetric, one scale per output column
      (`scale = max|w[:, n]| / 127`);
    - `int4`: signed, symmetric, one scale per group of `group-size` rows of
      K in each column (`scale = max|w| / 7` over the group), clamped to
      [-8, 7].

    Values are rounded half to even, as ONNX QuantizeLinear does. A column or
    group of zeros gets scale 1 (no division by zero). Matmuls whose weight is
    not a constant (attention's batched products) are left alone, as are
    weights already quantized. This pass does not measure the error it
    causes; calibration-driven selection is a separate pass.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"int8\"",
           "weight precision: int8 or int4">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "rows of K per scale for int4">
  ];
  let dependentDialects = ["::mlir::nibble::NibbleDialect",
                           "::mlir::arith::ArithDialect"];
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
