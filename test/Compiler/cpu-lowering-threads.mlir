// RUN: nibble-opt %s --nibble-cpu-lowering | FileCheck %s
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=cascadelake | FileCheck %s --check-prefix=AVX512
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | opt -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=cascadelake | llc -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=cascadelake | FileCheck %s --check-prefix=OPTIMIZED
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

// The other ops are threaded too when they are large enough: a layer
// norm's row sums and scaling split their 32 rows across threads, the
// loads and stores of the threaded bodies carry alias scopes (outlining
// would otherwise hide that the buffers are distinct), and the row sum,
// marked reassociable, becomes vector adds once LLVM's optimizer has run.
// CHECK-LABEL: llvm.func @row_scale(
// CHECK:         omp.parallel {
// CHECK:           omp.loop_nest
// CHECK:             llvm.load {{.*}}alias_scopes
// CHECK:             llvm.fadd {{.*}}{fastmathFlags = #llvm.fastmath<reassoc>}
// CHECK:         omp.parallel {
// CHECK:           omp.loop_nest
// CHECK:             llvm.fmul
// LLVMIR-LABEL:  define void @row_scale(
// LLVMIR-COUNT-2: call void {{.*}} @__kmpc_fork_call(
// OPTIMIZED-LABEL: row_scale..omp_par:
// OPTIMIZED:         vaddps {{.*}}%{{[yz]}}mm
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_scale(%x: tensor<32x384xf32>) -> tensor<32x384xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<32xf32>) -> tensor<32xf32>
  %sums = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x384xf32>) outs(%init : tensor<32xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<32xf32>
  %out = tensor.empty() : tensor<32x384xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sums : tensor<32x384xf32>, tensor<32xf32>) outs(%out : tensor<32x384xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %p = arith.mulf %v, %s : f32
    linalg.yield %p : f32
  } -> tensor<32x384xf32>
  return %y : tensor<32x384xf32>
}
