//===- EngineTest.cpp - The fp32 reference engine, pool and sampler -------===//
//
// The engine is checked on tiny random models against a deliberately naive
// implementation written here (double precision, the whole sequence at once,
// no KV cache, the formulas written out loop by loop), across grouped-query
// shapes, tied/untied classifiers and both RoPE styles, plus properties that
// need no reference: Hugging Face's q/k row permutation with RopeStyle::Half
// equals Adjacent on the original rows; attention rows are probability
// distributions; at position 0 attention returns v; results do not depend on
// the thread count, reset() or advance(). Then the thread pool and sampler.
//
//===----------------------------------------------------------------------===//
#include "model/Engine.h"
#include "model/Sampler.h"
#include "model/ThreadPool.h"

#include "gtest/gtest.h"

#include <cmath>
#include <map>
#include <random>

using namespace llvm;
using namespace mixq;

namespace {

struct TinyShape {
  int64_t dim, hidden, layers, heads, kvHeads, vocab, seq;
  bool tied;
  RopeStyle rope;
};

std::vector<float> randomVector(std::mt19937 &rng, int64_t n, float stddev,
                                float mean = 0) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

LlamaWeights randomModel(const TinyShape &s, unsigned seed) {
  std::mt19937 rng(seed);
  LlamaWeights w;
  LlamaConfig &c = w.config;
  c.dim = s.dim;
  c.hiddenDim = s.hidden;
  c.nLayers = s.layers;
  c.nHeads = s.heads;
  c.nKvHeads = s.kvHeads;
  c.vocabSize = s.vocab;
  c.maxSeqLen = s.seq;
  c.tiedEmbeddings = s.tied;
  c.ropeStyle = s.rope;
  c.ropeTheta = 10000.0f;
  c.rmsEps = 1e-5f;
  int64_t kv = c.kvDim();
  // Gaussian weights scaled by 1/sqrt(fan_in) keep activations O(1); the
  // larger q/k scale makes attention far from uniform.
  auto linear = [&](int64_t out, int64_t in, float gain = 1) {
    return randomVector(rng, out * in, gain / std::sqrt(float(in)));
  };
  w.tokEmbeddings = randomVector(rng, c.vocabSize * c.dim, 1.0f);
  for (int64_t i = 0; i < c.nLayers; ++i) {
    LayerWeights l;
    l.attentionNorm = randomVector(rng, c.dim, 0.2f, 1.0f);
    l.wq = linear(c.dim, c.dim, 3);
    l.wk = linear(kv, c.dim, 3);
    l.wv = linear(kv, c.dim);
    l.wo = linear(c.dim, c.dim);
    l.ffnNorm = randomVector(rng, c.dim, 0.2f, 1.0f);
    l.w1 = linear(c.hiddenDim, c.dim);
    l.w2 = linear(c.dim, c.hiddenDim);
    l.w3 = linear(c.hiddenDim, c.dim);
    w.layers.push_back(std::move(l));
  }
  w.finalNorm = randomVector(rng, c.dim, 0.2f, 1.0f);
  if (!c.tiedEmbeddings)
    w.output = linear(c.vocabSize, c.dim);
  return w;
}

//===----------------------------------------------------------------------===//
// The naive reference: double precision, whole sequence, no cache.
//===----------------------------------------------------------------------===//

using Matrix = std::vector<std::vector<double>>; // [position][feature]

std::vector<double> naiveLinear(const std::vector<float> &w, int64_t rows,
                                int64_t cols, const std::vector<double> &x) {
  std::vector<double> y(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      y[r] += double(w[r * cols + c]) * x[c];
  return y;
}

std::vector<double> naiveRmsNorm(const std::vector<double> &x,
                                 const std::vector<float> &w, double eps) {
  double meanSquare = 0;
  for (double v : x)
    meanSquare += v * v;
  meanSquare /= double(x.size());
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = x[i] / std::sqrt(meanSquare + eps) * double(w[i]);
  return y;
}

void naiveRope(std::vector<double> &v, int64_t heads, int64_t hd, int64_t pos,
               double theta, RopeStyle style) {
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i) {
      double angle = double(pos) * std::pow(theta, -2.0 * double(i) / hd);
      int64_t a = style == RopeStyle::Adjacent ? h * hd + 2 * i : h * hd + i;
      int64_t b = style == RopeStyle::Adjacent ? a + 1 : a + hd / 2;
      double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
      v[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
}

/// Logits at every position of `tokens`.
Matrix naiveForward(const LlamaWeights &w, const std::vector<int> &tokens) {
  const LlamaConfig &c = w.config;
  int64_t n = tokens.size(), dim = c.dim, hd = c.headDim(), kv = c.kvDim();
  Matrix x(n, std::vector<double>(dim));
  for (int64_t p = 0; p < n; ++p)
    for (int64_t i = 0; i < dim; ++i)
      x[p][i] = w.tokEmbeddings[tokens[p] * dim + i];

  for (const LayerWeights &l : w.layers) {
    Matrix q(n), k(n), v(n);
    for (int64_t p = 0; p < n; ++p) {
      std::vector<double> xn = naiveRmsNorm(x[p], l.attentionNorm, c.rmsEps);
      q[p] = naiveLinear(l.wq, dim, dim, xn);
      k[p] = naiveLinear(l.wk, kv, dim, xn);
      v[p] = naiveLinear(l.wv, kv, dim, xn);
      naiveRope(q[p], c.nHeads, hd, p, c.ropeTheta, c.ropeStyle);
      naiveRope(k[p], c.nKvHeads, hd, p, c.ropeTheta, c.ropeStyle);
    }
    for (int64_t p = 0; p < n; ++p) {
      std::vector<double> att(dim, 0.0);
      for (int64_t h = 0; h < c.nHeads; ++h) {
        int64_t kvh = h / (c.nHeads / c.nKvHeads);
        std::vector<double> scores(p + 1);
        double maxScore = -1e300, sum = 0;
        for (int64_t t = 0; t <= p; ++t) {
          double s = 0;
          for (int64_t d = 0; d < hd; ++d)
            s += q[p][h * hd + d] * k[t][kvh * hd + d];
          scores[t] = s / std::sqrt(double(hd));
          maxScore = std::max(maxScore, scores[t]);
        }
        for (double &s : scores) {
          s = std::exp(s - maxScore);
          sum += s;
        }
        for (int64_t t = 0; t <= p; ++t)
          for (int64_t d = 0; d < hd; ++d)
            att[h * hd + d] += scores[t] / sum * v[t][kvh * hd + d];
      }
      std::vector<double> o = naiveLinear(l.wo, dim, dim, att);
      for (int64_t i = 0; i < dim; ++i)
        x[p][i] += o[i];
    }
    for (int64_t p = 0; p < n; ++p) {
      std::vector<double> xn = naiveRmsNorm(x[p], l.ffnNorm, c.rmsEps);
      std::vector<double> g = naiveLinear(l.w1, c.hiddenDim, dim, xn);
      std::vector<double> u = naiveLinear(l.w3, c.hiddenDim, dim, xn);
      for (int64_t i = 0; i < c.hiddenDim; ++i)
        g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      std::vector<double> d = naiveLinear(l.w2, dim, c.hiddenDim, g);
      for (int64_t i = 0; i < dim; ++i)
        x[p][i] += d[i];
    }
  }
  Matrix logits(n);
  for (int64_t p = 0; p < n; ++p)
    logits[p] = naiveLinear(w.classifier(), c.vocabSize, dim,
                            naiveRmsNorm(x[p], w.finalNorm, c.rmsEps));
  return logits;
}

std::vector<int> randomTokens(int64_t count, int64_t vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, int(vocab) - 1);
  std::vector<int> t(count);
  for (int &x : t)
    x = dist(rng);
  return t;
}

/// Engine logits at every position.
std::vector<std::vector<float>> engineForward(Engine &engine,
                                              const std::vector<int> &tokens) {
  std::vector<std::vector<float>> out;
  engine.reset();
  for (size_t p = 0; p < tokens.size(); ++p) {
    ArrayRef<float> l = engine.forward(tokens[p], int(p));
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Engine vs the naive reference
//===----------------------------------------------------------------------===//

class EngineVsNaive : public ::testing::TestWithParam<TinyShape> {};

TEST_P(EngineVsNaive, LogitsMatchAtEveryPosition) {
  const TinyShape &shape = GetParam();
  LlamaWeights w = randomModel(shape, 7);
  ASSERT_FALSE(errorToBool(checkWeightShapes(w)));
  std::vector<int> tokens = randomTokens(shape.seq, shape.vocab, 3);
  Matrix expected = naiveForward(w, tokens);
  Engine engine(w, 2);
  std::vector<std::vector<float>> actual = engineForward(engine, tokens);

  // fp32 against double: relative errors are ~1e-7 per operation, so the
  // normalized squared error is ~1e-13; 1e-10 leaves room yet fails on any
  // real mistake (a wrong rotation pair or head mapping gives NMSE ~ 1).
  for (size_t p = 0; p < tokens.size(); ++p) {
    double err = 0, ref = 0, maxAbs = 0;
    for (int64_t i = 0; i < shape.vocab; ++i) {
      double d = double(actual[p][i]) - expected[p][i];
      err += d * d;
      ref += expected[p][i] * expected[p][i];
      maxAbs = std::max(maxAbs, std::abs(d));
    }
    EXPECT_LT(err / ref, 1e-10) << "position " << p;
    EXPECT_LT(maxAbs, 1e-4) << "position " << p;
  }
}

std::string shapeName(const ::testing::TestParamInfo<TinyShape> &info) {
  const TinyShape &s = info.param;
  return "dim" + std::to_string(s.dim) + "_heads" + std::to_string(s.heads) +
         "_kv" + std::to_string(s.kvHeads) + (s.tied ? "_tied" : "_untied") +
         (s.rope == RopeStyle::Half ? "_half" : "_adjacent");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, EngineVsNaive,
    ::testing::Values(
        // GQA (2 query heads per KV head), tied, Meta rotation.
        TinyShape{32, 80, 2, 4, 2, 50, 12, true, RopeStyle::Adjacent},
        // Multi-head, untied, rotate-half.
        TinyShape{32, 64, 2, 4, 4, 40, 10, false, RopeStyle::Half},
        // GQA, untied, rotate-half, a dim not a multiple of 8.
        TinyShape{36, 52, 3, 6, 3, 30, 9, false, RopeStyle::Half},
        // Multi-query (one KV head), tied, Meta rotation.
        TinyShape{48, 96, 1, 4, 1, 64, 16, true, RopeStyle::Adjacent}),
    shapeName);

//===----------------------------------------------------------------------===//
// Properties
//===----------------------------------------------------------------------===//

/// Hugging Face's permutation of q/k rows: HF row j*hd/2 + i of a head holds
/// Meta row 2i + j.
std::vector<float> permuteHf(const std::vector<float> &w, int64_t heads,
                             int64_t hd, int64_t cols) {
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < hd / 2; ++i)
        std::copy_n(&w[(h * hd + 2 * i + j) * cols], cols,
                    &out[(h * hd + j * hd / 2 + i) * cols]);
  return out;
}

TEST(Engine, HfPermutedHalfEqualsAdjacent) {
  TinyShape shape{32, 64, 2, 4, 2, 40, 12, false, RopeStyle::Adjacent};
  LlamaWeights meta = randomModel(shape, 11);
  LlamaWeights hf = meta;
  hf.config.ropeStyle = RopeStyle::Half;
  int64_t hd = meta.config.headDim();
  for (LayerWeights &l : hf.layers) {
    l.wq = permuteHf(l.wq, meta.config.nHeads, hd, meta.config.dim);
    l.wk = permuteHf(l.wk, meta.config.nKvHeads, hd, meta.config.dim);
  }
  std::vector<int> tokens = randomTokens(shape.seq, shape.vocab, 5);
  Engine a(meta, 1), b(hf, 1);
  auto la = engineForward(a, tokens), lb = engineForward(b, tokens);
  // The same numbers summed in another order inside q·k only.
  for (size_t p = 0; p < tokens.size(); ++p)
    for (int64_t i = 0; i < shape.vocab; ++i)
      EXPECT_NEAR(la[p][i], lb[p][i], 1e-4) << "position " << p;

  // And the permutation matters: Half on the unpermuted rows differs.
  LlamaWeights wrong = meta;
  wrong.config.ropeStyle = RopeStyle::Half;
  Engine c(wrong, 1);
  auto lc = engineForward(c, tokens);
  double maxDiff = 0;
  for (int64_t i = 0; i < shape.vocab; ++i)
    maxDiff = std::max(maxDiff, double(std::abs(lc.back()[i] - la.back()[i])));
  EXPECT_GT(maxDiff, 1e-2);
}

TEST(Engine, AttentionRowsAreDistributions) {
  TinyShape shape{32, 64, 2, 4, 2, 40, 12, true, RopeStyle::Adjacent};
  LlamaWeights w = randomModel(shape, 13);
  Engine engine(w, 2);
  std::vector<int> tokens = randomTokens(shape.seq, shape.vocab, 9);
  for (size_t p = 0; p < tokens.size(); ++p) {
    (void)engine.forward(tokens[p], int(p));
    for (int layer = 0; layer < shape.layers; ++layer)
      for (int head = 0; head < shape.heads; ++head) {
        ArrayRef<float> probs = engine.attentionProbabilities(layer, head);
        ASSERT_EQ(probs.size(), p + 1);
        double sum = 0, maxP = 0;
        for (float x : probs) {
          EXPECT_GE(x, 0.0f);
          sum += x;
          maxP = std::max(maxP, double(x));
        }
        EXPECT_NEAR(sum, 1.0, 1e-6);
        if (p == 0)
          EXPECT_EQ(probs[0], 1.0f);
      }
  }
}

/// Records the observed linear inputs of one token.
struct RecordingObserver : LinearObserver {
  std::map<std::pair<int, int>, std::vector<float>> seen;
  void observe(int layer, LinearInput input, ArrayRef<float> values) override {
    seen[{layer, int(input)}].assign(values.begin(), values.end());
  }
};

TEST(Engine, PositionZeroAttentionReturnsV) {
  TinyShape shape{32, 64, 2, 8, 2, 40, 4, false, RopeStyle::Half};
  LlamaWeights w = randomModel(shape, 17);
  const LlamaConfig &c = w.config;
  Engine engine(w, 2);
  RecordingObserver observer;
  engine.setObserver(&observer);
  (void)engine.forward(5, 0);
  ASSERT_EQ(observer.seen.size(), size_t(4 * c.nLayers));
  int64_t hd = c.headDim(), group = c.nHeads / c.nKvHeads;
  for (int layer = 0; layer < c.nLayers; ++layer) {
    const std::vector<float> &xn =
        observer.seen[{layer, int(LinearInput::AttentionInput)}];
    const std::vector<float> &att =
        observer.seen[{layer, int(LinearInput::AttentionOutput)}];
    ASSERT_EQ(att.size(), size_t(c.dim));
    // With one position softmax is exactly 1: head h returns v of its KV
    // head, whatever wq and wk are.
    for (int64_t h = 0; h < c.nHeads; ++h)
      for (int64_t d = 0; d < hd; ++d) {
        int64_t row = (h / group) * hd + d;
        double v = 0;
        for (int64_t i = 0; i < c.dim; ++i)
          v += double(w.layers[layer].wv[row * c.dim + i]) * xn[i];
        EXPECT_NEAR(att[h * hd + d], v, 1e-5) << "layer " << layer;
      }
  }
  // The observer saw the FFN inputs with their widths too.
  std::pair<int, int> ffnIn{0, int(LinearInput::FfnInput)};
  std::pair<int, int> ffnHidden{0, int(LinearInput::FfnHidden)};
  EXPECT_EQ(observer.seen[ffnIn].size(), size_t(c.dim));
  EXPECT_EQ(observer.seen[ffnHidden].size(), size_t(c.hiddenDim));
}

TEST(Engine, BitwiseIdenticalAcrossThreadCountsAndResets) {
  TinyShape shape{36, 52, 3, 6, 3, 30, 9, false, RopeStyle::Half};
  LlamaWeights w = randomModel(shape, 19);
  std::vector<int> tokens = randomTokens(shape.seq, shape.vocab, 21);
  Engine one(w, 1);
  auto reference = engineForward(one, tokens);
  EXPECT_EQ(engineForward(one, tokens), reference) << "after reset()";
  for (unsigned threads : {2u, 3u, 4u, 7u}) {
    Engine engine(w, threads);
    EXPECT_EQ(engine.threads(), threads);
    EXPECT_EQ(engineForward(engine, tokens), reference)
        << threads << " threads";
  }
}

TEST(Engine, AdvanceThenForwardEqualsForwardAll) {
  TinyShape shape{32, 64, 2, 4, 2, 40, 10, true, RopeStyle::Adjacent};
  LlamaWeights w = randomModel(shape, 23);
  std::vector<int> tokens = randomTokens(shape.seq, shape.vocab, 25);
  Engine engine(w, 2);
  auto all = engineForward(engine, tokens);
  engine.reset();
  for (size_t p = 0; p + 1 < tokens.size(); ++p)
    engine.advance(tokens[p], int(p));
  ArrayRef<float> last = engine.forward(tokens.back(), int(tokens.size() - 1));
  EXPECT_EQ(std::vector<float>(last.begin(), last.end()), all.back());
}

TEST(Engine, ShapeErrorsNameTheTensor) {
  TinyShape shape{32, 64, 2, 4, 2, 40, 10, false, RopeStyle::Adjacent};
  LlamaWeights w = randomModel(shape, 29);
  w.layers[1].w3.pop_back();
  Expected<std::unique_ptr<Engine>> engine = Engine::create(w);
  ASSERT_FALSE(bool(engine));
  std::string message = toString(engine.takeError());
  EXPECT_NE(message.find("layers.1.feed_forward.w3.weight"), std::string::npos)
      << message;

  LlamaWeights untied = randomModel(shape, 29);
  untied.output.clear();
  EXPECT_TRUE(errorToBool(checkWeightShapes(untied)));
  untied.config.tiedEmbeddings = true; // an empty output is fine when tied
  EXPECT_FALSE(errorToBool(checkWeightShapes(untied)));
}

//===----------------------------------------------------------------------===//
// Thread pool
//===----------------------------------------------------------------------===//

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 5, 7, 64, 1001}) {
      std::vector<int> hits(n, 0);
      for (int round = 0; round < 3; ++round)
        pool.parallelFor(n, [&](int64_t begin, int64_t end) {
          ASSERT_LE(0, begin);
          ASSERT_LE(begin, end);
          ASSERT_LE(end, n);
          for (int64_t i = begin; i < end; ++i)
            ++hits[i];
        });
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[i], 3) << "n=" << n << " threads=" << threads;
    }
  }
}

