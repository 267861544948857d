//===- HostCodegen.cpp - LLVM-dialect module -> x86 code ------------------===//
//
// Target resolution, MLIR -> LLVM IR translation, the O3 pipeline and machine
// code emission for an x86-64 host. The X86 backend is initialized once; each
// entry point creates its own TargetMachine from a ResolvedHostTarget, so a
// ResolvedHostTarget is all that travels between the steps. Linking lives in
// HostLink.cpp.
//
//===----------------------------------------------------------------------===//
#include "codegen/Host/HostCodegen.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/DiagnosticHandler.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <mutex>

using namespace mixq;

namespace {

constexpr const char *kHostTriple = "x86_64-unknown-linux-gnu";

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

void initializeX86Target() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser();
  });
}

llvm::Expected<const llvm::Target *> lookupX86Target() {
  initializeX86Target();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(kHostTriple), error);
  if (!target)
    return makeError("cannot find the x86-64 target: " + error);
  return target;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const ResolvedHostTarget &resolved) {
  llvm::Expected<const llvm::Target *> target = lookupX86Target();
  if (!target)
    return target.takeError();
  // Constructors in .init_array (as clang emits them): the GPU modules'
  // kernel loader is one, and glibc with lld never runs .ctors.
  llvm::TargetOptions options;
  options.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> machine((*target)->createTargetMachine(
      llvm::Triple(resolved.triple), resolved.cpu, resolved.features, options,
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return makeError("cannot create a target machine for " + resolved.triple +
                     " (cpu '" + resolved.cpu + "')");
  return std::move(machine);
}

/// The host CPU's features as a sorted "+f1,-f2,..." list.
std::string hostFeatureString() {
  llvm::SmallVector<std::string> features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features.push_back((feature.getValue() ? "+" : "-") +
                       feature.getKey().str());
  llvm::sort(features);
  return llvm::join(features, ",");
}

/// Captures backend errors reported through the LLVMContext (which would
/// otherwise end the process) while installed; other diagnostics go to the
/// handler that was there before.
class ScopedBackendErrorCapture {
public:
  explicit ScopedBackendErrorCapture(llvm::LLVMContext &context)
      : context(context) {
    auto owned = std::make_unique<Handler>(context.getDiagnosticHandler());
    handler = owned.get();
    context.setDiagnosticHandler(std::move(owned));
  }
  ~ScopedBackendErrorCapture() {
    std::unique_ptr<llvm::DiagnosticHandler> previous =
        std::move(handler->previous);
    context.setDiagnosticHandler(std::move(previous));
  }
  const std::string &errors() const { return handler->errors; }

private:
  struct Handler : llvm::DiagnosticHandler {
    explicit Handler(std::unique_ptr<llvm::DiagnosticHandler> previous)
        : previous(std::move(previous)) {}
    bool handleDiagnostics(const llvm::DiagnosticInfo &info) override {
      if (info.getSeverity() != llvm::DS_Error)
        return previous && previous->handleDiagnostics(info);
      llvm::raw_string_ostream os(errors);
      if (!errors.empty())
        os << "; ";
      llvm::DiagnosticPrinterRawOStream printer(os);
      info.print(printer);
      return true;
    }
    bool isAnalysisRemarkEnabled(llvm::StringRef pass) const override {
      return previous && previous->isAnalysisRemarkEnabled(pass);
    }
    bool isMissedOptRemarkEnabled(llvm::StringRef pass) const override {
      return previous && previous->isMissedOptRemarkEnabled(pass);
    }
    bool isPassedOptRemarkEnabled(llvm::StringRef pass) const override {
      return previous && previous->isPassedOptRemarkEnabled(pass);
    }
    bool isAnyRemarkEnabled() const override {
      return previous && previous->isAnyRemarkEnabled();
    }
    std::unique_ptr<llvm::DiagnosticHandler> previous;
    std::string errors;
  };

  llvm::LLVMContext &context;
  Handler *handler; // owned by the context while installed
};

void setTargetOf(llvm::Module &module, const llvm::TargetMachine &machine) {
  module.setTargetTriple(machine.getTargetTriple());
  module.setDataLayout(machine.createDataLayout());
}

} // namespace

llvm::Expected<ResolvedHostTarget>
mixq::resolveHostTarget(const HostTarget &target) {
  llvm::Expected<const llvm::Target *> x86 = lookupX86Target();
  if (!x86)
    return x86.takeError();

  ResolvedHostTarget resolved;
  resolved.triple = kHostTriple;
  if (target.cpu.empty() || target.cpu == "native") {
    resolved.cpu = llvm::sys::getHostCPUName().str();
    resolved.features = hostFeatureString();
  } else {
    resolved.cpu = target.cpu;
  }

  // A subtarget for the default CPU: asking it about `cpu` (rather than
  // creating one for `cpu`) keeps an unknown name from printing a warning.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      (*x86)->createMCSubtargetInfo(llvm::Triple(resolved.triple), "", ""));
  if (!subtarget)
    return makeError("cannot create the x86-64 subtarget information");
  if (resolved.cpu.empty() || !subtarget->isCPUStringValid(resolved.cpu))
    return makeError("unknown x86 CPU '" + resolved.cpu +
                     "' (try x86-64, x86-64-v3, x86-64-v4, znver4, "
                     "skylake-avx512, native)");
  if (resolved.features.empty()) {
    // A named CPU: spell out the features it implies, so that the lowering
    // (which picks VNNI, AVX-512 or AVX2 kernels from the feature list)
    // sees what LLVM's code generator will assume.
    std::unique_ptr<llvm::MCSubtargetInfo> named(
        (*x86)->createMCSubtargetInfo(llvm::Triple(resolved.triple),
                                      resolved.cpu, ""));
    for (const llvm::SubtargetFeatureKV &kv :
         named->getAllProcessorFeatures()) {
      std::string plus = "+" + std::string(kv.Key);
      if (!named->checkFeatures(plus))
        continue;
      if (!resolved.features.empty())
        resolved.features += ',';
      resolved.features += plus;
    }
  }

  llvm::SmallVector<llvm::StringRef> extra;
  llvm::StringRef(target.features)
      .split(extra, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef feature : extra) {
    feature = feature.trim();
    if (feature.empty())
      continue;
    llvm::StringRef name = feature.drop_front();
    if ((!feature.starts_with("+") && !feature.starts_with("-")) ||
        llvm::none_of(
            subtarget->getAllProcessorFeatures(),
            [&](const llvm::SubtargetFeatureKV &kv) { return name == kv.Key; }))
      return makeError("unknown x86 feature '" + feature +
                       "' (expected +name or -name, e.g. +avx2,-avx512f)");
    if (!resolved.features.empty())
      resolved.features += ',';
    resolved.features += feature.str();
  }
  return resolved;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
mixq::translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llvmContext) {
  mlir::MLIRContext *context = module.getContext();
  mlir::registerBuiltinDialectTranslation(*context);
  mlir::registerLLVMDialectTranslation(*context);

  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(context, [&](mlir::Diagnostic &diag) {
    llvm::raw_string_ostream os(diagnostics);
    if (!diagnostics.empty())
      os << "; ";
    os << diag.getLocation() << ": " << diag;
    // The "see current operation" note would print the whole op generically.
    for (const mlir::Diagnostic &note : diag.getNotes())
      if (!llvm::StringRef(note.str()).starts_with("see current operation"))
        os << " (note: " << note << ")";
    return mlir::success();
  });
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return makeError("cannot translate the module to LLVM IR: " +
                     (diagnostics.empty() ? "unknown error" : diagnostics));
  return std::move(llvmModule);
}

llvm::Error mixq::optimizeForHost(llvm::Module &module,
                                  const ResolvedHostTarget &target) {
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  setTargetOf(module, **machine);

  for (llvm::Function &function : module) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", target.cpu);
    // Features already on the function (from the MLIR module) come last so
    // that they win over the target's.
    std::string features = target.features;
    llvm::StringRef existing =
        function.getFnAttribute("target-features").getValueAsString();
    if (!existing.empty())
      features += (features.empty() ? "" : ",") + existing.str();
    if (!features.empty())
      function.addFnAttr("target-features", features);
  }

  std::string verifierOutput;
  llvm::raw_string_ostream verifierStream(verifierOutput);
  if (llvm::verifyModule(module, &verifierStream))
    return makeError("invalid LLVM IR before optimization: " + verifierOutput);

  // Destroyed in reverse: the proxies of the later ones refer to the earlier.
  llvm::LoopAnalysisManager loopAnalyses;
  llvm::FunctionAnalysisManager functionAnalyses;
  llvm::CGSCCAnalysisManager cgsccAnalyses;
  llvm::ModuleAnalysisManager moduleAnalyses;

  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  // The kernels come vectorized and blocked from MLIR; LLVM's unroller
  // roughly doubled O3 and instruction selection time on stories15M (7.7 s
  // -> 11.5 s for the whole compile) for no measured decode or prefill gain.
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = true;
  llvm::PassBuilder builder(machine->get(), tuning);
  // The target's cost model for the vectorizers and unrollers (registered
  // first, so registerFunctionAnalyses keeps it).
  functionAnalyses.registerPass(
      [&] { return (*machine)->getTargetIRAnalysis(); });
  builder.registerModuleAnalyses(moduleAnalyses);
  builder.registerCGSCCAnalyses(cgsccAnalyses);
  builder.registerFunctionAnalyses(functionAnalyses);
  builder.registerLoopAnalyses(loopAnalyses);
  builder.crossRegisterProxies(loopAnalyses, functionAnalyses, cgsccAnalyses,
                               moduleAnalyses);

  ScopedBackendErrorCapture capture(module.getContext());
  llvm::ModulePassManager passes =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  passes.run(module, moduleAnalyses);
  if (!capture.errors().empty())
    return makeError("cannot optimize the module: " + capture.errors());
  return llvm::Error::success();
}

llvm::Expected<std::string> mixq::emitHostCode(llvm::Module &module,
                                               const ResolvedHostTarget &target,
                                               HostOutput output) {
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  setTargetOf(module, **machine);

  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager passes;
  llvm::CodeGenFileType fileType = output == HostOutput::Assembly
                                       ? llvm::CodeGenFileType::AssemblyFile
                                       : llvm::CodeGenFileType::ObjectFile;
  if ((*machine)->addPassesToEmitFile(passes, os, nullptr, fileType))
    return makeError("the x86-64 target cannot emit this file type");

  ScopedBackendErrorCapture capture(module.getContext());
  passes.run(module);
  if (!capture.errors().empty())
    return makeError("cannot generate code for the module: " +
                     capture.errors());
  return std::string(buffer.str());
}
