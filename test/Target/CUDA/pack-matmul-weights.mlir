// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cuda-pack-matmul-weights))" | FileCheck %s

// Constant weights are transposed to N x K and packed into i32 words in the
// order the GEMV kernel's lanes read them (GemvLayout.h): K is padded to
// 1024, lane l owns k = 128 j + 4 l + e, and its 32 values are one run of
// four words. With K = 32 only j = 0 exists: lane l's first word holds
// k = 4l .. 4l+3 in its low four fields. Column 0 holds k mod 16 - 8, so
// lane 0 packs -8..-5 (0xBA98), lane 1 -4..-1 (0xFEDC), lane 2 0..3
// (0x3210), lane 3 4..7 (0x7654). Scales become N x G.

// CHECK-LABEL: func.func @int4_per_group(
// CHECK-SAME:    %[[X:.*]]: tensor<3x32xf32>
// CHECK-DAG:     %[[W:.*]] = arith.constant dense_resource<fc.packed> : tensor<2x128xi32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<{{\[}}[5.000000e-01], [2.500000e-01]]> : tensor<2x1xf32>
// CHECK-DAG:     %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2x1xf32>
// CHECK:         %[[INIT:.*]] = linalg.fill
// CHECK:         %[[Y:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[X]], %[[W]], %[[S]], %[[Z]] : tensor<3x32xf32>, tensor<2x128xi32>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-SAME:      outs(%[[INIT]] : tensor<3x2xf32>)
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 4 : i64, group_size = 32 : i64, has_zero_point = false, signed = true}
// CHECK-SAME:      nibble.layer = "fc"
// CHECK:           linalg.index 2
// CHECK:           arith.shli
// CHECK:           arith.shrsi
// CHECK:         return %[[Y]]
// CHECK:       fc.packed: "0x{{[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]}}98BA0000000000000000000000000000DCFE00000000000000000000000000001032000000000000000000000000000054760000
func.func @int4_per_group(%x: tensor<3x32xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[-8, 7], [-7, 6], [-6, 5], [-5, 4], [-4, 3], [-3, 2], [-2, 1], [-1, 0], [0, -1], [1, -2], [2, -3], [3, -4], [4, -5], [5, -6], [6, -7], [7, -8], [-8, 7], [-7, 6], [-6, 5], [-5, 4], [-4, 3], [-3, 2], [-2, 1], [-1, 0], [0, -1], [1, -2], [2, -3], [3, -4], [4, -5], [5, -6], [6, -7], [7, -8]]> : tensor<32x2xi4>
  %s = arith.constant dense<[[0.5, 0.25]]> : tensor<1x2xf32>
  %y = nibble.matmul %x, %w scale(%s : tensor<1x2xf32>) scheme <i4, per_group<axis = 0, size = 32>, symmetric, scale = f32> {nibble.layer = "fc", nibble.op_type = "MatMul"} : tensor<3x32xf32>, tensor<32x2xi4> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Zero points are folded into scale * zero_point; batch dimensions collapse
// into M and come back after; the bias becomes an elementwise add.

// CHECK-LABEL: func.func @int8_per_channel_zero_point_bias(
// CHECK-DAG:     arith.constant dense<{{\[}}[2.000000e+00], [1.500000e+00]]> : tensor<2x1xf32>
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x32xf32> into tensor<6x32xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[FLAT]]
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 8 : i64, group_size = 32 : i64, has_zero_point = true, signed = false}
// CHECK:           arith.shrui
// CHECK:           arith.andi
// CHECK:         %[[BIASED:.*]] = linalg.generic
// CHECK:           arith.addf
// CHECK:         tensor.expand_shape %[[BIASED]]
func.func @int8_per_channel_zero_point_bias(%x: tensor<2x3x32xf32>, %b: tensor<2xf32>) -> tensor<2x3x2xf32> {
  %w = arith.constant dense<7> : tensor<32x2xi8>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z = arith.constant dense<[4, 6]> : tensor<2xi8>
  %y = nibble.matmul %x, %w scale(%s : tensor<2xf32>) zero_point(%z : tensor<2xi8>) bias(%b : tensor<2xf32>) scheme <u8, per_channel<axis = 1>, zero_point, scale = f32> : tensor<2x3x32xf32>, tensor<32x2xi8> -> tensor<2x3x2xf32>
  return %y : tensor<2x3x2xf32>
}

// -----

// K not a multiple of 4, and weights that are not constants, keep the op.

// CHECK-LABEL: func.func @not_packed(
// CHECK-COUNT-2: nibble.matmul
// CHECK-NOT:     linalg.generic
func.func @not_packed(%x: tensor<1x46xf32>, %w: tensor<64x8xi4>, %x2: tensor<1x64xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %cw = arith.constant dense<1> : tensor<46x8xi4>
  %s = arith.constant dense<1.0> : tensor<8xf32>
  %y = nibble.matmul %x, %cw scale(%s : tensor<8xf32>) scheme <i4, per_channel<axis = 1>, symmetric, scale = f32> : tensor<1x46xf32>, tensor<46x8xi4> -> tensor<1x8xf32>
  %y2 = nibble.matmul %x2, %w scale(%s : tensor<8xf32>) scheme <i4, per_channel<axis = 1>, symmetric, scale = f32> : tensor<1x64xf32>, tensor<64x8xi4> -> tensor<1x8xf32>
  return %y, %y2 : tensor<1x8xf32>, tensor<1x8xf32>
}
