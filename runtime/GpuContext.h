//===- GpuContext.h - The process's GPU and its CUDA context ----*- C++ -*-===//
//
// The runtime uses one GPU, device 0 of what the driver shows (select
// another with CUDA_VISIBLE_DEVICES), through its primary context (CUDA 13
// made cuCtxCreate a 4-argument call; the primary context is what every
// CUDA library shares). GpuContext::get() initialises it once per process:
// load the driver, cuInit, pick the device, read its compute capability,
// retain the primary context. The context is never released (modules'
// destructors may still unload kernels while the process exits).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUCONTEXT_H
#define MIXQ_RUNTIME_GPUCONTEXT_H

#include "runtime/CudaDriver.h"

#include "llvm/Support/Error.h"

#include <string>

namespace mixq {

class GpuContext {
public:
  /// The process's GPU, initialised on first use (thread-safe); the first
  /// failure is remembered and returned by every later call: the driver's
  /// message (CudaDriver::get), or "<call>: <CUDA error>" (cuInit says
  /// CUDA_ERROR_NO_DEVICE where the driver sees no GPU).
  static llvm::Expected<GpuContext &> get();

  const CudaDriver &driver() const { return driver_; }
  int major() const { return major_; }
  int minor() const { return minor_; }
  /// "GPU 0 (NVIDIA H100 80GB HBM3, sm_90)".
  const std::string &description() const { return description_; }

  /// Makes the context current on the calling thread (once per thread).
  llvm::Error makeCurrent();
  /// driver().check(result, call).
  llvm::Error check(cuda::CUresult result, llvm::StringRef call) const {
    return driver_.check(result, call);
  }

private:
  explicit GpuContext(const CudaDriver &driver) : driver_(driver) {}
  llvm::Error initialize();

  const CudaDriver &driver_;
  cuda::CUdevice device_ = 0;
  cuda::CUcontext context_ = nullptr;
  int major_ = 0, minor_ = 0;
  std::string description_;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUCONTEXT_H
