//===- Linker.cpp - model object + runtime -> executable or .so -----------===//
//
// Everything happens in a scratch directory; the result is moved to the
// output path only when linking succeeded, so a failed build leaves nothing
// behind.
//
//===----------------------------------------------------------------------===//

#include "nibble/Compiler/Linker.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::nibble;

static llvm::Error writeFile(llvm::StringRef path, llvm::StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return llvm::createStringError("cannot write '" + path.str() + "': " + ec.message());
  out << text;
  return llvm::Error::success();
}

/// The directory holding libnibble_runtime.a and libnibble_runtime_main.a.
static std::string runtimeLibraryDir() {
  if (std::optional<std::string> dir = llvm::sys::Process::GetEnv("NIBBLE_RUNTIME_DIR"))
    return *dir;
  return NIBBLE_RUNTIME_LIBRARY_DIR;
}

static llvm::Expected<std::string> findCompilerDriver() {
  for (const char *var : {"NIBBLE_CXX", "CXX"})
    if (std::optional<std::string> value = llvm::sys::Process::GetEnv(var))
      if (!value->empty()) {
        if (auto found = llvm::sys::findProgramByName(*value))
          return *found;
      }
  if (auto found = llvm::sys::findProgramByName("c++"))
    return *found;
  return llvm::createStringError("no C++ compiler driver to link with; install g++ or set NIBBLE_CXX");
}

/// Runs `args` and returns the first line of its stderr on failure.
static llvm::Error runTool(llvm::ArrayRef<std::string> args, llvm::StringRef logPath) {
  llvm::SmallVector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logPath, logPath};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(args[0], argRefs, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0, &error);
  if (rc == 0)
    return llvm::Error::success();
  std::string firstLine = error;
  if (auto log = llvm::MemoryBuffer::getFile(logPath)) {
    llvm::StringRef text = (*log)->getBuffer().trim();
    if (!text.empty())
      firstLine = text.split('\n').first.str();
  }
  return llvm::createStringError("linking failed: " + firstLine);
}

/// The runtime archives (and whole-archive flags) a model links against.
static std::vector<std::string> runtimeArchives(const ModelDescription &description,
                                               bool library) {
  std::string dir = runtimeLibraryDir();
  std::vector<std::string> archives;
  // A library exports the whole C API, used or not.
  if (library)
    archives.push_back("-Wl,--whole-archive");
  else
    archives.push_back(dir + "/libnibble_runtime_main.a");
  // The CUDA runtime goes first: it uses the base runtime's helpers.
  if (description.onCUDADevice)
    archives.push_back(dir + "/libnibble_runtime_cuda.a");
  archives.push_back(dir + "/libnibble_runtime.a");
  if (library)
    archives.push_back("-Wl,--no-whole-archive");
  return archives;
}

llvm::Error mlir::nibble::linkModel(llvm::Module &llvmModule, const CPUTarget &target,
                                    const ModelDescription &description,
                                    llvm::StringRef entrySymbol, bool library,
                                    llvm::StringRef output) {
  llvm::SmallString<128> scratch;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("nibble-link", scratch))
    return llvm::createStringError("cannot create a temporary directory: " + ec.message());
  auto cleanup = llvm::make_scope_exit([&] { llvm::sys::fs::remove_directories(scratch); });
  auto inScratch = [&](llvm::StringRef name) {
    llvm::SmallString<128> path(scratch);
    llvm::sys::path::append(path, name);
    return std::string(path);
  };

  std::string objectPath = inScratch("model.o");
  if (llvm::Error err = emitObjectFile(llvmModule, target, objectPath))
    return err;
  std::string gluePath = inScratch("descriptor.c");
  if (llvm::Error err = writeFile(inScratch("ModelABI.h"), getModelABIHeader()))
    return err;
  if (llvm::Error err = writeFile(gluePath, generateDescriptorSource(description, entrySymbol)))
    return err;

  llvm::Expected<std::string> cxx = findCompilerDriver();
  if (!cxx)
    return cxx.takeError();
  std::string linked = inScratch(library ? "model.so" : "model.exe");
  // The glue is C; compile it as C whatever the driver is.
  std::vector<std::string> args = {*cxx, "-O2", "-x", "c", gluePath, "-x", "none",
                                   objectPath};
  if (library)
    args.push_back("-shared");
  std::vector<std::string> archives = runtimeArchives(description, library);
  args.insert(args.end(), archives.begin(), archives.end());
  // CPU kernels split their work across OpenMP threads.
  if (!description.onCUDADevice) {
    llvm::StringRef openmp = NIBBLE_OPENMP_LIBRARY;
    args.insert(args.end(), {openmp.str(), "-Wl,-rpath," + llvm::sys::path::parent_path(openmp).str()});
  }
  args.insert(args.end(), {"-lm", "-lpthread", "-ldl", "-o", linked});
  if (llvm::Error err = runTool(args, inScratch("link.log")))
    return err;

  // Move the results into place.
  std::string finalPath = output.str();
  std::string headerPath;
  if (library) {
    llvm::StringRef dir = llvm::sys::path::parent_path(output);
    llvm::StringRef name = llvm::sys::path::filename(output);
    llvm::SmallString<256> so(dir), header(dir);
    llvm::sys::path::append(so, "lib" + name + ".so");
    llvm::sys::path::append(header, name + ".h");
    finalPath = std::string(so);
    headerPath = std::string(header);
    std::string guard = "NIBBLE_MODEL_" + llvm::StringRef(name).upper() + "_H";
    for (char &c : guard)
      if (!isalnum(static_cast<unsigned char>(c)))
        c = '_';
    if (llvm::Error err = writeFile(headerPath, generateLibraryHeader(description, guard)))
      return err;
  }
  if (std::error_code ec = llvm::sys::fs::copy_file(linked, finalPath)) {
    if (!headerPath.empty())
      llvm::sys::fs::remove(headerPath);
    return llvm::createStringError("cannot write '" + finalPath + "': " + ec.message());
  }
  llvm::sys::fs::setPermissions(finalPath, llvm::sys::fs::all_read | llvm::sys::fs::all_exe |
                                               llvm::sys::fs::owner_write);
  return llvm::Error::success();
}
