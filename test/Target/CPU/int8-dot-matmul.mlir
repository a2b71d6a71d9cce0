// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-int8-dot-matmul,canonicalize))" | FileCheck %s
// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-int8-dot-matmul{vnni=false},canonicalize))" | FileCheck %s --check-prefix=NOVNNI

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

// -----

// W4A8, M = 9, K = 64 in 2 groups of 32, N = 130: the per-group sums and
// their epilogue become one kernel writing the output; the sums buffer is
// never written (its zero fill goes too). Before the panels, each row's
// activations are summed per group (for the weights' offset of 8). Each
// group starts its sums at -8 (low nibbles) and -128 (high nibbles) times
// that sum; each step of 4 rows of K masks one 64-byte weight load per
// column pair into low and high nibbles (columns 16 apart) and takes one
// dot product per row and vector against one broadcast activation word;
// after each group the high sums are shifted down by 4 and one fused
// multiply-add per output vector applies lhs_scale * scale.

#xg = affine_map<(m, g, n, kk) -> (m, g, kk)>
#w4 = affine_map<(m, g, n, kk) -> (n floordiv 32, (g * 32 + kk) floordiv 4, (n mod 16) * 4 + kk mod 4)>
#sums = affine_map<(m, g, n, kk) -> (m, g, n)>
#acc = affine_map<(m, n, g) -> (m, g, n)>
#rowscale = affine_map<(m, n, g) -> (m, g)>
#colscale = affine_map<(m, n, g) -> (g, n)>
#y = affine_map<(m, n, g) -> (m, n)>

