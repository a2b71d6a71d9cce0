// RUN: nibble-opt %s --pass-pipeline='builtin.module(func.func(nibble-cpu-parallel-loops),cse)' | FileCheck %s
// RUN: nibble-opt %s --pass-pipeline='builtin.module(func.func(nibble-cpu-parallel-loops{min-work=1000000}))' | FileCheck %s --check-prefix=SERIAL

// With a high threshold only the kernel's own loop (last function) remains.
// SERIAL-COUNT-1: scf.parallel
// SERIAL-NOT:     scf.parallel

#id1 = affine_map<(d0) -> (d0)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1) -> (d0)>

// Rows of an elementwise op are the chunks; the unit batch loop is skipped
// and the vectorized 384-element rows stay whole (32 chunks are enough).
// CHECK-LABEL: func.func @rows(
// CHECK-DAG:     %[[C32:.*]] = arith.constant 32 : index
// CHECK:         scf.parallel (%[[ROW:.*]]) = (%{{.*}}) to (%[[C32]])
// CHECK:           memref.subview %{{.*}}[0, %[[ROW]], 0] [1, 1, 384]
// CHECK:           linalg.generic
// CHECK:             math.exp
func.func @rows(%a: memref<1x32x384xf32>, %b: memref<1x32x384xf32>) {
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%a : memref<1x32x384xf32>) outs(%b : memref<1x32x384xf32>) {
  ^bb0(%x: f32, %y: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  }
  return
}

// A row reduction is split across rows only: each chunk owns its sums.
// CHECK-LABEL: func.func @row_sums(
// CHECK:         scf.parallel (%[[ROW:.*]]) =
// CHECK:           memref.subview %{{.*}}[%[[ROW]], 0] [1, 384]
// CHECK:           memref.subview %{{.*}}[%[[ROW]]] [1]
// CHECK:           linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
func.func @row_sums(%a: memref<32x384xf32>, %s: memref<32xf32>) {
  linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%a : memref<32x384xf32>) outs(%s : memref<32xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  }
  return
}

// With only the innermost loop to split, it is cut into 32 pieces of a
// multiple of 64 elements.
// CHECK-LABEL: func.func @long_vector(
// CHECK-DAG:     %[[C384:.*]] = arith.constant 384 : index
// CHECK-DAG:     %[[N:.*]] = arith.constant 12288 : index
// CHECK:         scf.parallel (%[[I:.*]]) = (%{{.*}}) to (%[[N]]) step (%[[C384]])
// CHECK:           memref.subview %{{.*}}[%[[I]]] [384] [1]
func.func @long_vector(%a: memref<12288xf32>, %b: memref<12288xf32>) {
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%a : memref<12288xf32>) outs(%b : memref<12288xf32>) {
  ^bb0(%x: f32, %y: f32):
    %r = arith.mulf %x, %x : f32
    linalg.yield %r : f32
  }
  return
}

// Too little work to pay for forking threads.
// CHECK-LABEL: func.func @small(
// CHECK-NOT:     scf.parallel
// CHECK:         linalg.generic
func.func @small(%a: memref<8x64xf32>, %b: memref<8x64xf32>) {
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a : memref<8x64xf32>) outs(%b : memref<8x64xf32>) {
  ^bb0(%x: f32, %y: f32):
    %r = arith.mulf %x, %x : f32
    linalg.yield %r : f32
  }
  return
}

// A reduction to one value has no parallel loop to split.
// CHECK-LABEL: func.func @full_reduction(
// CHECK-NOT:     scf.parallel
func.func @full_reduction(%a: memref<65536xf32>, %s: memref<f32>) {
  linalg.generic {indexing_maps = [#id1, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%a : memref<65536xf32>) outs(%s : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  }
  return
}

// Ops already inside a kernel's parallel loop are not split again.
// CHECK-LABEL: func.func @inside_parallel(
// CHECK:         scf.parallel
// CHECK-NOT:     scf.parallel
// CHECK:         linalg.generic
func.func @inside_parallel(%a: memref<4x32x384xf32>, %b: memref<4x32x384xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %sa = memref.subview %a[%i, 0, 0] [1, 32, 384] [1, 1, 1] : memref<4x32x384xf32> to memref<32x384xf32, strided<[384, 1], offset: ?>>
    %sb = memref.subview %b[%i, 0, 0] [1, 32, 384] [1, 1, 1] : memref<4x32x384xf32> to memref<32x384xf32, strided<[384, 1], offset: ?>>
    linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%sa : memref<32x384xf32, strided<[384, 1], offset: ?>>) outs(%sb : memref<32x384xf32, strided<[384, 1], offset: ?>>) {
    ^bb0(%x: f32, %y: f32):
      %r = arith.mulf %x, %x : f32
      linalg.yield %r : f32
    }
    scf.reduce
  }
  return
}
