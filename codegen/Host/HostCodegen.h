//===- HostCodegen.h - LLVM-dialect module -> x86 .so -----------*- C++ -*-===//
//
// The last step of the CPU path: a module that is entirely in the LLVM
// dialect becomes a shared library for an x86-64 host.
//
//   resolveHostTarget   HostTarget{cpu, features} -> triple, cpu, features
//                       ("" / "native" = the CPU this process runs on)
//   translateToLLVMIR   mlir::ModuleOp (llvm + builtin) -> llvm::Module
//   optimizeForHost     triple, data layout, "target-cpu"/"target-features"
//                       on every definition, then the O3 pipeline with the
//                       target's cost model (TargetIRAnalysis)
//   emitHostCode        llvm::Module -> assembly text or ELF object bytes
//   compileToObjects    optimizeForHost + emitHostCode on partitions of the
//                       module, in parallel (ParallelCodegen.cpp)
//   linkSharedLibrary   ELF object bytes -> .so via ld.lld (HostLink.cpp)
//
// Undefined symbols (expf, malloc, ...) stay undefined in the library; the
// process that dlopens it resolves them. All failures are llvm::Error.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_CODEGEN_HOST_HOSTCODEGEN_H
#define MIXQ_CODEGEN_HOST_HOSTCODEGEN_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace mixq {

/// The CPU to compile for.
struct HostTarget {
  /// "" or "native" = the host CPU (with its detected features); otherwise an
  /// LLVM x86 CPU name such as "x86-64-v3", "znver4" or "skylake-avx512".
  std::string cpu;
  /// Extra "+avx2,-avx512f" style features appended to the CPU's (may be
  /// empty).
  std::string features;
};

/// A HostTarget made concrete: the strings a TargetMachine is created from.
struct ResolvedHostTarget {
  std::string triple;   ///< "x86_64-unknown-linux-gnu"
  std::string cpu;      ///< an LLVM CPU name, never "native"
  std::string features; ///< "+f1,-f2,..." (may be empty)
};

/// Whether a "+f1,-f2,..." feature string turns `name` ("avx512f", no sign)
/// on: the last mention wins, as in LLVM's subtarget features.
inline bool featureIsOn(llvm::StringRef features, llvm::StringRef name) {
  bool on = false;
  while (!features.empty()) {
    auto [f, rest] = features.split(',');
    if (f.size() > 1 && f.drop_front() == name)
      on = f.front() == '+';
    features = rest;
  }
  return on;
}

/// Resolves `target`; an unknown CPU name or feature is an error.
llvm::Expected<ResolvedHostTarget> resolveHostTarget(const HostTarget &target);

/// Translates `module` (LLVM dialect plus builtin only) to LLVM IR in
/// `llvmContext`. Registers the builtin and LLVM dialect translations on the
/// module's context.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llvmContext);

/// Sets the triple and data layout of `module`, tags every function
/// definition with "target-cpu"/"target-features" and runs the O3 pipeline
/// with the target's cost model.
llvm::Error optimizeForHost(llvm::Module &module,
                            const ResolvedHostTarget &target);

enum class HostOutput { Assembly, Object };

/// Generates assembly text or ELF object bytes for `module` (PIC, aggressive
/// codegen optimization). Sets the module's triple and data layout to the
/// target's (as optimizeForHost() does).
llvm::Expected<std::string> emitHostCode(llvm::Module &module,
                                         const ResolvedHostTarget &target,
                                         HostOutput output);

/// Links the ELF object bytes `object` into the shared library `outputPath`
/// with ld.lld (found as $MIXQ_LLD, ld.lld-<major> or ld.lld on PATH, or
/// /usr/lib/llvm-<major>/bin/ld.lld). The library replaces `outputPath`
/// atomically; on failure `outputPath` is untouched and the error carries
/// the linker's output.
llvm::Error linkSharedLibrary(llvm::StringRef object,
                              llvm::StringRef outputPath);
/// The same for several objects (the partitions of compileToObjects()).
llvm::Error linkSharedLibraryFromObjects(llvm::ArrayRef<std::string> objects,
                                         llvm::StringRef outputPath);

/// optimizeForHost() then emitHostCode(Object), on `threads` threads (0:
/// one per hardware thread): `module` is split into as many partitions
/// (llvm::SplitModule; internal symbols referenced across partitions become
/// hidden globals), each optimized and compiled in its own LLVMContext.
/// Returns one ELF object per partition; `module` is left in an unspecified
/// state. With one thread, one object of the whole module.
llvm::Expected<std::vector<std::string>>
compileToObjects(llvm::Module &module, const ResolvedHostTarget &target,
                 unsigned threads = 0);

} // namespace mixq

#endif // MIXQ_CODEGEN_HOST_HOSTCODEGEN_H
