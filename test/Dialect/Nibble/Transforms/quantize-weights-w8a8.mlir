// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=none" -verify-diagnostics | FileCheck %s

// W8A8 layers: int8 weights (per column, symmetric) times int8 activations,
// multiplied in integers by nibble.integer_matmul.

// Static activations take the calibrated scale; SmoothQuant factors s scale
// the weight rows up (W' = diag(s) W) and the activations down (x * 1/s).
// W' = [[127, 1], [-127, 1], [0, -4], [0.5, 0.125]]: column 0 has scale 1
// (0.5 is a tie and rounds to even 0), column 1 scale 4/127 (1 -> 31.75 ->
// 32, 0.125 -> 3.97 -> 4).
// CHECK-LABEL: func.func @static_smoothed(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>)
// CHECK-DAG:     %[[INV:.*]] = arith.constant dense<[1.000000e+00, 5.000000e-01, 2.500000e-01, 2.000000e+00]> : tensor<4xf32>
// CHECK:         %[[XS:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[INV]] : tensor<2x4xf32>, tensor<4xf32>)
// CHECK:           arith.mulf
// CHECK:         %[[SX:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK:         %[[QX:.*]] = nibble.quantize %[[XS]] scale(%[[SX]] : tensor<f32>) scheme <i8, per_tensor, symmetric, scale = f32>
// CHECK-DAG:     %[[QW:.*]] = arith.constant dense<{{\[}}[127, 32], [-127, 32], [0, -127], [0, 4]]> : tensor<4x2xi8>
// CHECK-DAG:     %[[SW:.*]] = arith.constant dense<[1.000000e+00, 0.0314960629]> : tensor<2xf32>
// CHECK:         nibble.integer_matmul %[[QX]] lhs_scale(%[[SX]] : tensor<f32>), %[[QW]] scale(%[[SW]] : tensor<2xf32>)
// CHECK-SAME:      nibble.precision = "w8a8"
// CHECK-NOT:     linalg.matmul
func.func @static_smoothed(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[127.0, 1.0], [-63.5, 0.5], [0.0, -1.0], [1.0, 0.25]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "w8a8",
                      nibble.activation_scale = 0.5 : f32,
                      nibble.smooth = dense<[1.0, 2.0, 4.0, 0.5]> : tensor<4xf32>}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// Dynamic activations: one scale per row, max|x[m, :]| / 127 (1 for a row
// of zeros), computed at run time.
// CHECK-LABEL: func.func @dynamic_per_row(
// CHECK:         %[[AMAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:           math.absf
// CHECK:           arith.maximumf
// CHECK:         %[[SX:.*]] = linalg.generic {{.*}} ins(%[[AMAX]] : tensor<2xf32>)
// CHECK:           arith.divf
// CHECK:           arith.select
// CHECK:         %[[QX:.*]] = nibble.quantize %{{.*}} scale(%[[SX]] : tensor<2xf32>) scheme <i8, per_channel<axis = 0>, symmetric, scale = f32>
// CHECK:         nibble.integer_matmul %[[QX]] lhs_scale(%[[SX]] : tensor<2xf32>)
// CHECK-SAME:      nibble.precision = "w8a8-dynamic"
func.func @dynamic_per_row(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[127.0, 1.0], [-63.5, 0.5], [0.0, -1.0], [1.0, 0.25]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "w8a8-dynamic"}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

func.func @static_without_scale(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-error @+1 {{MatMul node 'fc': w8a8 needs a calibrated activation scale (nibble.activation_scale); compile with --calibration, or use dynamic activations}}
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "w8a8"}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

func.func @bad_smooth(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  // expected-error @+1 {{nibble.smooth must hold 4 positive finite f32 factors}}
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "w8a8-dynamic",
                      nibble.smooth = dense<[1.0, 0.0, 1.0, 1.0]> : tensor<4xf32>}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// W4A8: int4 weights per group of 2 rows of K, activations quantized at run
// time with one scale per row and group (max|x[m, group]| / 127), the
// product multiplied in integers group by group.
// CHECK-LABEL: func.func @w4a8_per_group(
// CHECK:         %[[XG:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [2, 2, 2] : tensor<2x4xf32> into tensor<2x2x2xf32>
// CHECK:         %[[AMAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[XG]] : tensor<2x2x2xf32>)
// CHECK:         %[[SX:.*]] = linalg.generic {{.*}} ins(%[[AMAX]] : tensor<2x2xf32>)
// CHECK:         %[[QX:.*]] = nibble.quantize %{{.*}} scale(%[[SX]] : tensor<2x2xf32>) scheme <i8, per_group<axis = 1, size = 2>, symmetric, scale = f32>
// CHECK:         %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<4x2xi4>
// CHECK:         %[[SW:.*]] = arith.constant dense<{{.*}}> : tensor<2x2xf32>
// CHECK:         nibble.integer_matmul %[[QX]] lhs_scale(%[[SX]] : tensor<2x2xf32>), %[[W]] scale(%[[SW]] : tensor<2x2xf32>) {group_size = 2 : i64
// CHECK-SAME:      nibble.precision = "w4a8-g2"
// CHECK-SAME:      : tensor<2x4xi8>, tensor<4x2xi4> -> tensor<2x2xf32>
func.func @w4a8_per_group(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[7.0, 1.0], [-3.5, 0.5], [0.0, -1.0], [1.0, 0.25]]> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "w4a8-g2"}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
