// RUN: nibble-opt %s -split-input-file -verify-diagnostics

// One case per diagnostic of the #nibble.scheme parser, SchemeAttr::verify
// and the op verifiers, each with its whole message.

//===----------------------------------------------------------------------===//
// #nibble.scheme: parser
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected a storage type like i8, u8, i4 or u4, got 'x8'}}
func.func @scheme_storage_not_i_or_u() attributes {test.attr = #nibble.scheme<x8, per_tensor, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{expected a storage type like i8, u8, i4 or u4, got 'int8'}}
func.func @scheme_storage_not_a_width() attributes {test.attr = #nibble.scheme<int8, per_tensor, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{expected per_tensor, per_channel or per_group, got 'per_row'}}
func.func @scheme_unknown_granularity() attributes {test.attr = #nibble.scheme<i8, per_row, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{expected 'symmetric' or 'zero_point'}}
func.func @scheme_unknown_zero_point_kind() attributes {test.attr = #nibble.scheme<i8, per_tensor, asymmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{scale type must be a float type}}
func.func @scheme_integer_scale_type() attributes {test.attr = #nibble.scheme<i8, per_tensor, symmetric, scale = i32>} {
  return
}

// -----

// per_group needs both axis and size.
// expected-error @+1 {{expected ','}}
func.func @scheme_per_group_without_size() attributes {test.attr = #nibble.scheme<i4, per_group<axis = 0>, symmetric, scale = f32>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #nibble.scheme: SchemeAttr::verify
//===----------------------------------------------------------------------===//

// expected-error @+1 {{scheme bits must be 2, 4, 8 or 16, got 3}}
func.func @scheme_bits_3() attributes {test.attr = #nibble.scheme<i3, per_tensor, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{scheme bits must be 2, 4, 8 or 16, got 32}}
func.func @scheme_bits_32() attributes {test.attr = #nibble.scheme<u32, per_tensor, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{scheme axis must be non-negative, got -1}}
func.func @scheme_negative_axis() attributes {test.attr = #nibble.scheme<i8, per_channel<axis = -1>, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{per_group scheme needs a group size of at least 2, got 1}}
func.func @scheme_group_size_1() attributes {test.attr = #nibble.scheme<i4, per_group<axis = 0, size = 1>, symmetric, scale = f32>} {
  return
}

// -----

// expected-error @+1 {{scheme scale type must be f32, f16 or bf16, got 'f64'}}
func.func @scheme_f64_scale() attributes {test.attr = #nibble.scheme<i8, per_tensor, symmetric, scale = f64>} {
  return
}

// "only per_group schemes have a group size" and "per_tensor schemes have no
// axis" cannot be written in the textual form: the parser reads a size only
// after per_group and an axis only after per_channel/per_group.

// -----

//===----------------------------------------------------------------------===//
// Shared quantized-operand checks (quantize, dequantize, matmul)
//===----------------------------------------------------------------------===//

func.func @quantize_storage_bits_mismatch(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xi8> {
  // expected-error @+1 {{'nibble.quantize' op integer tensor has 8-bit elements but the scheme has 4 bits}}
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i4, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @dequantize_axis_out_of_range(%q: tensor<4x8xi8>, %s: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'nibble.dequantize' op scheme axis 2 is out of range for a rank-2 tensor}}
  %w = nibble.dequantize %q scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 2>, symmetric, scale = f32> : tensor<4x8xi8> -> tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

func.func @dequantize_per_channel_scale_on_wrong_axis(%q: tensor<4x8xi8>, %s: tensor<4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'nibble.dequantize' op scale has shape [4] but a per_channel scheme on a [4, 8] tensor needs [8]}}
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32> : tensor<4x8xi8> -> tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

func.func @dequantize_per_group_scale_not_rounded_up(%q: tensor<6x8xi4>, %s: tensor<1x8xf32>) -> tensor<6x8xf32> {
  // 6 rows in groups of 4 need ceil(6 / 4) = 2 scale rows.
  // expected-error @+1 {{'nibble.dequantize' op scale has shape [1, 8] but a per_group scheme on a [6, 8] tensor needs [2, 8]}}
  %w = nibble.dequantize %q scale(%s : tensor<1x8xf32>)
         scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f32> : tensor<6x8xi4> -> tensor<6x8xf32>
  return %w : tensor<6x8xf32>
}

// -----

func.func @quantize_per_tensor_scale_of_rank_1(%x: tensor<4xf32>, %s: tensor<1xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{'nibble.quantize' op scale has shape [1] but a per_tensor scheme on a [4] tensor needs []}}
  %q = nibble.quantize %x scale(%s : tensor<1xf32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @quantize_scale_element_type_mismatch(%x: tensor<4xf32>, %s: tensor<f16>) -> tensor<4xi8> {
  // expected-error @+1 {{'nibble.quantize' op scale elements are 'f16' but the scheme says 'f32'}}
  %q = nibble.quantize %x scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @quantize_zero_point_scheme_without_operand(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xi8> {
  // expected-error @+1 {{'nibble.quantize' op scheme has a zero point but no zero_point operand is given}}
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @dequantize_symmetric_scheme_with_zero_point(%q: tensor<4xi8>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4xf32> {
  // expected-error @+1 {{'nibble.dequantize' op symmetric scheme takes no zero_point operand}}
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

func.func @dequantize_zero_point_shape_mismatch(%q: tensor<4x8xi8>, %s: tensor<8xf32>, %z: tensor<4xi8>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'nibble.dequantize' op zero_point has shape [4] but scale has shape [8]}}
  %w = nibble.dequantize %q scale(%s : tensor<8xf32>) zero_point(%z : tensor<4xi8>)
         scheme <u8, per_channel<axis = 1>, zero_point, scale = f32> : tensor<4x8xi8> -> tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

func.func @dequantize_zero_point_element_type_mismatch(%q: tensor<4xi4>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4xf32> {
  // expected-error @+1 {{'nibble.dequantize' op zero_point elements are 'i8' but the quantized elements are 'i4'}}
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u4, per_tensor, zero_point, scale = f32> : tensor<4xi4> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

func.func @matmul_weight_bits_mismatch(%x: tensor<2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op integer tensor has 8-bit elements but the scheme has 4 bits}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i4, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// quantize / dequantize shapes and types
//===----------------------------------------------------------------------===//

func.func @quantize_result_shape_differs(%x: tensor<4x8xf32>, %s: tensor<f32>) -> tensor<8x4xi8> {
  // expected-error @+1 {{'nibble.quantize' op result shape [8, 4] differs from input shape [4, 8]}}
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4x8xf32> -> tensor<8x4xi8>
  return %q : tensor<8x4xi8>
}

// -----

func.func @dequantize_result_shape_differs(%q: tensor<4xi8>, %s: tensor<f32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{'nibble.dequantize' op result shape [2, 2] differs from input shape [4]}}
  %w = nibble.dequantize %q scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<2x2xf32>
  return %w : tensor<2x2xf32>
}

// -----

// The element type constraints come from ODS: 32-bit storage is not a
// nibble integer tensor.
func.func @quantize_to_i32(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xi32> {
  // expected-error @+1 {{'nibble.quantize' op result #0 must be ranked tensor of 2-bit signless integer or 4-bit signless integer or 8-bit signless integer or 16-bit signless integer values, but got 'tensor<4xi32>'}}
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi32>
  return %q : tensor<4xi32>
}

// -----

//===----------------------------------------------------------------------===//
// nibble.matmul
//===----------------------------------------------------------------------===//

func.func @matmul_lhs_rank_1(%x: tensor<16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'nibble.matmul' op lhs must have rank 2 or more (..., M, K), got rank 1}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<16xf32>, tensor<16x8xi8> -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

func.func @matmul_weight_rank_3(%x: tensor<2x16xf32>, %w: tensor<1x16x8xi8>, %s: tensor<f32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op weight must be a K x N matrix, got rank 3}}
  %y = nibble.matmul %x, %w scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<1x16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @matmul_k_mismatch(%x: tensor<2x12xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op lhs has K = 12 but the weight has K = 16}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x12xf32>, tensor<16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @matmul_result_shape(%x: tensor<3x2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<6x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op result shape [6, 8] should be [3, 2, 8]}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<3x2x16xf32>, tensor<16x8xi8> -> tensor<6x8xf32>
  return %y : tensor<6x8xf32>
}

// -----

func.func @matmul_result_element_type(%x: tensor<2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>) -> tensor<2x8xf16> {
  // expected-error @+1 {{'nibble.matmul' op result element type 'f16' differs from lhs element type 'f32'}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi8> -> tensor<2x8xf16>
  return %y : tensor<2x8xf16>
}

// -----

func.func @matmul_per_channel_along_k(%x: tensor<2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<16xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op per_channel weights must have one scale per output column (axis = 1), got axis = 0}}
  %y = nibble.matmul %x, %w scale(%s : tensor<16xf32>)
         scheme <i8, per_channel<axis = 0>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @matmul_per_group_along_n(%x: tensor<2x16xf32>, %w: tensor<16x8xi4>, %s: tensor<16x2xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op per_group weights must be grouped along K (axis = 0), got axis = 1}}
  %y = nibble.matmul %x, %w scale(%s : tensor<16x2xf32>)
         scheme <i4, per_group<axis = 1, size = 4>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi4> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @matmul_bias_shape(%x: tensor<2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>, %b: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op bias must have shape [8], got [2, 8]}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>) bias(%b : tensor<2x8xf32>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @matmul_bias_element_type(%x: tensor<2x16xf32>, %w: tensor<16x8xi8>, %s: tensor<8xf32>, %b: tensor<8xf16>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'nibble.matmul' op bias element type 'f16' differs from result element type 'f32'}}
  %y = nibble.matmul %x, %w scale(%s : tensor<8xf32>) bias(%b : tensor<8xf16>)
         scheme <i8, per_channel<axis = 1>, symmetric, scale = f32>
         : tensor<2x16xf32>, tensor<16x8xi8> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

func.func @integer_matmul_k_mismatch(%x: tensor<2x3xi8>, %s: tensor<f32>, %w: tensor<4x5xi8>, %sw: tensor<5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op lhs has K = 3 but the weight has K = 4}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<f32>), %w scale(%sw : tensor<5xf32>) : tensor<2x3xi8>, tensor<4x5xi8> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_lhs_scale_shape(%x: tensor<2x3xi8>, %s: tensor<3xf32>, %w: tensor<3x5xi8>, %sw: tensor<5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op lhs_scale must have shape [] (per tensor) or [2] (per row), got [3]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<3xf32>), %w scale(%sw : tensor<5xf32>) : tensor<2x3xi8>, tensor<3x5xi8> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_weight_scale_shape(%x: tensor<2x3xi8>, %s: tensor<f32>, %w: tensor<3x5xi8>, %sw: tensor<3xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op scale must have shape [] (per tensor) or [5] (per output column), got [3]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<f32>), %w scale(%sw : tensor<3xf32>) : tensor<2x3xi8>, tensor<3x5xi8> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_rank(%x: tensor<1x2x3xi8>, %s: tensor<f32>, %w: tensor<3x5xi8>, %sw: tensor<5xf32>) -> tensor<1x2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op lhs (M x K) and weight (K x N) must be matrices, got ranks 3 and 2}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<f32>), %w scale(%sw : tensor<5xf32>) : tensor<1x2x3xi8>, tensor<3x5xi8> -> tensor<1x2x5xf32>
  return %y : tensor<1x2x5xf32>
}

// -----

func.func @integer_matmul_bias_shape(%x: tensor<2x3xi8>, %s: tensor<f32>, %w: tensor<3x5xi8>, %sw: tensor<5xf32>, %b: tensor<2xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op bias must have shape [5], got [2]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<f32>), %w scale(%sw : tensor<5xf32>) bias(%b : tensor<2xf32>) : tensor<2x3xi8>, tensor<3x5xi8> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_zero_point_of_int8(%x: tensor<2x3xi8>, %s: tensor<f32>, %w: tensor<3x5xi8>, %sw: tensor<5xf32>, %z: tensor<5xi8>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op zero_point needs an int4 weight}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<f32>), %w scale(%sw : tensor<5xf32>) zero_point(%z : tensor<5xi8>) : tensor<2x3xi8>, tensor<3x5xi8> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_zero_point_shape(%x: tensor<2x12xi8>, %s: tensor<2x2xf32>, %w: tensor<12x5xi4>, %sw: tensor<2x5xf32>, %z: tensor<5xi8>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op zero_point must have the shape of scale, [2, 5], got [5]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<2x2xf32>), %w scale(%sw : tensor<2x5xf32>) zero_point(%z : tensor<5xi8>) {group_size = 6 : i64} : tensor<2x12xi8>, tensor<12x5xi4> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_group_does_not_divide_k(%x: tensor<2x12xi8>, %s: tensor<2x2xf32>, %w: tensor<12x5xi4>, %sw: tensor<2x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op group_size must divide K = 12, got 8}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<2x2xf32>), %w scale(%sw : tensor<2x5xf32>) {group_size = 8 : i64} : tensor<2x12xi8>, tensor<12x5xi4> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_group_scales_need_a_group_size(%x: tensor<2x16xi8>, %s: tensor<2x2xf32>, %w: tensor<16x5xi4>, %sw: tensor<5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op lhs_scale must have shape [] (per tensor) or [2] (per row), got [2, 2]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<2x2xf32>), %w scale(%sw : tensor<5xf32>) : tensor<2x16xi8>, tensor<16x5xi4> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @integer_matmul_group_scale_shape(%x: tensor<2x16xi8>, %s: tensor<2x2xf32>, %w: tensor<16x5xi4>, %sw: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'nibble.integer_matmul' op scale must have shape [] (per tensor), [5] (per output column) or [2, 5] (per group), got [4, 5]}}
  %y = nibble.integer_matmul %x lhs_scale(%s : tensor<2x2xf32>), %w scale(%sw : tensor<4x5xf32>) {group_size = 8 : i64} : tensor<2x16xi8>, tensor<16x5xi4> -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}
