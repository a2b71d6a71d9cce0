// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cuda-tile-parallel-loops))" | FileCheck %s

// A 2 x 512 loop nest: the inner (contiguous) dimension gets a block of 256
// threads on x, the outer one stays one per block; the grid covers the rest.

// CHECK-LABEL: func.func @tile_2d(
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[ROWS:.*]] = arith.muli %c1, %c1_1 : index
// CHECK-DAG:     %[[COLS:.*]] = arith.muli %c1, %[[C256]] : index
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c2, %c512) step (%[[ROWS]], %[[COLS]])
// CHECK:           scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%[[ROWS]], %[[COLS]]) step (%c1, %c1)
// CHECK:             memref.store
// CHECK:           } {mapping = [#gpu.loop_dim_map<processor = thread_y, map = (d0) -> (d0), bound = (d0) -> (d0)>, #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = block_y, map = (d0) -> (d0), bound = (d0) -> (d0)>, #gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
func.func @tile_2d(%out: memref<2x512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c512 = arith.constant 512 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c2, %c512) step (%c1, %c1) {
    memref.store %zero, %out[%i, %j] : memref<2x512xf32>
    scf.reduce
  }
  return
}

// -----

// A short inner dimension leaves threads to the next one out: 64 x 4.

// CHECK-LABEL: func.func @tile_short_rows(
// CHECK-DAG:     %[[ROWS:.*]] = arith.muli %c1, %c4 : index
// CHECK-DAG:     %[[COLS:.*]] = arith.muli %c1, %c64_1 : index
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c100, %c64) step (%[[ROWS]], %[[COLS]])
func.func @tile_short_rows(%out: memref<100x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c100 = arith.constant 100 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c100, %c64) step (%c1, %c1) {
    memref.store %zero, %out[%i, %j] : memref<100x64xf32>
    scf.reduce
  }
  return
}

// -----

// Serial code that touches memory runs as a one-thread kernel, not on the host.

// CHECK-LABEL: func.func @serial_reduction(
// CHECK:         scf.parallel
// CHECK:           scf.parallel
// CHECK:             scf.for
// CHECK:               memref.load
// CHECK:               memref.store
// CHECK:         return
func.func @serial_reduction(%in: memref<8xf32>, %out: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  scf.for %i = %c0 to %c8 step %c1 {
    %v = memref.load %in[%i] : memref<8xf32>
    %acc = memref.load %out[] : memref<f32>
    %s = arith.addf %acc, %v : f32
    memref.store %s, %out[] : memref<f32>
  }
  return
}

// -----

// A parallel loop nested in a thread's work under a sequential loop (a
// linalg op whose parallel dimension follows its reduction) becomes an
// scf.for: convert-parallel-loops-to-gpu would leave the whole nest on the
// host otherwise.

// CHECK-LABEL: func.func @parallel_after_reduction(
// CHECK:         scf.parallel
// CHECK:           scf.parallel
// CHECK:             scf.for
// CHECK-NEXT:          scf.for
// CHECK-NOT:             scf.parallel
// CHECK:                 memref.store
// CHECK:         return
func.func @parallel_after_reduction(%in: memref<4x3x16xf32>, %out: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %r = %c0 to %c3 step %c1 {
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        %v = memref.load %in[%i, %r, %j] : memref<4x3x16xf32>
        %acc = memref.load %out[%i, %j] : memref<4x16xf32>
        %s = arith.addf %acc, %v : f32
        memref.store %s, %out[%i, %j] : memref<4x16xf32>
        scf.reduce
      }
    }
    scf.reduce
  }
  return
}
