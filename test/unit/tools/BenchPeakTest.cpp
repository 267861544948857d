//===- BenchPeakTest.cpp - `mixq bench`'s instruction-count peaks ---------===//
//
// The peak sequences compute real dot products (measureInstructionPeaks
// fails when one disagrees with the scalar sum), and each format maps to
// the sequences its AVX2 GEMV runs.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchPeak.h"
#include "tools/mixq/BenchWeights.h"

#include <gtest/gtest.h>

using namespace mixq::cli;

TEST(BenchPeak, SequencesAgreeWithScalarSumsAndMapToFormats) {
  auto peaks = measureInstructionPeaks(/*threads=*/1, /*repetitions=*/1);
  ASSERT_TRUE(bool(peaks)) << llvm::toString(peaks.takeError());
  if (!peaks->skipped.empty())
    GTEST_SKIP() << peaks->skipped;
  ASSERT_EQ(peaks->sequences.size(), 5u);
  for (const char *name : {"unpack", "planes4", "lookup4", "lookup8", "f16"}) {
    const PeakSequence *s = peaks->find(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_GT(s->weightsPerSecond, 0) << name;
    EXPECT_FALSE(s->instructions.empty()) << name;
  }
  double unpack = peaks->find("unpack")->weightsPerSecond;
  double planes4 = peaks->find("planes4")->weightsPerSecond;
  double lookup4 = peaks->find("lookup4")->weightsPerSecond;
  double f16 = peaks->find("f16")->weightsPerSecond;
  EXPECT_EQ(peaks->weightsPerSecond("uniform-4"), planes4);
  EXPECT_EQ(peaks->weightsPerSecond("uniform-3"), unpack);
  EXPECT_EQ(peaks->weightsPerSecond("uniform-2"), lookup4);
  EXPECT_EQ(peaks->weightsPerSecond("lut-3"),
            peaks->find("lookup8")->weightsPerSecond);
  // Mixed: the time per weight is the shares' weighted sum.
  auto mixed = peaks->weightsPerSecond("mixed");
  ASSERT_TRUE(mixed.has_value());
  double seconds = (1 - kMixed4Bit - kMixed16Bit) / lookup4 +
                   kMixed4Bit / planes4 + kMixed16Bit / f16;
  EXPECT_DOUBLE_EQ(*mixed, 1 / seconds);
  // GB/s of packed weights: weights per second x bits per weight / 8.
  auto gbs = peaks->gbs("uniform-4", 4.0);
  ASSERT_TRUE(gbs.has_value());
  EXPECT_DOUBLE_EQ(*gbs, planes4 * 4.0 / 8 / 1e9);
  // Memory-bound and integer formats have no instruction peak.
  EXPECT_FALSE(peaks->weightsPerSecond("fp32").has_value());
  EXPECT_FALSE(peaks->weightsPerSecond("f16").has_value());
  EXPECT_FALSE(peaks->weightsPerSecond("quik-4").has_value());
  EXPECT_FALSE(peaks->gbs("uniform-4", 0).has_value());
}
