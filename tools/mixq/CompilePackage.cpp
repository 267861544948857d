//===- CompilePackage.cpp - A package -> a compiled CPU module ------------===//
//
// See CompilePackage.h.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/CompilePackage.h"

#include "codegen/GPU/GpuCodegen.h"
#include "codegen/Llama/GraphBuilder.h"
#include "passes/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include "llvm/ADT/StringSwitch.h"

#include <chrono>

using namespace llvm;

namespace mixq::cli {

namespace {

/// Runs `pm` on `module`; a failure carries every diagnostic it printed,
/// on one line ("; " between them; a known location before each).
Error runPipeline(mlir::PassManager &pm, mlir::ModuleOp module,
                  StringRef which) {
  std::string diagnostics;
  raw_string_ostream os(diagnostics);
  mlir::ScopedDiagnosticHandler handler(
      module->getContext(), [&](mlir::Diagnostic &d) {
        if (!diagnostics.empty())
          os << "; ";
        if (!isa<mlir::UnknownLoc>(d.getLocation()))
          os << d.getLocation() << ": ";
        os << d;
        return mlir::success();
      });
  if (mlir::failed(pm.run(module)))
    return createStringError(inconvertibleErrorCode(),
                             "the " + which + " pipeline failed: " +
                                 diagnostics);
  return Error::success();
}

/// Reports each compile stage's wall time to `stage` (if any): done(name)
/// ends the stage that began at the previous call (or at construction).
struct StageTimer {
  std::function<void(StringRef, double)> stage;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();

  void operator()(StringRef name) {
    auto now = std::chrono::steady_clock::now();
    if (stage)
      stage(name, std::chrono::duration<double>(now - last).count());
    last = now;
  }
};

} // namespace

Error lowerToLLVMDialect(mlir::ModuleOp module,
                         const ResolvedHostTarget &target) {
  mlir::PassManager pm(module->getContext());
  CpuPipelineOptions options;
  options.cpu = target.cpu;
  options.features = target.features;
  buildCpuPipeline(pm, options);
  return runPipeline(pm, module, "CPU");
}

Error compilePackage(const PackageReader &package, StringRef outputPath,
                     const HostTarget &hostTarget,
                     std::function<void(StringRef, double)> stage) {
  StageTimer done{std::move(stage)};
  auto target = resolveHostTarget(hostTarget);
  if (!target)
    return target.takeError();
  mlir::MLIRContext context;
  auto module = buildLlamaModule(context, package);
  if (!module)
    return module.takeError();
  done("graph");
  if (Error e = lowerToLLVMDialect(**module, *target))
    return createFileError(package.path(), std::move(e));
  done("mlir pipeline");
  LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(**module, llvmContext);
  if (!llvmModule)
    return llvmModule.takeError();
  done("translate");
  auto objects = compileToObjects(**llvmModule, *target);
  if (!objects)
    return objects.takeError();
  done("llvm O3 + x86 codegen");
  if (Error e = linkSharedLibraryFromObjects(*objects, outputPath))
    return e;
  done("link");
  return Error::success();
}

bool isGpuTarget(StringRef name) {
  return name == "sm_80" || name == "sm_90a";
}

Error lowerToGpu(mlir::ModuleOp module, StringRef chip, StringRef format,
                 StringRef toolkit, bool host, StringRef sm90Gemm) {
  mlir::PassManager pm(module->getContext());
  GpuPipelineOptions options;
  options.chip = chip.str();
  options.format = format.str();
  options.toolkit = toolkit.str();
  options.host = host;
  options.sm90Gemm = sm90Gemm.str();
  buildGpuPipeline(pm, options);
  return runPipeline(pm, module, "GPU");
}

namespace {
void registerGpu(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  registerGpuCodegen(registry);
  context.appendDialectRegistry(registry);
}
} // namespace

Expected<std::string> compilePackageToPtx(const PackageReader &package,
                                          StringRef chip, StringRef sm90Gemm) {
  mlir::MLIRContext context;
  registerGpu(context);
  auto module = buildLlamaModule(context, package);
  if (!module)
    return module.takeError();
  if (Error e = lowerToGpu(**module, chip, "isa", "", /*host=*/false,
                           sm90Gemm))
    return createFileError(package.path(), std::move(e));
  auto object = kernelObject(**module);
  if (!object)
    return object.takeError();
  return object->bytes;
}

Error compileGpuPackage(const PackageReader &package, StringRef outputPath,
                        StringRef chip,
                        std::function<void(StringRef, double)> stage,
                        StringRef sm90Gemm) {
  StageTimer done{std::move(stage)};
  // Host code for any x86-64: it only calls the mgpu* functions.
  auto target = resolveHostTarget(HostTarget{"x86-64", ""});
  if (!target)
    return target.takeError();
  mlir::MLIRContext context;
  registerGpu(context);
  auto module = buildLlamaModule(context, package);
  if (!module)
    return module.takeError();
  done("graph");
  std::optional<std::string> toolkit = findCudaToolkit();
  if (Error e = lowerToGpu(**module, chip, toolkit ? "bin" : "isa",
                           toolkit ? *toolkit : "", /*host=*/true, sm90Gemm))
    return createFileError(package.path(), std::move(e));
  done(toolkit ? "mlir + ptxas" : "mlir (PTX)");
  LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(**module, llvmContext);
  if (!llvmModule)
    return llvmModule.takeError();
  done("translate");
  auto objects = compileToObjects(**llvmModule, *target, /*threads=*/1);
  if (!objects)
    return objects.takeError();
  done("host code");
  if (Error e = linkSharedLibraryFromObjects(*objects, outputPath))
    return e;
  done("link");
  return Error::success();
}

} // namespace mixq::cli
