//===- SchemesTest.cpp - The mixed, squeeze and quik quantizers -----------===//
//
// Synthetic weights (Gaussian, optionally heavy-tailed) and synthetic
// calibration statistics built from correlated inputs X (an AR(1) process
// across features with per-feature scales and a few large channels), so
// that output errors ||(W - Q) Xᵀ||² = Σ_r e_r (XᵀX) e_rᵀ are meaningful.
// For every scheme: the tensor validates, dequantizes, holds exactly
// storageBits() bits; and each scheme's promise is measured against the
// uniform RTN/GPTQ baselines (the measured numbers are printed).
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"
#include "model/Dequantize.h"
#include "quant/Gptq.h"
#include "quant/MixedAllocation.h"
#include "quant/Quantizer.h"
#include "quant/Rtn.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

using namespace mixq;

namespace {

// Speed bounds hold for optimized builds; an ASan + UBSan build
// (scripts/sanitize.sh) runs these loops several times slower.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MIXQ_SANITIZED_BUILD 1
#endif
#endif
#ifdef MIXQ_SANITIZED_BUILD
constexpr double kSanitizerSlowdown = 8.0;
#else
constexpr double kSanitizerSlowdown = 1.0;
#endif

/// Correlated calibration inputs: x_k = rho x_{k-1} + sqrt(1-rho²) z_k,
/// times a per-feature scale exp(N(0, 0.4)); `bigChannels` features get 8x.
InputStats makeStats(int64_t k, int64_t tokens, unsigned seed,
                     int64_t bigChannels = 0, double rho = 0.6,
                     bool diagonal = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> featureScale(k);
  for (double &s : featureScale)
    s = std::exp(0.4 * normal(rng));
  for (int64_t i = 0; i < bigChannels; ++i)
    featureScale[(i * 7919 + 13) % k] *= 8.0;
  InputStats stats;
  stats.size = k;
  stats.tokens = tokens;
  stats.gram.assign(size_t(k) * k, 0.0);
  stats.absMax.assign(k, 0.0f);
  std::vector<double> x(k);
  for (int64_t t = 0; t < tokens; ++t) {
    double prev = 0;
    for (int64_t c = 0; c < k; ++c) {
      double v = c == 0 ? normal(rng)
                        : rho * prev + std::sqrt(1 - rho * rho) * normal(rng);
      prev = v;
      x[c] = v * featureScale[c];
      stats.absMax[c] = std::max(stats.absMax[c], float(std::fabs(x[c])));
    }
    for (int64_t a = 0; a < k; ++a) {
      double xa = x[a];
      double *row = &stats.gram[size_t(a) * k];
      if (diagonal) {
        row[a] += xa * xa;
        continue;
      }
      for (int64_t b = 0; b < k; ++b)
        row[b] += xa * x[b];
    }
  }
  return stats;
}

std::vector<float> gaussianWeights(int64_t n, int64_t k, unsigned seed,
                                   float sigma = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> w(size_t(n) * k);
  for (float &v : w)
    v = dist(rng);
  return w;
}

/// Student-t weights (heavy tails: a sprinkling of large outliers).
std::vector<float> studentWeights(int64_t n, int64_t k, unsigned seed,
                                  float nu = 3.0f, float sigma = 0.02f) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> dist(nu);
  std::vector<float> w(size_t(n) * k);
  for (float &v : w)
    v = sigma * dist(rng);
  return w;
}

/// Σ_r (w_r - q_r) G (w_r - q_r)ᵀ / Σ_r w_r G w_rᵀ (relative output error).
double outputError(const std::vector<float> &w, const std::vector<float> &q,
                   int64_t n, int64_t k, const InputStats &stats) {
  double num = 0, den = 0;
  std::vector<double> e(k), f(k);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      e[c] = double(w[size_t(r) * k + c]) - q[size_t(r) * k + c];
      f[c] = w[size_t(r) * k + c];
    }
    for (int64_t a = 0; a < k; ++a) {
      const double *g = &stats.gram[size_t(a) * k];
      double se = 0, sf = 0;
      for (int64_t b = 0; b < k; ++b) {
        se += g[b] * e[b];
        sf += g[b] * f[b];
      }
      num += e[a] * se;
      den += f[a] * sf;
    }
  }
  return num / den;
}

