//===- NibbleOps.h - nibble operations --------------------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_H
#define NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_H

#include "nibble/Dialect/Nibble/IR/NibbleDialect.h"

#define GET_OP_CLASSES
#include "nibble/Dialect/Nibble/IR/NibbleOps.h.inc"

#endif // NIBBLE_DIALECT_NIBBLE_IR_NIBBLEOPS_H
