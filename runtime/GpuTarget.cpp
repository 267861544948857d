//===- GpuTarget.cpp - Can this GPU run a module's chip? ------------------===//
//
// See GpuTarget.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuTarget.h"
#include "runtime/CudaDriver.h"
#include "runtime/GpuContext.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mixq;

namespace {

llvm::Error refuse(const llvm::Twine &reason) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), reason);
}

/// The --target that fits a device of compute capability major.minor.
std::string advice(int major, int minor) {
  if (major == 9 && minor == 0)
    return "recompile with --target=sm_90a";
  if (major == 8)
    return "recompile with --target=sm_80";
  if (major > 8)
    return "recompile with --target=sm_80 where ptxas is not found (PTX, "
           "compiled by the driver)";
  return "mixq's GPU kernels need compute capability 8.0 (sm_80) or newer";
}

} // namespace

std::optional<GpuArch> mixq::parseGpuTarget(llvm::StringRef target) {
  llvm::StringRef digits = target;
  if (!digits.consume_front("sm_"))
    return std::nullopt;
  GpuArch arch;
  arch.archSpecific = digits.consume_back("a");
  // Two or three digits: the last is the minor version (sm_80, sm_100).
  if (digits.size() < 2 || digits.size() > 3 ||
      !llvm::all_of(digits, llvm::isDigit))
    return std::nullopt;
  arch.minor = digits.back() - '0';
  if (digits.drop_back().getAsInteger(10, arch.major) || arch.major == 0)
    return std::nullopt;
  return arch;
}

llvm::Error mixq::checkGpuArch(llvm::StringRef target, GpuImageKind kind,
                               int major, int minor, llvm::StringRef device) {
  std::optional<GpuArch> arch = parseGpuTarget(target);
  if (!arch)
    return refuse("unknown GPU target '" + target + "'");
  bool runs;
  llvm::StringRef rule;
  if (arch->archSpecific) {
    runs = major == arch->major && minor == arch->minor;
    rule = "its architecture-specific kernels run on exactly that compute "
           "capability";
  } else if (kind == GpuImageKind::Cubin) {
    runs = major == arch->major && minor >= arch->minor;
    rule = "a cubin runs only within its major compute capability";
  } else {
    runs = major > arch->major || (major == arch->major && minor >= arch->minor);
    rule = "it needs that compute capability or newer";
  }
  if (runs)
    return llvm::Error::success();
  return refuse(llvm::formatv("compiled for the NVIDIA GPU target {0} "
                              "(compute capability {1}.{2}), but {3} has "
                              "compute capability {4}.{5}: {6}; {7}",
                              target, arch->major, arch->minor, device, major,
                              minor, rule, advice(major, minor))
                    .str());
}

llvm::Error mixq::checkGpuModule(llvm::StringRef target, GpuImageKind kind) {
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu) {
    std::string why = llvm::toString(gpu.takeError());
    if (isMissingDriverMessage(why))
      return refuse("compiled for the NVIDIA GPU target " + target +
                    ", but no NVIDIA driver is installed (" + why + ")");
    return refuse("compiled for the NVIDIA GPU target " + target +
                  ", but no usable NVIDIA GPU was found (" + why + ")");
  }
  return checkGpuArch(target, kind, gpu->major(), gpu->minor(),
                      gpu->description());
}
