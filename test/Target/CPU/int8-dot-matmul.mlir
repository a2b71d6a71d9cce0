// RUN: nibble-opt %s --pass-pipeline="builtin.module(func.func(nibble-cpu-int8-dot-matmul,canonicalize))" | FileCheck %s
// RUN: nibble-opt %s --pass-pipeline="builtin.module(func.func(nibble-cpu-int8-dot-matmul{vnni=false},canonicalize))" | FileCheck %s --check-prefix=NOVNNI

// The integer product of a W8A8 matmul, M = 9, K = 10, N = 164: the weight
// is packed as ceil(164 / 16) = 11 column vectors x ceil(10 / 4) = 3
// groups of 4 rows of K x 64 bytes. Columns go in panels of 64: two whole
// panels in the parallel loop (threads), then a panel of 36 columns (2
// vectors and a masked one of 4). Rows go in tiles of 4, then 1. K = 10
// takes 2 whole steps of 4 and a masked step of 2.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n floordiv 16, k floordiv 4, (n mod 16) * 4 + k mod 4)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @w8a8_product(
// CHECK-SAME:    %[[X:.*]]: memref<9x10xi8>, %[[W:.*]]: memref<11x3x64xi8>, %[[OUT:.*]]: memref<9x164xi32>)
// CHECK-NOT:     linalg.generic
// CHECK-DAG:     %[[FLIP:.*]] = arith.constant -2139062144 : i32
// The whole panels: one parallel iteration each, whose 4-row tiles keep
// 4 x 4 accumulators (loaded from the output, which holds the weight-sum
// correction) over all of K.
// CHECK:         scf.parallel (%[[PANEL:.*]]) = (%c0) to (%c2) step (%c1) {
// CHECK:           %[[COL:.*]] = arith.muli %[[PANEL]], %c64 : index
// CHECK:           scf.for %[[ROW:.*]] = %c0 to %c8 step %c4 {
// CHECK-COUNT-16:    vector.load %[[OUT]]{{.*}} : memref<9x164xi32>, vector<16xi32>
// CHECK:             scf.for %[[Q:.*]] = %c0 to %c2 step %c1 iter_args(
// Per step: 4 weight vectors of 16 columns x 4 rows of K ...
// CHECK-COUNT-4:       vector.load %[[W]][%{{.*}}, %[[Q]], %c0] : memref<11x3x64xi8>, vector<64xi8>
// ... and per row the 4 activation bytes as one word, made unsigned and
// broadcast, then one vpdpbusd per column vector.
// CHECK:               %[[BYTES:.*]] = vector.load %[[X]][%[[ROW]], %{{.*}}] : memref<9x10xi8>, vector<4xi8>
// CHECK:               %[[WORD:.*]] = vector.bitcast %[[BYTES]] : vector<4xi8> to vector<1xi32>
// CHECK:               %[[SCALAR:.*]] = vector.extract %[[WORD]][0] : i32 from vector<1xi32>
// CHECK:               %[[UNSIGNED:.*]] = arith.xori %[[SCALAR]], %[[FLIP]] : i32
// CHECK:               %[[SPLAT:.*]] = vector.broadcast %[[UNSIGNED]] : i32 to vector<16xi32>
// CHECK:               %[[U:.*]] = vector.bitcast %[[SPLAT]] : vector<16xi32> to vector<64xi8>
// CHECK:               llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[U]], %{{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-COUNT-15:      llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK:               scf.yield
// The last 2 rows of K: a masked activation load.
// CHECK:             vector.maskedload %[[X]]{{.*}} : memref<9x10xi8>, vector<4xi1>, vector<4xi8> into vector<4xi8>
// CHECK-COUNT-16:    vector.store %{{.*}}, %[[OUT]]
// The ninth row, alone.
// CHECK:           vector.load %[[OUT]][%c8, %[[COL]]]
// CHECK:           scf.reduce
// The last panel, columns 128..163, after the parallel loop: its last
// vector goes through a mask of 4 lanes.
// CHECK:         %[[TAIL:.*]] = vector.constant_mask [4] : vector<16xi1>
// CHECK:         scf.for
// CHECK:           vector.maskedload %[[OUT]][%{{.*}}, %c160], %[[TAIL]]
// CHECK:           vector.maskedstore %[[OUT]][%{{.*}}, %c160], %[[TAIL]]
// CHECK-NOT:     linalg.generic

// Without VNNI the same loops spell the dot product out: 4 byte shuffles
// per operand, widened, multiplied and added.
// NOVNNI-LABEL: func.func @w8a8_product(
// NOVNNI-NOT:     llvm.call_intrinsic
// NOVNNI:         vector.shuffle %{{.*}} [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60] : vector<64xi8>, vector<64xi8>
// NOVNNI:         arith.extui %{{.*}} : vector<16xi8> to vector<16xi32>
// NOVNNI:         arith.extsi %{{.*}} : vector<16xi8> to vector<16xi32>
// NOVNNI:         arith.muli %{{.*}} : vector<16xi32>
// NOVNNI-NOT:     llvm.call_intrinsic
func.func @w8a8_product(%x: memref<9x10xi8>, %w: memref<11x3x64xi8>, %out: memref<9x164xi32>) {
  linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<9x10xi8>, memref<11x3x64xi8>)
      outs(%out : memref<9x164xi32>)
      attrs = {nibble.int8_dot_matmul = {}} {
  ^bb0(%a: i8, %q: i8, %acc: i32):
    %flip = arith.constant -128 : i8
    %u = arith.xori %a, %flip : i8
    %u32 = arith.extui %u : i8 to i32
    %q32 = arith.extsi %q : i8 to i32
    %p = arith.muli %u32, %q32 : i32
    %r = arith.addi %acc, %p : i32
    linalg.yield %r : i32
  }
  return
}

// A weight that is not in the dot-product layout keeps its generic.
// CHECK-LABEL: func.func @unpacked_weight(
// CHECK-NOT:     scf.parallel
// CHECK:         linalg.generic
func.func @unpacked_weight(%x: memref<9x10xi8>, %w: memref<10x164xi8>, %out: memref<9x164xi32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<9x10xi8>, memref<10x164xi8>)
      outs(%out : memref<9x164xi32>)
      attrs = {nibble.int8_dot_matmul = {}} {
  ^bb0(%a: i8, %q: i8, %acc: i32):
    %a32 = arith.extsi %a : i8 to i32
    %q32 = arith.extsi %q : i8 to i32
    %p = arith.muli %a32, %q32 : i32
    %r = arith.addi %acc, %p : i32
    linalg.yield %r : i32
  }
  return
}
