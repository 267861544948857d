//===- TargetCheck.h - Can this machine run a module's target? --*- C++ -*-===//
//
// A module says what it was compiled for (mixq_target, ModuleABI.h). Before
// the runtime calls into it, checkModuleTarget refuses what would otherwise
// die with SIGILL or crash on pointers of the wrong kind: a GPU module for
// a GPU this machine lacks ("sm_80", "sm_90a": no NVIDIA driver, no device,
// or one whose compute capability does not fit; GpuTarget.h), an x86
// module for a CPU whose vector extensions this CPU lacks (e.g.
// "x86-64:znver4" on an AVX2-only machine) or with extensions turned on
// beside its CPU's that this CPU lacks ("x86-64:znver3:+avx2,+avx512f",
// from mixq compile --cpu-features=+avx512f), x86 code on another
// architecture, and unknown targets.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_TARGETCHECK_H
#define MIXQ_RUNTIME_TARGETCHECK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mixq {

/// The instruction-set extensions an x86 CPU name implies that this CPU
/// lacks (empty for an unknown name: nothing to check).
std::vector<std::string> missingX86Features(llvm::StringRef cpu);

/// Success when this machine can run a module compiled for `target`;
/// otherwise an error with the reason (callers add the module's file).
llvm::Error checkModuleTarget(llvm::StringRef target);

} // namespace mixq

#endif // MIXQ_RUNTIME_TARGETCHECK_H
