//===- BenchBandwidth.h - Memory bandwidth and clock for `mixq bench` -*- C++ -*-===//
//
// The ceiling a memory-bound GEMV can reach: a buffer of floats (1 GiB by
// default) is written once by the threads that will read it (so its pages
// exist and sit near them), then summed by `threads` threads of a
// mixq::ThreadPool, each reading its contiguous share; the best of
// `repetitions` passes gives the bandwidth in GB/s (1e9 bytes per second).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_BENCHBANDWIDTH_H
#define MIXQ_TOOLS_MIXQ_BENCHBANDWIDTH_H

#include "llvm/Support/Error.h"

#include <cstdint>

namespace mixq::cli {

struct BandwidthResult {
  uint64_t bytes = 0;       ///< bytes read per pass
  unsigned threads = 0;
  int repetitions = 0;
  double bestSeconds = 0;   ///< the fastest pass
  double gbs = 0;           ///< bytes / bestSeconds / 1e9
};

/// Measures the read bandwidth of `threads` threads over `bytes` bytes;
/// fails only when the buffer cannot be allocated.
llvm::Expected<BandwidthResult>
measureReadBandwidth(unsigned threads, uint64_t bytes = uint64_t(1) << 30,
                     int repetitions = 5);

/// The core clock while `threads` threads run at once (GHz), measured as
/// dependent 64-bit adds (one cycle each on every x86 core since the
/// Pentium 4) over a fixed count; the slowest thread's rate, best of
/// `repetitions`. The clock the GEMV kernels' instruction counts are
/// divided by. 0 where the host is not x86-64.
double measureCoreClockGhz(unsigned threads, int repetitions = 3);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_BENCHBANDWIDTH_H
