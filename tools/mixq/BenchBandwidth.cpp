//===- BenchBandwidth.cpp - Memory bandwidth and clock for `mixq bench` ---===//
//
// See BenchBandwidth.h. The sum is written so that the compiler vectorizes
// it (reassociation allowed for this loop only) and its result is kept in a
// volatile sink, so the reads cannot be optimized away.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchBandwidth.h"

#include "model/ThreadPool.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <vector>

using namespace llvm;

namespace {

/// Keeps every sum observable.
volatile float bandwidthSink = 0;

/// Sum of p[0..n): a reduction the loop vectorizer may reassociate, so it
/// becomes several independent vector accumulators.
__attribute__((noinline)) float sumFloats(const float *p, int64_t n) {
#pragma clang fp reassociate(on)
  float sum = 0;
#pragma clang loop vectorize(enable) interleave_count(4)
  for (int64_t i = 0; i < n; ++i)
    sum += p[i];
  return sum;
}

} // namespace

namespace mixq::cli {

struct ReadBandwidthProbe::Impl {
  Impl(unsigned threads, int64_t count, std::unique_ptr<float[]> buffer)
      : pool(threads), count(count), buffer(std::move(buffer)),
        partial(pool.size()) {}
  ThreadPool pool;
  int64_t count;
  std::unique_ptr<float[]> buffer;
  std::vector<float> partial;
  /// Part `part`'s contiguous share [begin, end) of the floats.
  void range(int64_t part, int64_t &begin, int64_t &end) const {
    int64_t share = (count + pool.size() - 1) / pool.size();
    begin = std::min<int64_t>(part * share, count);
    end = std::min<int64_t>(begin + share, count);
  }
};

ReadBandwidthProbe::ReadBandwidthProbe(std::unique_ptr<Impl> impl)
    : impl(std::move(impl)) {}
ReadBandwidthProbe::~ReadBandwidthProbe() = default;

Expected<std::unique_ptr<ReadBandwidthProbe>>
ReadBandwidthProbe::create(unsigned threads, uint64_t bytes) {
  int64_t count = int64_t(bytes / sizeof(float));
  std::unique_ptr<float[]> buffer(new (std::nothrow) float[size_t(count)]);
  if (!buffer)
    return createStringError(inconvertibleErrorCode(),
                             formatv("bandwidth: cannot allocate {0} bytes",
                                     bytes));
  auto impl = std::make_unique<Impl>(std::max(threads, 1u), count,
                                     std::move(buffer));
  // Touch: each thread writes the share it will read.
  Impl &m = *impl;
  m.pool.parallelFor(m.pool.size(), [&](int64_t first, int64_t last) {
    for (int64_t part = first; part < last; ++part) {
      int64_t begin, end;
      m.range(part, begin, end);
      std::fill(m.buffer.get() + begin, m.buffer.get() + end, 1.0f / 1024);
    }
  });
  return std::unique_ptr<ReadBandwidthProbe>(
      new ReadBandwidthProbe(std::move(impl)));
}

double ReadBandwidthProbe::readSeconds() {
  Impl &m = *impl;
  auto start = std::chrono::steady_clock::now();
  m.pool.parallelFor(m.pool.size(), [&](int64_t first, int64_t last) {
    for (int64_t part = first; part < last; ++part) {
      int64_t begin, end;
      m.range(part, begin, end);
      m.partial[size_t(part)] = sumFloats(m.buffer.get() + begin, end - begin);
    }
  });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  float total = 0;
  for (float p : m.partial)
    total += p;
  bandwidthSink = bandwidthSink + total;
  return seconds;
}

uint64_t ReadBandwidthProbe::bytes() const {
  return uint64_t(impl->count) * sizeof(float);
}
unsigned ReadBandwidthProbe::threads() const { return impl->pool.size(); }

BandwidthResult ReadBandwidthProbe::best(int repetitions) {
  BandwidthResult result;
  result.bytes = bytes();
  result.threads = threads();
  result.repetitions = std::max(repetitions, 1);
  result.bestSeconds = 1e30;
  for (int rep = 0; rep < result.repetitions; ++rep)
    result.bestSeconds = std::min(result.bestSeconds, readSeconds());
  result.gbs = double(result.bytes) / result.bestSeconds / 1e9;
  return result;
}

Expected<BandwidthResult> measureReadBandwidth(unsigned threads, uint64_t bytes,
                                               int repetitions) {
  auto probe = ReadBandwidthProbe::create(threads, bytes);
  if (!probe)
    return probe.takeError();
  return (*probe)->best(repetitions);
}

double measureCoreClockGhz(unsigned threads, int repetitions) {
#if defined(__x86_64__)
  threads = std::max(threads, 1u);
  constexpr int64_t kAdds = 200'000'000; // 10 per loop trip
  ThreadPool pool(threads);
  unsigned parts = pool.size();
  double best = 0;
  for (int rep = 0; rep < std::max(repetitions, 1); ++rep) {
    std::vector<double> ghz(parts, 0);
    pool.parallelFor(parts, [&](int64_t first, int64_t last) {
      for (int64_t part = first; part < last; ++part) {
        int64_t trips = kAdds / 10, value = 0;
        auto start = std::chrono::steady_clock::now();
        asm volatile("1:\n\t"
                     "addq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\t"
                     "addq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\t"
                     "addq $1, %0\n\taddq $1, %0\n\taddq $1, %0\n\t"
                     "addq $1, %0\n\t"
                     "subq $1, %1\n\tjnz 1b"
                     : "+r"(value), "+r"(trips)
                     :
                     : "cc");
        double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
        ghz[size_t(part)] = double(kAdds) / seconds / 1e9;
      }
    });
    best = std::max(best, *std::min_element(ghz.begin(), ghz.end()));
  }
  return best;
#else
  (void)threads;
  (void)repetitions;
  return 0;
#endif
}

} // namespace mixq::cli
