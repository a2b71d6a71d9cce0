// RUN: nibble-opt %s -split-input-file --convert-nibble-to-linalg | FileCheck %s

// Each nibble op becomes one linalg.generic whose body is the ONNX scalar
// formula; scales and zero points are read through the scheme's map
// (per channel: the axis; per group: the axis floordiv G).

//===----------------------------------------------------------------------===//
// nibble.quantize: convert(clamp(roundeven(x / s) + zp, qmin, qmax))
//===----------------------------------------------------------------------===//

// CHECK-DAG:   #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$COL:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @quantize_per_channel_u8_zero_point(
// CHECK-SAME:    %[[X:.*]]: tensor<4x8xf32>, %[[S:.*]]: tensor<8xf32>, %[[Z:.*]]: tensor<8xi8>)
// CHECK-DAG:     %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[HI:.*]] = arith.constant 2.550000e+02 : f32
// CHECK-DAG:     %[[EMPTY:.*]] = tensor.empty() : tensor<4x8xi8>
// CHECK:         %[[Q:.*]] = linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$ID2]], #[[$COL]], #[[$COL]], #[[$ID2]]]
// CHECK-SAME:      iterator_types = ["parallel", "parallel"]
// CHECK-SAME:      ins(%[[X]], %[[S]], %[[Z]] : tensor<4x8xf32>, tensor<8xf32>, tensor<8xi8>)
// CHECK-SAME:      outs(%[[EMPTY]] : tensor<4x8xi8>)
// CHECK-NEXT:    ^bb0(%[[XV:.*]]: f32, %[[SV:.*]]: f32, %[[ZV:.*]]: i8, %{{.*}}: i8):
// CHECK-NEXT:      %[[DIV:.*]] = arith.divf %[[XV]], %[[SV]] : f32
// CHECK-NEXT:      %[[ROUND:.*]] = math.roundeven %[[DIV]] : f32
// CHECK-NEXT:      %[[ZI:.*]] = arith.extui %[[ZV]] : i8 to i32
// CHECK-NEXT:      %[[ZF:.*]] = arith.sitofp %[[ZI]] : i32 to f32
// CHECK-NEXT:      %[[SHIFTED:.*]] = arith.addf %[[ROUND]], %[[ZF]] : f32
// CHECK-NEXT:      %[[MAX:.*]] = arith.maxnumf %[[SHIFTED]], %[[LO]] : f32
// CHECK-NEXT:      %[[MIN:.*]] = arith.minnumf %[[MAX]], %[[HI]] : f32
// CHECK-NEXT:      %[[INT:.*]] = arith.fptoui %[[MIN]] : f32 to i8
// CHECK-NEXT:      linalg.yield %[[INT]] : i8
// CHECK:         return %[[Q]]
func.func @quantize_per_channel_u8_zero_point(%x: tensor<4x8xf32>, %s: tensor<8xf32>, %z: tensor<8xi8>) -> tensor<4x8xi8> {
  %q = nibble.quantize %x scale(%s : tensor<8xf32>) zero_point(%z : tensor<8xi8>)
         scheme <u8, per_channel<axis = 1>, zero_point, scale = f32>
         : tensor<4x8xf32> -> tensor<4x8xi8>
  return %q : tensor<4x8xi8>
}

// -----

// Signed int4, symmetric: no zero point add, clamp to [-8, 7], fptosi. The
// f16 input and scale are computed in f32.
// CHECK-DAG:   #[[$ID1:.*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG:   #[[$SCALAR:.*]] = affine_map<(d0) -> ()>
// CHECK-LABEL: func.func @quantize_per_tensor_i4_f16(
// CHECK-SAME:    %[[X:.*]]: tensor<5xf16>, %[[S:.*]]: tensor<f16>)
// CHECK-DAG:     %[[LO:.*]] = arith.constant -8.000000e+00 : f32
// CHECK-DAG:     %[[HI:.*]] = arith.constant 7.000000e+00 : f32
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$ID1]], #[[$SCALAR]], #[[$ID1]]]
// CHECK-SAME:      ins(%[[X]], %[[S]] : tensor<5xf16>, tensor<f16>) outs(%{{.*}} : tensor<5xi4>)
// CHECK-NEXT:    ^bb0(%[[XV:.*]]: f16, %[[SV:.*]]: f16, %{{.*}}: i4):
// CHECK-NEXT:      %[[XF:.*]] = arith.extf %[[XV]] : f16 to f32
// CHECK-NEXT:      %[[SF:.*]] = arith.extf %[[SV]] : f16 to f32
// CHECK-NEXT:      %[[DIV:.*]] = arith.divf %[[XF]], %[[SF]] : f32
// CHECK-NEXT:      %[[ROUND:.*]] = math.roundeven %[[DIV]] : f32
// CHECK-NEXT:      %[[MAX:.*]] = arith.maxnumf %[[ROUND]], %[[LO]] : f32
// CHECK-NEXT:      %[[MIN:.*]] = arith.minnumf %[[MAX]], %[[HI]] : f32
// CHECK-NEXT:      %[[INT:.*]] = arith.fptosi %[[MIN]] : f32 to i4
// CHECK-NEXT:      linalg.yield %[[INT]] : i4
func.func @quantize_per_tensor_i4_f16(%x: tensor<5xf16>, %s: tensor<f16>) -> tensor<5xi4> {
  %q = nibble.quantize %x scale(%s : tensor<f16>)
         scheme <i4, per_tensor, symmetric, scale = f16>
         : tensor<5xf16> -> tensor<5xi4>
  return %q : tensor<5xi4>
}

