// RUN: nibble-opt %s --nibble-cuda-resident-constants | FileCheck %s

// Host code reads constants through their device copies; mutable globals
// and the global's own initializer stay untouched.

// CHECK: llvm.func @nibble_cuda_resident(!llvm.ptr, i64) -> !llvm.ptr
// CHECK-LABEL: llvm.func @entry(
// CHECK:         %[[HOST:.*]] = llvm.mlir.addressof @weights : !llvm.ptr
// CHECK:         %[[BYTES:.*]] = llvm.mlir.constant(96 : i64) : i64
// CHECK:         %[[DEV:.*]] = llvm.call @nibble_cuda_resident(%[[HOST]], %[[BYTES]])
// CHECK:         llvm.call @use(%[[DEV]])
// CHECK:         %[[STATE:.*]] = llvm.mlir.addressof @state : !llvm.ptr
// CHECK:         llvm.call @use(%[[STATE]])
llvm.mlir.global private constant @weights(dense<1.0> : tensor<4x6xf32>) : !llvm.array<4 x array<6 x f32>>
llvm.mlir.global private @state(0 : i64) : i64
llvm.func @use(!llvm.ptr)
llvm.func @entry() {
  %w = llvm.mlir.addressof @weights : !llvm.ptr
  llvm.call @use(%w) : (!llvm.ptr) -> ()
  %s = llvm.mlir.addressof @state : !llvm.ptr
  llvm.call @use(%s) : (!llvm.ptr) -> ()
  llvm.return
}
