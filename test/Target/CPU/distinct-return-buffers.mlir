// RUN: nibble-opt %s --pass-pipeline="builtin.module(func.func(nibble-distinct-return-buffers))" -split-input-file | FileCheck %s
// RUN: nibble-opt %s --pass-pipeline="builtin.module(func.func(nibble-distinct-return-buffers),buffer-results-to-out-params{hoist-static-allocs=true modify-public-functions=true})" -split-input-file | FileCheck %s --check-prefix=OUT

// A buffer returned twice: the second result gets a copy of its own, which
// the out-parameter conversion then takes apart from the first.
// CHECK-LABEL: func.func @twice(
// CHECK:         %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK:         %[[H:.*]] = memref.alloc() : memref<4xf16>
// CHECK:         %[[COPY:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    memref.copy %[[A]], %[[COPY]] : memref<4xf32> to memref<4xf32>
// CHECK-NEXT:    return %[[A]], %[[COPY]], %[[H]] : memref<4xf32>, memref<4xf32>, memref<4xf16>
// OUT-LABEL: func.func @twice(
// OUT-SAME:      %[[X:.*]]: memref<4xf32>, %[[OUT0:.*]]: memref<4xf32>, %[[OUT1:.*]]: memref<4xf32>, %[[OUT2:.*]]: memref<4xf16>)
// OUT:           linalg.copy ins(%[[X]] : memref<4xf32>) outs(%[[OUT0]] : memref<4xf32>)
// OUT:           memref.copy %[[OUT0]], %[[OUT1]]
// OUT:           return
func.func @twice(%x: memref<4xf32>) -> (memref<4xf32>, memref<4xf32>, memref<4xf16>) {
  %a = memref.alloc() : memref<4xf32>
  linalg.copy ins(%x : memref<4xf32>) outs(%a : memref<4xf32>)
  %h = memref.alloc() : memref<4xf16>
  return %a, %a, %h : memref<4xf32>, memref<4xf32>, memref<4xf16>
}
