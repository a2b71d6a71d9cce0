// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-matmul-loop-order))" | FileCheck %s

// Matmul-like generics go from loops (..., m, n, k) to (..., m, k, n): every
// indexing map is rewritten for the new loop order, the iterator types are
// permuted, and linalg.index ops in the body still see the original
// dimensions.

// CHECK-DAG:   #[[$LHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[$PACKED:.*]] = affine_map<(d0, d1, d2) -> (d1 floordiv 2, d2)>
// CHECK-DAG:   #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[$K:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func.func @packed_int4_matmul(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>, %[[W:.*]]: tensor<2x2xi8>, %[[INIT:.*]]: tensor<2x2xf32>)
// CHECK:         %[[Y:.*]] = linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$LHS]], #[[$PACKED]], #[[$OUT]]]
// CHECK-SAME:      iterator_types = ["parallel", "reduction", "parallel"]
// CHECK-SAME:      ins(%[[X]], %[[W]] : tensor<2x3xf32>, tensor<2x2xi8>) outs(%[[INIT]] : tensor<2x2xf32>)
// The body's k (old loop 2) is now loop 1.
// CHECK:           %[[I0:.*]] = linalg.index 0 : index
// CHECK-NEXT:      %[[I1:.*]] = linalg.index 1 : index
// CHECK-NEXT:      %[[I2:.*]] = linalg.index 2 : index
// CHECK-NEXT:      %[[KIDX:.*]] = affine.apply #[[$K]](%[[I0]], %[[I1]], %[[I2]])
// CHECK-NEXT:      arith.index_cast %[[KIDX]] : index to i8
// CHECK:         return %[[Y]]
#lhs = affine_map<(m, n, k) -> (m, k)>
#packed = affine_map<(m, n, k) -> (k floordiv 2, n)>
#out = affine_map<(m, n, k) -> (m, n)>
func.func @packed_int4_matmul(%x: tensor<2x3xf32>, %w: tensor<2x2xi8>, %init: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %y = linalg.generic {indexing_maps = [#lhs, #packed, #out],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x3xf32>, tensor<2x2xi8>) outs(%init : tensor<2x2xf32>) {
  ^bb0(%a: f32, %byte: i8, %acc: f32):
    %k = linalg.index 2 : index
    %k8 = arith.index_cast %k : index to i8
    %wf = arith.sitofp %k8 : i8 to f32
    %p = arith.mulf %a, %wf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// Batch loops stay in front: (b, m, n, k) -> (b, m, k, n).
// CHECK-DAG:   #[[$LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG:   #[[$RHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG:   #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-LABEL: func.func @batched_matmul(
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$LHS]], #[[$RHS]], #[[$OUT]]]
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "reduction", "parallel"]
#lhs = affine_map<(b, m, n, k) -> (b, m, k)>
#rhs = affine_map<(b, m, n, k) -> (k, n)>
#out = affine_map<(b, m, n, k) -> (b, m, n)>
func.func @batched_matmul(%x: tensor<2x3x4xf32>, %w: tensor<4x5xf32>, %init: tensor<2x3x5xf32>) -> tensor<2x3x5xf32> {
  %y = linalg.generic {indexing_maps = [#lhs, #rhs, #out],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x3x4xf32>, tensor<4x5xf32>) outs(%init : tensor<2x3x5xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// -----

// A row reduction (softmax's sum) has no n loop: left alone.
// CHECK-DAG:   #[[$IN:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @negative_row_reduction(
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#[[$IN]], #[[$ROW]]]
// CHECK-SAME:      iterator_types = ["parallel", "reduction"]
#in = affine_map<(m, k) -> (m, k)>
#row = affine_map<(m, k) -> (m)>
func.func @negative_row_reduction(%x: tensor<2x12xf32>, %init: tensor<2xf32>) -> tensor<2xf32> {
  %y = linalg.generic {indexing_maps = [#in, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2x12xf32>) outs(%init : tensor<2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

// The output's last dimension is not the innermost parallel loop (the
// output is transposed): moving k would not make the output contiguous.
// CHECK-DAG:   #[[$OUT_T:.*]] = affine_map<(d0, d1, d2) -> (d1, d0)>
// CHECK-LABEL: func.func @negative_transposed_output(
// CHECK:         linalg.generic
// CHECK-SAME:      indexing_maps = [#{{.*}}, #{{.*}}, #[[$OUT_T]]]
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "reduction"]
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (k, n)>
#out_t = affine_map<(m, n, k) -> (n, m)>
func.func @negative_transposed_output(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>, %init: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %y = linalg.generic {indexing_maps = [#lhs, #rhs, #out_t],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%init : tensor<3x2xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Elementwise generics have no reduction: left alone.
// CHECK-LABEL: func.func @negative_elementwise(
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel"]
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @negative_elementwise(%x: tensor<2x3x4xf32>, %init: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x3x4xf32>) outs(%init : tensor<2x3x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}
