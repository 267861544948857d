//===- CompilePackage.h - A package -> a compiled CPU module ---*- C++ -*-===//
//
// The stages of `mixq compile` as a library call, shared by `compile` and
// `bench`: graph (codegen/Llama), -mixq-cpu-pipeline (passes/), LLVM IR,
// O3 for the host CPU, x86 code and a shared library (codegen/Host).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_COMPILEPACKAGE_H
#define MIXQ_TOOLS_MIXQ_COMPILEPACKAGE_H

#include "codegen/Host/HostCodegen.h"
#include "model/Package.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>

namespace mixq::cli {

/// Runs -mixq-cpu-pipeline on a module from buildLlamaModule for `target`
/// (its CPU goes into the target string, its features choose kernels);
/// errors carry the pipeline's diagnostics.
llvm::Error lowerToLLVMDialect(mlir::ModuleOp module,
                               const ResolvedHostTarget &target);

/// Compiles `package` into the shared library `outputPath` for `target`.
/// `stage(name, seconds)` is told how long each stage took, if given.
llvm::Error compilePackage(const PackageReader &package,
                           llvm::StringRef outputPath, const HostTarget &target,
                           std::function<void(llvm::StringRef, double)> stage =
                               nullptr);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_COMPILEPACKAGE_H
