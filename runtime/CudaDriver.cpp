//===- CudaDriver.cpp - The CUDA driver API, loaded with dlopen -----------===//
//
// See CudaDriver.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/CudaDriver.h"

#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>
#include <dlfcn.h>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <utility>

using namespace mixq;

namespace {

constexpr llvm::StringLiteral kMissing =
    " not found: no NVIDIA driver on this machine";

llvm::Error message(const llvm::Twine &text) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
}

} // namespace

bool mixq::isMissingDriverMessage(llvm::StringRef message) {
  return message.contains(kMissing);
}

std::string CudaDriver::libraryName() {
  const char *name = std::getenv("MIXQ_LIBCUDA");
  return name && *name ? std::string(name) : std::string("libcuda.so.1");
}

llvm::Expected<CudaDriver> CudaDriver::load(llvm::StringRef library) {
  std::string name = library.str();
  dlerror();
  // RTLD_LOCAL: the driver's symbols never resolve a module's imports.
  void *handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    // The loader's reason only when it says more than "no such file".
    const char *why = dlerror();
    llvm::StringRef reason = why ? why : "";
    if (reason.empty() || reason.contains("No such file"))
      return message(name + kMissing);
    return message(name + kMissing + " (" + reason + ")");
  }
  CudaDriver driver;
  const char *missing = nullptr;
  auto resolve = [&](auto &fn, const char *symbol) {
    if (missing)
      return;
    if (void *address = dlsym(handle, symbol))
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(address);
    else
      missing = symbol;
  };
#define MIXQ_CUDA_RESOLVE(field, symbol, ...) resolve(driver.field, symbol);
  MIXQ_CUDA_DRIVER_FUNCTIONS(MIXQ_CUDA_RESOLVE)
#undef MIXQ_CUDA_RESOLVE
#define MIXQ_CUDA_OPTIONAL(field, symbol, ...)                                 \
  driver.field =                                                               \
      reinterpret_cast<decltype(driver.field)>(dlsym(handle, symbol));
  MIXQ_CUDA_OPTIONAL_FUNCTIONS(MIXQ_CUDA_OPTIONAL)
#undef MIXQ_CUDA_OPTIONAL
  driver.library = name;
  if (missing) {
    dlclose(handle);
    return message(name + ": no symbol " + missing +
                   " (not a CUDA driver, or one older than CUDA 12)");
  }
  return driver;
}

llvm::Expected<const CudaDriver &> CudaDriver::get() {
  static std::once_flag once;
  static std::optional<CudaDriver> driver;
  static std::string failure;
  std::call_once(once, [] {
    llvm::Expected<CudaDriver> loaded = load(libraryName());
    if (loaded)
      driver = *loaded;
    else
      failure = llvm::toString(loaded.takeError());
  });
  if (!driver)
    return message(failure);
  return *driver;
}

namespace {
/// "<library> has no <symbol>" for the first null entry point, else "".
std::string
firstMissing(const std::string &library,
             std::initializer_list<std::pair<const void *, const char *>>
                 calls) {
  for (auto [fn, symbol] : calls)
    if (!fn)
      return library + " has no " + symbol;
  return std::string();
}
template <typename Fn> const void *entry(Fn *fn) {
  return reinterpret_cast<const void *>(fn);
}
} // namespace

std::string CudaDriver::missingGraphCall() const {
  return firstMissing(
      library, {{entry(streamBeginCapture), "cuStreamBeginCapture_v2"},
                {entry(streamEndCapture), "cuStreamEndCapture"},
                {entry(graphInstantiate), "cuGraphInstantiateWithFlags"},
                {entry(graphExecUpdate), "cuGraphExecUpdate_v2"},
                {entry(graphLaunch), "cuGraphLaunch"},
                {entry(graphDestroy), "cuGraphDestroy"},
                {entry(graphExecDestroy), "cuGraphExecDestroy"}});
}

std::string CudaDriver::missingEventCall() const {
  return firstMissing(library,
                      {{entry(eventCreate), "cuEventCreate"},
                       {entry(eventRecord), "cuEventRecord"},
                       {entry(eventSynchronize), "cuEventSynchronize"},
                       {entry(eventElapsedTime), "cuEventElapsedTime"},
                       {entry(eventDestroy), "cuEventDestroy_v2"}});
}

std::string CudaDriver::describe(cuda::CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (getErrorName(result, &name) != cuda::CUDA_SUCCESS || !name)
    name = nullptr;
  if (getErrorString(result, &text) != cuda::CUDA_SUCCESS || !text)
    text = nullptr;
  std::string out = name ? name : llvm::formatv("CUDA error {0}", result).str();
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

llvm::Error CudaDriver::check(cuda::CUresult result,
                              llvm::StringRef call) const {
  if (result == cuda::CUDA_SUCCESS)
    return llvm::Error::success();
  return message(call + ": " + describe(result));
}
