//===- Session.h - Running a bound module: caches, scratch, threads -*- C++ -*-===//
//
// One inference stream over a CompiledModule bound to a package: the session
// owns the KV caches (f32 [n_layers][max_seq_len][n_kv_heads][head_dim]
// each), the 64-byte aligned scratch memory the module asks for, the logits
// buffer, a thread pool lent to the module as `mixq_runtime`, and the
// current position.
//
// For a GPU module the caches, scratch and logits live in device memory
// (runtime/GpuSession.h) and the logits are copied back after each call;
// no thread pool is used.
//
// Every token id and position is checked here, before the module runs, so a
// module only ever sees valid input; a nonzero status from the module
// becomes an llvm::Error. Errors are "<module file>: <reason>".
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_SESSION_H
#define MIXQ_RUNTIME_SESSION_H

#include "runtime/CompiledModule.h"
#include "runtime/GpuSession.h"

#include "model/ThreadPool.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <atomic>
#include <memory>
#include <vector>

namespace mixq {

class Session {
public:
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// `module` must be bound (bindPackage) and outlive the session.
  /// `threads` = 0: one per hardware thread.
  static llvm::Expected<std::unique_ptr<Session>>
  create(const CompiledModule &module, unsigned threads = 0);

  /// Which tokens of a prefill get logits: the last one (a prompt; the
  /// classifier then runs on one row), or every one (perplexity).
  enum class LogitRows { Last, All };
  /// Runs `tokens` at positions pos()..pos()+n-1 and returns the logits of
  /// the last one (valid until the next call).
  llvm::Expected<llvm::ArrayRef<float>>
  prefill(llvm::ArrayRef<int> tokens, LogitRows rows = LogitRows::Last);
  /// The logits of every token of the last prefill with LogitRows::All
  /// ([n][vocab]), or of the last decode; empty after any other prefill.
  llvm::ArrayRef<float> allLogits() const {
    return allLogits_ ? llvm::ArrayRef<float>(logits_)
                      : llvm::ArrayRef<float>();
  }
  /// Runs one token at pos() and returns its logits.
  llvm::Expected<llvm::ArrayRef<float>> decode(int token);
  /// Back to position 0 (the caches are overwritten as positions are rerun).
  void reset() { pos_ = 0; }

  int64_t pos() const { return pos_; }
  int64_t contextLength() const { return module_.dims().max_seq_len; }
  int64_t vocabSize() const { return module_.dims().vocab_size; }
  unsigned threads() const { return pool_.size(); }
  /// "GPU 0 (<name>, sm_XY)" for a GPU module, "" for a CPU module.
  std::string device() const { return gpu_ ? gpu_->device() : std::string(); }
  /// How a GPU module's decode steps run: "decode in a CUDA graph (I
  /// instantiated, U updated)", or "decode uncaptured (<why>)"; "" for a
  /// CPU module.
  std::string gpuDecodeMode() const {
    return gpu_ ? gpu_->decodeMode() : std::string();
  }
  /// When set, the wall time of every parallel_for the module calls is
  /// appended to `seconds`, in call order (the module's parallel sections:
  /// one per product and per attention, in graph order); null stops.
  void setProfile(std::vector<double> *seconds) { profile_ = seconds; }
  /// What the module is lent: parallel_for over the session's pool.
  const mixq_runtime *runtime() const { return &runtime_; }

private:
  Session(const CompiledModule &module, unsigned threads);
  llvm::Error checkTokens(llvm::ArrayRef<int> tokens) const;
  llvm::Error reserveScratch(int64_t tokens);
  llvm::Error statusError(int32_t status, const char *what) const;
  llvm::Error gpuError(llvm::Error e, const char *what) const;
  static void parallelFor(void *ctx, int64_t n, mixq_task_fn fn, void *args);

  const CompiledModule &module_;
  ThreadPool pool_;
  mixq_runtime runtime_;
  std::atomic<bool> inParallelFor_{false};
  std::vector<float> kcache_, vcache_, logits_;
  bool allLogits_ = false; ///< every row of logits_ holds its token's logits
  std::vector<int32_t> tokens_;
  void *scratch_ = nullptr;
  int64_t scratchBytes_ = 0, scratchTokens_ = 0;
  int64_t pos_ = 0;
  std::vector<double> *profile_ = nullptr;
  std::unique_ptr<GpuSession> gpu_;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_SESSION_H