// -----

// A signed zero point is sign-extended.
// CHECK-LABEL: func.func @quantize_per_tensor_i8_zero_point(
// CHECK:         ^bb0(%{{.*}}: f32, %{{.*}}: f32, %[[ZV:.*]]: i8, %{{.*}}: i8):
// CHECK:           arith.extsi %[[ZV]] : i8 to i32
// CHECK:           arith.fptosi %{{.*}} : f32 to i8
func.func @quantize_per_tensor_i8_zero_point(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4xi8> {
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <i8, per_tensor, zero_point, scale = f32>
         : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

//===----------------------------------------------------------------------===//
// nibble.dequantize: (ext(q) - ext(zp)) * s
//===----------------------------------------------------------------------===//

// CHECK-DAG:   #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$GROUP:.*]] = affine_map<(d0, d1) -> (d0 floordiv 4, d1)>
// CHECK-LABEL: func.func @dequantize_per_group_i4_f16(
// CHECK-SAME:    %[[Q:.*]]: tensor<6x8xi4>, %[[S:.*]]: tensor<2x8xf16>)
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<6x8xf16>
// CHECK:         %[[W:.*]] = linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$ID2]], #[[$GROUP]], #[[$ID2]]]
// CHECK-SAME:      ins(%[[Q]], %[[S]] : tensor<6x8xi4>, tensor<2x8xf16>) outs(%[[EMPTY]] : tensor<6x8xf16>)
// CHECK-NEXT:    ^bb0(%[[QV:.*]]: i4, %[[SV:.*]]: f16, %{{.*}}: f16):
// CHECK-NEXT:      %[[QI:.*]] = arith.extsi %[[QV]] : i4 to i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[QI]] : i32 to f32
// CHECK-NEXT:      %[[SF:.*]] = arith.extf %[[SV]] : f16 to f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[QF]], %[[SF]] : f32
// CHECK-NEXT:      %[[RES:.*]] = arith.truncf %[[PROD]] : f32 to f16
// CHECK-NEXT:      linalg.yield %[[RES]] : f16
// CHECK:         return %[[W]]
func.func @dequantize_per_group_i4_f16(%q: tensor<6x8xi4>, %s: tensor<2x8xf16>) -> tensor<6x8xf16> {
  %w = nibble.dequantize %q scale(%s : tensor<2x8xf16>)
         scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f16>
         : tensor<6x8xi4> -> tensor<6x8xf16>
  return %w : tensor<6x8xf16>
}

// -----

// Unsigned storage: both q and zp are zero-extended before the subtraction.
// CHECK-DAG:   #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @dequantize_per_channel_u8_zero_point(
// CHECK-SAME:    %[[Q:.*]]: tensor<4x8xi8>, %[[S:.*]]: tensor<4xf32>, %[[Z:.*]]: tensor<4xi8>)
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$ID2]], #[[$ROW]], #[[$ROW]], #[[$ID2]]]
// CHECK-SAME:      ins(%[[Q]], %[[S]], %[[Z]] : tensor<4x8xi8>, tensor<4xf32>, tensor<4xi8>)
// CHECK-NEXT:    ^bb0(%[[QV:.*]]: i8, %[[SV:.*]]: f32, %[[ZV:.*]]: i8, %{{.*}}: f32):
// CHECK-NEXT:      %[[QI:.*]] = arith.extui %[[QV]] : i8 to i32
// CHECK-NEXT:      %[[ZI:.*]] = arith.extui %[[ZV]] : i8 to i32
// CHECK-NEXT:      %[[CENTERED:.*]] = arith.subi %[[QI]], %[[ZI]] : i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[CENTERED]] : i32 to f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[QF]], %[[SV]] : f32
// CHECK-NEXT:      linalg.yield %[[PROD]] : f32
func.func @dequantize_per_channel_u8_zero_point(%q: tensor<4x8xi8>, %s: tensor<4xf32>, %z: tensor<4xi8>) -> tensor<4x8xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<4xf32>) zero_point(%z : tensor<4xi8>)
         scheme <u8, per_channel<axis = 0>, zero_point, scale = f32>
         : tensor<4x8xi8> -> tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

