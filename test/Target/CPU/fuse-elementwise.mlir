// RUN: nibble-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(nibble-cpu-fuse-elementwise))" | FileCheck %s

// An elementwise producer is fused into an all-parallel consumer when the
// consumer is its only user; into a reduction only a 16-bit widening (last
// cases), and a producer with other users is kept.

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0)>

// bias add then ReLU: one generic computing both.
// CHECK-LABEL: func.func @fuse_bias_add_into_relu(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<3xf32>)
// CHECK:         %[[Y:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[X]], %[[B]] : tensor<2x3xf32>, tensor<3xf32>)
// CHECK-NEXT:    ^bb0(%[[XV:.*]]: f32, %[[BV:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[SUM:.*]] = arith.addf %[[XV]], %[[BV]] : f32
// CHECK-NEXT:      %[[RELU:.*]] = arith.maximumf %[[SUM]], %{{.*}} : f32
// CHECK-NEXT:      linalg.yield %[[RELU]] : f32
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[Y]]
func.func @fuse_bias_add_into_relu(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%e0 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %e1 = tensor.empty() : tensor<2x3xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<2x3xf32>) outs(%e1 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  return %relu : tensor<2x3xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// exp feeding a row sum: fusing would recompute exp at every reduction
// step; both generics stay.
// CHECK-LABEL: func.func @negative_consumer_is_a_reduction(
// CHECK:         %[[EXP:.*]] = linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel"]
// CHECK:           math.exp
// CHECK:         %[[SUM:.*]] = linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "reduction"]
// CHECK-SAME:      ins(%[[EXP]] : tensor<2x3xf32>)
// CHECK:         return %[[SUM]]
func.func @negative_consumer_is_a_reduction(%x: tensor<2x3xf32>, %init: tensor<2xf32>) -> tensor<2xf32> {
  %e0 = tensor.empty() : tensor<2x3xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<2x3xf32>) outs(%e0 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<2x3xf32>) outs(%init : tensor<2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<2xf32>
  return %sum : tensor<2xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// The producer is also returned: fusing would compute it twice.
// CHECK-LABEL: func.func @negative_producer_has_other_users(
// CHECK:         %[[NEG:.*]] = linalg.generic
// CHECK:           arith.negf
// CHECK:         %[[EXP:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[NEG]] : tensor<2x3xf32>)
// CHECK:           math.exp
// CHECK:         return %[[NEG]], %[[EXP]]
func.func @negative_producer_has_other_users(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %e0 = tensor.empty() : tensor<2x3xf32>
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<2x3xf32>) outs(%e0 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %e1 = tensor.empty() : tensor<2x3xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%neg : tensor<2x3xf32>) outs(%e1 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  return %neg, %exp : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Reshapes between generics are not propagated into them (upstream's
// elementwise fusion would, splitting matmul loops): the collapse stays.
// CHECK-LABEL: func.func @negative_reshape_not_propagated(
// CHECK:         %[[NEG:.*]] = linalg.generic
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[NEG]]
// CHECK:         %[[EXP:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[FLAT]] : tensor<6xf32>)
// CHECK:         return %[[EXP]]
func.func @negative_reshape_not_propagated(%x: tensor<2x3xf32>) -> tensor<6xf32> {
  %e0 = tensor.empty() : tensor<2x3xf32>
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<2x3xf32>) outs(%e0 : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %flat = tensor.collapse_shape %neg [[0, 1]] : tensor<2x3xf32> into tensor<6xf32>
  %e1 = tensor.empty() : tensor<6xf32>
  %exp = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                         iterator_types = ["parallel"]}
      ins(%flat : tensor<6xf32>) outs(%e1 : tensor<6xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<6xf32>
  return %exp : tensor<6xf32>
}

// -----

// The widening of a float16 weight fuses into an unmarked reduction (the
// matmul reads float16 and widens it in its body, no f32 copy); into a
// reduction a kernel pass has marked, it does not.

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#wid = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func.func @widening_into_matmul(
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32>, %[[W:.*]]: tensor<4x3xf16>
// CHECK:         linalg.generic {{.*}} ins(%[[X]], %[[W]] : tensor<2x4xf32>, tensor<4x3xf16>)
// CHECK:           arith.extf %{{.*}} : f16 to f32
// CHECK:           arith.mulf
// CHECK-NOT:     linalg.generic
// CHECK:         return
func.func @widening_into_matmul(%x: tensor<2x4xf32>, %w: tensor<4x3xf16>,
                                %acc: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %e = tensor.empty() : tensor<4x3xf32>
  %wide = linalg.generic {indexing_maps = [#wid, #wid], iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<4x3xf16>) outs(%e : tensor<4x3xf32>) {
  ^bb0(%in: f16, %o: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<4x3xf32>
  %y = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wide : tensor<2x4xf32>, tensor<4x3xf32>) outs(%acc : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @negative_widening_into_marked_kernel(
// CHECK:         %[[WIDE:.*]] = linalg.generic
// CHECK:           arith.extf
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %[[WIDE]] : tensor<2x4xf32>, tensor<4x3xf32>)
// CHECK-SAME:      nibble.lowered_matmul
func.func @negative_widening_into_marked_kernel(%x: tensor<2x4xf32>, %w: tensor<4x3xf16>,
                                                %acc: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %e = tensor.empty() : tensor<4x3xf32>
  %wide = linalg.generic {indexing_maps = [#wid, #wid], iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<4x3xf16>) outs(%e : tensor<4x3xf32>) {
  ^bb0(%in: f16, %o: f32):
    %v = arith.extf %in : f16 to f32
    linalg.yield %v : f32
  } -> tensor<4x3xf32>
  %y = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %wide : tensor<2x4xf32>, tensor<4x3xf32>) outs(%acc : tensor<2x3xf32>)
      attrs = {nibble.lowered_matmul} {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// A generic marked for a kernel keeps its operands, splat constants
// included: folding them into the body would rebuild it without its marker.

// CHECK-LABEL: func.func @marked_kernel_keeps_splat_inputs(
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<1x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>)
// CHECK-SAME:      nibble.dequant_matmul
// CHECK-LABEL: func.func @unmarked_generic_folds_splat_inputs(
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}} : tensor<1x8xf32>)
#mk_x = affine_map<(d0, d1, d2) -> (d0, d2)>
#mk_s = affine_map<(d0, d1, d2) -> (d1, 0)>
#mk_o = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @marked_kernel_keeps_splat_inputs(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %s = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<0.0> : tensor<2x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.generic {indexing_maps = [#mk_x, #mk_s, #mk_s, #mk_o],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %s, %z : tensor<1x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>) outs(%init : tensor<1x2xf32>)
      attrs = {nibble.dequant_matmul = {bits = 8 : i64}} {
  ^bb0(%a: f32, %scale: f32, %zp: f32, %acc: f32):
    %w = arith.subf %scale, %zp : f32
    %p = arith.mulf %a, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
func.func @unmarked_generic_folds_splat_inputs(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %s = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<0.0> : tensor<2x1xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = linalg.generic {indexing_maps = [#mk_x, #mk_s, #mk_s, #mk_o],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %s, %z : tensor<1x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>) outs(%init : tensor<1x2xf32>) {
  ^bb0(%a: f32, %scale: f32, %zp: f32, %acc: f32):
    %w = arith.subf %scale, %zp : f32
    %p = arith.mulf %a, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
