// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int8" | FileCheck %s --check-prefixes=CHECK,INT8
// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int4 group-size=2" | FileCheck %s --check-prefixes=CHECK,INT4-G2
// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int4" | FileCheck %s --check-prefixes=CHECK,INT4-G128
// RUN: not nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int3" 2>&1 | FileCheck %s --check-prefix=BAD-MODE
// RUN: not nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int4 group-size=1" 2>&1 | FileCheck %s --check-prefix=BAD-GROUP

// Round-to-nearest quantization of constant matmul weights. The weights are
// chosen so the scales are exact in f32: int8 scale = max|column| / 127,
// int4 scale = max|group| / 7. The float weight constant is left dead for
// later cleanup; only the new constants and the nibble.matmul are checked.

// BAD-MODE: error: nibble-quantize-weights: mode must be int8, int4 or none, got 'int3'
// BAD-GROUP: error: nibble-quantize-weights: group-size must be at least 2, got 1

//===----------------------------------------------------------------------===//
// Quantized
//===----------------------------------------------------------------------===//

// int8: one scale per column. Column 0 has max 127 (scale 1), column 1 max
// 63.5 (scale 0.5), column 2 is all zeros (scale 1, no division by zero).
// Ties round to even: -2.5 -> -2, 0.25 / 0.5 = 0.5 -> 0, 1.25 / 0.5 = 2.5 -> 2.
// int4 takes groups of 2 rows (scale 2 x 3), or with the default group size
// of 128 > K one group per column, which is per channel.

// CHECK-LABEL: func.func @quantize_int8_per_column(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>)
// INT8-DAG:      %[[Q:.*]] = arith.constant dense<{{\[}}[127, 0, 0], [-2, -127, 0], [4, 2, 0], [-127, 2, 0]]> : tensor<4x3xi8>
// INT8-DAG:      %[[S:.*]] = arith.constant dense<[1.000000e+00, 5.000000e-01, 1.000000e+00]> : tensor<3xf32>
// INT8:          %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<3xf32>)
// INT8-SAME:       scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
// INT8-SAME:       {nibble.layer = "fc1", nibble.op_type = "MatMul"}
// INT8-SAME:       : tensor<2x4xf32>, tensor<4x3xi8> -> tensor<2x3xf32>
// INT4-G2:       nibble.matmul %[[X]], %{{.*}} scale(%{{.*}} : tensor<2x3xf32>)
// INT4-G2-SAME:    scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32>
// INT4-G128:     nibble.matmul %[[X]], %{{.*}} scale(%{{.*}} : tensor<3xf32>)
// INT4-G128-SAME:  scheme <i4, per_channel<axis = 1>, symmetric, scale = f32>
// CHECK-NOT:     linalg.matmul
// CHECK:         return
func.func @quantize_int8_per_column(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[127.0, 0.25, 0.0], [-2.5, -63.5, 0.0], [3.5, 0.75, 0.0], [-127.0, 1.25, 0.0]]> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul {nibble.layer = "fc1", nibble.op_type = "MatMul"}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>)
         outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// int4 in groups of 2 rows of K. Column 0: group maxima 7 (scale 1) and 14
// (scale 2); column 1: an all-zero group (scale 1) and maximum 3.5 (scale
// 0.5). -3.5 -> -4 and 5 / 2 = 2.5 -> 2 are ties to even.
// CHECK-LABEL: func.func @quantize_int4_per_group(
// CHECK-SAME:    %[[X:.*]]: tensor<3x4xf32>)
// INT4-G2-DAG:   %[[Q:.*]] = arith.constant dense<{{\[}}[7, 0], [-4, 0], [7, -7], [2, 3]]> : tensor<4x2xi4>
// INT4-G2-DAG:   %[[S:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 1.000000e+00], [2.000000e+00, 5.000000e-01]]> : tensor<2x2xf32>
// INT4-G2:       %[[Y:.*]] = nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<2x2xf32>)
// INT4-G2-SAME:    scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32>
// INT4-G2-SAME:    : tensor<3x4xf32>, tensor<4x2xi4> -> tensor<3x2xf32>
// INT4-G2-NEXT:  return %[[Y]]
// With the default group size of 128 > K, int4 is per column: maxima 14
// (scale 2) and 3.5 (scale 0.5).
// INT8:          nibble.matmul %[[X]], %{{.*}} scale(%{{.*}} : tensor<2xf32>)
// INT8-SAME:       scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
// INT4-G128-DAG: %[[Q:.*]] = arith.constant dense<{{\[}}[4, 0], [-2, 0], [7, -7], [2, 3]]> : tensor<4x2xi4>
// INT4-G128-DAG: %[[S:.*]] = arith.constant dense<[2.000000e+00, 5.000000e-01]> : tensor<2xf32>
// INT4-G128:     nibble.matmul %[[X]], %[[Q]] scale(%[[S]] : tensor<2xf32>)
// INT4-G128-SAME:  scheme <i4, per_channel<axis = 1>, symmetric, scale = f32>
func.func @quantize_int4_per_group(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[7.0, 0.0], [-3.5, 0.0], [14.0, -3.5], [5.0, 1.5]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x4xf32>, tensor<4x2xf32>)
                     outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// K = 3 in groups of 2: the last group has one row; ceil(3 / 2) = 2 scale