// Signed storage with a zero point: extsi for both.
// CHECK-LABEL: func.func @dequantize_per_tensor_i8_zero_point(
// CHECK:         ^bb0(%[[QV:.*]]: i8, %{{.*}}: f32, %[[ZV:.*]]: i8, %{{.*}}: f32):
// CHECK-NEXT:      %[[QI:.*]] = arith.extsi %[[QV]] : i8 to i32
// CHECK-NEXT:      %[[ZI:.*]] = arith.extsi %[[ZV]] : i8 to i32
// CHECK-NEXT:      arith.subi %[[QI]], %[[ZI]] : i32
func.func @dequantize_per_tensor_i8_zero_point(%q: tensor<4xi8>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4xf32> {
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <i8, per_tensor, zero_point, scale = f32>
         : tensor<4xi8> -> tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

//===----------------------------------------------------------------------===//
// nibble.matmul: y[m, n] += a[m, k] * dequantize(w[k, n])
//===----------------------------------------------------------------------===//

// A constant int4 weight is packed two per byte along K: byte row k/2 holds
// row k even in its low nibble and row k+1 in its high nibble, so K = 3
// packs into ceil(3 / 2) = 2 byte rows:
//   (1, 3) -> 0x31 = 49, (-2, -4) -> 0xCE = -50, (7, pad) -> 7, (-8, pad) -> 8;
// the columns go in tiles of whole 16-lane vectors (one tile here, 14
// columns of it zero padding), each tile's byte rows contiguous. The
// per-group scales go in the same tiles, each tile's groups contiguous
// (groups 0 and 1: 0.5, 1.0 and 2.0, 4.0, then padding), with the same map
// here since a group is 2 rows.
// The body picks the nibble with shift = 4 * (k & 1) and sign-extends it by
// shifting it to the top of the byte and back arithmetically. The bias
// initializes the accumulator, broadcast over rows.
// CHECK-DAG:   #[[$LHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[$PACKED:.*]] = affine_map<(d0, d1, d2) -> (d1 floordiv 16, d2 floordiv 2, d1 mod 16)>
// CHECK-DAG:   #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @matmul_packs_constant_int4_weight(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<2xf32>)
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : i8
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : i8
// CHECK-DAG:     %[[S:.*]] = arith.constant dense_resource<tiled_scale> : tensor<1x2x16xf32>
// CHECK-DAG:     %[[PACKED_W:.*]] = arith.constant dense_resource<packed_int4> : tensor<1x2x16xi8>
// CHECK-DAG:     %[[EMPTY:.*]] = tensor.empty() : tensor<2x2xf32>
// CHECK:         %[[INIT:.*]] = linalg.broadcast ins(%[[B]] : tensor<2xf32>) outs(%[[EMPTY]] : tensor<2x2xf32>) dimensions = [0]
// CHECK:         %[[Y:.*]] = linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$LHS]], #[[$PACKED]], #[[$PACKED]], #[[$OUT]]]
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:      ins(%[[X]], %[[PACKED_W]], %[[S]] : tensor<2x3xf32>, tensor<1x2x16xi8>, tensor<1x2x16xf32>)
// CHECK-SAME:      outs(%[[INIT]] : tensor<2x2xf32>)
// CHECK-SAME:      attrs = {nibble.lowered_matmul = {bits = 4 : i64, column_tile = 16 : i64, int4_words = false, packed_int4 = true, signed = true}}
// CHECK-NEXT:    ^bb0(%[[A:.*]]: f32, %[[BYTE:.*]]: i8, %[[SV:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT:      %[[K:.*]] = linalg.index 2 : index
// CHECK-NEXT:      %[[K8:.*]] = arith.index_cast %[[K]] : index to i8
// CHECK-NEXT:      %[[ODD:.*]] = arith.andi %[[K8]], %[[C1]] : i8
// CHECK-NEXT:      %[[SHIFT:.*]] = arith.muli %[[ODD]], %[[C4]] : i8
// CHECK-NEXT:      %[[UP_BY:.*]] = arith.subi %[[C4]], %[[SHIFT]] : i8
// CHECK-NEXT:      %[[UP:.*]] = arith.shli %[[BYTE]], %[[UP_BY]] : i8
// CHECK-NEXT:      %[[NIBBLE:.*]] = arith.shrsi %[[UP]], %[[C4]] : i8
// CHECK-NEXT:      %[[QI:.*]] = arith.extsi %[[NIBBLE]] : i8 to i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[QI]] : i32 to f32
// CHECK-NEXT:      %[[W:.*]] = arith.mulf %[[QF]], %[[SV]] : f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[A]], %[[W]] : f32
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:      linalg.yield %[[SUM]] : f32
// CHECK:         return %[[Y]]
// CHECK:         packed_int4: "0x0100000031CE000000000000000000000000000007080000000000000000000000000000"
// CHECK:         tiled_scale: "0x{{[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]}}0000003F0000803F{{0+}}0000004000008040{{0+}}"
func.func @matmul_packs_constant_int4_weight(%x: tensor<2x3xf32>, %b: tensor<2xf32>) -> tensor<2x2xf32> {
  %q = arith.constant dense<[[1, -2], [3, -4], [7, -8]]> : tensor<3x2xi4>
  %s = arith.constant dense<[[0.5, 1.0], [2.0, 4.0]]> : tensor<2x2xf32>
  %y = nibble.matmul %x, %q scale(%s : tensor<2x2xf32>) bias(%b : tensor<2xf32>)
         scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32>
         : tensor<2x3xf32>, tensor<3x2xi4> -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// When K and the groups are multiples of 8, a constant int4 weight for the
// CPU kernel goes in 32-bit words of 8 rows of K instead (row 8 r + e in
// bits 4 e), one column per word: column 0 = 1, -2, 3, -4, 5, -6, 7, -8 is
// 0x87A5C3E1 (-2019179551), column 1 = 0..7 is 0x76543210 (1985229328). The
// body shifts the field to the top of the word and back arithmetically.
// CHECK-DAG:   #[[$WORDS:.*]] = affine_map<(d0, d1, d2) -> (d1 floordiv 16, d2 floordiv 8, d1 mod 16)>
// CHECK-LABEL: func.func @matmul_packs_int4_words(
// CHECK-DAG:     %[[C28:.*]] = arith.constant 28 : i32
// CHECK-DAG:     %[[C7:.*]] = arith.constant 7 : i32
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : i32
// CHECK-DAG:     %[[PACKED_W:.*]] = arith.constant dense<{{\[}}{{\[}}[-2019179551, 1985229328, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]> : tensor<1x1x16xi32>
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#{{.*}}, #[[$WORDS]], #[[$WORDS]], #{{.*}}]
// CHECK-SAME:      ins(%{{.*}}, %[[PACKED_W]], %{{.*}} : tensor<1x8xf32>, tensor<1x1x16xi32>, tensor<1x1x16xf32>)
// CHECK-SAME:      attrs = {nibble.lowered_matmul = {bits = 4 : i64, column_tile = 16 : i64, int4_words = true, packed_int4 = true, signed = true}}
// CHECK-NEXT:    ^bb0(%{{.*}}: f32, %[[WORD:.*]]: i32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[K:.*]] = linalg.index 2 : index
// CHECK-NEXT:      %[[K32:.*]] = arith.index_cast %[[K]] : index to i32
// CHECK-NEXT:      %[[E:.*]] = arith.andi %[[K32]], %[[C7]] : i32
// CHECK-NEXT:      %[[SHIFT:.*]] = arith.muli %[[E]], %[[C4]] : i32
// CHECK-NEXT:      %[[UP_BY:.*]] = arith.subi %[[C28]], %[[SHIFT]] : i32
// CHECK-NEXT:      %[[UP:.*]] = arith.shli %[[WORD]], %[[UP_BY]] : i32
// CHECK-NEXT:      %[[Q:.*]] = arith.shrsi %[[UP]], %[[C28]] : i32
// CHECK-NEXT:      arith.sitofp %[[Q]] : i32 to f32
func.func @matmul_packs_int4_words(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %q = arith.constant dense<[[1, 0], [-2, 1], [3, 2], [-4, 3], [5, 4], [-6, 5], [7, 6], [-8, 7]]> : tensor<8x2xi4>
  %s = arith.constant dense<[[0.5, 2.0]]> : tensor<1x2xf32>
  %y = nibble.matmul %x, %q scale(%s : tensor<1x2xf32>)
         scheme <i4, per_group<axis = 0, size = 8>, symmetric, scale = f32>
         : tensor<1x8xf32>, tensor<8x2xi4> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Unsigned int4 with a zero point: the nibble is shifted down logically and
// masked, and the per-column zero point, stored one per byte, is
// zero-extended. 15 and 0 pack to 0x0F = 15; 8 and 1 to 0x18 = 24; 2 and 3
// to 0x32 = 50.
// CHECK-DAG:   #[[$COL:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func.func @matmul_packs_constant_uint4_weight_with_zero_point(
// CHECK-SAME:    %[[X:.*]]: tensor<1x2xf32>)
// CHECK-DAG:     %[[MASK:.*]] = arith.constant 15 : i8
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : i8
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : i8
// CHECK-DAG:     %[[PACKED_W:.*]] = arith.constant dense<{{\[}}{{\[}}[15, 24, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]> : tensor<1x1x16xi8>
// CHECK-DAG:     %[[ZP:.*]] = arith.constant dense<[8, 8, 0]> : tensor<3xi8>
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[INIT:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<1x3xf32>)
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#{{.*}}, #{{.*}}, #[[$COL]], #[[$COL]], #{{.*}}]
// CHECK-SAME:      ins(%[[X]], %[[PACKED_W]], %{{.*}}, %[[ZP]] : tensor<1x2xf32>, tensor<1x1x16xi8>, tensor<3xf32>, tensor<3xi8>)
// CHECK-SAME:      outs(%[[INIT]] : tensor<1x3xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.*]]: f32, %[[BYTE:.*]]: i8, %[[SV:.*]]: f32, %[[ZV:.*]]: i8, %[[ACC:.*]]: f32):
// CHECK-NEXT:      %[[K:.*]] = linalg.index 2 : index
// CHECK-NEXT:      %[[K8:.*]] = arith.index_cast %[[K]] : index to i8
// CHECK-NEXT:      %[[ODD:.*]] = arith.andi %[[K8]], %[[C1]] : i8
// CHECK-NEXT:      %[[SHIFT:.*]] = arith.muli %[[ODD]], %[[C4]] : i8
// CHECK-NEXT:      %[[DOWN:.*]] = arith.shrui %[[BYTE]], %[[SHIFT]] : i8
// CHECK-NEXT:      %[[NIBBLE:.*]] = arith.andi %[[DOWN]], %[[MASK]] : i8
// CHECK-NEXT:      %[[QI:.*]] = arith.extui %[[NIBBLE]] : i8 to i32
// CHECK-NEXT:      %[[ZI:.*]] = arith.extui %[[ZV]] : i8 to i32
// CHECK-NEXT:      %[[CENTERED:.*]] = arith.subi %[[QI]], %[[ZI]] : i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[CENTERED]] : i32 to f32
// CHECK-NEXT:      %[[W:.*]] = arith.mulf %[[QF]], %[[SV]] : f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[A]], %[[W]] : f32
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:      linalg.yield %[[SUM]] : f32
func.func @matmul_packs_constant_uint4_weight_with_zero_point(%x: tensor<1x2xf32>) -> tensor<1x3xf32> {
  // u4 values 15, 8, 2 / 0, 1, 3 written as signless i4 bits.
  %q = arith.constant dense<[[-1, -8, 2], [0, 1, 3]]> : tensor<2x3xi4>
  %s = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %z = arith.constant dense<[-8, -8, 0]> : tensor<3xi4>
  %y = nibble.matmul %x, %q scale(%s : tensor<3xf32>) zero_point(%z : tensor<3xi4>)
         scheme <u4, per_channel<axis = 1>, zero_point, scale = f32>
         : tensor<1x2xf32>, tensor<2x3xi4> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// A weight that is not a constant cannot be packed at compile time: it is
// read one i4 per element with the plain (k, n) map.
// CHECK-DAG:   #[[$WEIGHT:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG:   #[[$GROUP:.*]] = affine_map<(d0, d1, d2) -> (d2 floordiv 4, d1)>
// CHECK-LABEL: func.func @matmul_non_constant_int4_weight_is_not_packed(
// CHECK-SAME:    %[[X:.*]]: tensor<2x8xf32>, %[[Q:.*]]: tensor<8x4xi4>, %[[S:.*]]: tensor<2x4xf32>)
// CHECK-NOT:     tensor<{{.*}}xi8>
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#{{.*}}, #[[$WEIGHT]], #[[$GROUP]], #{{.*}}]
// CHECK-SAME:      ins(%[[X]], %[[Q]], %[[S]] : tensor<2x8xf32>, tensor<8x4xi4>, tensor<2x4xf32>)
// CHECK-NEXT:    ^bb0(%[[A:.*]]: f32, %[[QV:.*]]: i4, %[[SV:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT:      %[[QI:.*]] = arith.extsi %[[QV]] : i4 to i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[QI]] : i32 to f32
// CHECK-NEXT:      %[[W:.*]] = arith.mulf %[[QF]], %[[SV]] : f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[A]], %[[W]] : f32
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:      linalg.yield %[[SUM]] : f32
func.func @matmul_non_constant_int4_weight_is_not_packed(%x: tensor<2x8xf32>, %q: tensor<8x4xi4>, %s: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = nibble.matmul %x, %q scale(%s : tensor<2x4xf32>)
         scheme <i4, per_group<axis = 0, size = 4>, symmetric, scale = f32>
         : tensor<2x8xf32>, tensor<8x4xi4> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Leading batch dimensions are parallel loops that share the weight; a
// per-tensor scale is read with an empty map. f16 activations accumulate
// in f32 and are truncated back.
// CHECK-DAG:   #[[$LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG:   #[[$WEIGHT:.*]] = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
// CHECK-DAG:   #[[$SCALAR:.*]] = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-DAG:   #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @matmul_batched_per_tensor_i8_f16(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3x16xf16>, %[[Q:.*]]: tensor<16x8xi8>, %[[S:.*]]: tensor<f16>)
// CHECK:         %[[ZERO:.*]] = arith.constant 0.000000e+00 : f16
// CHECK:         %[[INIT:.*]] = linalg.fill ins(%[[ZERO]] : f16) outs(%{{.*}} : tensor<2x3x8xf16>)
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$LHS]], #[[$WEIGHT]], #[[$SCALAR]], #[[$OUT]]]
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME:      ins(%[[X]], %[[Q]], %[[S]] : tensor<2x3x16xf16>, tensor<16x8xi8>, tensor<f16>)
// CHECK-SAME:      outs(%[[INIT]] : tensor<2x3x8xf16>)
// CHECK-NEXT:    ^bb0(%[[A:.*]]: f16, %[[QV:.*]]: i8, %[[SV:.*]]: f16, %[[ACC:.*]]: f16):
// CHECK-NEXT:      %[[QI:.*]] = arith.extsi %[[QV]] : i8 to i32
// CHECK-NEXT:      %[[QF:.*]] = arith.sitofp %[[QI]] : i32 to f32
// CHECK-NEXT:      %[[SF:.*]] = arith.extf %[[SV]] : f16 to f32
// CHECK-NEXT:      %[[W:.*]] = arith.mulf %[[QF]], %[[SF]] : f32
// CHECK-NEXT:      %[[AF:.*]] = arith.extf %[[A]] : f16 to f32
// CHECK-NEXT:      %[[ACCF:.*]] = arith.extf %[[ACC]] : f16 to f32
// CHECK-NEXT:      %[[PROD:.*]] = arith.mulf %[[AF]], %[[W]] : f32
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[ACCF]], %[[PROD]] : f32
// CHECK-NEXT:      %[[RES:.*]] = arith.truncf %[[SUM]] : f32 to f16
// CHECK-NEXT:      linalg.yield %[[RES]] : f16
func.func @matmul_batched_per_tensor_i8_f16(%x: tensor<2x3x16xf16>, %q: tensor<16x8xi8>, %s: tensor<f16>) -> tensor<2x3x8xf16> {
  %y = nibble.matmul %x, %q scale(%s : tensor<f16>)
         scheme <i8, per_tensor, symmetric, scale = f16>
         : tensor<2x3x16xf16>, tensor<16x8xi8> -> tensor<2x3x8xf16>
  return %y : tensor<2x3x8xf16>
}

// -----

// Nothing of the nibble dialect is left, even for ops whose operands are
// constants (those fold first).
// CHECK-LABEL: func.func @no_nibble_ops_remain(
// CHECK-NOT:     nibble.
// CHECK:         return
func.func @no_nibble_ops_remain(%x: tensor<4xf32>) -> (tensor<4xi8>, tensor<4xf32>) {
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = nibble.quantize %x scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xf32> -> tensor<4xi8>
  %c = arith.constant dense<[1, 2, 3, 4]> : tensor<4xi8>
  %w = nibble.dequantize %c scale(%s : tensor<f32>)
         scheme <i8, per_tensor, symmetric, scale = f32> : tensor<4xi8> -> tensor<4xf32>
  return %q, %w : tensor<4xi8>, tensor<4xf32>
}

// -----

// W8A8: the integer product is a linalg.matmul accumulating exactly in i32;
// the epilogue applies the per-row activation scale, then the per-column
// weight scale, then the bias.
// CHECK-LABEL: func.func @integer_matmul(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xi8>, %[[SX:.*]]: tensor<2xf32>, %[[W:.*]]: tensor<3x4xi8>, %[[SW:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK:         %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK:         %[[INIT:.*]] = linalg.fill ins(%[[ZERO]] : i32)
// CHECK:         %[[ACC:.*]] = linalg.matmul ins(%[[X]], %[[W]] : tensor<2x3xi8>, tensor<3x4xi8>) outs(%[[INIT]] : tensor<2x4xi32>)
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[ACC]], %[[SX]], %[[SW]], %[[B]] : tensor<2x4xi32>, tensor<2xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK:           %[[F:.*]] = arith.sitofp %{{.*}} : i32 to f32
// CHECK:           %[[R:.*]] = arith.mulf %[[F]], %{{.*}} : f32
// CHECK:           %[[C:.*]] = arith.mulf %[[R]], %{{.*}} : f32
// CHECK:           arith.addf %[[C]], %{{.*}} : f32
func.func @integer_matmul(%x: tensor<2x3xi8>, %sx: tensor<2xf32>, %w: tensor<3x4xi8>, %sw: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %y = nibble.integer_matmul %x lhs_scale(%sx : tensor<2xf32>), %w scale(%sw : tensor<4xf32>) bias(%b : tensor<4xf32>) : tensor<2x3xi8>, tensor<3x4xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// W8A8 with a constant weight: the weight is packed for int8 dot products
// (16 columns x 4 rows of K per 64 bytes; here 1 x 1 x 64), and each
// column's accumulator starts at -128 times its weight sum: column 0 sums
// to 1 - 2 + 3 = 2, column 1 to 4 + 5 + 127 = 136, column 2 to -128 - 1 =
// -129, column 3 to 0. The body reads the activation unsigned (x xor
// 0x80 = x + 128), which the start value cancels.
// CHECK-LABEL: func.func @integer_matmul_constant_weight(
// CHECK-DAG:     %[[PACKED:.*]] = arith.constant dense_resource<packed_int8_dot> : tensor<1x1x64xi8>
// CHECK-DAG:     %[[SUMS:.*]] = arith.constant dense<[-256, -17408, 16512, 0]> : tensor<4xi32>
// CHECK:         %[[INIT:.*]] = linalg.broadcast ins(%[[SUMS]] : tensor<4xi32>) outs(%{{.*}} : tensor<2x4xi32>) dimensions = [0]
// CHECK:         %[[ACC:.*]] = linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %[[PACKED]] : tensor<2x3xi8>, tensor<1x1x64xi8>) outs(%[[INIT]] : tensor<2x4xi32>)
// CHECK-SAME:      nibble.int8_dot_matmul
// CHECK:           %[[U:.*]] = arith.xori %{{.*}}, %{{.*}} : i8
// CHECK:           %[[U32:.*]] = arith.extui %[[U]] : i8 to i32
// CHECK:           %[[W32:.*]] = arith.extsi %{{.*}} : i8 to i32
// CHECK:           %[[P:.*]] = arith.muli %[[U32]], %[[W32]] : i32
// CHECK:           arith.addi %{{.*}}, %[[P]] : i32
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[ACC]], %{{.*}}, %{{.*}} : tensor<2x4xi32>, tensor<2xf32>, tensor<f32>)
func.func @integer_matmul_constant_weight(%x: tensor<2x3xi8>, %sx: tensor<2xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1, 4, -128, 0], [-2, 5, -1, 0], [3, 127, 0, 0]]> : tensor<3x4xi8>
  %sw = arith.constant dense<0.5> : tensor<f32>
  %y = nibble.integer_matmul %x lhs_scale(%sx : tensor<2xf32>), %w scale(%sw : tensor<f32>) : tensor<2x3xi8>, tensor<3x4xi8> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// W4A8 with a constant int4 weight in groups of 8 rows of K: the weight is
