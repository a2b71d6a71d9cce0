// RUN: nibble-opt %s -split-input-file --nibble-fuse-dequant-matmul | FileCheck %s

// linalg.matmul(A, nibble.dequantize(Q, s, z), fill(0)) -> nibble.matmul(A, Q, s, z)
// when a GEMM can stream the weight's granularity (per tensor, per channel
// along N, per group along K), the dequantized weight has no other user and
// the accumulator starts at zero.

//===----------------------------------------------------------------------===//
// Fused
//===----------------------------------------------------------------------===//

// The MatMulNBits shape: int4 groups along K. The layer tags move over.
// CHECK-LABEL: func.func @fuse_per_group_int4(
// CHECK-SAME:    %[[X:.*]]: tensor<2x8xf32>, %[[Q:.*]]: tensor<8x4xi4>, %[[S:.*]]: tensor<2x4xf32>)
// CHECK-NEXT:    %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<2x4xf32>)
// CHECK-SAME:      scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f32>
// CHECK-SAME:      {nibble.layer = "fc1", nibble.op_type = "MatMulNBits"}
// CHECK-SAME:      : tensor<2x8xf32>, tensor<8x4xi4> -> tensor<2x4xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @fuse_per_group_int4(%x: tensor<2x8xf32>, %q: tensor<8x4xi4>, %s: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<2x4xf32>)
         scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f32>
         : tensor<8x4xi4> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul {nibble.layer = "fc1", nibble.op_type = "MatMulNBits"}
         ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
         outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The zero point travels with the weight.
// CHECK-LABEL: func.func @fuse_per_channel_u8_zero_point(
// CHECK-SAME:    %[[X:.*]]: tensor<3x8xf32>, %[[Q:.*]]: tensor<8x4xi8>, %[[S:.*]]: tensor<4xf32>, %[[Z:.*]]: tensor<4xi8>)
// CHECK-NEXT:    %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<4xf32>) zero_point(%[[Z]] : tensor<4xi8>)
// CHECK-SAME:      scheme <u8, per_channel<axis = 1>, zero_point, scale = f32>
// CHECK-NEXT:    return %[[Y]]
func.func @fuse_per_channel_u8_zero_point(%x: tensor<3x8xf32>, %q: tensor<8x4xi8>, %s: tensor<4xf32>, %z: tensor<4xi8>) -> tensor<3x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>) zero_point(%z : tensor<4xi8>)
         scheme <u8, per_channel<axis = 1>, zero_point, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<3x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<3x4xf32>) -> tensor<3x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<3x4xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// CHECK-LABEL: func.func @fuse_per_tensor_f16(
// CHECK-SAME:    %[[X:.*]]: tensor<2x8xf16>, %[[Q:.*]]: tensor<8x4xi8>, %[[S:.*]]: tensor<f16>)
// CHECK-NEXT:    %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<f16>)
// CHECK-SAME:      scheme <i8, per_tensor, symmetric, scale = f16> : tensor<2x8xf16>, tensor<8x4xi8> -> tensor<2x4xf16>
// CHECK-NEXT:    return %[[Y]]
func.func @fuse_per_tensor_f16(%x: tensor<2x8xf16>, %q: tensor<8x4xi8>, %s: tensor<f16>) -> tensor<2x4xf16> {
  %w = nibble.dequantize %q scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f16>
         : tensor<8x4xi8> -> tensor<8x4xf16>
  %zero = arith.constant 0.0 : f16
  %empty = tensor.empty() : tensor<2x4xf16>
  %init = linalg.fill ins(%zero : f16) outs(%empty : tensor<2x4xf16>) -> tensor<2x4xf16>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf16>, tensor<8x4xf16>)
                     outs(%init : tensor<2x4xf16>) -> tensor<2x4xf16>
  return %y : tensor<2x4xf16>
}

// -----

// Constant quantized weights (what QDQ models import to) must not be folded
// back to float by the pass's rewrite driver: the int4 constant reaches
// nibble.matmul.
// CHECK-LABEL: func.func @fuse_constant_weight_is_not_folded(
// CHECK-SAME:    %[[X:.*]]: tensor<1x2xf32>)
// CHECK-DAG:     %[[Q:.*]] = arith.constant dense<{{\[}}[1, -2], [3, -4]]> : tensor<2x2xi4>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>
// CHECK:         %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<2xf32>)
// CHECK-NOT:     nibble.dequantize
// CHECK:         return %[[Y]]
func.func @fuse_constant_weight_is_not_folded(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %q = arith.constant dense<[[1, -2], [3, -4]]> : tensor<2x2xi4>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %w = nibble.dequantize %q scale(%s : tensor<2xf32>)
         scheme <i4, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x2xi4> -> tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>)
                     outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Declined