//===----------------------------------------------------------------------===//
// Sampler
//===----------------------------------------------------------------------===//

TEST(Sampler, GreedyIsArgmax) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  EXPECT_EQ(Sampler::argmax(logits), 1); // first of the tied maxima
  Sampler greedy(0.0f, 0.9f, 42);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(greedy.sample(logits), 1);
  EXPECT_EQ(Sampler::argmax({}), -1);
}

TEST(Sampler, SeedMakesItReproducible) {
  std::mt19937 rng(1);
  std::vector<float> logits = randomVector(rng, 100, 1.0f);
  auto draw = [&](uint64_t seed, float topP) {
    Sampler s(1.0f, topP, seed);
    std::vector<int> out;
    for (int i = 0; i < 200; ++i)
      out.push_back(s.sample(logits));
    return out;
  };
  for (float topP : {0.9f, 1.0f}) {
    EXPECT_EQ(draw(1234, topP), draw(1234, topP));
    EXPECT_NE(draw(1234, topP), draw(1235, topP));
  }
}

TEST(Sampler, TinyTopPIsGreedy) {
  std::mt19937 rng(2);
  std::vector<float> logits = randomVector(rng, 1000, 2.0f);
  int best = Sampler::argmax(logits);
  Sampler s(1.0f, 1e-6f, 7);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(s.sample(logits), best);
}

TEST(Sampler, FollowsTheDistributionAndTheNucleus) {
  // Probabilities 0.5, 0.3, 0.2 at temperature 1.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const int draws = 20000;
  Sampler full(1.0f, 1.0f, 99);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < draws; ++i)
    ++counts[full.sample(logits)];
  // Binomial standard deviation <= 0.0036; 0.015 is > 4 sigma.
  EXPECT_NEAR(counts[0] / double(draws), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(draws), 0.3, 0.015);
  EXPECT_NEAR(counts[2] / double(draws), 0.2, 0.015);

  // top_p 0.6: the nucleus is {0, 1}, renormalized to 0.625 / 0.375.
  Sampler nucleus(1.0f, 0.6f, 99);
  int inNucleus[3] = {0, 0, 0};
  for (int i = 0; i < draws; ++i)
    ++inNucleus[nucleus.sample(logits)];
  EXPECT_EQ(inNucleus[2], 0);
  EXPECT_NEAR(inNucleus[0] / double(draws), 0.625, 0.015);
}

} // namespace