/// Validates, checks exact storage, and returns the dequantized matrix.
std::vector<float> checkTensor(const QuantizedTensor &t) {
  EXPECT_FALSE(bool(validateQuantizedTensor(t)));
  auto storage = storageBits(t.layout, t.rows, t.cols);
  EXPECT_TRUE(bool(storage));
  if (storage)
    EXPECT_EQ(t.totalBits(), storage->total()) << formatLayout(t.layout);
  auto dq = dequantize(t);
  EXPECT_TRUE(bool(dq));
  if (!dq) {
    llvm::consumeError(dq.takeError());
    return {};
  }
  return std::move(*dq);
}

QuantizedTensor mustQuantize(llvm::StringRef name, const std::vector<float> &w,
                             int64_t n, int64_t k, const InputStats &stats,
                             const QuantizerOptions &options) {
  auto t = quantizeLinear(name, w, n, k, &stats, options);
  if (!t) {
    ADD_FAILURE() << llvm::toString(t.takeError());
    return {};
  }
  return std::move(*t);
}

std::vector<float> uniformBaseline(const std::vector<float> &w, int64_t n,
                                   int64_t k, const InputStats &stats,
                                   int64_t bits, int64_t group, bool gptq) {
  Layout layout = uniformLayout(bits, group, true);
  if (!gptq) {
    auto r = quantizeRtn("baseline", w, n, k, layout);
    EXPECT_TRUE(bool(r));
    return r ? std::move(r->dequantized) : std::vector<float>();
  }
  GptqOptions o;
  o.actOrder = true;
  auto r = quantizeGptq("baseline", w, n, k, stats.hessian(), layout, o);
  EXPECT_TRUE(bool(r));
  return r ? std::move(r->dequantized) : std::vector<float>();
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       since)
      .count();
}

// Mixed 2/4/16 ---------------------------------------------------------===//

QuantizerOptions mixedOptions(double bpw, int64_t group = 64) {
  QuantizerOptions o;
  o.scheme = "mixed";
  o.bpw = bpw;
  o.mixedGroup = group;
  return o;
}

TEST(MixedScheme, HitsBpwTargetWithinOneTileGroup) {
  struct Case {
    int64_t n, k, group;
  } cases[] = {{64, 256, 64}, {64, 256, 32}, {288, 768, 64}, {288, 768, 32}};
  for (const Case &c : cases) {
    InputStats stats = makeStats(c.k, 4 * c.k, 11);
    std::vector<float> w = studentWeights(c.n, c.k, 12, 4.0f);
    for (double target : {2.5, 2.91, 3.25}) {
      QuantizerOptions o = mixedOptions(target, c.group);
      QuantizedTensor t = mustQuantize("layers.0.attention.wq.weight", w, c.n,
                                       c.k, stats, o);
      std::vector<float> dq = checkTensor(t);
      ASSERT_EQ(dq.size(), w.size());
      auto bpw = bitsPerWeight(t.layout, c.n, c.k);
      ASSERT_TRUE(bool(bpw));
      // The granularity: one 2->4 promotion of a tile-group.
      Layout a = t.layout, b = t.layout;
      a.alloc = {a.alloc[0] + a.alloc[1] + a.alloc[2], 0, 0};
      b.alloc = {a.alloc[0] - 1, 1, 0};
      double step = double(storageBits(b, c.n, c.k)->total() -
                           storageBits(a, c.n, c.k)->total()) /
                    double(c.n * c.k);
      std::printf("mixed %lldx%lld g%lld target %.2f: achieved %.4f (step "
                  "%.4f) alloc 2/4/16 = %lld/%lld/%lld\n",
                  (long long)c.n, (long long)c.k, (long long)c.group, target,
                  *bpw, step, (long long)t.layout.alloc[0],
                  (long long)t.layout.alloc[1], (long long)t.layout.alloc[2]);
      EXPECT_LE(*bpw, target + 1e-12);
      EXPECT_LT(target - *bpw, step);
      EXPECT_EQ(t.layout.group, c.group);
    }
  }
}

