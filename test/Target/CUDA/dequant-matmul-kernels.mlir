// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cuda-dequant-matmul-kernels))" | FileCheck %s

// A packed int4 matmul (M = 2, K = 2048, N = 20) becomes one fused kernel:
// 16-byte weight loads, the activation loads vectorized, fields unpacked by
// shifts and masks into the mantissa of 1.0 (no int-to-float conversion), a
// shuffle reduction, and no trace of the reference generic or of its zero
// fill. 5 warps' worth of columns cannot fill a GPU, so pairs of warps split
// the 2 K steps: 3 blocks of 4 warps (8 columns a block), warp w taking
// step w % 2; each warp's 2 x 4 totals go through workgroup memory between
// barriers and the even warp of each pair adds its partner's and stores.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k floordiv 8)>
#s = affine_map<(m, n, k) -> (n, k floordiv 128)>
#o = affine_map<(m, n, k) -> (m, n)>
#fill = affine_map<(m, n) -> (m, n)>

// CHECK-LABEL: func.func @int4_gemv(
// CHECK-SAME:    %[[X:.*]]: memref<2x2048xf32>, %[[W:.*]]: memref<20x256xi32>, %[[S:.*]]: memref<20x16xf32>, %[[Z:.*]]: memref<20x16xf32>, %[[OUT:.*]]: memref<2x20xf32>)
// CHECK-NOT:     linalg.generic
// CHECK-DAG:     %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %[[C3]], {{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %[[C128]], {{.*}}) workgroup(%[[PARTIALS:.*]] : memref<4x8xf32, #gpu.address_space<workgroup>>)
// CHECK:           %[[WARP:.*]] = arith.divui %[[T]], %{{.*}} : index
// CHECK:           %[[PART:.*]] = arith.remui %[[WARP]], %{{.*}} : index
// CHECK:           scf.for
// CHECK-COUNT-4:     vector.load %[[W]][{{.*}}] {alignment = 16 : i64} : memref<20x256xi32>, vector<4xi32>
// CHECK:             arith.xori %{{.*}}, %{{.*}} : i32
// CHECK:             memref.load %[[S]]
// CHECK:             vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<2x2048xf32>, vector<4xf32>
// CHECK:             arith.andi
// CHECK:             arith.ori
// CHECK:             arith.bitcast %{{.*}} : i32 to f32
// CHECK:             math.fma
// CHECK:           gpu.shuffle xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK:           memref.store %{{.*}}, %[[PARTIALS]][%[[WARP]], %{{.*}}]
// CHECK:           gpu.barrier
// CHECK:           memref.load %[[PARTIALS]]
// CHECK:           gpu.barrier
// CHECK:           arith.cmpi eq, %[[PART]], %{{.*}} : index
// CHECK:           memref.store %{{.*}}, %[[OUT]]
// CHECK:           gpu.terminator
// CHECK-NOT:     linalg.generic
func.func @int4_gemv(%x: memref<2x2048xf32>, %w: memref<20x256xi32>, %s: memref<20x16xf32>, %z: memref<20x16xf32>, %out: memref<2x20xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#fill], iterator_types = ["parallel", "parallel"]} outs(%out : memref<2x20xf32>) {
  ^bb0(%o: f32):
    linalg.yield %zero : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #s, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s, %z : memref<2x2048xf32>, memref<20x256xi32>, memref<20x16xf32>, memref<20x16xf32>)
      outs(%out : memref<2x20xf32>)
      attrs = {nibble.dequant_matmul = {bits = 4 : i64, group_size = 128 : i64, has_zero_point = false, layout = "gemv", signed = true}} {
  ^bb0(%a: f32, %q: i32, %sc: f32, %sz: f32, %acc: f32):
    %qf = arith.sitofp %q : i32 to f32
    %p = arith.mulf %a, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Strided operands keep the generic (it becomes an ordinary loop kernel).

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k floordiv 8)>
#s = affine_map<(m, n, k) -> (n, k floordiv 128)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @strided_activations(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.generic
func.func @strided_activations(%x: memref<2x2048xf32, strided<[4096, 1]>>, %w: memref<20x256xi32>, %s: memref<20x16xf32>, %z: memref<20x16xf32>, %out: memref<2x20xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s, %z : memref<2x2048xf32, strided<[4096, 1]>>, memref<20x256xi32>, memref<20x16xf32>, memref<20x16xf32>)
      outs(%out : memref<2x20xf32>)
      attrs = {nibble.dequant_matmul = {bits = 4 : i64, group_size = 128 : i64, has_zero_point = false, layout = "gemv", signed = true}} {
  ^bb0(%a: f32, %q: i32, %sc: f32, %sz: f32, %acc: f32):
    %qf = arith.sitofp %q : i32 to f32
    %p = arith.mulf %a, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// In the MMA layout (M = 20 > 4 rows, K = 256, N = 40) the matmul becomes
// two launches around a buffer of f16 A fragments: the first rounds the
// activations to f16 into 2 row tiles x 16 steps x 32 lanes x 4 registers
// (1024 threads, 4 blocks of 256); the second is the tensor-core GEMM. 5
// tiles of 8 columns make 3 pairs of tiles, too few warps for the GPU, so
// pairs of warps split the 2 K blocks: 2 blocks of 4 warps, each warp's
// 2 x 2 x 4 accumulator values going through workgroup memory. Per block a
// lane loads 16 bytes of each of its 2 tiles, unpacks them as f16x2
// (1024 + u) - 1032 with no conversion, and issues 8 steps x 2 row tiles x
// 2 tiles = 32 mma.sync, scaling the f32 sums once per group.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n floordiv 8, k floordiv 8)>
#s = affine_map<(m, n, k) -> (n, k floordiv 128)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @int4_mma(
// CHECK-SAME:    %[[X:.*]]: memref<20x256xf32>, %[[W:.*]]: memref<5x256xi32>, %[[S:.*]]: memref<40x2xf32>, %[[OUT:.*]]: memref<20x40xf32>)
// CHECK-NOT:     linalg.generic
// CHECK:         %[[A:.*]] = memref.alloc() : memref<2x16x32x4xi32>
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %[[C4]], {{.*}}) threads({{.*}}) in ({{.*}} = %[[C256]], {{.*}})
// CHECK-COUNT-4:   vector.load %[[X]][{{.*}}] : memref<20x256xf32>, vector<2xf32>
// CHECK:           arith.truncf %{{.*}} : vector<2xf32> to vector<2xf16>
// CHECK:           vector.from_elements {{.*}} : vector<4xi32>
// CHECK:           vector.store %{{.*}}, %[[A]]
// CHECK:           gpu.terminator
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %[[C2]], {{.*}}) threads({{.*}}) in ({{.*}} = %[[C128]], {{.*}}) workgroup(%[[PARTIALS:.*]] : memref<4x16x32xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for
// CHECK-COUNT-2:     vector.load %[[W]][{{.*}}] {alignment = 16 : i64} : memref<5x256xi32>, vector<4xi32>
// CHECK:             arith.andi %{{.*}}, %{{.*}} : i32
// CHECK:             arith.ori %{{.*}}, %{{.*}} : i32
// CHECK:             vector.bitcast %{{.*}} : vector<1xi32> to vector<2xf16>
// CHECK:             arith.subf %{{.*}}, %{{.*}} : vector<2xf16>
// CHECK:             vector.load %[[A]][{{.*}}] {alignment = 16 : i64} : memref<2x16x32x4xi32>, vector<4xi32>
// CHECK-COUNT-32:    nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK:             memref.load %[[S]]
// CHECK:             math.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<2x2xf32>
// CHECK:           memref.store %{{.*}}, %[[PARTIALS]]
// CHECK:           gpu.barrier
// CHECK:           memref.load %[[PARTIALS]]
// CHECK:           memref.store %{{.*}}, %[[OUT]]
// CHECK:           gpu.terminator
// CHECK:         memref.dealloc %[[A]]
// CHECK-NOT:     linalg.generic
func.func @int4_mma(%x: memref<20x256xf32>, %w: memref<5x256xi32>, %s: memref<40x2xf32>, %out: memref<20x40xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<20x256xf32>, memref<5x256xi32>, memref<40x2xf32>)
      outs(%out : memref<20x40xf32>)
      attrs = {nibble.dequant_matmul = {bits = 4 : i64, group_size = 128 : i64, has_zero_point = false, layout = "mma", signed = true}} {
  ^bb0(%a: f32, %q: i32, %sc: f32, %acc: f32):
    %qf = arith.uitofp %q : i32 to f32
    %p = arith.mulf %a, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Groups of 48 rows straddle the tensor-core kernel's 128-wide blocks: the
// generic is left alone (the packing never marks such a layout mma).

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n floordiv 8, k floordiv 8)>
#s = affine_map<(m, n, k) -> (n, k floordiv 48)>
#o = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func.func @mma_groups_straddling_blocks(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.generic
func.func @mma_groups_straddling_blocks(%x: memref<20x96xf32>, %w: memref<1x128xi32>, %s: memref<8x2xf32>, %out: memref<20x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : memref<20x96xf32>, memref<1x128xi32>, memref<8x2xf32>)
      outs(%out : memref<20x8xf32>)
      attrs = {nibble.dequant_matmul = {bits = 4 : i64, group_size = 48 : i64, has_zero_point = false, layout = "mma", signed = true}} {
  ^bb0(%a: f32, %q: i32, %sc: f32, %acc: f32):
    %qf = arith.uitofp %q : i32 to f32
    %p = arith.mulf %a, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A float16 layer: the kernel loads the float16 activations (8 bytes per
// run of 4) and widens them, and stores its f32 totals rounded into the
// float16 output of the marked epilogue, which goes with the f32 buffer.

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k floordiv 8)>
#s = affine_map<(m, n, k) -> (n, k floordiv 128)>
#o = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// CHECK-LABEL: func.func @float16_gemv_epilogue(
// CHECK-SAME:    %[[X:.*]]: memref<2x1024xf16>, %{{.*}}: memref<8x128xi32>, %{{.*}}: memref<8x8xf32>, %{{.*}}: memref<8x8xf32>, %[[OUT:.*]]: memref<2x8xf16>)
// CHECK-NOT:     memref.alloc
// CHECK:         gpu.launch
// CHECK:             vector.load %[[X]][{{.*}}] {alignment = 8 : i64} : memref<2x1024xf16>, vector<4xf16>
// CHECK-NEXT:        arith.extf %{{.*}} : vector<4xf16> to vector<4xf32>
// CHECK:           arith.truncf %{{.*}} : f32 to f16
// CHECK:           memref.store %{{.*}}, %[[OUT]][{{.*}}] : memref<2x8xf16>
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     memref.dealloc
// CHECK:         return
func.func @float16_gemv_epilogue(%x: memref<2x1024xf16>, %w: memref<8x128xi32>, %s: memref<8x8xf32>, %z: memref<8x8xf32>, %out: memref<2x8xf16>) {
  %zero = arith.constant 0.0 : f32
  %wide = memref.alloc() : memref<2x8xf32>
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%wide : memref<2x8xf32>) {
  ^bb0(%o: f32):
    linalg.yield %zero : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #s, #s, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s, %z : memref<2x1024xf16>, memref<8x128xi32>, memref<8x8xf32>, memref<8x8xf32>)
      outs(%wide : memref<2x8xf32>)
      attrs = {nibble.dequant_matmul = {bits = 4 : i64, group_size = 128 : i64, has_zero_point = false, layout = "gemv", signed = true}} {
  ^bb0(%a: f16, %q: i32, %sc: f32, %sz: f32, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %qf = arith.sitofp %q : i32 to f32
    %p = arith.mulf %af, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%wide : memref<2x8xf32>) outs(%out : memref<2x8xf16>) attrs = {nibble.kernel_epilogue} {
  ^bb0(%in: f32, %o: f16):
    %h = arith.truncf %in : f32 to f16
    linalg.yield %h : f16
  }
  memref.dealloc %wide : memref<2x8xf32>
  return
}
