// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-dequant-gemv,canonicalize))" | FileCheck %s

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
