// RUN: nibble-opt %s --nibble-cpu-inline-alloca-free-scopes | FileCheck %s

// A scope around an intrinsic call (no memory effects declared, so
// upstream's canonicalization keeps the scope) and a loop is inlined; a
// scope around a stack allocation stays.

// CHECK-LABEL: func.func @no_allocation(
// CHECK-NOT:     memref.alloca_scope
// CHECK:         scf.for
// CHECK:           llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK-NOT:     memref.alloca_scope
func.func @no_allocation(%acc: vector<16xi32>, %a: vector<64xi8>, %n: index) -> vector<16xi32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = memref.alloca_scope -> vector<16xi32> {
    %s = scf.for %i = %c0 to %n step %c1 iter_args(%x = %acc) -> vector<16xi32> {
      %d = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%x, %a, %a) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
      scf.yield %d : vector<16xi32>
    }
    memref.alloca_scope.return %s : vector<16xi32>
  }
  return %r : vector<16xi32>
}

// CHECK-LABEL: func.func @allocation(
// CHECK:         memref.alloca_scope
// CHECK:           memref.alloca
func.func @allocation() {
  memref.alloca_scope {
    %a = memref.alloca() : memref<4xf32>
  }
  return
}
