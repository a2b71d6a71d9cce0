//===- ColumnPanels.h - split a kernel's columns across threads -*- C++ -*-===//
//
// The loops around the CPU matmul kernels' register tiles. Each thread gets
// whole panels of output columns:
// a panel's weights are read by one core only, stay in its cache while
// every row tile passes over them, and no two threads write the same
// output. The panels become an scf.parallel loop, which the CPU pipeline
// turns into an OpenMP worksharing loop.
//
//===----------------------------------------------------------------------===//

#ifndef NIBBLE_LIB_TARGET_CPU_COLUMNPANELS_H
#define NIBBLE_LIB_TARGET_CPU_COLUMNPANELS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::nibble {

/// Calls `emitPanel(firstColumn, width)` for columns [0, n) in panels of
/// `panelWidth`: the whole panels inside one scf.parallel loop (one
/// iteration per panel), then the last, narrower panel, if any, after it.
inline void emitColumnPanels(ImplicitLocOpBuilder &b, int64_t n, int64_t panelWidth,
                             function_ref<void(Value, int64_t)> emitPanel) {
  int64_t wholePanels = n / panelWidth;
  if (wholePanels > 0) {
    Value zero = b.create<arith::ConstantIndexOp>(0);
    Value one = b.create<arith::ConstantIndexOp>(1);
    Value count = b.create<arith::ConstantIndexOp>(wholePanels);
    auto loop = b.create<scf::ParallelOp>(ValueRange{zero}, ValueRange{count}, ValueRange{one});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value first = b.create<arith::MulIOp>(loop.getInductionVars()[0],
                                          b.create<arith::ConstantIndexOp>(panelWidth));
    emitPanel(first, panelWidth);
  }
  if (n % panelWidth != 0)
    emitPanel(b.create<arith::ConstantIndexOp>(wholePanels * panelWidth), n % panelWidth);
}

/// Calls `emitTile(firstRow, rows)` for rows [0, m) in tiles of `tileRows`:
/// the whole tiles in an scf.for loop, then the last, shorter tile, if any.
inline void emitRowTiles(ImplicitLocOpBuilder &b, int64_t m, int64_t tileRows,
                         function_ref<void(Value, int64_t)> emitTile) {
  int64_t wholeTiles = m / tileRows;
  if (wholeTiles > 0) {
    auto loop = b.create<scf::ForOp>(b.create<arith::ConstantIndexOp>(0),
                                     b.create<arith::ConstantIndexOp>(wholeTiles * tileRows),
                                     b.create<arith::ConstantIndexOp>(tileRows));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    emitTile(loop.getInductionVar(), tileRows);
  }
  if (m % tileRows != 0)
    emitTile(b.create<arith::ConstantIndexOp>(wholeTiles * tileRows), m % tileRows);
}

} // namespace mlir::nibble

#endif // NIBBLE_LIB_TARGET_CPU_COLUMNPANELS_H
