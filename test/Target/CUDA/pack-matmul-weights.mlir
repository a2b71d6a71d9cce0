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
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 4 : i64, group_size = 32 : i64, has_zero_point = false, layout = "gemv", signed = true}
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
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<1x3x32xf32> into tensor<3x32xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[FLAT]]
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 8 : i64, group_size = 32 : i64, has_zero_point = true, layout = "gemv", signed = false}
// CHECK:           arith.shrui
// CHECK:           arith.andi
// CHECK:         %[[BIASED:.*]] = linalg.generic
// CHECK:           arith.addf
// CHECK:         tensor.expand_shape %[[BIASED]]
func.func @int8_per_channel_zero_point_bias(%x: tensor<1x3x32xf32>, %b: tensor<2xf32>) -> tensor<1x3x2xf32> {
  %w = arith.constant dense<7> : tensor<32x2xi8>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z = arith.constant dense<[4, 6]> : tensor<2xi8>
  %y = nibble.matmul %x, %w scale(%s : tensor<2xf32>) zero_point(%z : tensor<2xi8>) bias(%b : tensor<2xf32>) scheme <u8, per_channel<axis = 1>, zero_point, scale = f32> : tensor<1x3x32xf32>, tensor<32x2xi8> -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// More than 4 rows (M = 5) take the tensor-core kernel's layout
// (MmaLayout.h): one tile of 8 columns (6 of them padding), K padded to 128,
// lane l = 4 n + c owning, per 16-wide step s, k = 16 s + 4 c + 2 h + e as
// pair P = 2 s + h, first value in field P % 4, second in field P % 4 + 4,
// stored as u = q + 8. Column 0 holds q = k mod 16 - 8, i.e. u = k mod 16:
// lane 0's first word has pairs (k 0, 1), (2, 3), (16, 17), (18, 19) with u
// 0/1, 2/3, 0/1, 2/3, i.e. fields 0 2 0 2 1 3 1 3 = 0x31312020; lanes 1-3
// likewise 0x75756464, 0xB9B9A8A8, 0xFDFDECEC; its other three words are
// K padding. Column 1 (u = 15 - k mod 16) is lane 4: 0xCECEDFDF. Without
// zero points the offset 8 is a constant of the generic, not an operand.

// CHECK-LABEL: func.func @int4_mma_layout(
// CHECK-DAG:     %[[W:.*]] = arith.constant dense_resource<fc.packed> : tensor<1x128xi32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<{{\[}}[5.000000e-01, 5.000000e-01], [2.500000e-01, 2.500000e-01]]> : tensor<2x2xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %[[W]], %[[S]] : tensor<5x32xf32>, tensor<1x128xi32>, tensor<2x2xf32>)
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 4 : i64, group_size = 16 : i64, has_zero_point = false, layout = "mma", signed = true}
// CHECK:           arith.shrui
// CHECK:           arith.andi
// CHECK:           arith.uitofp
// CHECK:           arith.subf %{{.*}}, %{{.*}} : f32
// CHECK:       fc.packed: "0x{{[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]}}2020313100000000000000000000000064647575000000000000000000000000A8A8B9B9000000000000000000000000ECECFDFD000000000000000000000000DFDFCECE
func.func @int4_mma_layout(%x: tensor<5x32xf32>) -> tensor<5x2xf32> {
  %w = arith.constant dense<[[-8, 7], [-7, 6], [-6, 5], [-5, 4], [-4, 3], [-3, 2], [-2, 1], [-1, 0], [0, -1], [1, -2], [2, -3], [3, -4], [4, -5], [5, -6], [6, -7], [7, -8], [-8, 7], [-7, 6], [-6, 5], [-5, 4], [-4, 3], [-3, 2], [-2, 1], [-1, 0], [0, -1], [1, -2], [2, -3], [3, -4], [4, -5], [5, -6], [6, -7], [7, -8]]> : tensor<32x2xi4>
  %s = arith.constant dense<[[0.5, 0.25], [0.5, 0.25]]> : tensor<2x2xf32>
  %y = nibble.matmul %x, %w scale(%s : tensor<2x2xf32>) scheme <i4, per_group<axis = 0, size = 16>, symmetric, scale = f32> {nibble.layer = "fc", nibble.op_type = "MatMul"} : tensor<5x32xf32>, tensor<32x2xi4> -> tensor<5x2xf32>
  return %y : tensor<5x2xf32>
}

