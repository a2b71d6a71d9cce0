// RUN: nibble-opt %s --nibble-select-precision="budget-size=0.25" | FileCheck %s --check-prefix=SIZE25
// RUN: nibble-opt %s --nibble-select-precision="budget-size=0.3" | FileCheck %s --check-prefix=SIZE30
// RUN: nibble-opt %s --nibble-select-precision="budget-sqnr=30" | FileCheck %s --check-prefix=SQNR30
// RUN: nibble-opt %s --nibble-select-precision="budget-sqnr=39" | FileCheck %s --check-prefix=SQNR39
// RUN: not nibble-opt %s --nibble-select-precision="budget-size=0.2" 2>&1 | FileCheck %s --check-prefix=TOO-SMALL
// RUN: not nibble-opt %s --nibble-select-precision 2>&1 | FileCheck %s --check-prefix=NO-BUDGET

// Selection on a fixed sensitivity table. Three 8x8 layers: fp32 256 bytes,
// fp16 128, int8 64 + 8 scales = 96, int4 (per channel) 32 + 32 = 64; the
// function holds 768 float bytes. Layer "b" is the sensitive one: alone at
// int4 it costs the model 20 dB of SQNR.
//
// size=0.25 (192 bytes) is every layer at int4 (predicted noise 1e-4 + 1e-2
// + 1.6e-4: 19.89 dB). size=0.3 (230 bytes) pays for one upgrade, and "b" is
// the one that buys the most.
// SIZE25: nibble.selection = {bytes = 192 : i64, float_bytes = 768 : i64, predicted_sqnr_db = 19.88{{[0-9]*}} : f64}
// SIZE25: nibble.layer = "a", {{.*}}nibble.precision = "int4"
// SIZE25: nibble.layer = "b", {{.*}}nibble.precision = "int4"
// SIZE25: nibble.layer = "c", {{.*}}nibble.precision = "int4"
// SIZE30: nibble.selection = {bytes = 224 : i64
// SIZE30: nibble.layer = "a", {{.*}}nibble.precision = "int4"
// SIZE30: nibble.layer = "b", {{.*}}nibble.precision = "int8"
// SIZE30: nibble.layer = "c", {{.*}}nibble.precision = "int4"
//
// sqnr=30 (noise <= 1e-3) needs only "b" upgraded; sqnr=39 (<= 1.26e-4)
// rules out any int4 layer, and int8 everywhere (288 bytes) is cheaper than
// any fp16.
// SQNR30: nibble.selection = {bytes = 224 : i64
// SQNR30: nibble.layer = "b", {{.*}}nibble.precision = "int8"
// SQNR39: nibble.selection = {bytes = 288 : i64, float_bytes = 768 : i64, predicted_sqnr_db = 42.8{{[0-9]*}} : f64}
// SQNR39: nibble.layer = "a", {{.*}}nibble.precision = "int8"
// SQNR39: nibble.layer = "b", {{.*}}nibble.precision = "int8"
// SQNR39: nibble.layer = "c", {{.*}}nibble.precision = "int8"
//
// TOO-SMALL: error: budget size=0.2 cannot be met: the smallest model nibble can make is 0.250 of the float weight bytes (192 B of 768 B); raise the budget or allow smaller precisions
// NO-BUDGET: error: nibble-select-precision: give exactly one of budget-size (a fraction of the float weight bytes) and budget-sqnr (dB)
func.func @three_layers(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %w = arith.constant dense<0.5> : tensor<8x8xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8xf32>) -> tensor<1x8xf32>
  %a = linalg.matmul {nibble.layer = "a", nibble.op_type = "MatMul",
         nibble.sensitivity = {fp16 = 90.0 : f64, int8 = 50.0 : f64, int4 = 40.0 : f64}}
         ins(%x, %w : tensor<1x8xf32>, tensor<8x8xf32>) outs(%init : tensor<1x8xf32>) -> tensor<1x8xf32>
  %w2 = arith.constant dense<0.25> : tensor<8x8xf32>
  %b = linalg.matmul {nibble.layer = "b", nibble.op_type = "MatMul",
         nibble.sensitivity = {fp16 = 90.0 : f64, int8 = 45.0 : f64, int4 = 20.0 : f64}}
         ins(%a, %w2 : tensor<1x8xf32>, tensor<8x8xf32>) outs(%init : tensor<1x8xf32>) -> tensor<1x8xf32>
  %w3 = arith.constant dense<0.125> : tensor<8x8xf32>
  %c = linalg.matmul {nibble.layer = "c", nibble.op_type = "MatMul",
         nibble.sensitivity = {fp16 = 90.0 : f64, int8 = 50.0 : f64, int4 = 38.0 : f64}}
         ins(%b, %w3 : tensor<1x8xf32>, tensor<8x8xf32>) outs(%init : tensor<1x8xf32>) -> tensor<1x8xf32>
  return %c : tensor<1x8xf32>
}