// CHECK-LABEL: func.func @w4a8_product(
// CHECK-SAME:    %[[X:.*]]: memref<9x64xi8>, %[[W:.*]]: memref<5x16x64xi8>, %[[SX:.*]]: memref<9x2xf32>, %[[SW:.*]]: memref<2x130xf32>, %[[OUT:.*]]: memref<9x130xf32>)
// CHECK-DAG:     %[[MINUS8:.*]] = arith.constant dense<-8> : vector<16xi32>
// CHECK-DAG:     %[[MINUS128:.*]] = arith.constant dense<-128> : vector<16xi32>
// CHECK-NOT:     9x2x130xi32
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : memref<9x130xf32>)
// CHECK:         %[[ROWSUMS:.*]] = memref.alloc() : memref<9x2xi32>
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             vector.load %[[X]]{{.*}} : memref<9x64xi8>, vector<8xi8>
// CHECK:             arith.extsi %{{.*}} : vector<8xi8> to vector<8xi32>
// CHECK:           vector.reduction <add>, %{{.*}} : vector<8xi32> into i32
// CHECK:           memref.store %{{.*}}, %[[ROWSUMS]]
// CHECK:         scf.parallel (%{{.*}}) = (%c0) to (%c2) step (%c1) {
// CHECK:           scf.for %[[ROW:.*]] = %c0 to %c8 step %c4 {
// CHECK:             scf.for %[[GROUP:.*]] = %c0 to %c2 step %c1 {
// CHECK:               %[[SUM:.*]] = memref.load %[[ROWSUMS]][%[[ROW]], %[[GROUP]]] : memref<9x2xi32>
// CHECK:               %[[SUMS:.*]] = vector.broadcast %[[SUM]] : i32 to vector<16xi32>
// CHECK:               %[[LOW_START:.*]] = arith.muli %[[SUMS]], %[[MINUS8]] : vector<16xi32>
// CHECK:               %[[HIGH_START:.*]] = arith.muli %[[SUMS]], %[[MINUS128]] : vector<16xi32>
// CHECK:               scf.for {{.*}} iter_args(%{{.*}} = %[[LOW_START]], %{{.*}} = %[[HIGH_START]],
// CHECK:                 %[[BYTES:.*]] = vector.load %[[W]]{{.*}} : memref<5x16x64xi8>, vector<64xi8>
// CHECK:                 %[[LOW:.*]] = arith.andi %[[BYTES]], %{{.*}} : vector<64xi8>
// CHECK:                 %[[HIGH:.*]] = arith.andi %[[BYTES]], %{{.*}} : vector<64xi8>
// CHECK:                 %[[X4:.*]] = vector.load %[[X]][%[[ROW]], %{{.*}}] : memref<9x64xi8>, vector<4xi8>
// CHECK:                 %[[WORD:.*]] = vector.bitcast %[[X4]] : vector<4xi8> to vector<1xi32>
// CHECK:                 vector.extract %[[WORD]][0]
// CHECK:                 llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[LOW]], %{{.*}})
// CHECK:                 llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[HIGH]], %{{.*}})
// CHECK-COUNT-14:        llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK:                 scf.yield
// CHECK:               %[[ROWSCALE:.*]] = memref.load %[[SX]][%[[ROW]], %[[GROUP]]] : memref<9x2xf32>
// CHECK:               %[[COLSCALE:.*]] = vector.load %[[SW]][%[[GROUP]], %{{.*}}] : memref<2x130xf32>, vector<16xf32>
// CHECK:               arith.mulf %{{.*}}, %[[COLSCALE]] : vector<16xf32>
// CHECK:               %[[TOTAL:.*]] = vector.load %[[OUT]][%[[ROW]], %{{.*}}] : memref<9x130xf32>, vector<16xf32>
// CHECK:               arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK:               math.fma %{{.*}}, %{{.*}}, %[[TOTAL]] : vector<16xf32>
// CHECK:               vector.store %{{.*}}, %[[OUT]][%[[ROW]], %{{.*}}] : memref<9x130xf32>, vector<16xf32>
// The second vector holds high nibbles: its sums are 16 times too large.
// CHECK:               arith.shrsi %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK:               arith.sitofp
// The last panel: columns 128 and 129, through a mask.
// CHECK:         vector.constant_mask [2] : vector<16xi1>
// CHECK:         vector.maskedload %[[SW]]
// CHECK:         vector.maskedstore %[[OUT]]
// CHECK:         memref.dealloc %[[ROWSUMS]]
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     9x2x130xi32
func.func @w4a8_product(%x: memref<9x64xi8>, %w: memref<5x16x64xi8>, %sx: memref<9x2xf32>,
                        %sw: memref<2x130xf32>, %out: memref<9x130xf32>) {
  %sums = memref.alloc() : memref<9x2x130xi32>
  %zero = arith.constant 0 : i32
  linalg.fill ins(%zero : i32) outs(%sums : memref<9x2x130xi32>)
  %xg = memref.expand_shape %x [[0], [1, 2]] output_shape [9, 2, 32] : memref<9x64xi8> into memref<9x2x32xi8>
  linalg.generic {indexing_maps = [#xg, #w4, #sums], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%xg, %w : memref<9x2x32xi8>, memref<5x16x64xi8>) outs(%sums : memref<9x2x130xi32>)
      attrs = {nibble.int4_dot_matmul = {group_size = 32 : i64}} {
  ^bb0(%a: i8, %q: i8, %s: i32):
    %a32 = arith.extsi %a : i8 to i32
    %q32 = arith.extui %q : i8 to i32
    %p = arith.muli %a32, %q32 : i32
    %r = arith.addi %s, %p : i32
    linalg.yield %r : i32
  }
  %fzero = arith.constant 0.0 : f32
  linalg.fill ins(%fzero : f32) outs(%out : memref<9x130xf32>)
  linalg.generic {indexing_maps = [#acc, #rowscale, #colscale, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%sums, %sx, %sw : memref<9x2x130xi32>, memref<9x2xf32>, memref<2x130xf32>) outs(%out : memref<9x130xf32>)
      attrs = {nibble.grouped_epilogue = {}} {
  ^bb0(%s: i32, %a: f32, %b: f32, %y: f32):
    %f = arith.sitofp %s : i32 to f32
    %ab = arith.mulf %a, %b : f32
    %r = math.fma %f, %ab, %y : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sums : memref<9x2x130xi32>
  return
}

// -----

// W4A8 with zero points, M = 1, K = 32 (one group), N = 32 (one column
// pair): each group's sums start at the row's activation sum times
// -(8 + z) (low nibbles) and -16 (8 + z) (high nibbles), z read per column
// vector; the dot products are the same.

#xg1 = affine_map<(m, g, n, kk) -> (m, g, kk)>
#w41 = affine_map<(m, g, n, kk) -> (n floordiv 32, (g * 32 + kk) floordiv 4, (n mod 16) * 4 + kk mod 4)>
#zp1 = affine_map<(m, g, n, kk) -> (g, n)>
#sums1 = affine_map<(m, g, n, kk) -> (m, g, n)>
#acc1 = affine_map<(m, n, g) -> (m, g, n)>
#rowscale1 = affine_map<(m, n, g) -> (m, g)>
#colscale1 = affine_map<(m, n, g) -> (g, n)>
#y1 = affine_map<(m, n, g) -> (m, n)>

// CHECK-LABEL: func.func @w4a8_zero_point(
// CHECK-SAME:    %[[X:.*]]: memref<1x32xi8>, %[[W:.*]]: memref<1x8x64xi8>, %[[Z:.*]]: memref<1x32xi8>,
// CHECK-DAG:     %[[MINUS1:.*]] = arith.constant dense<-1> : vector<16xi32>
// CHECK-DAG:     %[[MINUS16:.*]] = arith.constant dense<-16> : vector<16xi32>
// CHECK-DAG:     %[[EIGHT:.*]] = arith.constant dense<8> : vector<16xi32>
// CHECK:         %[[ZLOW:.*]] = vector.load %[[Z]][%c0, %c0] : memref<1x32xi8>, vector<16xi8>
// CHECK:         %[[ZLOW32:.*]] = arith.extsi %[[ZLOW]] : vector<16xi8> to vector<16xi32>
// CHECK:         %[[OFFLOW:.*]] = arith.addi %[[ZLOW32]], %[[EIGHT]] : vector<16xi32>
// CHECK:         %[[NEGLOW:.*]] = arith.muli %[[OFFLOW]], %[[MINUS1]] : vector<16xi32>
// CHECK:         %[[ZHIGH:.*]] = vector.load %[[Z]][%c0, %c16] : memref<1x32xi8>, vector<16xi8>
// CHECK:         %[[ZHIGH32:.*]] = arith.extsi %[[ZHIGH]] : vector<16xi8> to vector<16xi32>
// CHECK:         %[[OFFHIGH:.*]] = arith.addi %[[ZHIGH32]], %[[EIGHT]] : vector<16xi32>
// CHECK:         %[[NEGHIGH:.*]] = arith.muli %[[OFFHIGH]], %[[MINUS16]] : vector<16xi32>
// CHECK:         %[[SUM:.*]] = memref.load %{{.*}}[%c0, %c0] : memref<1x1xi32>
// CHECK:         %[[SUMS:.*]] = vector.broadcast %[[SUM]] : i32 to vector<16xi32>
// CHECK:         %[[LOW:.*]] = arith.muli %[[SUMS]], %[[NEGLOW]] : vector<16xi32>
// CHECK:         %[[HIGH:.*]] = arith.muli %[[SUMS]], %[[NEGHIGH]] : vector<16xi32>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[LOW]], %{{.*}} = %[[HIGH]])
// CHECK-COUNT-2:   llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
func.func @w4a8_zero_point(%x: memref<1x32xi8>, %w: memref<1x8x64xi8>, %z: memref<1x32xi8>,
                           %sx: memref<1x1xf32>, %sw: memref<1x32xf32>, %out: memref<1x32xf32>) {
  %sums = memref.alloc() : memref<1x1x32xi32>
  %zero = arith.constant 0 : i32
  linalg.fill ins(%zero : i32) outs(%sums : memref<1x1x32xi32>)
  %xg = memref.expand_shape %x [[0], [1, 2]] output_shape [1, 1, 32] : memref<1x32xi8> into memref<1x1x32xi8>
  linalg.generic {indexing_maps = [#xg1, #w41, #zp1, #sums1], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%xg, %w, %z : memref<1x1x32xi8>, memref<1x8x64xi8>, memref<1x32xi8>) outs(%sums : memref<1x1x32xi32>)
      attrs = {nibble.int4_dot_matmul = {group_size = 32 : i64}} {
  ^bb0(%a: i8, %q: i8, %zq: i8, %s: i32):
    %a32 = arith.extsi %a : i8 to i32
    %q32 = arith.extui %q : i8 to i32
    %z32 = arith.extsi %zq : i8 to i32
    %d = arith.subi %q32, %z32 : i32
    %p = arith.muli %a32, %d : i32
    %r = arith.addi %s, %p : i32
    linalg.yield %r : i32
  }
  %fzero = arith.constant 0.0 : f32
  linalg.fill ins(%fzero : f32) outs(%out : memref<1x32xf32>)
  linalg.generic {indexing_maps = [#acc1, #rowscale1, #colscale1, #y1], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%sums, %sx, %sw : memref<1x1x32xi32>, memref<1x1xf32>, memref<1x32xf32>) outs(%out : memref<1x32xf32>)
      attrs = {nibble.grouped_epilogue = {}} {
  ^bb0(%s: i32, %a: f32, %b: f32, %y: f32):
    %f = arith.sitofp %s : i32 to f32
    %ab = arith.mulf %a, %b : f32
    %r = math.fma %f, %ab, %y : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sums : memref<1x1x32xi32>
  return
}
