//===- InitAll.h - register everything nibble uses --------------*- C++ -*-===//

#ifndef NIBBLE_COMPILER_INITALL_H
#define NIBBLE_COMPILER_INITALL_H

namespace mlir {
class DialectRegistry;
namespace nibble {

/// Adds the nibble dialect and every upstream dialect (and dialect
/// extension/interface) the nibble pipelines create or parse.
void registerAllNibbleDialects(DialectRegistry &registry);

/// Registers nibble's passes and the upstream passes its pipelines use, so
/// nibble-opt can run any of them by flag.
void registerAllNibblePasses();

} // namespace nibble
} // namespace mlir

#endif // NIBBLE_COMPILER_INITALL_H
