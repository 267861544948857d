//===- GpuContext.cpp - The process's GPU and its CUDA context ------------===//
//
// See GpuContext.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuContext.h"

#include "llvm/Support/FormatVariadic.h"

#include <mutex>

using namespace mixq;

llvm::Error GpuContext::initialize() {
  const CudaDriver &d = driver_;
  if (llvm::Error e = check(d.init(0), "cuInit"))
    return e;
  int count = 0;
  if (llvm::Error e = check(d.deviceGetCount(&count), "cuDeviceGetCount"))
    return e;
  if (count <= 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cuDeviceGetCount: the driver sees no GPU");
  if (llvm::Error e = check(d.deviceGet(&device_, 0), "cuDeviceGet"))
    return e;
  if (llvm::Error e = check(
          d.deviceGetAttribute(
              &major_, cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
              device_),
          "cuDeviceGetAttribute"))
    return e;
  if (llvm::Error e = check(
          d.deviceGetAttribute(
              &minor_, cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
              device_),
          "cuDeviceGetAttribute"))
    return e;
  char name[256] = {};
  if (llvm::Error e = check(d.deviceGetName(name, sizeof(name) - 1, device_),
                            "cuDeviceGetName"))
    return e;
  description_ =
      llvm::formatv("GPU 0 ({0}, sm_{1}{2})", name, major_, minor_).str();
  if (llvm::Error e = check(d.primaryCtxRetain(&context_, device_),
                            "cuDevicePrimaryCtxRetain"))
    return e;
  return makeCurrent();
}

llvm::Error GpuContext::makeCurrent() {
  // The only context this process uses: once current, it stays current.
  thread_local bool current = false;
  if (current)
    return llvm::Error::success();
  if (llvm::Error e = check(driver_.ctxSetCurrent(context_), "cuCtxSetCurrent"))
    return e;
  current = true;
  return llvm::Error::success();
}

llvm::Expected<GpuContext &> GpuContext::get() {
  static std::once_flag once;
  static GpuContext *gpu = nullptr; // never destroyed (see the header)
  static std::string failure;
  std::call_once(once, [] {
    llvm::Expected<const CudaDriver &> driver = CudaDriver::get();
    if (!driver) {
      failure = llvm::toString(driver.takeError());
      return;
    }
    auto *candidate = new GpuContext(*driver);
    if (llvm::Error e = candidate->initialize()) {
      failure = llvm::toString(std::move(e));
      delete candidate;
      return;
    }
    gpu = candidate;
  });
  if (!gpu)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), failure);
  if (llvm::Error e = gpu->makeCurrent())
    return std::move(e);
  return *gpu;
}
