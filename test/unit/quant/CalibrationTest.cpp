//===- CalibrationTest.cpp - Activation statistics ------------------------===//
//
// The blocked Gram accumulation equals a naive double sum; max |x| and the
// weight-name mapping are right; calibration windows follow the ppl protocol.
//
//===----------------------------------------------------------------------===//
#include "quant/Calibration.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mixq;

namespace {
LlamaConfig smallConfig() {
  LlamaConfig c;
  c.dim = 12;
  c.hiddenDim = 20;
  c.nLayers = 2;
  c.nHeads = 3;
  c.nKvHeads = 1;
  c.vocabSize = 10;
  c.maxSeqLen = 8;
  return c;
}
} // namespace

TEST(Calibration, GramMatchesANaiveSum) {
  LlamaConfig config = smallConfig();
  Calibrator calibrator(config);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  // 150 vectors: two full blocks of 64 and a partial one.
  std::vector<std::vector<float>> seen;
  for (int t = 0; t < 150; ++t) {
    std::vector<float> x(config.hiddenDim);
    for (float &v : x)
      v = normal(rng);
    if (t % 11 == 0)
      x[3] = 0.0f; // zeros are skipped by the update, must still count
    seen.push_back(x);
    calibrator.observe(1, LinearInput::FfnHidden, x);
  }
  calibrator.finish();
  const InputStats *stats = calibrator.statsFor("layers.1.feed_forward.w2.weight");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->tokens, 150u);
  EXPECT_EQ(stats->size, config.hiddenDim);
  for (int64_t i = 0; i < stats->size; ++i) {
    float absMax = 0;
    for (const auto &x : seen)
      absMax = std::max(absMax, std::fabs(x[i]));
    EXPECT_EQ(stats->absMax[i], absMax);
    for (int64_t j = 0; j < stats->size; ++j) {
      double naive = 0;
      for (const auto &x : seen)
        naive += double(x[i]) * double(x[j]);
      EXPECT_NEAR(stats->gram[i * stats->size + j], naive,
                  1e-5 * (std::fabs(naive) + 1.0))
          << i << "," << j;
    }
  }
  std::vector<double> h = stats->hessian();
  EXPECT_NEAR(h[5 * stats->size + 5], 2.0 * stats->gram[5 * stats->size + 5] / 150, 1e-9);
  EXPECT_NEAR(stats->secondMoment()[5], stats->gram[5 * stats->size + 5] / 150, 1e-9);
}

TEST(Calibration, WeightsMapToTheirInputs) {
  Calibrator calibrator(smallConfig());
  calibrator.observe(0, LinearInput::AttentionInput,
                     std::vector<float>(12, 1.0f));
  calibrator.observe(0, LinearInput::AttentionInput,
                     std::vector<float>(5, 1.0f)); // wrong size: ignored
  calibrator.observe(9, LinearInput::FfnInput, std::vector<float>(12, 1.0f));
  calibrator.finish();
  const InputStats *wq = calibrator.statsFor("layers.0.attention.wq.weight");
  const InputStats *wv = calibrator.statsFor("layers.0.attention.wv.weight");
  ASSERT_NE(wq, nullptr);
  EXPECT_EQ(wq, wv); // one shared input
  EXPECT_EQ(wq->tokens, 1u);
  EXPECT_EQ(calibrator.statsFor("layers.0.attention.wo.weight")->tokens, 0u);
  EXPECT_EQ(calibrator.statsFor("layers.1.feed_forward.w1.weight")->size, 12);
  EXPECT_EQ(calibrator.statsFor("output.weight"), nullptr);
}

TEST(Calibration, WindowsFollowThePplProtocol) {
  std::vector<int> text(10);
  for (int i = 0; i < 10; ++i)
    text[i] = 100 + i;
  CalibrationOptions options;
  options.ctx = 4; // BOS + 3 text tokens per window
  options.tokens = 7;
  std::vector<std::pair<int, int>> calls;
  int resets = 0;
  int64_t fed = runCalibration(
      text, 1, options, [&](int tok, int pos) { calls.push_back({tok, pos}); },
      [&] { ++resets; }, [](int64_t, int64_t) {});
  EXPECT_EQ(fed, 7);
  EXPECT_EQ(resets, 3);
  std::vector<std::pair<int, int>> expected = {
      {1, 0}, {100, 1}, {101, 2}, {102, 3}, {1, 0}, {103, 1},
      {104, 2}, {105, 3}, {1, 0}, {106, 1}};
  EXPECT_EQ(calls, expected);
}