// packed for int8 dot products (4 rows of K per 32-bit lane, two columns 16
// apart per byte as unsigned nibbles q + 8; here 1 x 4 x 64 bytes), the
// activations are viewed as [M, groups, 8], and the exact per-group sums
// [M, groups, N] feed an epilogue that adds the groups in order with fused
// multiply-adds.
// CHECK-LABEL: func.func @grouped_int4_matmul(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16xi8>, %[[SX:.*]]: tensor<2x2xf32>)
// CHECK-DAG:     %[[PACKED:.*]] = arith.constant dense_resource<packed_int4_dot> : tensor<1x4x64xi8>
// CHECK-DAG:     %[[XG:.*]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2]] output_shape [2, 2, 8] : tensor<2x16xi8> into tensor<2x2x8xi8>
// CHECK:         %[[SUMS:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[XG]], %[[PACKED]] : tensor<2x2x8xi8>, tensor<1x4x64xi8>) outs(%{{.*}} : tensor<2x2x2xi32>)
// CHECK-SAME:      nibble.int4_dot_matmul = {group_size = 8 : i64}
// The nibble of column n (high for n mod 32 >= 16), minus the offset of 8.
// CHECK:           linalg.index 2
// CHECK:           arith.remui
// CHECK:           arith.cmpi uge
// CHECK:           arith.shrui
// CHECK:           arith.select
// CHECK:           arith.andi
// CHECK:           arith.subi
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:      ins(%[[SUMS]], %[[SX]], %{{.*}} : tensor<2x2x2xi32>, tensor<2x2xf32>, tensor<2x2xf32>)
// CHECK-SAME:      nibble.grouped_epilogue
// CHECK:           %[[F:.*]] = arith.sitofp %{{.*}} : i32 to f32
// CHECK:           %[[S:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:           math.fma %[[F]], %[[S]], %{{.*}} : f32
func.func @grouped_int4_matmul(%x: tensor<2x16xi8>, %sx: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1, -8], [2, 7], [3, 0], [4, 1], [5, 2], [6, 3], [7, 4], [-1, 5],
                             [-2, 6], [-3, -1], [-4, -2], [-5, -3], [-6, -4], [-7, -5], [-8, -6], [0, -7]]> : tensor<16x2xi4>
  %sw = arith.constant dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf32>
  %y = nibble.integer_matmul %x lhs_scale(%sx : tensor<2x2xf32>), %w scale(%sw : tensor<2x2xf32>) {group_size = 8 : i64}
         : tensor<2x16xi8>, tensor<16x2xi4> -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}


