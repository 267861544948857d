//===- CompiledModule.cpp - A compiled mixq module, loaded ----------------===//
//
// See CompiledModule.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/CompiledModule.h"
#include "runtime/GpuRuntimeABI.h"
#include "runtime/GpuWeights.h"
#include "runtime/TargetCheck.h"

#include "model/MappedFile.h"
#include "model/Package.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <dlfcn.h>

using namespace mixq;

namespace {

/// dlerror()'s text without a leading "<path>: " (fileError adds its own).
std::string loaderMessage(llvm::StringRef path) {
  const char *text = dlerror();
  llvm::StringRef message = text ? text : "unknown loader error";
  message.consume_front((path + ": ").str());
  return ("cannot load it as a shared library: " + message).str();
}

/// A static C string from a module, or "" when it returned null.
std::string fromModule(const char *s) { return s ? std::string(s) : ""; }

bool isHex64(llvm::StringRef s) {
  return s.size() == 64 && llvm::all_of(s, llvm::isHexDigit);
}

} // namespace

CompiledModule::~CompiledModule() {
  if (handle_)
    dlclose(handle_);
}

bool CompiledModule::isCpu() const {
  return llvm::StringRef(target_).starts_with("x86-64:");
}

bool CompiledModule::isGpu() const {
  return llvm::StringRef(target_).starts_with("sm_");
}

llvm::Expected<std::unique_ptr<CompiledModule>>
CompiledModule::open(llvm::StringRef path) {
  std::unique_ptr<CompiledModule> m(new CompiledModule);
  m->path_ = path.str();
  // dlopen searches the library path for a name without '/': never do that.
  std::string file = path.contains('/') ? path.str() : ("./" + path).str();
  // A GPU module's constructor loads its kernels (mgpuModuleLoad*) during
  // dlopen: record that load alone.
  llvm::consumeError(takeGpuAbiError());
  takeLastGpuImageKind();
  dlerror();
  m->handle_ = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string gpuLoadError = llvm::toString(takeGpuAbiError());
  GpuImageKind imageKind = takeLastGpuImageKind();
  if (!m->handle_)
    return fileError(path, loaderMessage(file));

  // The first missing symbol is the one reported.
  const char *missing = nullptr;
  auto resolve = [&](auto &fn, const char *name) {
    if (missing)
      return;
    void *symbol = dlsym(m->handle_, name);
    if (!symbol)
      missing = name;
    else
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(symbol);
  };
  ModuleFunctions &f = m->fns_;
  resolve(f.abiVersion, "mixq_abi_version");
  resolve(f.packageSha256, "mixq_package_sha256");
  resolve(f.target, "mixq_target");
  resolve(f.getModelDims, "mixq_get_model_dims");
  resolve(f.streamCount, "mixq_stream_count");
  resolve(f.streamName, "mixq_stream_name");
  resolve(f.scratchBytes, "mixq_scratch_bytes");
  resolve(f.prefill, "mixq_prefill");
  resolve(f.decode, "mixq_decode");
  if (missing)
    return fileError(path, llvm::formatv("not a mixq module (no symbol {0})",
                                         missing));

  int32_t version = f.abiVersion();
  if (version != MIXQ_ABI_VERSION)
    return fileError(path, llvm::formatv("module ABI version {0}, this runtime "
                                         "speaks {1}; recompile it",
                                         version, MIXQ_ABI_VERSION));
  m->packageSha256_ = fromModule(f.packageSha256());
  m->target_ = fromModule(f.target());
  // A CPU module's code may use extensions this CPU lacks (compiled for
  // another CPU, or with --cpu-features=+avx512f): refused before any call
  // beyond these constants, since even getModelDims may then die of SIGILL.
  if (!m->isGpu())
    if (llvm::Error e = checkModuleTarget(m->target_))
      return fileError(path, llvm::toString(std::move(e)));
  if (m->isGpu()) {
    if (auto *version = reinterpret_cast<int32_t (*)(void)>(
            dlsym(m->handle_, "mixq_gpu_abi_version")))
      m->gpuAbiVersion_ = version();
    m->imageKind_ = imageKind;
    m->gpuLoadError_ = gpuLoadError;
  }
  f.getModelDims(&m->dims_);
  int64_t count = f.streamCount();
  if (count < 0)
    return fileError(path, llvm::formatv("module reports {0} streams", count));
  for (int64_t i = 0; i < count; ++i) {
    const char *name = f.streamName(i);
    if (!name || !*name)
      return fileError(path, llvm::formatv("module stream {0} has no name", i));
    m->streamNames_.push_back(name);
  }
  return std::move(m);
}

llvm::Error CompiledModule::checkRunnable() const {
  if (!isGpu())
    return checkModuleTarget(target_);
  if (llvm::Error e = checkGpuModule(target_, imageKind_))
    return e;
  if (gpuAbiVersion_ != MIXQ_GPU_ABI_VERSION)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        gpuAbiVersion_ < 0
            ? std::string("GPU module without mixq_gpu_abi_version")
            : llvm::formatv("GPU module ABI version {0}, this runtime speaks "
                            "{1}; recompile it",
                            gpuAbiVersion_, MIXQ_GPU_ABI_VERSION)
                  .str());
  if (!gpuLoadError_.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "its GPU kernels did not load: " +
                                       gpuLoadError_);
  return llvm::Error::success();
}

llvm::Error CompiledModule::bindPackage(const PackageReader &package) {
  bound_ = false;
  streams_.clear();
  gpuWeights_.reset();
  if (llvm::Error e = checkRunnable())
    return fileError(path_, llvm::toString(std::move(e)));
  if (!isHex64(packageSha256_))
    return fileError(path_, "module reports no valid package hash");
  if (packageSha256_ != package.contentSha256())
    return fileError(path_, llvm::formatv("compiled for package {0}, but {1} "
                                          "has content hash {2}; recompile",
                                          packageSha256_, package.path(),
                                          package.contentSha256()));
  const LlamaConfig &c = package.config();
  const mixq_model_dims &d = dims_;
  if (d.dim != c.dim || d.hidden_dim != c.hiddenDim ||
      d.n_layers != c.nLayers || d.n_heads != c.nHeads ||
      d.n_kv_heads != c.nKvHeads || d.head_dim != c.headDim() ||
      d.vocab_size != c.vocabSize || d.max_seq_len != c.maxSeqLen)
    return fileError(path_, "module's model shape differs from " +
                                package.path() + "'s config");

  llvm::StringMap<llvm::ArrayRef<uint8_t>> available;
  for (const PackageTensorView &tensor : package.tensors())
    for (const PackageTensorView::StreamView &stream : tensor.streams)
      available[tensor.name + ":" + stream.name] = stream.bytes;
  std::vector<llvm::ArrayRef<uint8_t>> streams;
  streams.reserve(streamNames_.size());
  for (const std::string &name : streamNames_) {
    auto it = available.find(name);
    if (it == available.end())
      return fileError(path_, "module reads stream '" + name + "', which " +
                                  package.path() + " does not have");
    streams.push_back(it->second);
  }
  if (isGpu()) {
    auto weights = GpuWeights::upload(streams);
    if (!weights)
      return fileError(path_, llvm::toString(weights.takeError()));
    gpuWeights_ = std::move(*weights);
    streams_.assign(gpuWeights_->table().begin(), gpuWeights_->table().end());
  } else {
    for (llvm::ArrayRef<uint8_t> stream : streams)
      streams_.push_back(stream.data());
  }
  bound_ = true;
  return llvm::Error::success();
}