TEST(MixedScheme, FractionsSetShares) {
  int64_t n = 64, k = 256;
  InputStats stats = makeStats(k, 1024, 3);
  std::vector<float> w = gaussianWeights(n, k, 4);
  QuantizerOptions o = mixedOptions(0.0);
  o.fractions = {0.25, 0.0625};
  QuantizedTensor t = mustQuantize("x", w, n, k, stats, o);
  checkTensor(t);
  // 4 row blocks x 4 groups = 16 tile-groups: 4 at 4-bit, 1 FP16.
  EXPECT_EQ(t.layout.alloc, (std::vector<int64_t>{11, 4, 1}));
}

TEST(MixedScheme, BeatsTwoBitAndApproachesThreeBit) {
  int64_t n = 288, k = 768;
  InputStats stats = makeStats(k, 3072, 21);
  std::vector<float> w = studentWeights(n, k, 22, 5.0f);
  auto start = std::chrono::steady_clock::now();
  QuantizedTensor t =
      mustQuantize("layers.0.attention.wq.weight", w, n, k, stats,
                   mixedOptions(2.91));
  double elapsed = seconds(start);
  std::vector<float> mixed = checkTensor(t);
  ASSERT_EQ(mixed.size(), w.size());
  double eMixed = outputError(w, mixed, n, k, stats);
  double eRtn2 =
      outputError(w, uniformBaseline(w, n, k, stats, 2, 64, false), n, k, stats);
  double eGptq2 =
      outputError(w, uniformBaseline(w, n, k, stats, 2, 64, true), n, k, stats);
  double eRtn3 =
      outputError(w, uniformBaseline(w, n, k, stats, 3, 64, false), n, k, stats);
  double eGptq3 =
      outputError(w, uniformBaseline(w, n, k, stats, 3, 64, true), n, k, stats);
  std::printf("288x768 relative output error: mixed@2.91 %.5f (%.2fs), "
              "rtn2 %.5f, gptq2 %.5f, rtn3 %.5f, gptq3 %.5f; bpw %.4f\n",
              eMixed, elapsed, eRtn2, eGptq2, eRtn3, eGptq3,
              *bitsPerWeight(t.layout, n, k));
  // Far below uniform 2-bit; between 3-bit RTN and 3-bit GPTQ (which spend
  // 3.30 bits per weight with FP16 scales and 3-bit zeros per 64).
  EXPECT_LT(eMixed, 0.5 * eGptq2);
  EXPECT_LT(eMixed, 0.25 * eRtn2);
  EXPECT_LT(eMixed, eRtn3);
  EXPECT_LT(eMixed, 2.0 * eGptq3);
  EXPECT_LT(elapsed, 2.0 * kSanitizerSlowdown);
}

