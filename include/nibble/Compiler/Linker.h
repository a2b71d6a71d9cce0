//===- Linker.h - model object + runtime -> executable or .so ---*- C++ -*-===//

#ifndef NIBBLE_COMPILER_LINKER_H
#define NIBBLE_COMPILER_LINKER_H

#include "nibble/Compiler/ModelDescription.h"
#include "nibble/Target/CPU/CPUTarget.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llvm {
class Module;
} // namespace llvm

namespace mlir::nibble {

/// Emits `llvmModule` as an object, generates the descriptor glue and links
/// both with the runtime into an executable at `output`, or (library) into
/// `dir/libNAME.so` plus `dir/NAME.h` for `output` = `dir/NAME`. The C++
/// compiler driver is `$NIBBLE_CXX`, else `$CXX`, else `c++`; the runtime
/// libraries are found in `$NIBBLE_RUNTIME_DIR` or the build's lib/.
llvm::Error linkModel(llvm::Module &llvmModule, const CPUTarget &target,
                      const ModelDescription &description,
                      llvm::StringRef entrySymbol, bool library,
                      llvm::StringRef output);


} // namespace mlir::nibble

#endif // NIBBLE_COMPILER_LINKER_H
