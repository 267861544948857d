//===- CompilePackage.h - A package -> a compiled module -------*- C++ -*-===//
//
// The stages of `mixq compile` as a library call, shared by `compile` and
// `bench`: graph (codegen/Llama), -mixq-cpu-pipeline (passes/), LLVM IR,
// O3 for the host CPU, x86 code and a shared library (codegen/Host); the
// GPU path: graph, -mixq-gpu-pipeline (kernels to PTX or cubin, host code
// to the LLVM dialect), codegen/GPU and codegen/Host.
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

/// Runs -mixq-gpu-pipeline{chip} on a module from buildLlamaModule: the
/// kernels become a gpu.binary of `format` ("isa": PTX, "bin": cubin, with
/// the CUDA toolkit at `toolkit`); with `host` the host code is lowered to
/// the LLVM dialect too; `sm90Gemm` is the pipeline's sm90-gemm option
/// (wgmma, or mma to keep the mma.sync GEMM on sm_90a). The module's
/// context must have registerGpuCodegen.
llvm::Error lowerToGpu(mlir::ModuleOp module, llvm::StringRef chip,
                       llvm::StringRef format, llvm::StringRef toolkit,
                       bool host, llvm::StringRef sm90Gemm = "wgmma");

/// Whether `name` is a GPU target of `mixq compile --target`.
bool isGpuTarget(llvm::StringRef name);

/// The PTX of `package`'s kernels for `chip` (needs neither a GPU nor
/// ptxas).
llvm::Expected<std::string>
compilePackageToPtx(const PackageReader &package, llvm::StringRef chip,
                    llvm::StringRef sm90Gemm = "wgmma");

/// Compiles `package` for the GPU `chip` into the shared library
/// `outputPath`: the kernels as cubin when a CUDA toolkit with ptxas is
/// found (PTX otherwise), loaded by a constructor through the mgpu* ABI
/// (runtime/ModuleABI.h, "GPU modules"); host code for x86-64.
llvm::Error compileGpuPackage(const PackageReader &package,
                              llvm::StringRef outputPath, llvm::StringRef chip,
                              std::function<void(llvm::StringRef, double)>
                                  stage = nullptr,
                              llvm::StringRef sm90Gemm = "wgmma");

/// Compiles `package` into the shared library `outputPath` for `target`.
/// `stage(name, seconds)` is told how long each stage took, if given.
llvm::Error compilePackage(const PackageReader &package,
                           llvm::StringRef outputPath, const HostTarget &target,
                           std::function<void(llvm::StringRef, double)> stage =
                               nullptr);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_COMPILEPACKAGE_H
