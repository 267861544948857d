//===- Cublas.cpp - cuBLAS, loaded with dlopen ----------------------------===//
//
// See Cublas.h.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Cublas.h"

#include "codegen/GPU/GpuCodegen.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <dlfcn.h>

using namespace mixq;

namespace {

llvm::Error message(const llvm::Twine &text) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
}

/// The files to try, in order.
llvm::SmallVector<std::string> candidates() {
  if (const char *env = std::getenv("MIXQ_LIBCUBLAS"); env && *env)
    return {env};
  const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  llvm::SmallVector<std::string> out(std::begin(names), std::end(names));
  if (std::optional<std::string> toolkit = findCudaToolkit())
    for (const char *dir : {"lib64", "lib"})
      for (const char *name : names) {
        llvm::SmallString<256> p(*toolkit);
        llvm::sys::path::append(p, dir, name);
        out.push_back(p.str().str());
      }
  return out;
}

} // namespace

llvm::Expected<Cublas> Cublas::load() {
  void *handle = nullptr;
  std::string tried, reasons;
  for (const std::string &name : candidates()) {
    dlerror();
    handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      Cublas c;
      c.library = name;
      const char *missing = nullptr;
#define MIXQ_CUBLAS_RESOLVE(field, symbol, ...)                                \
  if (!missing) {                                                              \
    c.field = reinterpret_cast<decltype(c.field)>(dlsym(handle, symbol));      \
    if (!c.field)                                                              \
      missing = symbol;                                                        \
  }
      MIXQ_CUBLAS_FUNCTIONS(MIXQ_CUBLAS_RESOLVE)
#undef MIXQ_CUBLAS_RESOLVE
      c.statusName = reinterpret_cast<decltype(c.statusName)>(
          dlsym(handle, "cublasGetStatusName"));
      if (missing) {
        dlclose(handle);
        return message(name + ": no symbol " + missing +
                       " (not cuBLAS, or one older than CUDA 11)");
      }
      return c;
    }
    const char *why = dlerror();
    tried += (tried.empty() ? "" : ", ") + name;
    // Say more than "not found" only for a file that exists.
    if (why && !llvm::StringRef(why).contains("No such file"))
      reasons += std::string("; ") + why;
  }
  return message("no cuBLAS: " + tried + ": not found" + reasons +
                 " (set MIXQ_LIBCUBLAS to its path)");
}

llvm::Error Cublas::check(cublas::Status status,
                          const llvm::Twine &call) const {
  if (status == cublas::CUBLAS_STATUS_SUCCESS)
    return llvm::Error::success();
  const char *name = statusName ? statusName(status) : nullptr;
  std::string text =
      name ? std::string(name)
           : llvm::formatv("cuBLAS status {0}", status).str();
  return message(call + ": " + text + " (" + library + ")");
}
