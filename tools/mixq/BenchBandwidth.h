//===- BenchBandwidth.h - Memory bandwidth and clock for `mixq bench` -*- C++ -*-===//
//
// The ceiling a memory-bound GEMV can reach: a buffer of floats (1 GiB by
// default) is written once by the threads that will read it (so its pages
// exist and sit near them), then summed by `threads` threads of a
// mixq::ThreadPool, each reading its contiguous share; the best of
// `repetitions` passes gives the bandwidth in GB/s (1e9 bytes per second).
// ReadBandwidthProbe keeps the buffer and threads, so that `mixq bench` can
// read the bandwidth again beside each timed step: on a shared VM it moves
// with the neighbours' load as much as the kernels do.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_BENCHBANDWIDTH_H
#define MIXQ_TOOLS_MIXQ_BENCHBANDWIDTH_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>

namespace mixq::cli {

struct BandwidthResult {
  uint64_t bytes = 0;       ///< bytes read per pass
  unsigned threads = 0;
  int repetitions = 0;
  double bestSeconds = 0;   ///< the fastest pass
  double gbs = 0;           ///< bytes / bestSeconds / 1e9
};

/// A buffer of `bytes` bytes of floats, written once by the `threads`
/// threads that read it, each its contiguous share.
class ReadBandwidthProbe {
public:
  /// Fails only when the buffer cannot be allocated.
  static llvm::Expected<std::unique_ptr<ReadBandwidthProbe>>
  create(unsigned threads, uint64_t bytes = uint64_t(1) << 30);
  ~ReadBandwidthProbe();
  /// One timed pass: the threads sum their shares; seconds.
  double readSeconds();
  /// The best of `repetitions` passes.
  BandwidthResult best(int repetitions);
  uint64_t bytes() const;
  unsigned threads() const;

private:
  struct Impl;
  explicit ReadBandwidthProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

/// Measures the read bandwidth of `threads` threads over `bytes` bytes
/// (the best of `repetitions` passes of a ReadBandwidthProbe); fails only
/// when the buffer cannot be allocated.
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
