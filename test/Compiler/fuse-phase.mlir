// RUN: nibble-opt %s --nibble-fuse-phase | FileCheck %s

// The fuse phase runs dequantize+matmul fusion before any canonicalization:
// folding first would turn the constant int4 weight of a QDQ model back into
// f32 and nothing would be left to fuse. After fusion the canonicalizer may
// fold what remains (a dequantize that feeds no matmul) and drop dead
// constants.

// CHECK-LABEL: func.func @qdq_weight_stays_int4(
// CHECK-SAME:    %[[X:.*]]: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<2xf32>)
// CHECK-DAG:     %[[Q:.*]] = arith.constant dense<{{\[}}[1, -2], [3, -4]]> : tensor<2x2xi4>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>
// The lone dequantize of constants is folded: [7, -8] * 0.5.
// CHECK-DAG:     %[[BIAS:.*]] = arith.constant dense<[3.500000e+00, -4.000000e+00]> : tensor<2xf32>
// CHECK:         %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<2xf32>)
// CHECK-SAME:      scheme <i4, per_channel<axis = 1>, symmetric, scale = f32>
// CHECK-NOT:     nibble.dequantize
// CHECK-NOT:     linalg.
// CHECK:         return %[[Y]], %[[BIAS]]
func.func @qdq_weight_stays_int4(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<2xf32>) {
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
  %qb = arith.constant dense<[7, -8]> : tensor<2xi8>
  %sb = arith.constant dense<0.5> : tensor<f32>
  %b = nibble.dequantize %qb scale(%sb : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32>
         : tensor<2xi8> -> tensor<2xf32>
  return %y, %b : tensor<1x2xf32>, tensor<2xf32>
}
