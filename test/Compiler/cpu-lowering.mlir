// RUN: nibble-opt %s --nibble-cpu-lowering | FileCheck %s
// RUN: nibble-opt %s --nibble-cpu-lowering | FileCheck %s --check-prefix=GONE
// RUN: nibble-opt %s --nibble-cpu-lowering | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR

// The CPU lowering takes nibble and linalg on tensors all the way to the
// LLVM dialect: every tensor argument and result becomes one bare pointer
// (results written in place through out-parameters), and no nibble, linalg,
// tensor, memref, bufferization or func op is left. The second RUN line
// proves the result translates to LLVM IR.

// The packed int4 weight is a global of one tile of 16 columns (3 used)
// and ceil(4 / 2) = 2 byte rows.
// CHECK-DAG:   llvm.mlir.global private constant @{{.*}}(dense_resource<packed_int4> : tensor<1x2x16xi8>) {{.*}} : !llvm.array<1 x array<2 x array<16 x i8>>>

// The GEMV kernel: both rows share each unpacked weight vector; with 3
// columns the output (holding the bias) and the scales are read and
// written through a mask.
// CHECK-LABEL: llvm.func @quantized_linear(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: !llvm.ptr, %[[OUT:[a-z0-9]+]]: !llvm.ptr) {
// CHECK:         llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK:         llvm.intr.masked.load %{{.*}} : (!llvm.ptr, vector<16xi1>, vector<16xf32>) -> vector<16xf32>
// The nibbles of rows 2j and 2j + 1: low (shifted up, then down with
// sign) and high, widened and converted.
// CHECK:         %[[LOW_UP:.*]] = llvm.shl %{{.*}} : vector<16xi8>
// CHECK:         llvm.ashr %[[LOW_UP]], %{{.*}} : vector<16xi8>
// CHECK:         llvm.ashr %{{.*}} : vector<16xi8>
// CHECK:         llvm.sext %{{.*}} : vector<16xi8> to vector<16xi32>
// CHECK:         llvm.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK:         llvm.getelementptr inbounds|nuw %[[X]][%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK:         llvm.intr.fma(%{{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// The group's scale multiplies its accumulators once.
// CHECK:         llvm.intr.masked.load %{{.*}} : (!llvm.ptr, vector<16xi1>, vector<16xf32>) -> vector<16xf32>
// CHECK:         llvm.intr.fma(%{{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK:         llvm.intr.masked.store %{{.*}} : vector<16xf32>, vector<16xi1> into !llvm.ptr
// CHECK:         llvm.return{{$}}
func.func @quantized_linear(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %q = arith.constant dense<[[1, -2, 3], [4, -5, 6], [7, -8, 0], [1, 1, 1]]> : tensor<4x3xi4>
  %s = arith.constant dense<[[0.5, 1.0, 2.0], [0.25, 0.5, 1.0]]> : tensor<2x3xf32>
  %b = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = nibble.matmul %x, %q scale(%s : tensor<2x3xf32>) bias(%b : tensor<3xf32>)
         scheme <i4, per_group<axis = 0, size = 2>, symmetric, scale = f32>
         : tensor<2x4xf32>, tensor<4x3xi4> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// Quantize then dequantize with runtime scale and zero point: four tensor
// arguments and one result give five pointers.
// CHECK-LABEL: llvm.func @requantize(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: !llvm.ptr, %[[S:[a-z0-9]+]]: !llvm.ptr, %[[Z:[a-z0-9]+]]: !llvm.ptr, %[[OUT:[a-z0-9]+]]: !llvm.ptr) {
// CHECK:         llvm.fdiv
// CHECK:         llvm.intr.roundeven
// CHECK:         llvm.intr.maxnum
// CHECK:         llvm.intr.minnum
// CHECK:         llvm.fptoui %{{.*}} : f32 to i8
// CHECK:         llvm.zext %{{.*}} : i8 to i32
// CHECK:         llvm.sub %{{.*}}, %{{.*}} : i32
// CHECK:         llvm.getelementptr inbounds|nuw %[[OUT]][%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK:         llvm.return{{$}}
func.func @requantize(%x: tensor<8xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<8xf32> {
  %q = nibble.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<8xf32> -> tensor<8xi8>
  %w = nibble.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<i8>)
         scheme <u8, per_tensor, zero_point, scale = f32> : tensor<8xi8> -> tensor<8xf32>
  return %w : tensor<8xf32>
}

// Nowhere in the output:
// GONE-NOT:    nibble.
// GONE-NOT:    linalg.
// GONE-NOT:    tensor.
// GONE-NOT:    memref.
// GONE-NOT:    bufferization.
// GONE-NOT:    func.func
// GONE-NOT:    func.return
// GONE-NOT:    unrealized_conversion_cast
// GONE-NOT:    scf.
// GONE-NOT:    cf.
// GONE-NOT:    arith.
// GONE-NOT:    math.

// LLVMIR-LABEL: define void @quantized_linear(ptr %{{.*}}, ptr %{{.*}})
// LLVMIR-LABEL: define void @requantize(ptr %{{.*}}, ptr %{{.*}}, ptr %{{.*}}, ptr %{{.*}})
