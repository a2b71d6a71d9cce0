//===- Passes.td - conversions out of the nibble dialect ---*- tablegen -*-===//

#ifndef NIBBLE_CONVERSION_PASSES_TD
#define NIBBLE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertNibbleToLinalgPass : Pass<"convert-nibble-to-linalg", "ModuleOp"> {
  let summary = "lower nibble ops to linalg.generic with ONNX numerics";
  let description = [{
    The reference lowering of the nibble dialect, correct on every target:

    - `nibble.quantize` becomes a `linalg.generic` computing
      `clamp(roundeven(x / scale) + zp, qmin, qmax)` in float before
      converting, so out-of-range values saturate (upstream
      `--lower-quant-ops` truncates and produces poison instead).
    - `nibble.dequantize` becomes `(ext(q) - ext(zp)) * scale`, extending
      signed or unsigned as the scheme says.
    - `nibble.matmul` becomes a reduction `linalg.generic` that dequantizes
      each weight element inside the loop body: the weight is never
      materialized in float. Constant int4 weights are first packed two per
      byte along K (low nibble = even k) so the binary holds 4 bits per
      weight; the body extracts the nibble with a shift.

    Speed is not this pass's concern: target pipelines tile and vectorize
    the generics it produces.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // NIBBLE_CONVERSION_PASSES_TD
