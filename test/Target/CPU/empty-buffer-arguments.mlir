// RUN: nibble-opt %s --pass-pipeline="builtin.module(func.func(nibble-empty-buffer-arguments))" | FileCheck %s

// A zero-size buffer argument becomes memref<1xT> for the bare-pointer ABI;
// its uses see the original empty type through a reinterpret_cast. Other
// arguments keep their types.

// CHECK-LABEL: func.func @entry(
// CHECK-SAME:    %[[EMPTY:.*]]: memref<1xi64>, %[[FULL:.*]]: memref<4xf32>)
// CHECK:         %[[VIEW:.*]] = memref.reinterpret_cast %[[EMPTY]] to offset: [0], sizes: [3, 0, 5], strides: [0, 5, 1] : memref<1xi64> to memref<3x0x5xi64>
// CHECK:         call @use(%[[VIEW]], %[[FULL]])
func.func private @use(memref<3x0x5xi64>, memref<4xf32>)
func.func @entry(%empty: memref<3x0x5xi64>, %full: memref<4xf32>) {
  call @use(%empty, %full) : (memref<3x0x5xi64>, memref<4xf32>) -> ()
  return
}
