//===- GpuMemory.cpp - Device buffers owned by the runtime ----------------===//
//
// See GpuMemory.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuMemory.h"
#include "runtime/GpuContext.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mixq;

namespace {

std::string humanBytes(size_t bytes) {
  if (bytes >= (size_t(1) << 30))
    return llvm::formatv("{0:f2} GB", double(bytes) / 1e9).str();
  if (bytes >= (size_t(1) << 20))
    return llvm::formatv("{0:f1} MB", double(bytes) / 1e6).str();
  return llvm::formatv("{0} bytes", bytes).str();
}

} // namespace

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) {
  if (this != &other) {
    release();
    gpu_ = other.gpu_;
    pointer_ = other.pointer_;
    size_ = other.size_;
    other.gpu_ = nullptr;
    other.pointer_ = 0;
    other.size_ = 0;
  }
  return *this;
}

void DeviceBuffer::release() {
  if (gpu_ && pointer_)
    llvm::consumeError(
        gpu_->check(gpu_->driver().memFree(pointer_), "cuMemFree"));
  gpu_ = nullptr;
  pointer_ = 0;
  size_ = 0;
}

llvm::Expected<DeviceBuffer> DeviceBuffer::allocate(GpuContext &gpu,
                                                    size_t bytes,
                                                    llvm::StringRef what) {
  if (llvm::Error e = gpu.makeCurrent())
    return std::move(e);
  DeviceBuffer buffer;
  // Whole 16-byte units: zero() clears everything with 32-bit stores.
  size_t size = (std::max<size_t>(bytes, 1) + 15) / 16 * 16;
  if (llvm::Error e =
          gpu.check(gpu.driver().memAlloc(&buffer.pointer_, size), "cuMemAlloc"))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("cannot allocate {0} on {1} for {2}: {3}",
                      humanBytes(size), gpu.description(), what,
                      llvm::toString(std::move(e)))
            .str());
  buffer.gpu_ = &gpu;
  buffer.size_ = size;
  return std::move(buffer);
}

llvm::Error DeviceBuffer::upload(size_t offset, const void *host,
                                 size_t bytes) {
  if (!bytes)
    return llvm::Error::success();
  if (!gpu_ || offset > size_ || bytes > size_ - offset)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "device buffer upload out of range");
  if (llvm::Error e = gpu_->makeCurrent())
    return e;
  return gpu_->check(gpu_->driver().memcpyHtoD(pointer_ + offset, host, bytes),
                     "cuMemcpyHtoD");
}

llvm::Error DeviceBuffer::download(size_t offset, void *host,
                                   size_t bytes) const {
  if (!bytes)
    return llvm::Error::success();
  if (!gpu_ || offset > size_ || bytes > size_ - offset)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "device buffer download out of range");
  if (llvm::Error e = gpu_->makeCurrent())
    return e;
  return gpu_->check(
      gpu_->driver().memcpyDtoH(host, pointer_ + offset, bytes),
      "cuMemcpyDtoH");
}

llvm::Error DeviceBuffer::zero() {
  if (!gpu_)
    return llvm::Error::success();
  if (llvm::Error e = gpu_->makeCurrent())
    return e;
  if (llvm::Error e = gpu_->check(
          gpu_->driver().memsetD32(pointer_, 0, size_ / 4), "cuMemsetD32"))
    return e;
  return gpu_->check(gpu_->driver().ctxSynchronize(), "cuCtxSynchronize");
}
