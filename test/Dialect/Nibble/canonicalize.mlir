// RUN: nibble-opt %s -canonicalize="test-convergence" -split-input-file | FileCheck %s

// Folding of nibble.quantize / nibble.dequantize when the value, the scale
// and the zero point are all constants. The folded values follow ONNX
// QuantizeLinear / DequantizeLinear: divide, round half to even, add the
// zero point, saturate to the storage range; (q - zero_point) * scale.

//===----------------------------------------------------------------------===//
// quantize
//===----------------------------------------------------------------------===//

// Ties go to the even neighbour (0.5 -> 0, 1.5 -> 2, 2.5 -> 2, and the same
// below zero); values past the int8 range saturate to 127 / -128.
// CHECK-LABEL: func.func @fold_quantize_i8_round_half_to_even_and_saturate(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<[0, 2, 2, 0, -2, -2, 127, -128, 127, -128]> : tensor<10xi8>
// CHECK-NEXT:    return %[[Q]]
func.func @fold_quantize_i8_round_half_to_even_and_saturate() -> tensor<10xi8> {
  %x = arith.constant dense<[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, -128.5, 1000.0, -1000.0]> : tensor<10xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<10xf32> -> tensor<10xi8>
  return %q : tensor<10xi8>
}

// -----

// The zero point is added after rounding (0.25 / 0.5 = 0.5 -> 0, + 10); u8
// saturates at 0 and 255. Signless i8 prints 255 as -1 and 254 as -2.
// CHECK-LABEL: func.func @fold_quantize_u8_zero_point_saturates_at_0_and_255(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<[10, 12, 12, 0, 0, -1, -1, -2]> : tensor<8xi8>
// CHECK-NEXT:    return %[[Q]]
func.func @fold_quantize_u8_zero_point_saturates_at_0_and_255() -> tensor<8xi8> {
  // x / 0.5:       0.5   1.5   2.5   -20    -10   400    245    244
  // + 10, clamped: 10    12    12    0      0     255    255    254
  %x = arith.constant dense<[0.25, 0.75, 1.25, -10.0, -5.0, 200.0, 122.5, 122.0]> : tensor<8xf32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i8>
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<8xf32> -> tensor<8xi8>
  return %q : tensor<8xi8>
}

// -----

