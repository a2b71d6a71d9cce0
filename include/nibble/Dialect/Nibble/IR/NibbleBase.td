//===- NibbleBase.td - nibble dialect definition -----------*- tablegen -*-===//
//
// The nibble dialect: quantized tensors as plain integer tensors plus scale
// and zero-point operands, described by a quantization scheme attribute.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_NIBBLEBASE_TD
#define NIBBLE_DIALECT_NIBBLE_IR_NIBBLEBASE_TD

include "mlir/IR/OpBase.td"

def Nibble_Dialect : Dialect {
  let name = "nibble";
  let cppNamespace = "::mlir::nibble";
  let summary = "quantized tensors, their conversions and fused quantized matmul";
  let description = [{
    nibble represents a quantized tensor as an ordinary signless integer
    tensor (`i4`, `i8`) together with a float scale tensor and an optional
    integer zero-point tensor, all passed as SSA operands. A
    `#nibble.scheme` attribute on each op says how to read them: the number of
    bits, signedness, granularity (per tensor, per channel on an axis, per
    group of G elements along an axis), symmetric or with zero point, and the
    scale element type.

    Scales are never stored inside types: one int4 weight of a large language
    model has more than 100000 group scales, which belong in a tensor.

    Numerics follow ONNX exactly: quantization divides by the scale, rounds
    half to even, adds the zero point and saturates to the storage range;
    dequantization computes `(q - zero_point) * scale` in float.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

class Nibble_Op<string mnemonic, list<Trait> traits = []>
    : Op<Nibble_Dialect, mnemonic, traits>;

#endif // NIBBLE_DIALECT_NIBBLE_IR_NIBBLEBASE_TD
