// RUN: nibble-opt %s | nibble-opt | FileCheck %s
// RUN: nibble-opt %s --mlir-print-op-generic | nibble-opt | FileCheck %s

// Round trip of every nibble op and every scheme form: storage i2/u2, i4/u4,
// i8/u8; per_tensor, per_channel, per_group; symmetric and zero_point;
// f32, f16 and bf16 scales. The second RUN line goes through the generic
// form, so the scheme attribute must also print and parse standalone.

//===----------------------------------------------------------------------===//
// nibble.quantize
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @quantize_per_tensor_zero_point_u8(
// CHECK-SAME:    %[[X:.*]]: tensor<4x8xf32>, %[[S:.*]]: tensor<f32>, %[[Z:.*]]: tensor<i8>)
// CHECK:         %[[Q:.*]] = nibble.quantize %[[X]] scale(%[[S]] : tensor<f32>) zero_point(%[[Z]] : tensor<i8>)
// CHECK-SAME:      scheme <u8, per_tensor, zero_point, scale = f32> : tensor<4x8xf32> -> tensor<4x8xi8>
// CHECK-NEXT:    return %[[Q]]
func.func @quantize_per_tensor_zero_point_u8(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4x8xi8> {
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32>
         : tensor<4x8xf32> -> tensor<4x8xi8>
  return %q : tensor<4x8xi8>
}

// CHECK-LABEL: func.func @quantize_per_channel_symmetric_i8(
// CHECK-SAME:    %[[X:.*]]: tensor<4x8xf32>, %[[S:.*]]: tensor<8xf32>)
// CHECK:         nibble.quantize %[[X]] scale(%[[S]] : tensor<8xf32>)
// CHECK-SAME:      scheme <i8, per_channel<axis = 1>, symmetric, scale = f32> : tensor<4x8xf32> -> tensor<4x8xi8>
func.func @quantize_per_channel_symmetric_i8(%x: tensor<4x8xf32>, %s: tensor<8xf32>) -> tensor<4x8xi8> {
  %q = nibble.quantize %x scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<4x8xf32> -> tensor<4x8xi8>
  return %q : tensor<4x8xi8>
}

// CHECK-LABEL: func.func @quantize_per_group_f16_input_and_scale_i4(
// CHECK-SAME:    %[[X:.*]]: tensor<6x8xf16>, %[[S:.*]]: tensor<2x8xf16>)
// CHECK:         nibble.quantize %[[X]] scale(%[[S]] : tensor<2x8xf16>)
// CHECK-SAME:      scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f16> : tensor<6x8xf16> -> tensor<6x8xi4>
func.func @quantize_per_group_f16_input_and_scale_i4(%x: tensor<6x8xf16>, %s: tensor<2x8xf16>) -> tensor<6x8xi4> {
  // 6 rows in groups of 4: ceil(6 / 4) = 2 scale rows.
  %q = nibble.quantize %x scale(%s : tensor<2x8xf16>)
         scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f16>
         : tensor<6x8xf16> -> tensor<6x8xi4>
  return %q : tensor<6x8xi4>
}

// CHECK-LABEL: func.func @quantize_per_tensor_symmetric_i2_bf16_scale(
// CHECK:         nibble.quantize %{{.*}} scale(%{{.*}} : tensor<bf16>)
// CHECK-SAME:      scheme <i2, per_tensor, symmetric, scale = bf16> : tensor<3xbf16> -> tensor<3xi2>
func.func @quantize_per_tensor_symmetric_i2_bf16_scale(%x: tensor<3xbf16>, %s: tensor<bf16>) -> tensor<3xi2> {
  %q = nibble.quantize %x scale(%s : tensor<bf16>)
         scheme <i2, per_tensor, symmetric, scale = bf16>
         : tensor<3xbf16> -> tensor<3xi2>
  return %q : tensor<3xi2>
}

//===----------------------------------------------------------------------===//
// nibble.dequantize
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dequantize_per_group_symmetric_i4(
// CHECK-SAME:    %[[Q:.*]]: tensor<256x64xi4>, %[[S:.*]]: tensor<2x64xf32>)
// CHECK:         %[[W:.*]] = nibble.dequantize %[[Q]] scale(%[[S]] : tensor<2x64xf32>)
// CHECK-SAME:      scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32> : tensor<256x64xi4> -> tensor<256x64xf32>
// CHECK-NEXT:    return %[[W]]
func.func @dequantize_per_group_symmetric_i4(%q: tensor<256x64xi4>, %s: tensor<2x64xf32>) -> tensor<256x64xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<2x64xf32>)
         scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32>
         : tensor<256x64xi4> -> tensor<256x64xf32>
  return %w : tensor<256x64xf32>
}

// CHECK-LABEL: func.func @dequantize_per_group_zero_point_u4(
// CHECK-SAME:    %[[Q:.*]]: tensor<256x64xi4>, %[[S:.*]]: tensor<2x64xf32>, %[[Z:.*]]: tensor<2x64xi4>)
// CHECK:         nibble.dequantize %[[Q]] scale(%[[S]] : tensor<2x64xf32>) zero_point(%[[Z]] : tensor<2x64xi4>)
// CHECK-SAME:      scheme <u4, per_group<axis = 0, size = 128>, zero_point, scale = f32> : tensor<256x64xi4> -> tensor<256x64xf32>
func.func @dequantize_per_group_zero_point_u4(%q: tensor<256x64xi4>, %s: tensor<2x64xf32>, %z: tensor<2x64xi4>) -> tensor<256x64xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<2x64xf32>) zero_point(%z : tensor<2x64xi4>)
         scheme <u4, per_group<axis = 0, size = 128>, zero_point, scale = f32>
         : tensor<256x64xi4> -> tensor<256x64xf32>
  return %w : tensor<256x64xf32>
}

