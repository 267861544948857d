//===- GpuTarget.h - Can this GPU run a module's chip? ----------*- C++ -*-===//
//
// A GPU module names its chip (mixq_target(): "sm_80", "sm_90a") and embeds
// its kernels as cubin (mgpuModuleLoad) or PTX (mgpuModuleLoadJIT). Which
// devices run it, by compute capability (CC):
//
//   - sm_XYa (architecture-specific features, wgmma/TMA): CC X.Y only, as
//     cubin or PTX;
//   - sm_XY cubin: CC X.Z with Z >= Y (binary compatibility stops at the
//     major version: an sm_80 cubin does not run on an H100);
//   - sm_XY PTX: CC X.Y or newer (the driver JIT-compiles it).
//
// checkGpuArch is that rule as a pure function (unit-tested without a GPU);
// checkGpuModule asks the driver for the device and applies it.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUTARGET_H
#define MIXQ_RUNTIME_GPUTARGET_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace mixq {

/// How a module's kernels are embedded; Unknown before the module is loaded
/// (the PTX rule is applied: a cubin that does not fit fails to load).
enum class GpuImageKind { Unknown, Ptx, Cubin };

struct GpuArch {
  int major = 0, minor = 0;
  bool archSpecific = false; // the "a" suffix
};

/// "sm_80" -> {8, 0}, "sm_90a" -> {9, 0, a}; nullopt for anything else.
std::optional<GpuArch> parseGpuTarget(llvm::StringRef target);

/// Success when a module for `target` (kernels as `kind`) runs on a device
/// of compute capability major.minor called `device`; otherwise the reason,
/// "compiled for the NVIDIA GPU target sm_90a, but <device> is sm_80
/// (compute capability 8.0): ...; recompile with --target=...".
llvm::Error checkGpuArch(llvm::StringRef target, GpuImageKind kind, int major,
                         int minor, llvm::StringRef device);

/// checkGpuArch against this machine's GPU (GpuContext): also refuses a
/// machine without the driver ("compiled for the NVIDIA GPU target sm_80,
/// but no NVIDIA driver is installed (...)") or without a usable device.
llvm::Error checkGpuModule(llvm::StringRef target, GpuImageKind kind);

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUTARGET_H
