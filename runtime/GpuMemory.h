//===- GpuMemory.h - Device buffers owned by the runtime --------*- C++ -*-===//
//
// DeviceBuffer: one cuMemAlloc'd block (256-byte aligned, as the driver
// gives it), freed on destruction, with synchronous copies to and from host
// memory. Errors name the call, the size and what the buffer is for:
// "cannot allocate 3.50 GB on GPU 0 (...) for the weights: cuMemAlloc:
// CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUMEMORY_H
#define MIXQ_RUNTIME_GPUMEMORY_H

#include "runtime/CudaDriver.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>

namespace mixq {

class GpuContext;

class DeviceBuffer {
public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer &&other) { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other);
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  /// `bytes` (at least 1) of device memory on `gpu`, contents undefined.
  static llvm::Expected<DeviceBuffer> allocate(GpuContext &gpu, size_t bytes,
                                               llvm::StringRef what);

  void *get() const { return reinterpret_cast<void *>(pointer_); }
  cuda::CUdeviceptr address() const { return pointer_; }
  size_t size() const { return size_; }

  /// Copies `bytes` from `host` to offset `offset` (synchronous).
  llvm::Error upload(size_t offset, const void *host, size_t bytes);
  /// Copies `bytes` at offset `offset` to `host` (synchronous).
  llvm::Error download(size_t offset, void *host, size_t bytes) const;
  /// Sets every byte to zero.
  llvm::Error zero();

private:
  void release();
  GpuContext *gpu_ = nullptr;
  cuda::CUdeviceptr pointer_ = 0;
  size_t size_ = 0;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUMEMORY_H
