//===- CmdCompile.cpp - `mixq compile PKG [--emit=KIND] [-o FILE]` --------===//
//
// Builds the MLIR module of a package (codegen/Llama/GraphBuilder.h);
// --emit=mlir prints that graph. Otherwise -mixq-cpu-pipeline takes it to
// the LLVM dialect, codegen/Host to LLVM IR (--emit=llvm), optimized for
// --cpu (default: this machine), then x86 assembly (--emit=asm), an object
// (--emit=obj) or, by default, a shared library implementing
// runtime/ModuleABI.h (-o model.so). Every output is written atomically
// (temporary name, then rename). --target=sm_80|sm_90a takes the GPU path
// instead: -mixq-gpu-pipeline, then --emit=ptx writes the kernels' PTX, or
// the default writes a shared library whose kernels are cubin (PTX without
// ptxas) and whose host code launches them through the mgpu* ABI.
// --sm90-gemm=mma keeps the mma.sync prefill GEMM on sm_90a (the A/B
// switch and fallback for the wgmma kernel).
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"

#include "tools/mixq/CompilePackage.h"

#include "codegen/Host/HostCodegen.h"
#include "codegen/Llama/GraphBuilder.h"
#include "model/Package.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand compileCommand("compile",
                              "Compile a package for this CPU or an NVIDIA "
                              "GPU");
cl::opt<std::string> packagePath(cl::Positional, cl::desc("<package>"),
                                 cl::Required, cl::sub(compileCommand),
                                 cl::cat(category()));
cl::opt<std::string> emitKind("emit",
                              cl::desc("What to write: mlir | llvm | asm | "
                                       "obj | ptx (default: a shared library)"),
                              cl::init(""), cl::sub(compileCommand),
                              cl::cat(category()));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output file (default: stdout; a "
                                         "shared library needs -o)"),
                                cl::init("-"), cl::sub(compileCommand),
                                cl::cat(category()));
cl::opt<std::string> targetName("target",
                                cl::desc("cpu (default) or an NVIDIA GPU: "
                                         "sm_80 | sm_90a"),
                                cl::init("cpu"), cl::sub(compileCommand),
                                cl::cat(category()));
cl::opt<std::string> sm90Gemm(
    "sm90-gemm",
    cl::desc("The prefill GEMM on sm_90a: wgmma (default: TMA, mbarriers "
             "and wgmma where the kernel covers the weight) | mma (the "
             "mma.sync kernel everywhere)"),
    cl::init("wgmma"), cl::sub(compileCommand), cl::cat(category()));
cl::opt<std::string> cpuName("cpu",
                             cl::desc("x86 CPU to compile for (default: "
                                      "native, this machine's CPU)"),
                             cl::init("native"), cl::sub(compileCommand),
                             cl::cat(category()));
cl::opt<std::string> cpuFeatures("cpu-features",
                                 cl::desc("Extra x86 features, e.g. "
                                          "+avx2,-avx512f"),
                                 cl::init(""), cl::sub(compileCommand),
                                 cl::cat(category()));
cl::opt<bool> timeStages("time", cl::desc("Print the time of each stage"),
                         cl::init(false), cl::sub(compileCommand),
                         cl::cat(category()));

int runCompile() {
  bool known = StringSwitch<bool>(emitKind)
                   .Cases({"", "mlir", "llvm", "asm", "obj", "ptx"}, true)
                   .Default(false);
  if (!known) {
    WithColor::error(errs(), "mixq")
        << "unknown --emit value '" << emitKind
        << "' (mlir, llvm, asm, obj or ptx)\n";
    return UsageError;
  }
  bool gpu = isGpuTarget(targetName);
  if (!gpu && targetName != "cpu") {
    WithColor::error(errs(), "mixq") << "unknown --target '" << targetName
                                     << "' (cpu, sm_80 or sm_90a)\n";
    return UsageError;
  }
  if (sm90Gemm != "wgmma" && sm90Gemm != "mma") {
    WithColor::error(errs(), "mixq")
        << "unknown --sm90-gemm '" << sm90Gemm << "' (wgmma or mma)\n";
    return UsageError;
  }
  if (emitKind == "ptx" && !gpu) {
    WithColor::error(errs(), "mixq")
        << "compile --emit=ptx needs --target=sm_80 or sm_90a\n";
    return UsageError;
  }
  if (gpu && (emitKind == "llvm" || emitKind == "asm" || emitKind == "obj")) {
    WithColor::error(errs(), "mixq")
        << "compile --target=" << targetName
        << " writes mlir, ptx or a shared library (-o FILE)\n";
    return UsageError;
  }
  if (emitKind.empty() && outputPath == "-") {
    WithColor::error(errs(), "mixq")
        << "compile: a shared library needs -o FILE (or choose --emit=mlir, "
           "llvm, asm or obj)\n";
    return UsageError;
  }

  auto package = PackageReader::open(packagePath);
  if (!package)
    return fail(package.takeError());
  auto stage = [](StringRef name, double seconds) {
    if (timeStages)
      errs() << formatv("{0,-14} {1:f3} s\n", name, seconds);
  };
  if (gpu && emitKind == "ptx") {
    auto ptx = compilePackageToPtx(**package, targetName, sm90Gemm);
    if (!ptx)
      return fail(ptx.takeError());
    if (Error e = writeToOutput(outputPath, [&](raw_ostream &os) {
          os << *ptx;
          return Error::success();
        }))
      return fail(std::move(e));
    return Success;
  }
  if (gpu && emitKind.empty()) {
    if (Error e = compileGpuPackage(**package, outputPath, targetName, stage,
                                    sm90Gemm))
      return fail(std::move(e));
    return Success;
  }
  if (emitKind.empty()) {
    if (Error e = compilePackage(**package, outputPath,
                                 HostTarget{cpuName, cpuFeatures}, stage))
      return fail(std::move(e));
    return Success;
  }
  mlir::MLIRContext context;
  auto module = buildLlamaModule(context, **package);
  if (!module)
    return fail(module.takeError());
  if (emitKind == "mlir") {
    if (Error e = writeToOutput(outputPath, [&](raw_ostream &os) {
          (*module)->print(os);
          os << "\n";
          return Error::success();
        }))
      return fail(std::move(e));
    return Success;
  }

  auto target = resolveHostTarget(HostTarget{cpuName, cpuFeatures});
  if (!target)
    return fail(target.takeError());
  if (Error e = lowerToLLVMDialect(**module, *target))
    return fail(createFileError(packagePath, std::move(e)));
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateToLLVMIR(**module, llvmContext);
  if (!llvmModule)
    return fail(llvmModule.takeError());
  if (Error e = optimizeForHost(**llvmModule, *target))
    return fail(std::move(e));
  if (emitKind == "llvm") {
    if (Error e = writeToOutput(outputPath, [&](raw_ostream &os) {
          (*llvmModule)->print(os, nullptr);
          return Error::success();
        }))
      return fail(std::move(e));
    return Success;
  }
  auto code = emitHostCode(**llvmModule, *target,
                           emitKind == "asm" ? HostOutput::Assembly
                                             : HostOutput::Object);
  if (!code)
    return fail(code.takeError());
  if (Error e = writeToOutput(outputPath, [&](raw_ostream &os) {
        os << *code;
        return Error::success();
      }))
    return fail(std::move(e));
  return Success;
}

CommandRegistration registration(compileCommand, runCompile);

} // namespace
