// RUN: nibble-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(func.func(nibble-cuda-device-buffers))" | FileCheck %s

// Host allocations move to device memory; kernels are left alone.

// CHECK-LABEL: func.func @device_allocs(
// CHECK:         %[[BUF:.*]] = gpu.alloc () : memref<16xf32>
// CHECK:         gpu.launch
// CHECK:           memref.store %{{.*}}, %[[BUF]]
// CHECK:         gpu.dealloc %[[BUF]] : memref<16xf32>
// CHECK-NOT:     memref.alloc
func.func @device_allocs() {
  %buf = memref.alloc() : memref<16xf32>
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    memref.store %zero, %buf[%c0] : memref<16xf32>
    gpu.terminator
  }
  memref.dealloc %buf : memref<16xf32>
  return
}

// -----

func.func @host_load(%in: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op touches memory on the host; the CUDA target runs every computation in kernels and cannot lower this model yet}}
  %v = memref.load %in[%c0] : memref<4xf32>
  return %v : f32
}