TEST(MixedScheme, OutliersOnlyInTwoBitGroupsAndExact) {
  // Diagonal XᵀX: GPTQ has no cross-column feedback, so every stored value
  // is the original weight's and slot outliers must reproduce it.
  int64_t n = 64, k = 256;
  InputStats stats = makeStats(k, 1024, 31, 0, 0.0, /*diagonal=*/true);
  std::vector<float> w = gaussianWeights(n, k, 32);
  // One planted outlier in every row-group.
  std::mt19937 rng(33);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < k / 64; ++g)
      w[size_t(r) * k + g * 64 + rng() % 64] = (rng() % 2 ? 1 : -1) * 0.3f;
  QuantizedTensor t = mustQuantize("x", w, n, k, stats, mixedOptions(2.91));
  std::vector<float> dq = checkTensor(t);
  ASSERT_EQ(dq.size(), w.size());
  ASSERT_EQ(t.layout.outliers, OutlierKind::Slots);
  auto pmap = unpackBits(t.streams.at("pmap").bytes, 2,
                         t.layout.alloc[0] + t.layout.alloc[1] +
                             t.layout.alloc[2]);
  auto plan = MixedPlan::build(t.layout, n, k, pmap);
  ASSERT_TRUE(bool(plan));
  const auto &index = t.streams.at("slot_index").bytes;
  ASSERT_EQ(int64_t(index.size()), plan->twoBitRowGroups() * t.layout.slots);
  int64_t checked = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < k / 64; ++g) {
      int64_t two = plan->twoBitRowGroup(r, g);
      if (two < 0)
        continue;
      int64_t col = g * 64 + index[two];
      float orig = w[size_t(r) * k + col];
      // The slot sits on the planted outlier and reproduces it to F16.
      EXPECT_FLOAT_EQ(std::fabs(orig), 0.3f) << r << "," << g;
      EXPECT_NEAR(dq[size_t(r) * k + col], orig, std::fabs(orig) * 1e-3);
      ++checked;
    }
  EXPECT_GT(checked, 0);
}

TEST(MixedAllocation, GreedyPromotesBySensitivityWithExactAccounting) {
  // 64x1024, group 64, tile 16: 4 x 16 = 64 tile-groups.
  int64_t n = 64, k = 1024, T = 64;
  QuantizerOptions o = mixedOptions(3.0);
  Layout base = mixedLayout({64, 16}, o, 1, T, 0, 0);
  std::vector<double> e2(T), e4(T);
  for (int64_t t = 0; t < T; ++t) {
    e2[t] = 1.0 + double(t);   // later tile-groups are more sensitive
    e4[t] = e2[t] / 20.0;
  }
  e4[5] = 1.0e6; // a range-dominated tile-group even 4-bit cannot fix
  e2[5] = 2.0e6;
  auto p = allocateMixedBudget("x", base, n, k, e2, e4, 3.0);
  ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
  int64_t count[3] = {0, 0, 0};
  for (uint8_t q : *p)
    ++count[q];
  EXPECT_EQ((*p)[5], 2); // the one FP16 tile-group (cap: 1% of 64, up)
  Layout l = base;
  l.alloc = {count[0], count[1], count[2]};
  double bpw = *bitsPerWeight(l, n, k);
  EXPECT_LE(bpw, 3.0);
  // 4-bit goes to the most sensitive: if t is 4-bit, so is every t' > t
  // (apart from the FP16 one).
  for (int64_t t = 0; t + 1 < T; ++t)
    if ((*p)[t] == 1 && t + 1 != 5)
      EXPECT_EQ((*p)[t + 1], 1) << t;
  // One more 2->4 promotion would not fit.
  Layout more = l;
  more.alloc = {count[0] - 1, count[1] + 1, count[2]};
  EXPECT_GT(*bitsPerWeight(more, n, k), 3.0);
}

TEST(Groups, FallBackToDivisorsTheKernelsRead) {
  EXPECT_EQ(fittingGroup(128, 4096), 128); // divides K
  EXPECT_EQ(fittingGroup(24, 288), 24);    // divides K, kept as asked
  EXPECT_EQ(fittingGroup(64, 288), 48);    // stories15M
  EXPECT_EQ(fittingGroup(128, 1376), 32);  // stories42M's w2: 86 has no kernel
  EXPECT_EQ(fittingGroup(64, 1376), 32);   // 43 neither
  EXPECT_EQ(fittingGroup(40, 288), 32);    // 36 neither
  EXPECT_EQ(fittingGroup(500, 96), 96);    // above K: K
  EXPECT_EQ(fittingGroup(0, 96), 0);       // per row stays per row
  // K not a multiple of 16: any divisor (no CPU or GPU kernel takes it).
  EXPECT_EQ(fittingGroup(16, 264), 12);
  EXPECT_EQ(fittingGroup(128, 344), 86);
  EXPECT_EQ(fittingGroup(8, 1376), 8); // below 16: as asked where it divides
  for (int64_t k : {288, 768, 1376, 2048, 5632, 11008, 13824})
    for (int64_t g : {16, 32, 48, 64, 100, 128, 256}) {
      int64_t got = fittingGroup(g, k);
      EXPECT_EQ(k % got, 0) << g << " " << k;
      EXPECT_EQ(got % 16, 0) << g << " " << k;
      EXPECT_LE(got, g) << g << " " << k;
    }
}