// CHECK-LABEL: func.func @dequantize_per_channel_zero_point_i8_f16(
// CHECK:         nibble.dequantize %{{.*}} scale(%{{.*}} : tensor<4xf16>) zero_point(%{{.*}} : tensor<4xi8>)
// CHECK-SAME:      scheme <i8, per_channel<axis = 0>, zero_point, scale = f16> : tensor<4x8xi8> -> tensor<4x8xf16>
func.func @dequantize_per_channel_zero_point_i8_f16(%q: tensor<4x8xi8>, %s: tensor<4xf16>, %z: tensor<4xi8>) -> tensor<4x8xf16> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf16>) zero_point(%z : tensor<4xi8>)
         scheme <i8, per_channel<axis = 0>, zero_point, scale = f16>
         : tensor<4x8xi8> -> tensor<4x8xf16>
  return %w : tensor<4x8xf16>
}

// CHECK-LABEL: func.func @dequantize_per_tensor_zero_point_u2(
// CHECK:         nibble.dequantize %{{.*}} scale(%{{.*}} : tensor<f32>) zero_point(%{{.*}} : tensor<i2>)
// CHECK-SAME:      scheme <u2, per_tensor, zero_point, scale = f32> : tensor<2x2xi2> -> tensor<2x2xf32>
func.func @dequantize_per_tensor_zero_point_u2(%q: tensor<2x2xi2>, %s: tensor<f32>, %z: tensor<i2>) -> tensor<2x2xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i2>)
         scheme <u2, per_tensor, zero_point, scale = f32>
         : tensor<2x2xi2> -> tensor<2x2xf32>
  return %w : tensor<2x2xf32>
}

// A group axis other than 0, on a rank-3 value.
// CHECK-LABEL: func.func @dequantize_per_group_last_axis_rank3(
// CHECK:         nibble.dequantize %{{.*}} scale(%{{.*}} : tensor<2x3x2xf32>)
// CHECK-SAME:      scheme <i8, per_group<axis = 2, size = 3>, symmetric, scale = f32> : tensor<2x3x5xi8> -> tensor<2x3x5xf32>
func.func @dequantize_per_group_last_axis_rank3(%q: tensor<2x3x5xi8>, %s: tensor<2x3x2xf32>) -> tensor<2x3x5xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<2x3x2xf32>)
         scheme <i8, per_group<axis = 2, size = 3>, symmetric, scale = f32>
         : tensor<2x3x5xi8> -> tensor<2x3x5xf32>
  return %w : tensor<2x3x5xf32>
}

