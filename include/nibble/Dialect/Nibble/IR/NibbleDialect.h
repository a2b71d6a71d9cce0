//===- NibbleDialect.h - nibble dialect -------------------------*- C++ -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_NIBBLEDIALECT_H
#define NIBBLE_DIALECT_NIBBLE_IR_NIBBLEDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "nibble/Dialect/Nibble/IR/NibbleOpsDialect.h.inc"
#include "nibble/Dialect/Nibble/IR/NibbleEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "nibble/Dialect/Nibble/IR/NibbleAttrs.h.inc"

#endif // NIBBLE_DIALECT_NIBBLE_IR_NIBBLEDIALECT_H
