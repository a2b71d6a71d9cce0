//===- PhaseRunner.cpp - running a phase's passes with one-line errors ----===//

#include "nibble/Compiler/PhaseRunner.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace mlir::nibble;

namespace {
/// Collects the first error diagnostic of a pass pipeline as one line.
class FirstErrorHandler {
public:
  explicit FirstErrorHandler(MLIRContext &ctx)
      : handler(&ctx, [this](Diagnostic &diag) {
          if (diag.getSeverity() == DiagnosticSeverity::Error && message.empty()) {
            std::string where;
            std::string text = diag.str();
            if (auto nameLoc = dyn_cast<NameLoc>(diag.getLocation()))
              if (!llvm::StringRef(text).contains("'" + nameLoc.getName().str() + "'"))
                where = " (node '" + nameLoc.getName().str() + "')";
            message = text + where;
          }
          return success();
        }) {}
  std::string message;

private:
  ScopedDiagnosticHandler handler;
};
} // namespace

llvm::Error mlir::nibble::runPhase(ModuleOp module,
                                   llvm::function_ref<void(OpPassManager &)> build,
                                   llvm::StringRef phase) {
  PassManager pm(module->getContext());
  build(pm);
  FirstErrorHandler errors(*module->getContext());
  if (failed(pm.run(module)))
    return llvm::createStringError(phase.str() + " phase failed: " +
                                   (errors.message.empty() ? "unknown error" : errors.message));
  return llvm::Error::success();
}
