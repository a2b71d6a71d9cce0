// RUN: nibble-opt %s --pass-pipeline='builtin.module(func.func(nibble-cpu-reassociate-reductions))' | FileCheck %s

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// A sum along the innermost loop may be reassociated (vector partial sums).
// CHECK-LABEL: func.func @row_sum_of_squares(
// CHECK:         %[[SQUARE:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:         arith.addf %{{.*}}, %[[SQUARE]] fastmath<reassoc> : f32
func.func @row_sum_of_squares(%a: tensor<32x384xf32>, %init: tensor<32xf32>) -> tensor<32xf32> {
  %r = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<32x384xf32>) outs(%init : tensor<32xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %sq = arith.mulf %x, %x : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }  -> tensor<32xf32>
  return %r : tensor<32xf32>
}

// A column sum reduces along the outer loop: it vectorizes across the
// parallel inner loop as it is, and keeps its order.
// CHECK-LABEL: func.func @column_sum(
// CHECK:         arith.addf
// CHECK-NOT:     fastmath
func.func @column_sum(%a: tensor<32x384xf32>, %init: tensor<384xf32>) -> tensor<384xf32> {
  %r = linalg.generic {indexing_maps = [#id2, #col], iterator_types = ["reduction", "parallel"]} ins(%a : tensor<32x384xf32>) outs(%init : tensor<384xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }  -> tensor<384xf32>
  return %r : tensor<384xf32>
}

// Only the add into the accumulator is marked, not other adds of the body.
// CHECK-LABEL: func.func @shifted_sum(
// CHECK:         %[[SHIFTED:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK:         arith.addf %{{.*}}, %[[SHIFTED]] fastmath<reassoc> : f32
func.func @shifted_sum(%a: tensor<32x384xf32>, %init: tensor<32xf32>) -> tensor<32xf32> {
  %c = arith.constant 1.0 : f32
  %r = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<32x384xf32>) outs(%init : tensor<32xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %shifted = arith.addf %x, %c : f32
    %s = arith.addf %acc, %shifted : f32
    linalg.yield %s : f32
  }  -> tensor<32xf32>
  return %r : tensor<32xf32>
}
