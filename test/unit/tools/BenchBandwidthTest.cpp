//===- BenchBandwidthTest.cpp - `mixq bench`'s read-bandwidth probe -------===//
//
// ReadBandwidthProbe keeps its buffer and threads between passes (the bench
// reads the bandwidth again before every decode step), each pass is timed,
// and measureReadBandwidth reports the best of its passes over the bytes
// it was asked for.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchBandwidth.h"

#include <gtest/gtest.h>

using namespace mixq::cli;

TEST(BenchBandwidth, ProbeReadsItsBufferAgainAndAgain) {
  for (unsigned threads : {1u, 2u, 3u}) {
    auto probe = ReadBandwidthProbe::create(threads, uint64_t(6) << 20);
    ASSERT_TRUE(bool(probe)) << llvm::toString(probe.takeError());
    EXPECT_EQ((*probe)->bytes(), uint64_t(6) << 20);
    EXPECT_EQ((*probe)->threads(), threads);
    for (int pass = 0; pass < 3; ++pass)
      EXPECT_GT((*probe)->readSeconds(), 0.0) << threads << " threads";
  }
}

TEST(BenchBandwidth, BestOfThePasses) {
  auto r = measureReadBandwidth(2, uint64_t(8) << 20, 3);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->bytes, uint64_t(8) << 20);
  EXPECT_EQ(r->threads, 2u);
  EXPECT_EQ(r->repetitions, 3);
  EXPECT_GT(r->bestSeconds, 0.0);
  EXPECT_NEAR(r->gbs, double(r->bytes) / r->bestSeconds / 1e9, 1e-9 * r->gbs);
}
