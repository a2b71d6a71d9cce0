//===- CUDATarget.cpp - NVIDIA GPU code generation ------------------------===//

#include "nibble/Target/CUDA/CUDATarget.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"

using namespace mlir::nibble;

bool mlir::nibble::isCUDATargetName(llvm::StringRef name) {
  return name == "cuda-sm80" || name == "cuda-sm90";
}

/// True if `root` holds what code generation needs from a toolkit.
static bool isUsableToolkit(llvm::StringRef root) {
  llvm::SmallString<256> ptxas(root), libdevice(root);
  llvm::sys::path::append(ptxas, "bin", "ptxas");
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  return llvm::sys::fs::can_execute(ptxas) && llvm::sys::fs::exists(libdevice);
}

static std::optional<std::string> findToolkit() {
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (std::optional<std::string> root = llvm::sys::Process::GetEnv(variable))
      if (isUsableToolkit(*root))
        return *root;
  if (isUsableToolkit("/usr/local/cuda"))
    return std::string("/usr/local/cuda");
  if (llvm::ErrorOr<std::string> ptxas = llvm::sys::findProgramByName("ptxas")) {
    llvm::SmallString<256> root(*ptxas);
    llvm::sys::fs::real_path(*ptxas, root);
    llvm::sys::path::remove_filename(root); // bin/
    llvm::sys::path::remove_filename(root); // toolkit root
    if (isUsableToolkit(root))
      return std::string(root);
  }
  return std::nullopt;
}

llvm::Expected<CUDATarget> mlir::nibble::resolveCUDATarget(llvm::StringRef name) {
  CUDATarget target;
  target.chip = llvm::StringSwitch<std::string>(name)
                    .Case("cuda-sm80", "sm_80")
                    .Case("cuda-sm90", "sm_90")
                    .Default("");
  if (target.chip.empty())
    return llvm::createStringError("unknown CUDA target '" + name.str() +
                                   "'; use cuda-sm80 or cuda-sm90");
  std::optional<std::string> toolkit = findToolkit();
  if (!toolkit)
    return llvm::createStringError(
        "--target=" + name.str() +
        " needs the CUDA toolkit (bin/ptxas and nvvm/libdevice); none found in CUDA_HOME, "
        "CUDA_PATH, CUDA_ROOT, /usr/local/cuda or on PATH: install it or set CUDA_HOME");
  target.toolkitPath = *toolkit;
  llvm::SmallString<256> libdevice(*toolkit);
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  target.libdevicePath = std::string(libdevice);
  return target;
}
