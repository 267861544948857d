//===- TargetCheck.cpp - Can this machine run a module's target? ----------===//
//
// See TargetCheck.h. Only instruction-set extensions are compared (the list
// below): a CPU name also implies system features (rdseed, pku, ...) that
// virtual machines often hide and compiled kernels never use.
//
//===----------------------------------------------------------------------===//
#include "runtime/TargetCheck.h"
#include "runtime/GpuTarget.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"


using namespace mixq;

namespace {

llvm::Error refuse(const llvm::Twine &reason) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), reason);
}

/// Extensions whose instructions generated code may contain.
const char *const kCodeFeatures[] = {
    "sse3",        "ssse3",       "sse4.1",       "sse4.2",
    "popcnt",      "avx",         "avx2",         "fma",
    "f16c",        "bmi",         "bmi2",         "lzcnt",
    "movbe",       "avx512f",     "avx512bw",     "avx512vl",
    "avx512dq",    "avx512cd",    "avx512vnni",   "avx512bf16",
    "avx512fp16",  "avx512vbmi",  "avx512vbmi2",  "avx512bitalg",
    "avx512ifma",  "avx512vpopcntdq", "avxvnni",  "avxvnniint8",
    "gfni",        "vpclmulqdq",  "vaes",         "amx-tile",
    "amx-int8",    "amx-bf16"};

} // namespace

std::vector<std::string> mixq::missingX86Features(llvm::StringRef cpu) {
  std::vector<std::string> missing;
  if (llvm::X86::parseArchX86(cpu, /*Only64Bit=*/true) == llvm::X86::CK_None)
    return missing;
  llvm::SmallVector<llvm::StringRef> features;
  llvm::X86::getFeaturesForCPU(cpu, features);
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  for (llvm::StringRef f : features)
    if (llvm::is_contained(kCodeFeatures, f) && !host.lookup(f))
      missing.push_back(f.str());
  return missing;
}

llvm::Error mixq::checkModuleTarget(llvm::StringRef target) {
  // GPU modules: driver, device and compute capability (GpuTarget.h).
  if (target.starts_with("sm_"))
    return checkGpuModule(target, GpuImageKind::Unknown);
  llvm::StringRef cpu = target;
  if (!cpu.consume_front("x86-64:"))
    return refuse("unknown target '" + target +
                  "' (expected x86-64:<cpu>, sm_80 or sm_90a)");
  // x86-64:<cpu>:+f1,+f2: extensions turned on beside the CPU's.
  auto [cpuName, extra] = cpu.split(':');
#if !defined(__x86_64__)
  (void)cpuName;
  (void)extra;
  return refuse("compiled for " + target + ", but this machine is not x86-64");
#else
  std::vector<std::string> missing = missingX86Features(cpuName);
  llvm::SmallVector<llvm::StringRef> features;
  extra.split(features, ',', -1, /*KeepEmpty=*/false);
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  for (llvm::StringRef f : features)
    if (f.consume_front("+") && llvm::is_contained(kCodeFeatures, f) &&
        !host.lookup(f) && !llvm::is_contained(missing, f.str()))
      missing.push_back(f.str());
  if (missing.empty())
    return llvm::Error::success();
  return refuse(llvm::formatv("compiled for {0}, which needs {1} that this "
                              "CPU ({2}) lacks; recompile it here (mixq "
                              "compile --cpu=native, with no --cpu-features "
                              "that add it)",
                              target, llvm::join(missing, ", "),
                              llvm::sys::getHostCPUName())
                    .str());
#endif
}
