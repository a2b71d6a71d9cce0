// RUN: nibble-opt %s --nibble-cpu-lowering | FileCheck %s
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=cascadelake | FileCheck %s --check-prefix=AVX512
// RUN: nibble-opt %s --nibble-cpu-lowering="vnni=false" | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=haswell | FileCheck %s --check-prefix=AVX2

// The matmul kernels of the CPU lowering split their column panels across
// OpenMP threads, and a W8A8 product becomes VNNI dot products.

// M = 2, K = 8, N = 128: two panels of 64 columns, one per worksharing
// iteration, inside an OpenMP parallel region; each step of 4 rows of K is
// one vpdpbusd per row and column vector (2 x 4 per step).
// CHECK-LABEL: llvm.func @w8a8_linear(
// CHECK:         omp.parallel {
// CHECK:           omp.wsloop {
// CHECK:             omp.loop_nest
// CHECK-COUNT-8:       llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK:               omp.yield
// LLVMIR:        call void {{.*}} @__kmpc_fork_call(
// LLVMIR:        call void @__kmpc_for_static_init_8u(
// LLVMIR:        call <16 x i32> @llvm.x86.avx512.vpdpbusd.512(<16 x i32> %{{.*}}, <64 x i8> %{{.*}}, <64 x i8> %{{.*}})

// On an AVX-512 VNNI machine the inner loop is 512-bit dot products on
// broadcast activation words; no byte is widened one at a time.
// AVX512-LABEL: w8a8_linear..omp_par:
// AVX512:         vpbroadcastd
// AVX512:         vpdpbusd {{.*}}%zmm{{[0-9]+}}, %zmm{{[0-9]+}}, %zmm{{[0-9]+}}
// AVX512-NOT:     vpmovsxbd
// Without VNNI (an AVX2 machine) the same sums come from widened bytes,
// which LLVM multiplies and pairs with vpmaddwd on 256-bit registers.
// AVX2-LABEL:   w8a8_linear..omp_par:
// AVX2-NOT:       vpdpbusd
// AVX2:           vpmaddwd {{.*}}%ymm
// AVX2-NOT:       vpdpbusd
func.func @w8a8_linear(%x: tensor<2x8xi8>, %sx: tensor<2xf32>) -> tensor<2x128xf32> {
  %w = arith.constant dense<3> : tensor<8x128xi8>
  %sw = arith.constant dense<0.5> : tensor<128xf32>
  %y = nibble.integer_matmul %x lhs_scale(%sx : tensor<2xf32>), %w scale(%sw : tensor<128xf32>)
         : tensor<2x8xi8>, tensor<8x128xi8> -> tensor<2x128xf32>
  return %y : tensor<2x128xf32>
}
