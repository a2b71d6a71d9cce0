// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=none" -verify-diagnostics | FileCheck %s
// RUN: nibble-opt %s -split-input-file --nibble-quantize-weights="mode=int4 group-size=2 asymmetric=true" -verify-diagnostics | FileCheck %s --check-prefix=ASYM

// Per-layer precisions (`nibble.precision`, set by selection or a precision
// config) override the pass default; mode=none quantizes only those.

// CHECK-LABEL: func.func @per_layer_precisions(
// fp32 stays a float linalg.matmul.
// CHECK:         linalg.matmul {nibble.layer = "keep", nibble.op_type = "MatMul", nibble.precision = "fp32"}
// fp16: a half constant widened by a generic; 0.1 rounds to 0.0999755859.
// CHECK:         %[[HALF:.*]] = arith.constant dense<{{\[}}[9.997550e-02, 2.000000e+00], [-3.000000e+00, 6.550400e+04]]> : tensor<2x2xf16>
// CHECK:         %[[WIDE:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[HALF]] : tensor<2x2xf16>)
// CHECK:           arith.extf
// CHECK:         linalg.matmul {nibble.layer = "half", nibble.op_type = "MatMul", nibble.precision = "fp16"}
// CHECK-SAME:      ins(%{{.*}}, %[[WIDE]] :
// uint4 with a zero point; a group as large as K is one scale per column.
// Column 0 spans [-1, 14]: scale 15 / 15 = 1, zero point 1; column 1 spans
// [0, 3] (zero included): scale 0.2, zero point 0. Storage prints as signed
// i4, so 15 reads -1.
// CHECK-DAG:     %[[Q:.*]] = arith.constant dense<{{\[}}[0, -1], [-1, 5]]> : tensor<2x2xi4>
// CHECK-DAG:     %[[S:.*]] = arith.constant dense<[1.000000e+00, 2.000000e-01]> : tensor<2xf32>
// CHECK-DAG:     %[[ZP:.*]] = arith.constant dense<[1, 0]> : tensor<2xi4>
// CHECK:         nibble.matmul %{{.*}}, %[[Q]] scale(%[[S]] : tensor<2xf32>) zero_point(%[[ZP]] : tensor<2xi4>)
// CHECK-SAME:      scheme <u4, per_channel<axis = 1>, zero_point, scale = f32>
// CHECK-SAME:      {nibble.layer = "asym", nibble.op_type = "MatMul"}
// ASYM-LABEL: func.func @per_layer_precisions(
// ASYM:         linalg.matmul {nibble.layer = "keep"
// ASYM:         linalg.matmul {nibble.layer = "half"
// ASYM:         nibble.matmul {{.*}} scheme <u4, per_channel<axis = 1>, zero_point, scale = f32>
func.func @per_layer_precisions(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
  %w = arith.constant dense<[[0.1, 2.0], [-3.0, 65504.0]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[-1.0, 3.0], [14.0, 1.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2xf32>) -> tensor<1x2xf32>
  %a = linalg.matmul {nibble.layer = "keep", nibble.op_type = "MatMul", nibble.precision = "fp32"}
         ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %b = linalg.matmul {nibble.layer = "half", nibble.op_type = "MatMul", nibble.precision = "fp16"}
         ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  %c = linalg.matmul {nibble.layer = "asym", nibble.op_type = "MatMul", nibble.precision = "uint4-g2"}
         ins(%x, %w2 : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %a, %b, %c : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// The mode applies to layers without a precision; mode=none leaves them.
// CHECK-LABEL: func.func @default_precision(
// CHECK:         linalg.matmul
// ASYM-LABEL:  func.func @default_precision(
// ASYM:          nibble.matmul {{.*}} scheme <u4, per_group<axis = 0, size = 2>, zero_point, scale = f32>
func.func @default_precision(%x: tensor<1x4xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0], [2.0], [3.0], [4.0]]> : tensor<4x1xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1xf32>) -> tensor<1x1xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x1xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// GPTQ: with a Hessian E[x^T x] attached, rows of K are rounded in order and
// each row's error moves to the rows after it. Inputs 0 and 1 are
// correlated (H[0][1] = 0.5), so rounding w[0] = 0.45 down to 0 pushes
// w[1] = 2.35 up by about 0.49 * 0.45 / 0.99 = 0.22 to 2.57, which rounds to
// 3 where RTN gives 2. (Scale 1 from max|w| = 7; dampening adds 1% of the
// mean diagonal.) The Hessian attribute is gone afterwards.
// CHECK-LABEL: func.func @gptq_spreads_rounding_error(
// CHECK:         %[[Q:.*]] = arith.constant dense<{{\[}}[0], [3], [7]]> : tensor<3x1xi4>
// CHECK:         nibble.matmul %{{.*}}, %[[Q]]
// CHECK-NOT:     nibble.hessian
// Without a Hessian the same weight rounds to nearest.
// CHECK-LABEL: func.func @rtn_without_hessian(
// CHECK:         %[[Q:.*]] = arith.constant dense<{{\[}}[0], [2], [7]]> : tensor<3x1xi4>
func.func @gptq_spreads_rounding_error(%x: tensor<1x3xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[0.45], [2.35], [7.0]]> : tensor<3x1xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1xf32>) -> tensor<1x1xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "int4",
                      nibble.hessian = dense<[[1.25, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]]> : tensor<3x3xf32>}
         ins(%x, %w : tensor<1x3xf32>, tensor<3x1xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
func.func @rtn_without_hessian(%x: tensor<1x3xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[0.45], [2.35], [7.0]]> : tensor<3x1xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1xf32>) -> tensor<1x1xf32>
  %y = linalg.matmul {nibble.layer = "fc", nibble.op_type = "MatMul", nibble.precision = "int4"}
         ins(%x, %w : tensor<1x3xf32>, tensor<3x1xf32>) outs(%init : tensor<1x1xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// Bad weights and precisions are errors naming the layer.
func.func @nan_weight(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[0x7FC00000, 1.0], [2.0, 3.0]]> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-error @+1 {{cannot quantize the weight of Gemm node 'bad': the weight holds NaN at element 0; fix the model, or keep the layer in fp32 with --precision-config}}
  %y = linalg.matmul {nibble.layer = "bad", nibble.op_type = "Gemm", nibble.precision = "int8"}
         ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @unknown_precision(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2xf32>) -> tensor<1x2xf32>
  // expected-error @+1 {{unknown precision 'int3'; use fp32, fp16, int8, uint8, int4-gN or uint4-gN}}
  %y = linalg.matmul {nibble.layer = "odd", nibble.op_type = "MatMul", nibble.precision = "int3"}
         ins(%x, %w : tensor<1x2xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// An embedding lookup (a Gather from a constant table) stores its table as
// int8 with one scale per row, and dequantizes only the rows it reads:
// row 0 max 127 (scale 1; -1.5 and 2.5 are ties to even), row 1 zeros
// (scale 1), row 2 max 254 (scale 2), row 3 max 63.5 (scale 0.5).
// CHECK-LABEL: func.func @embedding_table(
// CHECK-DAG:     %[[CODES:.*]] = arith.constant dense<{{\[}}[127, -2, 2], [0, 0, 0], [-127, 2, 0], [1, 0, 127]]> : tensor<4x3xi8>
// CHECK-DAG:     %[[SCALES:.*]] = arith.constant dense<[1.000000e+00, 1.000000e+00, 2.000000e+00, 5.000000e-01]> : tensor<4xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      nibble.layer = "embed", nibble.op_type = "Gather", nibble.precision = "int8"
// CHECK:           %[[ROW:.*]] = arith.index_cast
// CHECK:           %[[Q:.*]] = tensor.extract %[[CODES]][%[[ROW]], %{{.*}}] : tensor<4x3xi8>
// CHECK:           %[[S:.*]] = tensor.extract %[[SCALES]][%[[ROW]]] : tensor<4xf32>
// CHECK:           %[[F:.*]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK:           %[[V:.*]] = arith.mulf %[[F]], %[[S]] : f32
// CHECK:           linalg.yield %[[V]] : f32
func.func @embedding_table(%ids: tensor<1x2xi64>) -> tensor<1x2x3xf32> {
  %table = arith.constant dense<[[127.0, -1.5, 2.5], [0.0, 0.0, 0.0], [-254.0, 3.0, 1.0], [0.5, 0.0, 63.5]]> : tensor<4x3xf32>
  %empty = tensor.empty() : tensor<1x2x3xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
       ins(%ids : tensor<1x2xi64>) outs(%empty : tensor<1x2x3xf32>)
       attrs = {nibble.layer = "embed", nibble.op_type = "Gather", nibble.precision = "int8"} {
  ^bb0(%id: i64, %out: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 2 : index
    %v = tensor.extract %table[%row, %col] : tensor<4x3xf32>
    linalg.yield %v : f32
  } -> tensor<1x2x3xf32>
  return %y : tensor<1x2x3xf32>
}

// -----

func.func @embedding_table_int4(%ids: tensor<2xi64>) -> tensor<2x3xf32> {
  %table = arith.constant dense<1.0> : tensor<4x3xf32>
  %empty = tensor.empty() : tensor<2x3xf32>
  // expected-error @+1 {{node 'embed' has one scale per output (a table or a filter): it is stored as fp32 or int8, not 'int4-g32'}}
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
       ins(%ids : tensor<2xi64>) outs(%empty : tensor<2x3xf32>)
       attrs = {nibble.layer = "embed", nibble.op_type = "Gather", nibble.precision = "int4-g32"} {
  ^bb0(%id: i64, %out: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 1 : index
    %v = tensor.extract %table[%row, %col] : tensor<4x3xf32>
    linalg.yield %v : f32
  } -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