TEST(MixedScheme, GroupAndTileFallBack) {
  auto s = chooseMixedShape("x", 48, 96, 64, 32);
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->group, 48); // largest divisor of 96 below 64
  EXPECT_EQ(s->tile, 16);  // largest multiple of 16 below 32 dividing 48
  auto bad = chooseMixedShape("x", 40, 96, 64, 16);
  ASSERT_FALSE(bool(bad));
  std::string msg = llvm::toString(bad.takeError());
  EXPECT_NE(msg.find("'x'"), std::string::npos) << msg;
  // The quantizer follows the fallback.
  InputStats stats = makeStats(96, 512, 41);
  std::vector<float> w = gaussianWeights(48, 96, 42);
  QuantizerOptions o = mixedOptions(3.0);
  o.tile = 32;
  QuantizedTensor t = mustQuantize("x", w, 48, 96, stats, o);
  checkTensor(t);
  EXPECT_EQ(t.layout.group, 48);
  EXPECT_EQ(t.layout.tile, 16);
}

TEST(MixedScheme, TargetBelowFloorIsAnError) {
  InputStats stats = makeStats(128, 512, 51);
  std::vector<float> w = gaussianWeights(32, 128, 52);
  auto t = quantizeLinear("layers.3.feed_forward.w1.weight", w, 32, 128,
                          &stats, mixedOptions(2.1));
  ASSERT_FALSE(bool(t));
  std::string msg = llvm::toString(t.takeError());
  EXPECT_NE(msg.find("layers.3.feed_forward.w1.weight"), std::string::npos);
  EXPECT_NE(msg.find("floor"), std::string::npos) << msg;
}

// SqueezeLLM ------------------------------------------------------------===//

QuantizerOptions squeezeOptions(int64_t bits, bool sparse) {
  QuantizerOptions o;
  o.scheme = "squeeze";
  o.lutBits = bits;
  if (!sparse) {
    o.fenceFraction = 0;
    o.sensitiveFraction = 0;
  }
  return o;
}

TEST(SqueezeScheme, SparseBeatsDenseAndUniformThreeBit) {
  int64_t n = 288, k = 768;
  InputStats stats = makeStats(k, 3072, 61);
  std::vector<float> w = studentWeights(n, k, 62, 3.0f);
  auto start = std::chrono::steady_clock::now();
  QuantizedTensor sparse =
      mustQuantize("x", w, n, k, stats, squeezeOptions(3, true));
  double elapsed = seconds(start);
  QuantizedTensor dense =
      mustQuantize("x", w, n, k, stats, squeezeOptions(3, false));
  std::vector<float> qs = checkTensor(sparse), qd = checkTensor(dense);
  ASSERT_EQ(qs.size(), w.size());
  ASSERT_EQ(qd.size(), w.size());
  EXPECT_EQ(sparse.layout.outliers, OutlierKind::Csr);
  EXPECT_EQ(dense.layout.outliers, OutlierKind::None);
  EXPECT_EQ(dense.streams.count("csr_value"), 0u);
  // The sparse count: (fence + sensitive) * N * K.
  double expected = (0.0045 + 0.0005) * double(n * k);
  EXPECT_NEAR(double(sparse.layout.nnz), expected, 2.0);
  double eSparse = outputError(w, qs, n, k, stats);
  double eDense = outputError(w, qd, n, k, stats);
  double eRtn3 = outputError(w, uniformBaseline(w, n, k, stats, 3, 128, false),
                             n, k, stats);
  double eRtn3g64 = outputError(
      w, uniformBaseline(w, n, k, stats, 3, 64, false), n, k, stats);
  std::printf("squeeze-3 288x768 Student-t(3): sparse %.5f (%.3f bpw, nnz "
              "%lld, %.2fs), dense %.5f (%.3f bpw), rtn3 g128 %.5f (3.148 "
              "bpw), rtn3 g64 %.5f (3.297 bpw)\n",
              eSparse, *bitsPerWeight(sparse.layout, n, k),
              (long long)sparse.layout.nnz, elapsed, eDense,
              *bitsPerWeight(dense.layout, n, k), eRtn3, eRtn3g64);
  EXPECT_LT(eSparse, 0.8 * eDense);
  EXPECT_LT(eSparse, eRtn3);
  EXPECT_LT(eSparse, eRtn3g64);
  EXPECT_LT(elapsed, 2.0 * kSanitizerSlowdown);
  // Outliers are reproduced to F16 precision.
  int64_t big = 0;
  for (size_t i = 0; i < w.size(); ++i)
    if (std::fabs(w[i]) > 0.3f) {
      EXPECT_NEAR(qs[i], w[i], std::fabs(w[i]) * 1e-3) << i;
      ++big;
    }
  EXPECT_GT(big, 0);
}

