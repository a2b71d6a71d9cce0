// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-dequant-gemv,canonicalize))" | FileCheck %s
// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-dequant-gemv{avx512=true},canonicalize))" | FileCheck %s --check-prefix=TABLE

// A packed int4 matmul, M = 2, K = 4 in groups of 2, N = 84: the weights
// are 2 tiles of 64 columns (84 used) and 2 byte rows. Two rows share a
// column tile of 2 vectors (32 columns), so N = 84 takes two such tiles, a
// whole vector and a masked partial one. Each step loads 16 bytes, splits
// them into the low (row 2j) and high (row 2j + 1) nibbles and FMAs both
// rows; the group's scale multiplies the accumulators once; the totals
// start from the output (the bias) and are stored once.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n floordiv 64, k floordiv 2, n mod 64)>
#s = affine_map<(m, n, k) -> (k floordiv 2, n)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @int4_gemv(
// CHECK-SAME:    %[[X:.*]]: memref<2x4xf32>, %[[W:.*]]: memref<2x2x64xi8>, %[[S:.*]]: memref<2x84xf32>, %[[OUT:.*]]: memref<2x84xf32>)
// CHECK-NOT:     linalg.generic
// CHECK:         scf.for %[[COL:.*]] = %c0 to %c64 step %c32 {
// CHECK:           %[[T0:.*]] = vector.load %[[OUT]][%c0, %[[COL]]] : memref<2x84xf32>, vector<16xf32>
// CHECK-COUNT-3:   vector.load %[[OUT]]
// One iteration per group (of one step: K = 4 in groups of 2).
// CHECK:           scf.for %[[GROUP:.*]] = %c0 to %c2 step %c1 iter_args(%{{.*}} = %[[T0]], {{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:             %[[BYTES:.*]] = vector.load %[[W]][%{{.*}}, %[[GROUP]], %{{.*}}] : memref<2x2x64xi8>, vector<16xi8>
// CHECK:             %[[UP:.*]] = arith.shli %[[BYTES]], %{{.*}} : vector<16xi8>
// CHECK:             %[[LOW:.*]] = arith.shrsi %[[UP]], %{{.*}} : vector<16xi8>
// CHECK:             %[[HIGH:.*]] = arith.shrsi %[[BYTES]], %{{.*}} : vector<16xi8>
// CHECK:             %[[LOW32:.*]] = arith.extsi %[[LOW]] : vector<16xi8> to vector<16xi32>
// CHECK:             %[[WLOW:.*]] = arith.sitofp %[[LOW32]] : vector<16xi32> to vector<16xf32>
// CHECK:             %[[X0:.*]] = memref.load %[[X]][%c0, %{{.*}}] : memref<2x4xf32>
// CHECK:             %[[X0S:.*]] = vector.broadcast %[[X0]] : f32 to vector<16xf32>
// CHECK:             math.fma %[[WLOW]], %[[X0S]], %{{.*}} : vector<16xf32>
// The scale of the group, once per accumulator.
// CHECK:             %[[SCALE:.*]] = vector.load %[[S]][%[[GROUP]], %[[COL]]] : memref<2x84xf32>, vector<16xf32>
// CHECK:             math.fma %{{.*}}, %[[SCALE]], %{{.*}} : vector<16xf32>
// CHECK:             scf.yield
// CHECK:           vector.store %{{.*}}, %[[OUT]][%c0, %[[COL]]] : memref<2x84xf32>, vector<16xf32>
// CHECK-COUNT-3:   vector.store %{{.*}}, %[[OUT]]
// Columns 64..79: one whole vector, from the second weight tile.
// CHECK:         vector.load %[[OUT]][%c0, %c64] : memref<2x84xf32>, vector<16xf32>
// CHECK:         scf.for
// CHECK:           vector.load %[[W]][%c1, %{{.*}}, %c0] : memref<2x2x64xi8>, vector<16xi8>
// The last 4 columns go through a mask.
// CHECK:         %[[MASK:.*]] = vector.constant_mask [4] : vector<16xi1>
// CHECK:         vector.maskedload %[[OUT]][%c0, %c80], %[[MASK]], %{{.*}} : memref<2x84xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK:         scf.for
// CHECK:           vector.load %[[W]][%c1, %{{.*}}, %c16] : memref<2x2x64xi8>, vector<16xi8>
// CHECK:           vector.maskedload %[[S]]
// CHECK:         vector.maskedstore %[[OUT]][%c0, %c80], %[[MASK]], %{{.*}} : memref<2x84xf32>, vector<16xi1>, vector<16xf32>
// CHECK-NOT:     linalg.generic
func.func @int4_gemv(%x: memref<2x4xf32>, %w: memref<2x2x64xi8>, %s: memref<2x84xf32>, %out: memref<2x84xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<2x4xf32>, memref<2x2x64xi8>, memref<2x84xf32>)
      outs(%out : memref<2x84xf32>)
      attrs = {nibble.lowered_matmul = {bits = 4 : i64, column_tile = 64 : i64, packed_int4 = true, signed = true}} {
  ^bb0(%a: f32, %q: i8, %sc: f32, %acc: f32):
    %qi = arith.extsi %q : i8 to i32
    %qf = arith.sitofp %qi : i32 to f32
    %w2 = arith.mulf %qf, %sc : f32
    %p = arith.mulf %a, %w2 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// int4 in 32-bit words of 8 rows of K (M = 1, K = 16 in groups of 8,
// N = 16): one 64-byte load per step gives 16 columns x 8 rows. Without
// AVX-512 each row of K is one shift and one and-or into the mantissa of
// 1.0 (the signed fields first made unsigned by flipping their top bits),
// and the group's epilogue turns dot(x, 1 + u / 16) back into dot(x, q)
// with the activations' sum: 16 dot - 24 sum(x). With AVX-512 the shifted
// field indexes a table of the 16 values (vpermps), exact, with no
// epilogue. The scales are in the weights' column tiles too
// ([tiles, groups, tile]).

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n floordiv 16, k floordiv 8, n mod 16)>
#s = affine_map<(m, n, k) -> (n floordiv 16, k floordiv 8, n mod 16)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @int4_words(
// CHECK:         scf.for %[[GROUP:.*]] = %c0 to %c2 step %c1
// CHECK:           %[[WORDS:.*]] = vector.load %{{.*}}[%c0, %[[GROUP]], %c0] : memref<1x2x16xi32>, vector<16xi32>
// CHECK:           %[[UNSIGNED:.*]] = arith.xori %[[WORDS]], %{{.*}} : vector<16xi32>
// CHECK:           %[[MOVED:.*]] = arith.shli %[[UNSIGNED]], %{{.*}} : vector<16xi32>
// CHECK:           %[[FIELD:.*]] = arith.andi %[[MOVED]], %{{.*}} : vector<16xi32>
// CHECK:           %[[ONE_PLUS:.*]] = arith.ori %[[FIELD]], %{{.*}} : vector<16xi32>
// CHECK:           %[[F:.*]] = arith.bitcast %[[ONE_PLUS]] : vector<16xi32> to vector<16xf32>
// CHECK:           math.fma %[[F]], %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:           arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-COUNT-7:   math.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:         %[[SCALE:.*]] = vector.load %{{.*}}[%c0, %[[GROUP]], %c0] : memref<1x2x16xf32>, vector<16xf32>
// CHECK:         arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:         math.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:         math.fma %{{.*}}, %[[SCALE]], %{{.*}} : vector<16xf32>
// CHECK-NOT:     llvm.call_intrinsic
// TABLE-LABEL: func.func @int4_words(
// TABLE:         %[[TABLE:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00, -8.000000e+00, -7.000000e+00, -6.000000e+00, -5.000000e+00, -4.000000e+00, -3.000000e+00, -2.000000e+00, -1.000000e+00]> : vector<16xf32>
// TABLE:         scf.for
// TABLE:           %[[WORDS:.*]] = vector.load %{{.*}} : memref<1x2x16xi32>, vector<16xi32>
// TABLE-NOT:       arith.xori
// TABLE:           %[[Q0:.*]] = llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"(%[[TABLE]], %[[WORDS]]) : (vector<16xf32>, vector<16xi32>) -> vector<16xf32>
// TABLE:           math.fma %[[Q0]], %{{.*}}, %{{.*}} : vector<16xf32>
// TABLE:           %[[MOVED:.*]] = arith.shrui %[[WORDS]], %{{.*}} : vector<16xi32>
// TABLE:           llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"(%[[TABLE]], %[[MOVED]])
// TABLE-NOT:       arith.addf %{{.*}}, %{{.*}} : f32
// TABLE:           scf.yield
func.func @int4_words(%x: memref<1x16xf32>, %w: memref<1x2x16xi32>, %s: memref<1x2x16xf32>, %out: memref<1x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<1x16xf32>, memref<1x2x16xi32>, memref<1x2x16xf32>)
      outs(%out : memref<1x16xf32>)
      attrs = {nibble.lowered_matmul = {bits = 4 : i64, column_tile = 16 : i64, int4_words = true, packed_int4 = true, signed = true}} {
  ^bb0(%a: f32, %q: i32, %sc: f32, %acc: f32):
    %qf = arith.sitofp %q : i32 to f32
    %w2 = arith.mulf %qf, %sc : f32
    %p = arith.mulf %a, %w2 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// float16 scales, and weights not in column tiles, keep the generic.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#s = affine_map<(m, n, k) -> (n)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @f16_scales(
// CHECK-NOT:     scf.for
// CHECK:         linalg.generic
// CHECK-LABEL: func.func @untiled_weights(
// CHECK-NOT:     scf.for
// CHECK:         linalg.generic
func.func @f16_scales(%x: memref<1x16xf32>, %w: memref<1x16x16xi8>, %s: memref<16xf16>, %out: memref<1x16xf32>) {
  linalg.generic {indexing_maps = [#x, affine_map<(m, n, k) -> (0, k, n)>, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<1x16xf32>, memref<1x16x16xi8>, memref<16xf16>)
      outs(%out : memref<1x16xf32>)
      attrs = {nibble.lowered_matmul = {bits = 8 : i64, column_tile = 16 : i64, packed_int4 = false, signed = true}} {
  ^bb0(%a: f32, %q: i8, %sc: f16, %acc: f32):
    %p = arith.mulf %a, %acc : f32
    linalg.yield %p : f32
  }
  return
}
func.func @untiled_weights(%x: memref<1x16xf32>, %w: memref<16x16xi8>, %s: memref<16xf32>, %out: memref<1x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<1x16xf32>, memref<16x16xi8>, memref<16xf32>)
      outs(%out : memref<1x16xf32>)
      attrs = {nibble.lowered_matmul = {bits = 8 : i64, column_tile = 0 : i64, packed_int4 = false, signed = true}} {
  ^bb0(%a: f32, %q: i8, %sc: f32, %acc: f32):
    %p = arith.mulf %a, %acc : f32
    linalg.yield %p : f32
  }
  return
}
