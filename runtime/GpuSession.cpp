//===- GpuSession.cpp - A session's device memory and GPU calls -----------===//
//
// See GpuSession.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuSession.h"
#include "runtime/CompiledModule.h"
#include "runtime/GpuContext.h"
#include "runtime/GpuRuntimeABI.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mixq;

llvm::Expected<std::unique_ptr<GpuSession>>
GpuSession::create(const CompiledModule &module, uint64_t cacheFloats) {
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu)
    return gpu.takeError();
  std::unique_ptr<GpuSession> s(new GpuSession(module));
  s->device_ = gpu->description();
  const mixq_model_dims &d = module.dims();
  auto allocate = [&](DeviceBuffer &buffer, uint64_t bytes,
                      const char *what) -> llvm::Error {
    llvm::Expected<DeviceBuffer> b = DeviceBuffer::allocate(*gpu, bytes, what);
    if (!b)
      return b.takeError();
    buffer = std::move(*b);
    return llvm::Error::success();
  };
  int64_t scratch = module.functions().scratchBytes(d.max_seq_len);
  if (scratch < 0)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("module asks for {0} scratch bytes", scratch).str());
  if (llvm::Error e = allocate(s->kcache_, cacheFloats * 4, "the key cache"))
    return std::move(e);
  if (llvm::Error e = allocate(s->vcache_, cacheFloats * 4, "the value cache"))
    return std::move(e);
  if (llvm::Error e = allocate(s->scratch_, uint64_t(scratch), "scratch"))
    return std::move(e);
  if (llvm::Error e = allocate(s->tokens_, uint64_t(d.max_seq_len) * 4,
                               "token ids"))
    return std::move(e);
  if (llvm::Error e = s->reserveLogits(size_t(d.vocab_size)))
    return std::move(e);
  // As on the CPU: positions not yet run read zeros.
  if (llvm::Error e = s->kcache_.zero())
    return std::move(e);
  if (llvm::Error e = s->vcache_.zero())
    return std::move(e);
  llvm::Expected<std::unique_ptr<GpuDecodeGraph>> graph =
      GpuDecodeGraph::create(*gpu, s->uncaptured_);
  if (!graph)
    return graph.takeError();
  s->graph_ = std::move(*graph);
  return std::move(s);
}

std::string GpuSession::decodeMode() const {
  if (!graph_)
    return "decode uncaptured (" + uncaptured_ + ")";
  return llvm::formatv("decode in a CUDA graph ({0} instantiated, {1} "
                       "updated)",
                       graph_->instantiations(), graph_->updates())
      .str();
}

llvm::Error GpuSession::reserveLogits(size_t floats) {
  if (floats * 4 <= logits_.size())
    return llvm::Error::success();
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu)
    return gpu.takeError();
  logits_ = DeviceBuffer(); // free the smaller one first
  llvm::Expected<DeviceBuffer> b =
      DeviceBuffer::allocate(*gpu, floats * 4, "logits");
  if (!b)
    return b.takeError();
  logits_ = std::move(*b);
  return llvm::Error::success();
}

llvm::Expected<int32_t>
GpuSession::finish(int32_t status, llvm::MutableArrayRef<float> logits) {
  if (llvm::Error e = takeGpuAbiError())
    return std::move(e);
  if (status != MIXQ_STATUS_OK)
    return status;
  if (llvm::Error e =
          logits_.download(0, logits.data(), logits.size() * sizeof(float)))
    return std::move(e);
  return status;
}

llvm::Expected<int32_t>
GpuSession::prefill(llvm::ArrayRef<int32_t> tokens, int64_t pos,
                    int64_t firstLogit, llvm::MutableArrayRef<float> logits) {
  llvm::consumeError(takeGpuAbiError()); // nothing stale is blamed on us
  if (llvm::Error e = reserveLogits(logits.size()))
    return std::move(e);
  if (llvm::Error e =
          tokens_.upload(0, tokens.data(), tokens.size() * sizeof(int32_t)))
    return std::move(e);
  const ModuleFunctions &f = module_.functions();
  int32_t status = f.prefill(
      nullptr, module_.streamTable().data(),
      static_cast<float *>(kcache_.get()), static_cast<float *>(vcache_.get()),
      static_cast<const int32_t *>(tokens_.get()), int64_t(tokens.size()), pos,
      firstLogit, static_cast<float *>(logits_.get()), scratch_.get());
  return finish(status, logits);
}

llvm::Expected<int32_t>
GpuSession::decode(int32_t token, int64_t pos,
                   llvm::MutableArrayRef<float> logits) {
  llvm::consumeError(takeGpuAbiError());
  const ModuleFunctions &f = module_.functions();
  auto step = [&] {
    return f.decode(nullptr, module_.streamTable().data(),
                    static_cast<float *>(kcache_.get()),
                    static_cast<float *>(vcache_.get()), token, pos,
                    static_cast<float *>(logits_.get()), scratch_.get());
  };
  if (!graph_)
    return finish(step(), logits);
  llvm::Expected<int32_t> status = graph_->run(step);
  if (!status)
    return status.takeError();
  return finish(*status, logits);
}
