//===- GpuWeights.cpp - A package's streams in one device buffer ----------===//
//
// See GpuWeights.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuWeights.h"
#include "runtime/GpuContext.h"

using namespace mixq;

GpuWeightLayout mixq::layoutGpuWeights(llvm::ArrayRef<size_t> sizes) {
  GpuWeightLayout layout;
  size_t offset = 0;
  for (size_t size : sizes) {
    layout.offsets.push_back(offset);
    offset += (size + 15) / 16 * 16;
  }
  layout.bytes = offset + 16;
  return layout;
}

llvm::Expected<std::unique_ptr<GpuWeights>>
GpuWeights::upload(llvm::ArrayRef<llvm::ArrayRef<uint8_t>> streams) {
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu)
    return gpu.takeError();
  std::vector<size_t> sizes;
  for (llvm::ArrayRef<uint8_t> s : streams)
    sizes.push_back(s.size());
  GpuWeightLayout layout = layoutGpuWeights(sizes);
  std::unique_ptr<GpuWeights> w(new GpuWeights);
  llvm::Expected<DeviceBuffer> buffer =
      DeviceBuffer::allocate(*gpu, layout.bytes, "the package's weights");
  if (!buffer)
    return buffer.takeError();
  w->buffer_ = std::move(*buffer);
  // Padding reads as zeros.
  if (llvm::Error e = w->buffer_.zero())
    return std::move(e);
  for (size_t i = 0; i < streams.size(); ++i) {
    if (llvm::Error e = w->buffer_.upload(layout.offsets[i], streams[i].data(),
                                          streams[i].size()))
      return std::move(e);
    w->table_.push_back(static_cast<const char *>(w->buffer_.get()) +
                        layout.offsets[i]);
  }
  return std::move(w);
}
