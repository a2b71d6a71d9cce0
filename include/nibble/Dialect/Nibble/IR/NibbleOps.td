//===- NibbleOps.td - nibble operations --------------------*- tablegen -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_TD
#define NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_TD

include "nibble/Dialect/Nibble/IR/NibbleBase.td"
include "nibble/Dialect/Nibble/IR/NibbleAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"

def Nibble_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Nibble_IntTensor : RankedTensorOf<[I<2>, I<4>, I8, I16]>;

def Nibble_QuantizeOp : Nibble_Op<"quantize", [Pure]> {
  let summary = "quantize a float tensor to a scheme's integers";
  let description = [{
    Computes, element by element, `saturate(round(x / scale) + zero_point)`,
    rounding half to even and saturating to the storage range of `scheme`
    (ONNX QuantizeLinear). Without a zero point it is 0. The scale and zero
    point are indexed as the scheme's granularity says.

    ```mlir
    %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
           scheme <u8, per_tensor, zero_point, scale = f32>
           : tensor<4x8xf32> -> tensor<4x8xi8>
    ```
  }];
  let arguments = (ins Nibble_FloatTensor:$input, Nibble_FloatTensor:$scale,
                       Optional<Nibble_IntTensor>:$zero_point,
                       Nibble_SchemeAttr:$scheme);
  let results = (outs Nibble_IntTensor:$result);
  let assemblyFormat = [{
    $input `scale` `(` $scale `:` type($scale) `)`
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    `scheme` $scheme attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Nibble_DequantizeOp : Nibble_Op<"dequantize", [Pure]> {
  let summary = "dequantize a scheme's integers to float";
  let description = [{
    Computes, element by element, `(q - zero_point) * scale` in the result's
    float type (ONNX DequantizeLinear). The integers are read as signed or
    unsigned as `scheme` says.

    ```mlir
    %w = nibble.dequantize %q scale(%s : tensor<2x64xf32>)
           scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32>
           : tensor<256x64xi4> -> tensor<256x64xf32>
    ```
  }];
  let arguments = (ins Nibble_IntTensor:$input, Nibble_FloatTensor:$scale,
                       Optional<Nibble_IntTensor>:$zero_point,
                       Nibble_SchemeAttr:$scheme);
  let results = (outs Nibble_FloatTensor:$result);
  let assemblyFormat = [{
    $input `scale` `(` $scale `:` type($scale) `)`
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    `scheme` $scheme attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Nibble_MatmulOp : Nibble_Op<"matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "float activations times quantized weights, fused";
  let description = [{
    `result[..., m, n] = sum_k lhs[..., m, k] * dequantize(weight)[k, n]
    (+ bias[n])`, where the weight is a `K x N` integer tensor read through
    `scheme` with its scale and zero point. The weight is never materialized
    in float: targets dequantize in registers. `lhs` has one or more leading
    batch dimensions before `M x K`; the weight is shared by all of them.

    Granularity must be per tensor, per channel along N (axis 1), or per
    group along K (axis 0), the layouts GEMM kernels can stream.

    ```mlir
    %y = nibble.matmul %x, %w scale(%s : tensor<2x64xf32>)
           bias(%b : tensor<64xf32>)
           scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32>
           : tensor<4x256xf32>, tensor<256x64xi4> -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Nibble_FloatTensor:$lhs, Nibble_IntTensor:$weight,
                       Nibble_FloatTensor:$scale,
                       Optional<Nibble_IntTensor>:$zero_point,
                       Optional<Nibble_FloatTensor>:$bias,
                       Nibble_SchemeAttr:$scheme);
  let results = (outs Nibble_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $weight `scale` `(` $scale `:` type($scale) `)`
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    `scheme` $scheme attr-dict `:` type($lhs) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Nibble_IntegerMatmulOp : Nibble_Op<"integer_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "int8 activations times int8 or int4 weights, float result (W8A8, W4A8)";
  let description = [{
    `result[m, n] = (float(sum_k lhs[m, k] * weight[k, n]) * lhs_scale[m])
    * weight_scale[n] (+ bias[n])`: both operands are symmetric integers (no
    zero points), the products accumulate exactly in int32, and one float
    epilogue applies the activation scale (one per row, or one for the
    tensor when `lhs_scale` has rank 0) and the weight scale (one per output
    column, or one for the tensor). The activations come from a
    `nibble.quantize` with a calibrated scale (static) or one computed per
    row at run time (dynamic).

    With `group_size = G` (dividing K), the scales may instead be per group
    of G rows of K: `lhs_scale` of shape [M, K / G] (one per row and group,
    as dynamic W4A8 quantizes activations) and `weight_scale` of shape
    [K / G, N] (as int4 weights are stored). Each group's products
    then accumulate exactly in int32, and the groups add up in order with
    fused multiply-adds: `y = fma(float(acc_g), lhs_scale[m, g] *
    weight_scale[g, n], y)` from `y = 0`, then `+ bias[n]`.

    An int4 weight may have a `zero_point` (int8, the shape of `scale`):
    the weight is then `weight[k, n] - zero_point[g, n]` (or `[n]`, or one
    for the tensor), as asymmetric 4-bit formats (MatMulNBits with zero
    points) store it; the sums stay exact in int32.

    ```mlir
    %y = nibble.integer_matmul %qx lhs_scale(%sx : tensor<4xf32>), %qw
           scale(%sw : tensor<64xf32>)
           : tensor<4x256xi8>, tensor<256x64xi8> -> tensor<4x64xf32>
    %z = nibble.integer_matmul %qx lhs_scale(%gx : tensor<4x2xf32>), %q4
           scale(%gw : tensor<2x64xf32>) {group_size = 128 : i64}
           : tensor<4x256xi8>, tensor<256x64xi4> -> tensor<4x64xf32>
    %a = nibble.integer_matmul %qx lhs_scale(%gx : tensor<4x2xf32>), %q4
           scale(%gw : tensor<2x64xf32>) zero_point(%zw : tensor<2x64xi8>)
           {group_size = 128 : i64}
           : tensor<4x256xi8>, tensor<256x64xi4> -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I8]>:$lhs, RankedTensorOf<[F32]>:$lhs_scale,
                       RankedTensorOf<[I8, I<4>]>:$weight, RankedTensorOf<[F32]>:$scale,
                       Optional<RankedTensorOf<[I8]>>:$zero_point,
                       Optional<RankedTensorOf<[F32]>>:$bias,
                       OptionalAttr<I64Attr>:$group_size);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $lhs `lhs_scale` `(` $lhs_scale `:` type($lhs_scale) `)` `,` $weight
    `scale` `(` $scale `:` type($scale) `)`
    (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    attr-dict `:` type($lhs) `,` type($weight) `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// Rows of K per scale group: group_size, or K without one.
    int64_t getGroupRows();
    /// Whether either scale is per group (rank 2).
    bool hasGroupScales();
  }];
  let hasVerifier = 1;
}

#endif // NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_TD