// -----

// In the MMA layout zero points stay integers: the generic subtracts
// offset + zero point (0 + 4, 0 + 6 for uint8) from the field, then scales.

// CHECK-LABEL: func.func @uint8_mma_zero_point(
// CHECK-DAG:     %[[Z:.*]] = arith.constant dense<{{\[}}[4.000000e+00], [6.000000e+00]]> : tensor<2x1xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %{{.*}}, %{{.*}}, %[[Z]] : tensor<8x32xf32>, tensor<1x256xi32>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 8 : i64, group_size = 32 : i64, has_zero_point = true, layout = "mma", signed = false}
func.func @uint8_mma_zero_point(%x: tensor<8x32xf32>) -> tensor<8x2xf32> {
  %w = arith.constant dense<7> : tensor<32x2xi8>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z = arith.constant dense<[4, 6]> : tensor<2xi8>
  %y = nibble.matmul %x, %w scale(%s : tensor<2xf32>) zero_point(%z : tensor<2xi8>) scheme <u8, per_channel<axis = 1>, zero_point, scale = f32> : tensor<8x32xf32>, tensor<32x2xi8> -> tensor<8x2xf32>
  return %y : tensor<8x2xf32>
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

// -----

// A float16 layer (activations widened to f32 around the product, the
// output rounded back): the generic reads the float16 activations as they
// are and widens them in its body, and the rounding is marked as the
// kernel's epilogue (the kernel stores float16 itself).

// CHECK-LABEL: func.func @float16_layer(
// CHECK-SAME:    %[[X:.*]]: tensor<3x32xf16>
// CHECK:         %[[Y:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<3x32xf16>, tensor<2x128xi32>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-SAME:      outs(%{{.*}} : tensor<3x2xf32>)
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:         %[[H:.*]] = linalg.generic {{.*}} ins(%[[Y]] : tensor<3x2xf32>)
// CHECK-SAME:      nibble.kernel_epilogue
// CHECK:           arith.truncf
// CHECK:         return %[[H]]
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @float16_layer(%x: tensor<3x32xf16>) -> tensor<3x2xf16> {
  %w = arith.constant dense<1> : tensor<32x2xi4>
  %s = arith.constant dense<[[0.5, 0.25]]> : tensor<1x2xf32>
  %e = tensor.empty() : tensor<3x32xf32>
  %wide = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<3x32xf16>) outs(%e : tensor<3x32xf32>) {
  ^bb0(%in: f16, %out: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<3x32xf32>
  %y = nibble.matmul %wide, %w scale(%s : tensor<1x2xf32>) scheme <i4, per_group<axis = 0, size = 32>, symmetric, scale = f32> {nibble.layer = "fc", nibble.op_type = "MatMul"} : tensor<3x32xf32>, tensor<32x2xi4> -> tensor<3x2xf32>
  %e16 = tensor.empty() : tensor<3x2xf16>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<3x2xf32>) outs(%e16 : tensor<3x2xf16>) {
  ^bb0(%in: f32, %out: f16):
    %v = arith.truncf %in : f32 to f16
    linalg.yield %v : f16
  } -> tensor<3x2xf16>
  return %h : tensor<3x2xf16>
}

// -----

// An unquantized matmul with float16 weights takes the tensor-core layout
// at any M, its weights as 16-bit fields (k = 16 s + 4 c + 2 h + e as pair
// P = 2 s + h, one word per pair: the mma's f16x2 B register as it is) with
// unit scales. Column 0 holds 1.0 (0x3C00): lane 0's words 0-3 (k < 32) are
// 0x3C003C00, the other twelve K padding; column 1 (-2.0, 0xC000) is lane 4.

// CHECK-LABEL: func.func @float16_weights(
// CHECK-DAG:     %[[W:.*]] = arith.constant dense_resource<fc16.packed> : tensor<1x512xi32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<1.000000e+00> : tensor<2x1xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %[[W]], %[[S]] : tensor<3x32xf16>, tensor<1x512xi32>, tensor<2x1xf32>)
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 16 : i64, group_size = 32 : i64, has_zero_point = false, layout = "mma", signed = false}
// CHECK:           arith.trunci %{{.*}} : i32 to i16
// CHECK:           arith.bitcast %{{.*}} : i16 to f16
// CHECK-NOT:     linalg.matmul
// CHECK:       fc16.packed: "0x{{[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]}}003C003C003C003C003C003C003C003C000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003C003C
// CHECK-SAME:    00C000C000C000C000C000C000C000C0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
#id16 = affine_map<(d0, d1) -> (d0, d1)>
func.func @float16_weights(%x: tensor<3x32xf16>) -> tensor<3x2xf32> {
  %w16 = arith.constant dense<[[1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0], [1.0, -2.0]]> : tensor<32x2xf16>
  %ew = tensor.empty() : tensor<32x2xf32>
  %w = linalg.generic {indexing_maps = [#id16, #id16], iterator_types = ["parallel", "parallel"]}
      ins(%w16 : tensor<32x2xf16>) outs(%ew : tensor<32x2xf32>) {
  ^bb0(%in: f16, %out: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<32x2xf32>
  %ex = tensor.empty() : tensor<3x32xf32>
  %wide = linalg.generic {indexing_maps = [#id16, #id16], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<3x32xf16>) outs(%ex : tensor<3x32xf32>) {
  ^bb0(%in: f16, %out: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<3x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {nibble.layer = "fc16", nibble.op_type = "MatMul"} ins(%wide, %w : tensor<3x32xf32>, tensor<32x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// float32 weights take the GEMV's layout as whole 32-bit words (unit scales,
// zero scaled zero points) where M picks the GEMV and K pads to whole
// 1024-wide blocks with little waste: lane 0's first word is k = 0 of
// column 0 (0.5, 0x3F000000). Rounding them to f16 for the tensor cores
// would change the layer: with more rows, or a K that would pad to 32x its
// size, they stay with the generic lowering.

// CHECK-LABEL: func.func @float32_weights(
// CHECK-DAG:     %[[W:.*]] = arith.constant dense_resource<fc32.packed> : tensor<2x1024xi32>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<1.000000e+00> : tensor<2x1xf32>
// CHECK-DAG:     %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2x1xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %[[W]], %[[S]], %[[Z]] : tensor<3x1024xf32>, tensor<2x1024xi32>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-SAME:      nibble.dequant_matmul = {{\{}}bits = 32 : i64, group_size = 1024 : i64, has_zero_point = false, layout = "gemv", signed = false}
// CHECK:           arith.bitcast %{{.*}} : i32 to f32
// CHECK-NOT:     linalg.matmul
// CHECK:       fc32.packed: "0x{{[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]}}0000003F0000003F
func.func @float32_weights(%x: tensor<3x1024xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<0.5> : tensor<1024x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul {nibble.layer = "fc32"} ins(%x, %w : tensor<3x1024xf32>, tensor<1024x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// CHECK-LABEL: func.func @float32_weights_many_rows(
// CHECK:         linalg.matmul
// CHECK-NOT:     nibble.dequant_matmul
func.func @float32_weights_many_rows(%x: tensor<8x1024xf32>) -> tensor<8x2xf32> {
  %w = arith.constant dense<0.5> : tensor<1024x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x2xf32>) -> tensor<8x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x1024xf32>, tensor<1024x2xf32>) outs(%init : tensor<8x2xf32>) -> tensor<8x2xf32>
  return %y : tensor<8x2xf32>
}

// -----

// CHECK-LABEL: func.func @float32_weights_short_k(
// CHECK:         linalg.matmul
// CHECK-NOT:     nibble.dequant_matmul
func.func @float32_weights_short_k(%x: tensor<3x32xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<0.5> : tensor<32x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<3x32xf32>, tensor<32x2xf32>) outs(%init : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