// rows.
// CHECK-LABEL: func.func @quantize_int4_partial_last_group(
// INT4-G2-DAG:   %[[Q:.*]] = arith.constant dense<{{\[}}[7], [-7], [7]]> : tensor<3x1xi4>
// INT4-G2-DAG:   %[[S:.*]] = arith.constant dense<{{\[}}[1.000000e+00], [3.000000e+00]]> : tensor<2x1xf32>
// INT4-G2:       nibble.matmul %{{.*}}, %[[Q]] scale(%[[S]] : tensor<2x1xf32>)
// INT4-G2-SAME:    scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32>
// INT8:          nibble.matmul
// INT4-G128:     nibble.matmul
func.func @quantize_int4_partial_last_group(%x: tensor<1x3xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[7.0], [-7.0], [21.0]]> : tensor<3x1xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1xf32>) -> tensor<1x1xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x3xf32>, tensor<3x1xf32>)
                     outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// Weights of more than 16 elements go to dense_resource blobs named after
// the layer.
// CHECK-LABEL: func.func @quantize_names_blobs_after_layer(
// INT8-DAG:      %[[Q:.*]] = arith.constant dense_resource<proj.q> : tensor<8x4xi8>
// INT8-DAG:      %[[S:.*]] = arith.constant dense<1.000000e+00> : tensor<4xf32>
// INT8:          nibble.matmul %{{.*}}, %[[Q]] scale(%[[S]] : tensor<4xf32>)
// INT8-SAME:       {nibble.layer = "proj", nibble.op_type = "Gemm"}
// Sub-byte constants stay inline: 127 / (127 / 7) = 7.
// INT4-G2:       %[[Q:.*]] = arith.constant dense<7> : tensor<8x4xi4>
// INT4-G2:       nibble.matmul %{{.*}}, %[[Q]] scale(%{{.*}} : tensor<4x4xf32>)
// INT4-G128:     nibble.matmul
// All 32 quantized weights are 127 (0x7F), after the alignment header.
// INT8:          proj.q: "0x010000007F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F"
func.func @quantize_names_blobs_after_layer(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<127.0> : tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = linalg.matmul {nibble.layer = "proj", nibble.op_type = "Gemm"}
         ins(%x, %w : tensor<2x8xf32>, tensor<8x4xf32>)
         outs(%init : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Left alone
//===----------------------------------------------------------------------===//

// Attention's products multiply two activations: nothing to quantize.
// CHECK-LABEL: func.func @negative_non_constant_weight(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>, %[[W:.*]]: tensor<4x3xf32>)
// CHECK:         linalg.matmul ins(%[[X]], %[[W]] : tensor<2x4xf32>, tensor<4x3xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_non_constant_weight(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>)
                     outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// A weight already quantized reaches the matmul through nibble.dequantize,
// which is not a constant.
// CHECK-LABEL: func.func @negative_dequantized_weight(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<2x4xf32>, tensor<4x3xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_dequantized_weight(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %q = arith.constant dense<1> : tensor<4x3xi8>
  %s = arith.constant dense<0.5> : tensor<3xf32>
  %w = nibble.dequantize %q scale(%s : tensor<3xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32> : tensor<4x3xi8> -> tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>)
                     outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// An explicit indexing map (here B transposed, N x K) is not the K x N
// product nibble.matmul computes.
// CHECK-LABEL: func.func @negative_transposed_weight_map(
// CHECK:         linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}]
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_transposed_weight_map(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul
         indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                          affine_map<(m, n, k) -> (n, k)>,
                          affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<2x4xf32>, tensor<3x4xf32>)
         outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Accumulating into ones is A x B + 1, not A x B.
// CHECK-LABEL: func.func @negative_non_zero_init(
// CHECK:         %[[INIT:.*]] = linalg.fill
// CHECK:         linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<4x3xf32>) outs(%[[INIT]] : tensor<2x3xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_non_zero_init(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3xf32>
  %one = arith.constant 1.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%one : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>)
                     outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// An accumulator that is not a fill (a running sum) is kept.
// CHECK-LABEL: func.func @negative_accumulator_argument(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>, %[[ACC:.*]]: tensor<2x3xf32>)
// CHECK:         linalg.matmul ins(%[[X]], %{{.*}} : tensor<2x4xf32>, tensor<4x3xf32>) outs(%[[ACC]] : tensor<2x3xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_accumulator_argument(%x: tensor<2x4xf32>, %acc: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>)
                     outs(%acc : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Only f32 weights are read.
// CHECK-LABEL: func.func @negative_f16_weight(
// CHECK:         linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<2x4xf16>, tensor<4x3xf16>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_f16_weight(%x: tensor<2x4xf16>) -> tensor<2x3xf16> {
  %w = arith.constant dense<1.0> : tensor<4x3xf16>
  %zero = arith.constant 0.0 : f16
  %empty = tensor.empty() : tensor<2x3xf16>
  %init = linalg.fill ins(%zero : f16) outs(%empty : tensor<2x3xf16>) -> tensor<2x3xf16>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf16>, tensor<4x3xf16>)
                     outs(%init : tensor<2x3xf16>) -> tensor<2x3xf16>
  return %y : tensor<2x3xf16>
}

// -----

// nibble.matmul needs lhs and result of one float type; a mixed-precision
// linalg.matmul (f16 x f32 -> f32) is kept rather than turned into an op
// that does not verify.
// CHECK-LABEL: func.func @negative_mixed_lhs_and_result_types(
// CHECK:         linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<2x4xf16>, tensor<4x3xf32>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK-NOT:     nibble.matmul
// CHECK:         return
func.func @negative_mixed_lhs_and_result_types(%x: tensor<2x4xf16>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf16>, tensor<4x3xf32>)
                     outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
