// RUN: nibble-opt %s --nibble-cpu-parallel-alias-scopes | FileCheck %s

// Loads and stores of an OpenMP parallel region get one alias scope per
// storage they reach: heap allocations and globals are distinct from
// everything else; two function arguments may overlap; pointers whose
// storage is unknown get no metadata.

// CHECK: #llvm.alias_scope_domain<{{.*}}description = "nibble parallel region"

llvm.mlir.global private constant @table(dense<1.0> : tensor<64xf32>) : !llvm.array<64 x f32>
llvm.func @aligned_alloc(i64, i64) -> !llvm.ptr
llvm.func @opaque() -> !llvm.ptr

// CHECK-LABEL: llvm.func @region(
llvm.func @region(%in: !llvm.ptr, %out: !llvm.ptr, %i: i64) {
  %c64 = llvm.mlir.constant(64 : i64) : i64
  %c256 = llvm.mlir.constant(256 : i64) : i64
  %a = llvm.call @aligned_alloc(%c64, %c256) : (i64, i64) -> !llvm.ptr
  %b = llvm.call @aligned_alloc(%c64, %c256) : (i64, i64) -> !llvm.ptr
  // A memref descriptor around %a: its aligned pointer is still %a.
  %undef = llvm.mlir.poison : !llvm.struct<(ptr, ptr, i64)>
  %d0 = llvm.insertvalue %a, %undef[0] : !llvm.struct<(ptr, ptr, i64)>
  %d1 = llvm.insertvalue %a, %d0[1] : !llvm.struct<(ptr, ptr, i64)>
  %d2 = llvm.insertvalue %c64, %d1[2] : !llvm.struct<(ptr, ptr, i64)>
  %unknown = llvm.call @opaque() : () -> !llvm.ptr
  %table = llvm.mlir.addressof @table : !llvm.ptr
  omp.parallel {
    %a_aligned = llvm.extractvalue %d2[1] : !llvm.struct<(ptr, ptr, i64)>
    %pa = llvm.getelementptr %a_aligned[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    // Scopes in order of first use: %a, %in, @table, %b, %out.
    // CHECK: llvm.load {{.*}}alias_scopes = [#[[HEAP_A:[a-z_0-9]+]]], noalias_scopes = [#[[ARG0:[a-z_0-9]+]], #[[TABLE:[a-z_0-9]+]], #[[HEAP_B:[a-z_0-9]+]], #[[ARG1:[a-z_0-9]+]]]
    %x = llvm.load %pa : !llvm.ptr -> f32
    %pin = llvm.getelementptr %in[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    // CHECK: llvm.load {{.*}}alias_scopes = [#[[ARG0]]], noalias_scopes = [#[[HEAP_A]], #[[TABLE]], #[[HEAP_B]]]}
    %y = llvm.load %pin : !llvm.ptr -> f32
    %pt = llvm.getelementptr %table[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    // CHECK: llvm.load {{.*}}alias_scopes = [#[[TABLE]]], noalias_scopes = [#[[HEAP_A]], #[[ARG0]], #[[HEAP_B]], #[[ARG1]]]}
    %t = llvm.load %pt : !llvm.ptr -> f32
    %s = llvm.fadd %x, %y : f32
    %pb = llvm.getelementptr %b[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    // CHECK: llvm.store {{.*}}alias_scopes = [#[[HEAP_B]]], noalias_scopes = [#[[HEAP_A]], #[[ARG0]], #[[TABLE]], #[[ARG1]]]}
    llvm.store %s, %pb : f32, !llvm.ptr
    %pout = llvm.getelementptr %out[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    // CHECK: llvm.store {{.*}}alias_scopes = [#[[ARG1]]], noalias_scopes = [#[[HEAP_A]], #[[TABLE]], #[[HEAP_B]]]}
    llvm.store %t, %pout : f32, !llvm.ptr
    // CHECK: llvm.store
    // CHECK-NOT: alias_scopes
    // CHECK-SAME: : f32, !llvm.ptr
    llvm.store %t, %unknown : f32, !llvm.ptr
    omp.terminator
  }
  llvm.return
}

// Accesses outside parallel regions are left to LLVM, which sees the
// allocations itself.
// CHECK-LABEL: llvm.func @serial(
// CHECK-NOT:     alias_scopes
llvm.func @serial(%in: !llvm.ptr) {
  %c64 = llvm.mlir.constant(64 : i64) : i64
  %a = llvm.call @aligned_alloc(%c64, %c64) : (i64, i64) -> !llvm.ptr
  %x = llvm.load %in : !llvm.ptr -> f32
  llvm.store %x, %a : f32, !llvm.ptr
  llvm.return
}
