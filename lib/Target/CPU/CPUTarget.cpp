//===- CPUTarget.cpp - x86 CPU code generation ----------------------------===//

#include "nibble/Target/CPU/CPUTarget.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::nibble;

llvm::Expected<CPUTarget> mlir::nibble::resolveCPUTarget(llvm::StringRef name) {
  CPUTarget target;
  target.triple = llvm::sys::getDefaultTargetTriple();
  if (name == "host") {
    target.cpu = llvm::sys::getHostCPUName().str();
    std::string features;
    llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
    for (const auto &feature : hostFeatures)
      features += (features.empty() ? "" : ",") + std::string(feature.second ? "+" : "-") +
                  feature.first().str();
    target.features = features;
    target.hasVNNI = hostFeatures.lookup("avx512vnni") && hostFeatures.lookup("avx512bw");
    target.hasAVX512 = hostFeatures.lookup("avx512f");
  } else if (name == "x86-64-avx512") {
    // Cascade Lake: AVX-512 F/BW/DQ/VL plus VNNI (vpdpbusd).
    target.triple = "x86_64-unknown-linux-gnu";
    target.cpu = "cascadelake";
    target.hasVNNI = true;
    target.hasAVX512 = true;
  } else if (name == "x86-64") {
    // The baseline every x86-64 machine runs (the host side of GPU builds).
    target.triple = "x86_64-unknown-linux-gnu";
    target.cpu = "x86-64";
  } else if (name == "x86-64-avx2") {
    target.triple = "x86_64-unknown-linux-gnu";
    target.cpu = "haswell";
  } else {
    return llvm::createStringError("unknown --target '" + name.str() +
                                   "'; use host, x86-64-avx512, x86-64-avx2, cuda-sm80 "
                                   "or cuda-sm90");
  }
  return target;
}

static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const CPUTarget &target) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  llvm::Triple triple(target.triple);
  std::string error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return llvm::createStringError("no LLVM backend for " + target.triple + ": " + error);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return llvm::createStringError("cannot create a target machine for " +
                                   target.describe());
  return machine;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
mlir::nibble::translateToOptimizedLLVMIR(ModuleOp module,
                                         llvm::LLVMContext &llvmContext,
                                         const CPUTarget &target) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  module->getContext()->appendDialectRegistry(registry);
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "nibble_model");
  if (!llvmModule)
    return llvm::createStringError("internal error: translation to LLVM IR failed");
  auto machine = createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  llvmModule->setTargetTriple(llvm::Triple(target.triple));
  llvmModule->setDataLayout((*machine)->createDataLayout());
  auto optimize = makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                            machine->get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return std::move(err);
  return std::move(llvmModule);
}

llvm::Error mlir::nibble::emitObjectFile(llvm::Module &llvmModule,
                                         const CPUTarget &target,
                                         llvm::StringRef path) {
  auto machine = createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return llvm::createStringError("cannot write '" + path.str() + "': " + ec.message());
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, out, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return llvm::createStringError("LLVM cannot emit object files for " +
                                   target.describe());
  codegen.run(llvmModule);
  out.flush();
  return llvm::Error::success();
}