// An i8 zero point near the bottom of the range: -120 + (-10) saturates.
// CHECK-LABEL: func.func @fold_quantize_i8_zero_point(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<[-120, -118, -128, 7]> : tensor<4xi8>
func.func @fold_quantize_i8_zero_point() -> tensor<4xi8> {
  %x = arith.constant dense<[0.0, 2.0, -10.0, 127.0]> : tensor<4xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %z = arith.constant dense<-120> : tensor<i8>
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <i8, per_tensor, zero_point, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

// One scale per column (axis 1): column n is divided by scale[n].
// CHECK-LABEL: func.func @fold_quantize_per_channel_last_axis(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<{{\[}}[1, 1, 1], [3, 3, 2]]> : tensor<2x3xi8>
func.func @fold_quantize_per_channel_last_axis() -> tensor<2x3xi8> {
  // 10 / 4 = 2.5 rounds to 2.
  %x = arith.constant dense<[[1.0, 2.0, 4.0], [3.0, 6.0, 10.0]]> : tensor<2x3xf32>
  %s = arith.constant dense<[1.0, 2.0, 4.0]> : tensor<3xf32>
  %q = nibble.quantize %x scale(%s : tensor<3xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32> : tensor<2x3xf32> -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// -----

// One scale per row (axis 0).
// CHECK-LABEL: func.func @fold_quantize_per_channel_first_axis(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<{{\[}}[1, 2, 3], [2, 4, 6]]> : tensor<2x3xi8>
func.func @fold_quantize_per_channel_first_axis() -> tensor<2x3xi8> {
  %x = arith.constant dense<[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]> : tensor<2x3xf32>
  %s = arith.constant dense<[1.0, 0.5]> : tensor<2xf32>
  %q = nibble.quantize %x scale(%s : tensor<2xf32>)
         scheme <i8, per_channel<axis = 0>, symmetric, scale = f32> : tensor<2x3xf32> -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// -----

// Groups of 2 rows along K: rows 0-1 use scale row 0, rows 2-3 scale row 1.
// int4 saturates at 7 and -8.
// CHECK-LABEL: func.func @fold_quantize_per_group_i4(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<{{\[}}[1, 1], [3, 2], [1, 1], [7, -8]]> : tensor<4x2xi4>
func.func @fold_quantize_per_group_i4() -> tensor<4x2xi4> {
  // row 3: 40 / 4 = 10 -> 7, -80 / 8 = -10 -> -8.
  %x = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [4.0, 8.0], [40.0, -80.0]]> : tensor<4x2xf32>
  %s = arith.constant dense<[[1.0, 2.0], [4.0, 8.0]]> : tensor<2x2xf32>
  %q = nibble.quantize %x scale(%s : tensor<2x2xf32>)
         scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32> : tensor<4x2xf32> -> tensor<4x2xi4>
  return %q : tensor<4x2xi4>
}

// -----

// Groups along the last axis: element (m, k) uses scale (m, k floordiv 2).
// CHECK-LABEL: func.func @fold_quantize_per_group_last_axis(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<{{\[}}[1, 2, 2, 3], [1, 2, 1, 3]]> : tensor<2x4xi8>
func.func @fold_quantize_per_group_last_axis() -> tensor<2x4xi8> {
  %x = arith.constant dense<[[1.0, 2.0, 4.0, 6.0], [3.0, 6.0, 4.0, 12.0]]> : tensor<2x4xf32>
  %s = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %q = nibble.quantize %x scale(%s : tensor<2x2xf32>)
         scheme <i8, per_group<axis = 1, size = 2>, symmetric, scale = f32> : tensor<2x4xf32> -> tensor<2x4xi8>
  return %q : tensor<2x4xi8>
}

// -----

// A last, partial group: 5 elements in groups of 2 use 3 scales.
// CHECK-LABEL: func.func @fold_quantize_per_group_partial_last_group(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<[1, 2, 3, 4, 5]> : tensor<5xi8>
func.func @fold_quantize_per_group_partial_last_group() -> tensor<5xi8> {
  %x = arith.constant dense<[1.0, 2.0, 30.0, 40.0, 500.0]> : tensor<5xf32>
  %s = arith.constant dense<[1.0, 10.0, 100.0]> : tensor<3xf32>
  %q = nibble.quantize %x scale(%s : tensor<3xf32>)
         scheme <i8, per_group<axis = 0, size = 2>, symmetric, scale = f32> : tensor<5xf32> -> tensor<5xi8>
  return %q : tensor<5xi8>
}

// -----

// Splat inputs fold too.
// CHECK-LABEL: func.func @fold_quantize_splat(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense<2> : tensor<3x3xi8>
func.func @fold_quantize_splat() -> tensor<3x3xi8> {
  %x = arith.constant dense<5.0> : tensor<3x3xf32>
  %s = arith.constant dense<2.0> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<3x3xf32> -> tensor<3x3xi8>
  return %q : tensor<3x3xi8>
}

// -----

// More than 16 elements become a dense_resource blob (4-byte alignment
// header, then one byte per element).
// CHECK-LABEL: func.func @fold_quantize_large_to_resource(
// CHECK-NEXT:    %[[Q:.*]] = arith.constant dense_resource<quantized> : tensor<17xi8>
// CHECK-NEXT:    return %[[Q]]
// CHECK:       quantized: "0x0100000000020406080A0C0E10121416181A1C1E20"
func.func @fold_quantize_large_to_resource() -> tensor<17xi8> {
  %x = arith.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]> : tensor<17xf32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<17xf32> -> tensor<17xi8>
  return %q : tensor<17xi8>
}

// -----

//===----------------------------------------------------------------------===//
// dequantize
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @fold_dequantize_i8_per_tensor(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<[-6.400000e+01, -5.000000e-01, 0.000000e+00, 6.350000e+01]> : tensor<4xf32>
// CHECK-NEXT:    return %[[W]]
func.func @fold_dequantize_i8_per_tensor() -> tensor<4xf32> {
  %q = arith.constant dense<[-128, -1, 0, 127]> : tensor<4xi8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// u8 reads the signless bits unsigned: -1 is 255, -128 is 128.
// CHECK-LABEL: func.func @fold_dequantize_u8_zero_point(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<[1.225000e+02, -5.000000e+00, 0.000000e+00, 5.900000e+01]> : tensor<4xf32>
func.func @fold_dequantize_u8_zero_point() -> tensor<4xf32> {
  %q = arith.constant dense<[-1, 0, 10, -128]> : tensor<4xi8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i8>
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// The same bits read as i8 give different values.
// CHECK-LABEL: func.func @fold_dequantize_i8_zero_point_reads_signed(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<[-5.500000e+00, -5.000000e+00, 0.000000e+00, -6.900000e+01]> : tensor<4xf32>
func.func @fold_dequantize_i8_zero_point_reads_signed() -> tensor<4xf32> {
  %q = arith.constant dense<[-1, 0, 10, -128]> : tensor<4xi8>
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i8>
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <i8, per_tensor, zero_point, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// u4 with the usual zero point 8 (the bits of i4 -8): 15 -> 7, 8 -> 0,
// 0 -> -8, 7 -> -1.
// CHECK-LABEL: func.func @fold_dequantize_u4_zero_point(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<[7.000000e+00, 0.000000e+00, -8.000000e+00, -1.000000e+00]> : tensor<4xf32>
func.func @fold_dequantize_u4_zero_point() -> tensor<4xf32> {
  %q = arith.constant dense<[-1, -8, 0, 7]> : tensor<4xi4>
  %s = arith.constant dense<1.0> : tensor<f32>
  %z = arith.constant dense<-8> : tensor<i4>
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i4>)
         scheme <u4, per_tensor, zero_point, scale = f32> : tensor<4xi4> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @fold_dequantize_per_channel_i2(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, -6.000000e+00], [-2.000000e+00, 3.000000e+00]]> : tensor<2x2xf32>
func.func @fold_dequantize_per_channel_i2() -> tensor<2x2xf32> {
  %q = arith.constant dense<[[1, -2], [-2, 1]]> : tensor<2x2xi2>
  %s = arith.constant dense<[1.0, 3.0]> : tensor<2xf32>
  %w = nibble.dequantize %q scale(%s : tensor<2xf32>)
         scheme <i2, per_channel<axis = 1>, symmetric, scale = f32> : tensor<2x2xi2> -> tensor<2x2xf32>
  return %w : tensor<2x2xf32>
}

// -----

// CHECK-LABEL: func.func @fold_dequantize_per_group_i4(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<{{\[}}[5.000000e-01, -1.000000e+00], [3.500000e+00, -8.000000e+00], [4.000000e+00, 7.500000e-01], [-1.600000e+01, 1.750000e+00]]> : tensor<4x2xf32>
func.func @fold_dequantize_per_group_i4() -> tensor<4x2xf32> {
  %q = arith.constant dense<[[1, -1], [7, -8], [2, 3], [-8, 7]]> : tensor<4x2xi4>
  %s = arith.constant dense<[[0.5, 1.0], [2.0, 0.25]]> : tensor<2x2xf32>
  %w = nibble.dequantize %q scale(%s : tensor<2x2xf32>)
         scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32> : tensor<4x2xi4> -> tensor<4x2xf32>
  return %w : tensor<4x2xf32>
}

// -----

// Per-group zero points are indexed like the scales.
// CHECK-LABEL: func.func @fold_dequantize_per_group_u4_zero_point(
// CHECK-NEXT:    %[[W:.*]] = arith.constant dense<{{\[}}[-1.000000e+00, 2.000000e+00], [0.000000e+00, 4.000000e+00], [1.000000e+00, -3.000000e+00]]> : tensor<3x2xf32>
func.func @fold_dequantize_per_group_u4_zero_point() -> tensor<3x2xf32> {
  // (q - z) * s with z = [[1, 2], [3, 4]], s = [[1, 2], [1, 1]], groups of 2 rows.
  %q = arith.constant dense<[[0, 3], [1, 4], [4, 1]]> : tensor<3x2xi4>
  %s = arith.constant dense<[[1.0, 2.0], [1.0, 1.0]]> : tensor<2x2xf32>
  %z = arith.constant dense<[[1, 2], [3, 4]]> : tensor<2x2xi4>
  %w = nibble.dequantize %q scale(%s : tensor<2x2xf32>) zero_point(%z : tensor<2x2xi4>)
         scheme <u4, per_group<axis = 0, size = 2>, zero_point, scale = f32> : tensor<3x2xi4> -> tensor<3x2xf32>
  return %w : tensor<3x2xf32>
}

// -----

//===----------------------------------------------------------------------===//
// No folding
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @no_fold_quantize_non_constant_input(
// CHECK-SAME:    %[[X:.*]]: tensor<4xf32>)
// CHECK:         %[[Q:.*]] = nibble.quantize %[[X]]
// CHECK-NEXT:    return %[[Q]]
func.func @no_fold_quantize_non_constant_input(%x: tensor<4xf32>) -> tensor<4xi8> {
  %s = arith.constant dense<1.0> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

// CHECK-LABEL: func.func @no_fold_quantize_non_constant_scale(
// CHECK-SAME:    %[[S:.*]]: tensor<f32>)
// CHECK:         %[[Q:.*]] = nibble.quantize %{{.*}} scale(%[[S]] : tensor<f32>)
// CHECK-NEXT:    return %[[Q]]
func.func @no_fold_quantize_non_constant_scale(%s: tensor<f32>) -> tensor<4xi8> {
  %x = arith.constant dense<1.0> : tensor<4xf32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

// CHECK-LABEL: func.func @no_fold_quantize_non_constant_zero_point(
// CHECK-SAME:    %[[Z:.*]]: tensor<i8>)
// CHECK:         %[[Q:.*]] = nibble.quantize %{{.*}} zero_point(%[[Z]] : tensor<i8>)
// CHECK-NEXT:    return %[[Q]]
func.func @no_fold_quantize_non_constant_zero_point(%z: tensor<i8>) -> tensor<4xi8> {
  %x = arith.constant dense<1.0> : tensor<4xf32>
  %s = arith.constant dense<1.0> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

// The folders read f32 only: an f16 value is left alone.
// CHECK-LABEL: func.func @no_fold_quantize_f16_input(
// CHECK:         %[[Q:.*]] = nibble.quantize
// CHECK-NEXT:    return %[[Q]]
func.func @no_fold_quantize_f16_input() -> tensor<4xi8> {
  %x = arith.constant dense<1.0> : tensor<4xf16>
  %s = arith.constant dense<1.0> : tensor<f16>
  %q = nibble.quantize %x scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f16> : tensor<4xf16> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

// CHECK-LABEL: func.func @no_fold_dequantize_non_constant_input(
// CHECK-SAME:    %[[Q:.*]]: tensor<4xi8>)
// CHECK:         %[[W:.*]] = nibble.dequantize %[[Q]]
// CHECK-NEXT:    return %[[W]]
func.func @no_fold_dequantize_non_constant_input(%q: tensor<4xi8>) -> tensor<4xf32> {
  %s = arith.constant dense<1.0> : tensor<f32>
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @no_fold_dequantize_non_constant_scale(
// CHECK-SAME:    %[[S:.*]]: tensor<f32>)
// CHECK:         %[[W:.*]] = nibble.dequantize %{{.*}} scale(%[[S]] : tensor<f32>)
// CHECK-NEXT:    return %[[W]]
func.func @no_fold_dequantize_non_constant_scale(%s: tensor<f32>) -> tensor<4xf32> {
  %q = arith.constant dense<1> : tensor<4xi8>
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @no_fold_dequantize_f16_result(
// CHECK:         %[[W:.*]] = nibble.dequantize
// CHECK-NEXT:    return %[[W]]
func.func @no_fold_dequantize_f16_result() -> tensor<4xf16> {
  %q = arith.constant dense<1> : tensor<4xi8>
  %s = arith.constant dense<1.0> : tensor<f16>
  %w = nibble.dequantize %q scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f16> : tensor<4xi8> -> tensor<4xf16>
  return %w : tensor<4xf16>
}

// -----

// quantize(dequantize(q)) is not simplified: with another scale it is not
// the identity, and there is no canonicalization pattern for it.
// CHECK-LABEL: func.func @no_fold_quantize_of_dequantize(
// CHECK-SAME:    %[[Q:.*]]: tensor<4xi8>, %[[S:.*]]: tensor<f32>)
// CHECK:         %[[W:.*]] = nibble.dequantize %[[Q]]
// CHECK-NEXT:    %[[R:.*]] = nibble.quantize %[[W]]
// CHECK-NEXT:    return %[[R]]
func.func @no_fold_quantize_of_dequantize(%q: tensor<4xi8>, %s: tensor<f32>) -> tensor<4xi8> {
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  %r = nibble.quantize %w scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %r : tensor<4xi8>
}

// -----

// An unused op is erased (both ops are Pure).
// CHECK-LABEL: func.func @dead_dequantize_is_erased(
// CHECK-NEXT:    return
// CHECK-NOT:     nibble.dequantize
func.func @dead_dequantize_is_erased(%q: tensor<4xi8>, %s: tensor<f32>) {
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return
}
