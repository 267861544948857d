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

Expected<BandwidthResult> measureReadBandwidth(unsigned threads, uint64_t bytes,
                                               int repetitions) {
  threads = std::max(threads, 1u);
  repetitions = std::max(repetitions, 1);
  int64_t count = int64_t(bytes / sizeof(float));
  std::unique_ptr<float[]> buffer(new (std::nothrow) float[size_t(count)]);
  if (!buffer)
    return createStringError(inconvertibleErrorCode(),
                             formatv("bandwidth: cannot allocate {0} bytes",
                                     bytes));
  ThreadPool pool(threads);
  unsigned parts = pool.size();
  int64_t share = (count + parts - 1) / parts;
  float *data = buffer.get();
  auto range = [&](int64_t part, int64_t &begin, int64_t &end) {
    begin = std::min<int64_t>(part * share, count);
    end = std::min<int64_t>(begin + share, count);
  };
  // Touch: each thread writes the share it will read.
  pool.parallelFor(parts, [&](int64_t first, int64_t last) {
    for (int64_t part = first; part < last; ++part) {
      int64_t begin, end;
      range(part, begin, end);
      std::fill(data + begin, data + end, 1.0f / 1024);
    }
  });

  BandwidthResult result;
  result.bytes = uint64_t(count) * sizeof(float);
  result.threads = parts;
  result.repetitions = repetitions;
  result.bestSeconds = 1e30;
  std::vector<float> partial(parts);
  for (int rep = 0; rep < repetitions; ++rep) {
    auto start = std::chrono::steady_clock::now();
    pool.parallelFor(parts, [&](int64_t first, int64_t last) {
      for (int64_t part = first; part < last; ++part) {
        int64_t begin, end;
        range(part, begin, end);
        partial[size_t(part)] = sumFloats(data + begin, end - begin);
      }
    });
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    float total = 0;
    for (float p : partial)
      total += p;
    bandwidthSink = bandwidthSink + total;
    result.bestSeconds = std::min(result.bestSeconds, seconds);
  }
  result.gbs = double(result.bytes) / result.bestSeconds / 1e9;
  return result;
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