//===----------------------------------------------------------------------===//
// nibble.matmul
//===----------------------------------------------------------------------===//

// The example of the op's description, bias included.
// CHECK-LABEL: func.func @matmul_per_group_i4_with_bias(
// CHECK-SAME:    %[[X:.*]]: tensor<4x256xf32>, %[[W:.*]]: tensor<256x64xi4>, %[[S:.*]]: tensor<2x64xf32>, %[[B:.*]]: tensor<64xf32>)
// CHECK:         %[[Y:.*]] = nibble.matmul %[[X]], %[[W]] scale(%[[S]] : tensor<2x64xf32>) bias(%[[B]] : tensor<64xf32>)
// CHECK-SAME:      scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32> : tensor<4x256xf32>, tensor<256x64xi4> -> tensor<4x64xf32>
// CHECK-NEXT:    return %[[Y]]
func.func @matmul_per_group_i4_with_bias(%x: tensor<4x256xf32>, %w: tensor<256x64xi4>, %s: tensor<2x64xf32>, %b: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = nibble.matmul %x, %w scale(%s : tensor<2x64xf32>)
         bias(%b : tensor<64xf32>)
         scheme <i4, per_group<axis = 0, size = 128>, symmetric, scale = f32>
         : tensor<4x256xf32>, tensor<256x64xi4> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// Zero point and bias together, batched lhs.
// CHECK-LABEL: func.func @matmul_per_channel_u8_zero_point_bias_batched(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3x16xf32>, %[[W:.*]]: tensor<16x8xi8>, %[[S:.*]]: tensor<8xf32>, %[[Z:.*]]: tensor<8xi8>, %[[B:.*]]: tensor<8xf32>)
// CHECK:         nibble.matmul %[[X]], %[[W]] scale(%[[S]] : tensor<8xf32>) zero_point(%[[Z]] : tensor<8xi8>) bias(%[[B]] : tensor<8xf32>)
// CHECK-SAME:      scheme <u8, per_channel<axis = 1>, zero_point, scale = f32> : tensor<2x3x16xf32>, tensor<16x8xi8> -> tensor<2x3x8xf32>
func.func @matmul_per_channel_u8_zero_point_bias_batched(%x: tensor<2x3x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>, %z: tensor<8xi8>, %b: tensor<8xf32>) -> tensor<2x3x8xf32> {
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>) zero_point(%z : tensor<8xi8>)
         bias(%b : tensor<8xf32>)
         scheme <u8, per_channel<axis = 1>, zero_point, scale = f32>
         : tensor<2x3x16xf32>, tensor<16x8xi8> -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// CHECK-LABEL: func.func @matmul_per_tensor_f16(
// CHECK:         nibble.matmul %{{.*}}, %{{.*}} scale(%{{.*}} : tensor<f16>)
// CHECK-SAME:      scheme <i8, per_tensor, symmetric, scale = f16> : tensor<2x16xf16>, tensor<16x8xi8> -> tensor<2x8xf16>
func.func @matmul_per_tensor_f16(%x: tensor<2x16xf16>, %w: tensor<16x8xi8>, %s: tensor<f16>) -> tensor<2x8xf16> {
  %y = nibble.matmul %x, %w scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f16>
         : tensor<2x16xf16>, tensor<16x8xi8> -> tensor<2x8xf16>
  return %y : tensor<2x8xf16>
}

// A dynamic K on the lhs is checked against the weight only when static.
// CHECK-LABEL: func.func @matmul_dynamic_rows(
// CHECK:         nibble.matmul %{{.*}}, %{{.*}} scale(%{{.*}} : tensor<8xf32>)
// CHECK-SAME:      : tensor<?x16xf32>, tensor<16x8xi8> -> tensor<?x8xf32>
func.func @matmul_dynamic_rows(%x: tensor<?x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<?x8xf32> {
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<?x16xf32>, tensor<16x8xi8> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

//===----------------------------------------------------------------------===//
// #nibble.scheme as a standalone attribute
//===----------------------------------------------------------------------===//

// The three examples of the attribute's description, and the remaining
// storage types.
// CHECK-LABEL: func.func @scheme_attribute_examples()
// CHECK-SAME:    test.i2 = #nibble.scheme<i2, per_tensor, symmetric, scale = f32>
// CHECK-SAME:    test.i8_per_channel = #nibble.scheme<i8, per_channel<axis = 1>, symmetric, scale = f32>
// CHECK-SAME:    test.u2 = #nibble.scheme<u2, per_channel<axis = 3>, zero_point, scale = bf16>
// CHECK-SAME:    test.u4_per_group = #nibble.scheme<u4, per_group<axis = 0, size = 128>, zero_point, scale = f32>
// CHECK-SAME:    test.u8_per_tensor = #nibble.scheme<u8, per_tensor, zero_point, scale = f32>
// CHECK-SAME:    test.u8_per_tensor_f16 = #nibble.scheme<u8, per_tensor, zero_point, scale = f16>
func.func @scheme_attribute_examples() attributes {
    test.i8_per_channel = #nibble.scheme<i8, per_channel<axis = 1>, symmetric, scale = f32>,
    test.u4_per_group = #nibble.scheme<u4, per_group<axis = 0, size = 128>, zero_point, scale = f32>,
    test.u8_per_tensor = #nibble.scheme<u8, per_tensor, zero_point, scale = f32>,
    test.u8_per_tensor_f16 = #nibble.scheme<u8, per_tensor, zero_point, scale = f16>,
    test.i2 = #nibble.scheme<i2, per_tensor, symmetric, scale = f32>,
    test.u2 = #nibble.scheme<u2, per_channel<axis = 3>, zero_point, scale = bf16>} {
  return
}

// -----

// CHECK-LABEL: func.func @integer_matmul_round_trip(
// CHECK:         nibble.integer_matmul %{{.*}} lhs_scale(%{{.*}} : tensor<4xf32>), %{{.*}} scale(%{{.*}} : tensor<64xf32>) bias(%{{.*}} : tensor<64xf32>) : tensor<4x256xi8>, tensor<256x64xi8> -> tensor<4x64xf32>
func.func @integer_matmul_round_trip(%x: tensor<4x256xi8>, %s: tensor<4xf32>, %w: tensor<256x64xi8>, %sw: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<4xf32>), %w scale(%sw : tensor<64xf32>) bias(%b : tensor<64xf32>) : tensor<4x256xi8>, tensor<256x64xi8> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// CHECK-LABEL: func.func @integer_matmul_zero_point_round_trip(
// CHECK:         nibble.integer_matmul %{{.*}} lhs_scale(%{{.*}} : tensor<4x2xf32>), %{{.*}} scale(%{{.*}} : tensor<2x64xf32>) zero_point(%{{.*}} : tensor<2x64xi8>) bias(%{{.*}} : tensor<64xf32>) {group_size = 128 : i64} : tensor<4x256xi8>, tensor<256x64xi4> -> tensor<4x64xf32>
func.func @integer_matmul_zero_point_round_trip(%x: tensor<4x256xi8>, %s: tensor<4x2xf32>, %w: tensor<256x64xi4>, %sw: tensor<2x64xf32>, %z: tensor<2x64xi8>, %b: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<4x2xf32>), %w scale(%sw : tensor<2x64xf32>) zero_point(%z : tensor<2x64xi8>) bias(%b : tensor<64xf32>) {group_size = 128 : i64} : tensor<4x256xi8>, tensor<256x64xi4> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