//===----------------------------------------------------------------------===//

// The float weight is needed anyway by its other user: fusing would
// dequantize twice.
// CHECK-LABEL: func.func @negative_dequantized_weight_has_another_user(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         %[[Y:.*]] = linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x8xf32>, tensor<8x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return %[[Y]], %[[W]]
func.func @negative_dequantized_weight_has_another_user(%x: tensor<2x8xf32>, %q: tensor<8x4xi8>, %s: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<8x4xf32>) {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y, %w : tensor<2x4xf32>, tensor<8x4xf32>
}

// -----

// One scale per row of K changes the scale inside the reduction:
// nibble.matmul does not take it.
// CHECK-LABEL: func.func @negative_per_channel_axis_0(
// CHECK:         %[[W:.*]] = nibble.dequantize %{{.*}} scale(%{{.*}} : tensor<8xf32>)
// CHECK-SAME:      per_channel<axis = 0>
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x8xf32>, tensor<8x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_per_channel_axis_0(%x: tensor<2x8xf32>, %q: tensor<8x4xi8>, %s: tensor<8xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 0>, symmetric, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Groups along N are not groups along K.
// CHECK-LABEL: func.func @negative_per_group_axis_1(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK-SAME:      per_group<axis = 1, size = 2>
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x8xf32>, tensor<8x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_per_group_axis_1(%x: tensor<2x8xf32>, %q: tensor<8x4xi4>, %s: tensor<8x2xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<8x2xf32>)
         scheme <i4, per_group<axis = 1, size = 2>, symmetric, scale = f32>
         : tensor<8x4xi4> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Accumulating into a non-zero fill adds a constant nibble.matmul does not
// have.
// CHECK-LABEL: func.func @negative_init_not_zero_fill(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         %[[INIT:.*]] = linalg.fill
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x8xf32>, tensor<8x4xf32>) outs(%[[INIT]] : tensor<2x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_init_not_zero_fill(%x: tensor<2x8xf32>, %q: tensor<8x4xi8>, %s: tensor<4xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %half = arith.constant 0.5 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%half : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// An accumulator that is not a fill at all (a residual) is kept too.
// CHECK-LABEL: func.func @negative_init_not_a_fill(
// CHECK-SAME:    %[[X:.*]]: tensor<2x8xf32>, %{{.*}}: tensor<8x4xi8>, %{{.*}}: tensor<4xf32>, %[[ACC:.*]]: tensor<2x4xf32>)
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         linalg.matmul ins(%[[X]], %[[W]] : tensor<2x8xf32>, tensor<8x4xf32>) outs(%[[ACC]] : tensor<2x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_init_not_a_fill(%x: tensor<2x8xf32>, %q: tensor<8x4xi8>, %s: tensor<4xf32>, %acc: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%acc : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The right operand is dequantized but used transposed (N x K).
// CHECK-LABEL: func.func @negative_transposed_weight_map(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %[[W]] : tensor<2x8xf32>, tensor<4x8xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_transposed_weight_map(%x: tensor<2x8xf32>, %q: tensor<4x8xi8>, %s: tensor<f32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32>
         : tensor<4x8xi8> -> tensor<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul
         indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                          affine_map<(m, n, k) -> (n, k)>,
                          affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<2x8xf32>, tensor<4x8xf32>)
         outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The dequantized operand is the left one (activations), not the weight.
// CHECK-LABEL: func.func @negative_dequantized_lhs(
// CHECK:         %[[A:.*]] = nibble.dequantize
// CHECK:         linalg.matmul ins(%[[A]], %{{.*}} : tensor<2x8xf32>, tensor<8x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_dequantized_lhs(%q: tensor<2x8xi8>, %s: tensor<f32>, %w: tensor<8x4xf32>) -> tensor<2x4xf32> {
  %a = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32>
         : tensor<2x8xi8> -> tensor<2x8xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%a, %w : tensor<2x8xf32>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// nibble.matmul has one float type for lhs and result; a mixed-precision
// product (f16 x f32 -> f32) is kept rather than turned into an op that
// does not verify.
// CHECK-LABEL: func.func @negative_mixed_lhs_and_result_types(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x8xf16>, tensor<8x4xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_mixed_lhs_and_result_types(%x: tensor<2x8xf16>, %q: tensor<8x4xi8>, %s: tensor<4xf32>) -> tensor<2x4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<8x4xi8> -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf16>, tensor<8x4xf32>)
                     outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
