// RUN: nibble-opt %s --nibble-instrument-calibration | FileCheck %s

// Every measurable layer's weight becomes a trailing argument (matmuls and
// Gather tables, in walk order), and every matmul's input a trailing
// result. The model's own arguments and results come first, unchanged.
// CHECK-LABEL: func.func @probe(
// CHECK-SAME:    %[[IDS:[a-z0-9]+]]: tensor<2xi64>,
// CHECK-SAME:    %[[TABLE:[a-z0-9]+]]: tensor<5x4xf32> {nibble.weight_of = "embed"},
// CHECK-SAME:    %[[W:[a-z0-9]+]]: tensor<4x3xf32> {nibble.weight_of = "fc"})
// CHECK-SAME:    -> (tensor<2x3xf32>, tensor<2x4xf32> {nibble.input_of = "fc"})
// The lookup reads the table argument, the matmul the weight argument.
// CHECK:         %[[X:.*]] = linalg.generic
// CHECK:           tensor.extract %[[TABLE]]
// CHECK:         %[[Y:.*]] = linalg.matmul {{.*}} ins(%[[X]], %[[W]] :
// CHECK:         return %[[Y]], %[[X]]
// A matmul whose weight is not a constant is no layer; neither is a
// product of two activations.
// CHECK-LABEL: func.func @no_layers(
// CHECK-SAME:    -> tensor<2x2xf32>
func.func @probe(%ids: tensor<2xi64>) -> tensor<2x3xf32> {
  %table = arith.constant dense<1.0> : tensor<5x4xf32>
  %w = arith.constant dense<0.5> : tensor<4x3xf32>
  %empty = tensor.empty() : tensor<2x4xf32>
  %x = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
       ins(%ids : tensor<2xi64>) outs(%empty : tensor<2x4xf32>)
       attrs = {nibble.layer = "embed", nibble.op_type = "Gather"} {
  ^bb0(%id: i64, %out: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %table[%row, %col] : tensor<5x4xf32>
    linalg.yield %v : f32
  } -> tensor<2x4xf32>
  %zero = arith.constant 0.0 : f32
  %out = tensor.empty() : tensor<2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%out : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul"}
         ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%init : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

func.func @no_layers(%a: tensor<2x4xf32>, %b: tensor<4x2xf32>) -> tensor<2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %out = tensor.empty() : tensor<2x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%out : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul ins(%a, %b : tensor<2x4xf32>, tensor<4x2xf32>) outs(%init : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
