// RUN: nibble-opt %s --nibble-cpu-approximate-math | FileCheck %s

// float32 erf, exp and tanh (scalars and vectors) become polynomials:
// plain arithmetic LLVM can vectorize, no libm calls. Other math ops and
// float64 stay as they are.

// CHECK-LABEL: func.func @gelu_and_softmax_pieces(
// CHECK-NOT:     math.erf
// CHECK-NOT:     math.exp
// CHECK-NOT:     math.tanh
// CHECK:         math.fma
// CHECK:         math.sqrt
// CHECK:         return
func.func @gelu_and_softmax_pieces(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>, f32, f32) {
  %e = math.erf %x : f32
  %ev = math.exp %v : vector<16xf32>
  %t = math.tanh %x : f32
  %s = math.sqrt %x : f32
  return %e, %ev, %t, %s : f32, vector<16xf32>, f32, f32
}

// CHECK-LABEL: func.func @double_precision_stays(
// CHECK:         math.exp %{{.*}} : f64
func.func @double_precision_stays(%x: f64) -> f64 {
  %e = math.exp %x : f64
  return %e : f64
}