TEST(SqueezeScheme, FourBitAndOnlySensitive) {
  int64_t n = 32, k = 256;
  InputStats stats = makeStats(k, 1024, 71);
  std::vector<float> w = gaussianWeights(n, k, 72);
  QuantizerOptions o = squeezeOptions(4, true);
  o.fenceFraction = 0;
  o.sensitiveFraction = 0.01;
  QuantizedTensor t = mustQuantize("x", w, n, k, stats, o);
  std::vector<float> q = checkTensor(t);
  EXPECT_EQ(t.layout.bits, std::vector<int64_t>{4});
  EXPECT_EQ(t.layout.nnz, std::llround(0.01 * n * k));
  // 16 levels per row on Gaussian data: small error.
  EXPECT_LT(outputError(w, q, n, k, stats), 0.02);
}

// QUIK ------------------------------------------------------------------===//

QuantizerOptions quikOptions(int64_t fp16Cols = 32, int64_t act = 16) {
  QuantizerOptions o;
  o.scheme = "quik";
  o.fp16Cols = fp16Cols;
  o.actBits = act;
  return o;
}

TEST(QuikScheme, OutlierColumnsAreTopAbsMaxAndExact) {
  int64_t n = 64, k = 256;
  // Diagonal XᵀX: no cross-column feedback, so the FP16 columns must hold
  // the original weights.
  InputStats stats = makeStats(k, 1024, 81, /*bigChannels=*/12, 0.0, true);
  std::vector<float> w = gaussianWeights(n, k, 82);
  QuantizedTensor t =
      mustQuantize("layers.1.attention.wq.weight", w, n, k, stats,
                   quikOptions(16, 8));
  std::vector<float> q = checkTensor(t);
  ASSERT_EQ(q.size(), w.size());
  EXPECT_EQ(t.layout.bits, std::vector<int64_t>{4});
  EXPECT_EQ(t.layout.fp16Cols, 16);
  EXPECT_EQ(t.layout.act.bits, 8);
  // The columns: exactly the 16 largest max |x|.
  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return stats.absMax[a] > stats.absMax[b];
  });
  std::vector<int64_t> top(order.begin(), order.begin() + 16);
  std::sort(top.begin(), top.end());
  const auto &index = t.streams.at("col_index").bytes;
  ASSERT_EQ(index.size(), 16u * 4);
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(readI32(index, i), top[i]);
    for (int64_t r = 0; r < n; ++r)
      EXPECT_EQ(q[size_t(r) * k + top[i]], roundToF16(w[size_t(r) * k + top[i]]));
  }
}

