//===- CompiledModule.h - A compiled mixq module, loaded --------*- C++ -*-===//
//
// Loads a shared library exporting ModuleABI.h, checks its ABI version,
// reads what it was compiled for (target, model shape, the streams it reads)
// and binds it to a package: the package's content hash must be the one the
// module was compiled for, and every stream the module names is looked up in
// the package's mmapped data, so the module reads the weights in place.
//
// GPU modules ("sm_80", "sm_90a"; ModuleABI.h, "GPU modules") load their
// kernels from a constructor at dlopen time through the mgpu* functions
// (runtime/GpuRuntimeABI.h), which initialise CUDA themselves; what that
// load did is kept and checked when the module is bound: driver and device
// present, the device's compute capability fits the chip (GpuTarget.h),
// the kernels loaded. Binding then uploads the streams the module reads
// into device memory once (GpuWeights.h), and the stream table holds
// device pointers.
//
// Errors are "<file>: <reason>"; nothing here aborts on a bad file.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_COMPILEDMODULE_H
#define MIXQ_RUNTIME_COMPILEDMODULE_H

#include "runtime/GpuTarget.h"
#include "runtime/ModuleABI.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace mixq {

class GpuWeights;
class PackageReader;

/// The ABI entry points of a module, resolved once.
struct ModuleFunctions {
  int32_t (*abiVersion)(void) = nullptr;
  const char *(*packageSha256)(void) = nullptr;
  const char *(*target)(void) = nullptr;
  void (*getModelDims)(mixq_model_dims *) = nullptr;
  int64_t (*streamCount)(void) = nullptr;
  const char *(*streamName)(int64_t) = nullptr;
  int64_t (*scratchBytes)(int64_t) = nullptr;
  decltype(&mixq_prefill) prefill = nullptr;
  decltype(&mixq_decode) decode = nullptr;
};

class CompiledModule {
public:
  ~CompiledModule();
  CompiledModule(const CompiledModule &) = delete;
  CompiledModule &operator=(const CompiledModule &) = delete;

  /// Loads `path` (dlopen, RTLD_LOCAL) and checks that it is a module of
  /// this ABI version.
  static llvm::Expected<std::unique_ptr<CompiledModule>>
  open(llvm::StringRef path);

  const std::string &path() const { return path_; }
  const std::string &target() const { return target_; }
  const std::string &packageSha256() const { return packageSha256_; }
  const mixq_model_dims &dims() const { return dims_; }
  llvm::ArrayRef<std::string> streamNames() const { return streamNames_; }
  const ModuleFunctions &functions() const { return fns_; }
  /// True for "x86-64:<cpu>" modules (host pointers).
  bool isCpu() const;
  /// True for "sm_*" modules (device pointers).
  bool isGpu() const;

  /// Checks `package` against the module (content hash, model shape) and
  /// builds the stream table from its mapped streams. `package` must outlive
  /// every later use of the module. Replaces an earlier binding.
  llvm::Error bindPackage(const PackageReader &package);
  bool isBound() const { return bound_; }
  /// One pointer per streamNames() entry, into the bound package's mapping
  /// (CPU modules) or into the device copy of its streams (GPU modules).
  llvm::ArrayRef<const void *> streamTable() const { return streams_; }

private:
  CompiledModule() = default;
  /// Whether this machine can run the module (TargetCheck.h, GpuTarget.h).
  llvm::Error checkRunnable() const;
  void *handle_ = nullptr;
  std::string path_, target_, packageSha256_;
  mixq_model_dims dims_{};
  std::vector<std::string> streamNames_;
  ModuleFunctions fns_;
  std::vector<const void *> streams_;
  bool bound_ = false;
  // GPU modules: what loading the kernels did, and the device weights.
  int32_t gpuAbiVersion_ = -1; // -1: no mixq_gpu_abi_version
  GpuImageKind imageKind_ = GpuImageKind::Unknown;
  std::string gpuLoadError_;
  std::unique_ptr<GpuWeights> gpuWeights_;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_COMPILEDMODULE_H
