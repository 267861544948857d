//===- Session.cpp - Running a bound module: caches, scratch, threads -----===//
//
// See Session.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/Session.h"

#include "model/MappedFile.h"
#include "model/MemoryLimit.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cstdlib>

using namespace mixq;

Session::Session(const CompiledModule &module, unsigned threads)
    : module_(module), pool_(threads) {
  runtime_.ctx = this;
  runtime_.parallel_for = &Session::parallelFor;
}

Session::~Session() { std::free(scratch_); }

llvm::Expected<std::unique_ptr<Session>>
Session::create(const CompiledModule &module, unsigned threads) {
  if (!module.isBound())
    return fileError(module.path(), "module is not bound to a package");
  const mixq_model_dims &d = module.dims();
  if (d.n_layers <= 0 || d.max_seq_len <= 0 || d.n_kv_heads <= 0 ||
      d.head_dim <= 0 || d.vocab_size <= 0)
    return fileError(module.path(), "module reports an invalid model shape");
  uint64_t cache = 1, bytes = 0;
  bool overflow = false;
  for (int64_t f : {d.n_layers, d.max_seq_len, d.n_kv_heads, d.head_dim})
    overflow |= __builtin_mul_overflow(cache, uint64_t(f), &cache);
  overflow |= __builtin_mul_overflow(cache, uint64_t(8), &bytes); // K and V
  if (module.isGpu()) {
    // Device memory; the module uses no threads of ours.
    if (overflow)
      return fileError(module.path(), "the KV cache's size overflows");
    std::unique_ptr<Session> s(new Session(module, 1));
    auto gpu = GpuSession::create(module, cache);
    if (!gpu)
      return fileError(module.path(), llvm::toString(gpu.takeError()));
    s->gpu_ = std::move(*gpu);
    return std::move(s);
  }
  if (llvm::Error e = checkAllocation(
          bytes, overflow,
          llvm::formatv("the KV cache for a context of {0} positions",
                        d.max_seq_len)))
    return fileError(module.path(), llvm::toString(std::move(e)));
  std::unique_ptr<Session> s(new Session(module, threads));
  s->kcache_.assign(cache, 0.0f);
  s->vcache_.assign(cache, 0.0f);
  if (llvm::Error e = s->reserveScratch(1))
    return std::move(e);
  return std::move(s);
}

void Session::parallelFor(void *ctx, int64_t n, mixq_task_fn fn, void *args) {
  auto *self = static_cast<Session *>(ctx);
  if (n <= 0)
    return;
  // The pool is not reentrant: a nested (or concurrent) call runs serially.
  if (self->inParallelFor_.exchange(true)) {
    fn(args, 0, n);
    return;
  }
  auto start = self->profile_ ? std::chrono::steady_clock::now()
                              : std::chrono::steady_clock::time_point();
  self->pool_.parallelFor(
      n, [&](int64_t begin, int64_t end) { fn(args, begin, end); });
  if (self->profile_)
    self->profile_->push_back(std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
  self->inParallelFor_.store(false);
}

llvm::Error Session::reserveScratch(int64_t tokens) {
  if (tokens <= scratchTokens_)
    return llvm::Error::success();
  int64_t bytes = module_.functions().scratchBytes(tokens);
  if (bytes < 0)
    return fileError(module_.path(),
                     llvm::formatv("module asks for {0} scratch bytes", bytes));
  if (bytes > scratchBytes_) {
    // aligned_alloc wants a multiple of the alignment (and a nonzero size).
    size_t size = (size_t(bytes) + 63) / 64 * 64;
    void *memory = std::aligned_alloc(64, size ? size : 64);
    if (!memory)
      return fileError(module_.path(),
                       llvm::formatv("cannot allocate {0} scratch bytes",
                                     bytes));
    std::free(scratch_);
    scratch_ = memory;
    scratchBytes_ = bytes;
  }
  scratchTokens_ = tokens;
  return llvm::Error::success();
}

llvm::Error Session::checkTokens(llvm::ArrayRef<int> tokens) const {
  int64_t n = int64_t(tokens.size()), context = contextLength();
  if (n == 0)
    return fileError(module_.path(), "no tokens to run");
  if (pos_ + n > context)
    return fileError(
        module_.path(),
        pos_ == 0
            ? llvm::formatv("prompt of {0} tokens does not fit the context "
                            "of {1}",
                            n, context)
                  .str()
            : llvm::formatv("{0} tokens at position {1} do not fit the "
                            "context of {2}",
                            n, pos_, context)
                  .str());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocabSize())
      return fileError(module_.path(),
                       llvm::formatv("token id {0} (at {1}) is outside the "
                                     "vocabulary of {2}",
                                     tokens[i], i, vocabSize()));
  return llvm::Error::success();
}

llvm::Error Session::statusError(int32_t status, const char *what) const {
  if (status == MIXQ_STATUS_OK)
    return llvm::Error::success();
  const char *meaning = status == MIXQ_STATUS_BAD_ARGUMENT ? "bad argument"
                        : status == MIXQ_STATUS_INTERNAL   ? "internal error"
                                                           : "unknown status";
  return fileError(module_.path(),
                   llvm::formatv("{0} at position {1} failed with status {2} "
                                 "({3})",
                                 what, pos_, status, meaning));
}

llvm::Error Session::gpuError(llvm::Error e, const char *what) const {
  return fileError(module_.path(),
                   llvm::formatv("{0} at position {1} on the GPU: {2}", what,
                                 pos_, llvm::toString(std::move(e))));
}

llvm::Expected<llvm::ArrayRef<float>>
Session::prefill(llvm::ArrayRef<int> tokens, LogitRows rows) {
  if (llvm::Error e = checkTokens(tokens))
    return std::move(e);
  int64_t n = int64_t(tokens.size()), vocab = vocabSize();
  tokens_.assign(tokens.begin(), tokens.end());
  logits_.resize(size_t(n) * size_t(vocab));
  int64_t firstLogit = rows == LogitRows::All ? 0 : n - 1;
  allLogits_ = rows == LogitRows::All;
  int32_t status;
  if (gpu_) {
    auto result = gpu_->prefill(tokens_, pos_, firstLogit, logits_);
    if (!result)
      return gpuError(result.takeError(), "prefill");
    status = *result;
  } else {
    if (llvm::Error e = reserveScratch(n))
      return std::move(e);
    status = module_.functions().prefill(
        &runtime_, module_.streamTable().data(), kcache_.data(),
        vcache_.data(), tokens_.data(), n, pos_, firstLogit, logits_.data(),
        scratch_);
  }
  if (llvm::Error e = statusError(status, "prefill"))
    return std::move(e);
  pos_ += n;
  return llvm::ArrayRef<float>(logits_).take_back(size_t(vocab));
}

llvm::Expected<llvm::ArrayRef<float>> Session::decode(int token) {
  if (llvm::Error e = checkTokens(llvm::ArrayRef<int>(token)))
    return std::move(e);
  int64_t vocab = vocabSize();
  logits_.resize(size_t(vocab));
  allLogits_ = true;
  int32_t status;
  if (gpu_) {
    auto result = gpu_->decode(token, pos_, logits_);
    if (!result)
      return gpuError(result.takeError(), "decode");
    status = *result;
  } else {
    status = module_.functions().decode(
        &runtime_, module_.streamTable().data(), kcache_.data(),
        vcache_.data(), token, pos_, logits_.data(), scratch_);
  }
  if (llvm::Error e = statusError(status, "decode"))
    return std::move(e);
  pos_ += 1;
  return llvm::ArrayRef<float>(logits_);
}
