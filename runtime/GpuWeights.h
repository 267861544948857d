//===- GpuWeights.h - A package's streams in one device buffer --*- C++ -*-===//
//
// A GPU module reads the package's streams from device memory. They are
// uploaded once, when the module is bound to the package, into one device
// buffer: each stream starts 16-byte aligned and is padded with zeros to a
// multiple of 16 bytes, and 16 more zero bytes follow the last one, so a
// kernel's 16-byte loads may run up to 16 bytes past a stream's end
// (runtime/ModuleABI.h, "GPU modules").
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUWEIGHTS_H
#define MIXQ_RUNTIME_GPUWEIGHTS_H

#include "runtime/GpuMemory.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mixq {

/// Where each stream goes: offsets in the buffer, and its total size.
struct GpuWeightLayout {
  std::vector<size_t> offsets;
  size_t bytes = 0;
};

/// The layout of `sizes` (pure; unit-tested): 16-byte aligned, padded
/// streams, 16 tail bytes.
GpuWeightLayout layoutGpuWeights(llvm::ArrayRef<size_t> sizes);

class GpuWeights {
public:
  /// Uploads `streams` (host memory, e.g. the package's mapping).
  static llvm::Expected<std::unique_ptr<GpuWeights>>
  upload(llvm::ArrayRef<llvm::ArrayRef<uint8_t>> streams);

  /// One device pointer per stream, in the order given to upload().
  llvm::ArrayRef<const void *> table() const { return table_; }
  size_t bytes() const { return buffer_.size(); }

private:
  GpuWeights() = default;
  DeviceBuffer buffer_;
  std::vector<const void *> table_;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUWEIGHTS_H
