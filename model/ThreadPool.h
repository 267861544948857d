//===- ThreadPool.h - A small persistent pool for row-parallel loops -*- C++ -*-===//
//
// The reference engine splits every matrix-vector product (and the attention
// heads) into contiguous row ranges, one per thread. A decode step issues a
// few dozen such loops of microseconds each, so the pool keeps its workers
// alive and lets them spin briefly before sleeping: waking a thread through a
// condition variable costs about as much as a small loop itself.
//
// Splitting is static and depends only on (n, size()): thread t always gets
// the same range, and each row is computed by exactly one thread, so results
// are bitwise identical for any thread count as long as the work of one index
// does not depend on which thread runs it (true for all engine loops).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_THREADPOOL_H
#define MIXQ_MODEL_THREADPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mixq {

class ThreadPool {
public:
  /// `threads` counts the calling thread too; 0 means one per hardware
  /// thread. A pool of size 1 runs everything on the caller.
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return unsigned(workers_.size()) + 1; }

  /// Calls fn(begin, end) on disjoint contiguous ranges covering [0, n) and
  /// returns when all have finished. The caller runs the first range. Not
  /// reentrant: fn must not call parallelFor on the same pool.
  void parallelFor(int64_t n, llvm::function_ref<void(int64_t, int64_t)> fn);

private:
  void workerLoop(unsigned index);
  void runPart(unsigned part);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_; ///< workers wait here for a new job
  std::condition_variable done_; ///< the caller waits here for the workers
  std::atomic<uint64_t> generation_{0}; ///< bumped once per job
  std::atomic<unsigned> pending_{0};    ///< workers yet to finish this job
  std::atomic<bool> stop_{false};       ///< set with a generation bump

  // The current job; written before generation_ is bumped (release) and read
  // after it is observed (acquire).
  llvm::function_ref<void(int64_t, int64_t)> job_;
  int64_t jobSize_ = 0;
  unsigned jobParts_ = 0;
};

} // namespace mixq

#endif // MIXQ_MODEL_THREADPOOL_H