TEST(QuikScheme, DownProjIsEightBitAndGptqBeatsRtn) {
  int64_t n = 288, k = 768;
  InputStats stats = makeStats(k, 3072, 91, /*bigChannels=*/16);
  std::vector<float> w = gaussianWeights(n, k, 92);
  QuantizedTensor down = mustQuantize("layers.2.feed_forward.w2.weight", w, n,
                                      k, stats, quikOptions(-1, 4));
  checkTensor(down);
  EXPECT_EQ(down.layout.bits, std::vector<int64_t>{8});
  EXPECT_EQ(down.layout.fp16Cols, quikColumnCount(quikOptions(-1), k));
  EXPECT_EQ(down.layout.act.bits, 4);
  EXPECT_TRUE(down.layout.act.asymmetric);

  auto start = std::chrono::steady_clock::now();
  QuantizedTensor up = mustQuantize("layers.2.feed_forward.w1.weight", w, n, k,
                                    stats, quikOptions(-1));
  double elapsed = seconds(start);
  std::vector<float> q = checkTensor(up);
  ASSERT_EQ(q.size(), w.size());
  EXPECT_EQ(up.layout.bits, std::vector<int64_t>{4});
  // RTN in the same format: same columns and scales, no error feedback.
  std::vector<int64_t> cols = quikOutlierColumns(stats, up.layout.fp16Cols);
  std::vector<uint8_t> isFp16(k, 0);
  for (int64_t c : cols)
    isFp16[c] = 1;
  std::vector<float> rtn(w.size());
  for (int64_t r = 0; r < n; ++r) {
    float absMax = 0;
    for (int64_t c = 0; c < k; ++c)
      if (!isFp16[c])
        absMax = std::max(absMax, std::fabs(w[size_t(r) * k + c]));
    float s = roundToF16(absMax / 7.0f);
    for (int64_t c = 0; c < k; ++c) {
      float x = w[size_t(r) * k + c];
      rtn[size_t(r) * k + c] =
          isFp16[c] ? roundToF16(x)
                    : std::clamp(std::nearbyint(x / s), -7.0f, 7.0f) * s;
    }
  }
  double eGptq = outputError(w, q, n, k, stats);
  double eRtn = outputError(w, rtn, n, k, stats);
  std::printf("quik w4 288x768 (%lld fp16 cols): gptq %.5f rtn %.5f (%.2fs)\n",
              (long long)up.layout.fp16Cols, eGptq, eRtn, elapsed);
  EXPECT_LT(eGptq, 0.8 * eRtn);
  EXPECT_LT(elapsed, 2.0 * kSanitizerSlowdown);
}

// Speed -----------------------------------------------------------------===//

TEST(Schemes, StoriesSizedLinearsAreFast) {
  // stories15M: per layer 4 x (288x288) + 2 x (768x288) + (288x768).
  InputStats s288 = makeStats(288, 1024, 101), s768 = makeStats(768, 2048, 102);
  std::vector<float> wq = gaussianWeights(288, 288, 103);
  std::vector<float> w1 = gaussianWeights(768, 288, 104);
  std::vector<float> w2 = gaussianWeights(288, 768, 105);
  for (const char *scheme : {"mixed", "squeeze", "quik"}) {
    QuantizerOptions o;
    o.scheme = scheme;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i)
      mustQuantize("layers.0.attention.wq.weight", wq, 288, 288, s288, o);
    mustQuantize("layers.0.feed_forward.w1.weight", w1, 768, 288, s288, o);
    mustQuantize("layers.0.feed_forward.w3.weight", w1, 768, 288, s288, o);
    mustQuantize("layers.0.feed_forward.w2.weight", w2, 288, 768, s768, o);
    double layer = seconds(start);
    std::printf("%s: one stories15M layer (7 linears) in %.2fs, 6 layers "
                "~%.1fs\n",
                scheme, layer, 6 * layer);
    EXPECT_LT(6 * layer, 30.0 * kSanitizerSlowdown) << scheme;
  }
}

} // namespace
