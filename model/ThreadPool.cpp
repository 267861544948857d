//===- ThreadPool.cpp - A small persistent pool for row-parallel loops ----===//
//
// Protocol: the caller publishes a job (function, size, parts), sets pending_
// to the number of workers and bumps generation_. Every worker (also those
// with no range, so that none can miss a generation) runs its part and
// decrements pending_; the last one notifies the caller. Both sides spin a
// little before blocking, which keeps the latency of a dispatch in the
// microseconds while idle threads still sleep.
//
//===----------------------------------------------------------------------===//
#include "model/ThreadPool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MIXQ_CPU_RELAX() _mm_pause()
#else
#define MIXQ_CPU_RELAX() std::this_thread::yield()
#endif

using namespace mixq;

namespace {
/// Spin iterations before blocking (~ tens of microseconds).
constexpr int kSpinIterations = 4000;
} // namespace

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

void ThreadPool::runPart(unsigned part) {
  if (part >= jobParts_)
    return;
  // Balanced split: the first (n % parts) ranges get one extra index.
  int64_t base = jobSize_ / jobParts_, extra = jobSize_ % jobParts_;
  int64_t begin = part * base + std::min<int64_t>(part, extra);
  int64_t end = begin + base + (int64_t(part) < extra ? 1 : 0);
  if (begin < end)
    job_(begin, end);
}

void ThreadPool::parallelFor(int64_t n,
                             llvm::function_ref<void(int64_t, int64_t)> fn) {
  if (n <= 0)
    return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = fn;
    jobSize_ = n;
    jobParts_ = unsigned(std::min<int64_t>(n, size()));
    pending_.store(unsigned(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  runPart(0);

  for (int i = 0; i < kSpinIterations; ++i) {
    if (pending_.load(std::memory_order_acquire) == 0)
      return;
    MIXQ_CPU_RELAX();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] {
    return pending_.load(std::memory_order_acquire) == 0;
  });
}

void ThreadPool::workerLoop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    bool ready = false;
    for (int i = 0; i < kSpinIterations; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen) {
        ready = true;
        break;
      }
      MIXQ_CPU_RELAX();
    }
    if (!ready) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      });
    }
    // stop_ is stored before the generation bump that woke us (release),
    // so the acquire load above makes it visible.
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed))
      return;
    runPart(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}
