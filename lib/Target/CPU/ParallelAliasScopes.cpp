//===- ParallelAliasScopes.cpp - tell LLVM which buffers threads share ----===//
//
// OpenMP outlines each parallel region into a function that receives its
// buffers through a struct of pointers. Inside it LLVM no longer sees the
// distinct `aligned_alloc` calls, so it must assume an output row may alias
// an input row, and leaves such loops scalar. This pass states what is known
// before outlining as alias scope metadata on the region's loads and
// stores, which outlining keeps (it drops `llvm.assume` hints).
//
//===----------------------------------------------------------------------===//

#include "nibble/Target/CPU/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"

namespace mlir::nibble {
#define GEN_PASS_DEF_NIBBLECPUPARALLELALIASSCOPESPASS
#include "nibble/Target/CPU/Passes.h.inc"
} // namespace mlir::nibble

using namespace mlir;

namespace {
/// Where a pointer's storage comes from: one heap allocation, one global,
/// or one argument of the enclosing function.
struct StorageRoot {
  enum class Kind { allocation, global, argument };
  Kind kind;
  /// The allocation call's result or the argument; null for globals.
  Value value;
  /// The global's name; empty otherwise.
  StringRef global;

  bool operator==(const StorageRoot &other) const {
    return kind == other.kind && value == other.value && global == other.global;
  }
};
} // namespace

/// The storage `ptr` points into, or nullopt where that is not certain.
/// Follows address arithmetic and memref descriptors (`insertvalue` then
/// `extractvalue` of the allocated or aligned pointer). An allocation must
/// be made before `region`: one inside could be a new one per iteration.
static std::optional<StorageRoot> storageRoot(Value ptr, Region &region) {
  SmallVector<int64_t> position;
  for (unsigned step = 0; step < 64; ++step) {
    if (auto argument = dyn_cast<BlockArgument>(ptr)) {
      Block *block = argument.getOwner();
      if (!position.empty() || !block->isEntryBlock() ||
          !isa<LLVM::LLVMFuncOp>(block->getParentOp()))
        return std::nullopt;
      return StorageRoot{StorageRoot::Kind::argument, ptr, {}};
    }
    Operation *def = ptr.getDefiningOp();
    if (auto gep = dyn_cast<LLVM::GEPOp>(def)) {
      ptr = gep.getBase();
    } else if (auto extract = dyn_cast<LLVM::ExtractValueOp>(def)) {
      if (!position.empty())
        return std::nullopt;
      position.assign(extract.getPosition().begin(), extract.getPosition().end());
      ptr = extract.getContainer();
    } else if (auto insert = dyn_cast<LLVM::InsertValueOp>(def)) {
      if (position.empty())
        return std::nullopt;
      if (insert.getPosition() == ArrayRef<int64_t>(position)) {
        position.clear();
        ptr = insert.getValue();
      } else {
        ptr = insert.getContainer();
      }
    } else if (auto call = dyn_cast<LLVM::CallOp>(def)) {
      std::optional<StringRef> callee = call.getCallee();
      if (!position.empty() || !callee ||
          (*callee != "aligned_alloc" && *callee != "malloc") ||
          region.isAncestor(call->getParentRegion()))
        return std::nullopt;
      return StorageRoot{StorageRoot::Kind::allocation, ptr, {}};
    } else if (auto address = dyn_cast<LLVM::AddressOfOp>(def)) {
      if (!position.empty())
        return std::nullopt;
      return StorageRoot{StorageRoot::Kind::global, {}, address.getGlobalName()};
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

/// Whether two different roots are certainly different storage. The
/// function's arguments are buffers the caller chose, which may overlap.
static bool certainlySeparate(const StorageRoot &a, const StorageRoot &b) {
  if (a == b)
    return false;
  return a.kind != StorageRoot::Kind::argument || b.kind != StorageRoot::Kind::argument;
}

namespace {
struct NibbleCPUParallelAliasScopesPass final
    : nibble::impl::NibbleCPUParallelAliasScopesPassBase<NibbleCPUParallelAliasScopesPass> {
  void runOnOperation() override {
    getOperation()->walk([&](omp::ParallelOp parallel) { addScopes(parallel); });
  }

  void addScopes(omp::ParallelOp parallel) {
    Region &body = parallel.getRegion();
    MLIRContext *context = parallel.getContext();
    // Every access of the region whose storage is certain, with that
    // storage; roots in order of first use.
    SmallVector<std::pair<LLVM::AliasAnalysisOpInterface, unsigned>> accesses;
    SmallVector<StorageRoot> roots;
    body.walk([&](LLVM::AliasAnalysisOpInterface op) {
      SmallVector<Value> pointers = op.getAccessedOperands();
      if (pointers.size() != 1 || op.getAliasScopesOrNull() || op.getNoAliasScopesOrNull())
        return;
      std::optional<StorageRoot> root = storageRoot(pointers.front(), body);
      if (!root)
        return;
      auto *known = llvm::find(roots, *root);
      if (known == roots.end()) {
        roots.push_back(*root);
        known = std::prev(roots.end());
      }
      accesses.push_back({op, static_cast<unsigned>(known - roots.begin())});
    });
    if (roots.size() < 2)
      return;
    auto domain = LLVM::AliasScopeDomainAttr::get(
        context, StringAttr::get(context, "nibble parallel region"));
    SmallVector<Attribute> scopes;
    for (size_t i = 0; i < roots.size(); ++i)
      scopes.push_back(LLVM::AliasScopeAttr::get(domain));
    SmallVector<ArrayAttr> ownScope, separateScopes;
    for (auto [i, root] : llvm::enumerate(roots)) {
      ownScope.push_back(ArrayAttr::get(context, scopes[i]));
      SmallVector<Attribute> separate;
      for (auto [j, other] : llvm::enumerate(roots))
        if (certainlySeparate(root, other))
          separate.push_back(scopes[j]);
      separateScopes.push_back(ArrayAttr::get(context, separate));
    }
    for (auto [op, root] : accesses) {
      op.setAliasScopes(ownScope[root]);
      op.setNoAliasScopes(separateScopes[root]);
    }
  }
};
} // namespace