// -----

// An int4 weight with zero points: the sums take the zero point [groups, N]
// as a third input and subtract it from every weight.
// CHECK-LABEL: func.func @grouped_int4_matmul_zero_point(
// CHECK:         %[[SUMS:.*]] = linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x2x8xi8>, tensor<1x4x64xi8>, tensor<2x2xi8>)
// CHECK-SAME:      nibble.int4_dot_matmul = {group_size = 8 : i64}
// CHECK:         ^bb0(%[[A:.*]]: i8, %[[Q:.*]]: i8, %[[Z:.*]]: i8, %[[ACC:.*]]: i32):
// CHECK:           %[[W:.*]] = arith.subi %{{.*}}, %c8_i32 : i32
// CHECK:           %[[Z32:.*]] = arith.extsi %[[Z]] : i8 to i32
// CHECK:           %[[WZ:.*]] = arith.subi %[[W]], %[[Z32]] : i32
// CHECK:           %[[A32:.*]] = arith.extsi %[[A]] : i8 to i32
// CHECK:           %[[P:.*]] = arith.muli %[[A32]], %[[WZ]] : i32
// CHECK:           arith.addi %[[ACC]], %[[P]] : i32
func.func @grouped_int4_matmul_zero_point(%x: tensor<2x16xi8>, %sx: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<3> : tensor<16x2xi4>
  %sw = arith.constant dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf32>
  %zw = arith.constant dense<[[1, -2], [7, 0]]> : tensor<2x2xi8>
  %y = nibble.integer_matmul %x lhs_scale(%sx : tensor<2x2xf32>), %w scale(%sw : tensor<2x2xf32>) zero_point(%zw : tensor<2x2xi8>) {group_size = 8 : i64}
         : tensor<2x16xi8>, tensor<16x2xi4> -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
