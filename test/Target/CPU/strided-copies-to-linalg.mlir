// RUN: nibble-opt %s --nibble-cpu-strided-copies-to-linalg --split-input-file | FileCheck %s

// A copy out of a strided view would call memrefCopy (not linked into
// binaries): it becomes linalg.copy, which lowers to loops.
// CHECK-LABEL: func.func @strided_source(
// CHECK-SAME:    %[[SRC:.*]]: memref<4x8xf32>, %[[DST:.*]]: memref<4x4xf32>)
// CHECK:         %[[VIEW:.*]] = memref.subview %[[SRC]]
// CHECK-NEXT:    linalg.copy ins(%[[VIEW]] : memref<4x4xf32, strided<[8, 1], offset: 2>>) outs(%[[DST]] : memref<4x4xf32>)
// CHECK-NOT:     memref.copy
func.func @strided_source(%src: memref<4x8xf32>, %dst: memref<4x4xf32>) {
  %view = memref.subview %src[0, 2] [4, 4] [1, 1] : memref<4x8xf32> to memref<4x4xf32, strided<[8, 1], offset: 2>>
  memref.copy %view, %dst : memref<4x4xf32, strided<[8, 1], offset: 2>> to memref<4x4xf32>
  return
}

// -----

// Contiguous copies stay memref.copy (they lower to memcpy).
// CHECK-LABEL: func.func @contiguous(
// CHECK:         memref.copy
// CHECK-NOT:     linalg.copy
func.func @contiguous(%src: memref<4x4xf32>, %dst: memref<4x4xf32>) {
  memref.copy %src, %dst : memref<4x4xf32> to memref<4x4xf32>
  return
}
