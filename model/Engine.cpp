//===- Engine.cpp - The fp32 reference forward pass of a Llama model ------===//
//
// See Engine.h for the math and the numerics. The code follows the formulas
// one step per function; the only performance work is the 8-accumulator dot
// product, fusing matrix-vector products that share an input (q/k/v, w1/w3)
// into one parallel loop, and skipping the classifier for prompt tokens.
//
//===----------------------------------------------------------------------===//
#include "model/Engine.h"
#include "model/MemoryLimit.h"

#include "llvm/Support/FormatVariadic.h"

#include <cassert>
#include <cmath>

using namespace llvm;
using namespace mixq;

namespace {

/// fp32 dot product over 8 independent partial sums, combined pairwise.
inline float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k)
      acc[k] += a[i + k] * b[i + k];
  float tail = 0;
  for (; i < n; ++i)
    tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
         ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

/// out = x / sqrt(mean(x²) + eps) * w; the mean of squares in double.
void rmsNorm(const float *x, const float *w, float *out, int64_t n,
             float eps) {
  double sumSquares = 0;
  for (int64_t i = 0; i < n; ++i)
    sumSquares += double(x[i]) * double(x[i]);
  double scale = 1.0 / std::sqrt(sumSquares / double(n) + double(eps));
  for (int64_t i = 0; i < n; ++i)
    out[i] = float(double(x[i]) * scale) * w[i];
}

/// One matrix of a fused matrix-vector product: rows of `w` into `out`.
struct MatvecSegment {
  const float *w;
  float *out;
  int64_t rows;
};

} // namespace

Error mixq::checkWeightShapes(const LlamaWeights &weights) {
  const LlamaConfig &c = weights.config;
  if (Error err = validateConfig(c))
    return err;
  auto check = [](const std::vector<float> &v, int64_t expected,
                  const std::string &name) -> Error {
    if (int64_t(v.size()) != expected)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("weights: {0} has {1} values, expected {2}", name,
                        v.size(), expected)
              .str());
    return Error::success();
  };
  int64_t dim = c.dim, kv = c.kvDim(), hidden = c.hiddenDim;
  if (Error err = check(weights.tokEmbeddings, c.vocabSize * dim,
                        "tok_embeddings.weight"))
    return err;
  if (int64_t(weights.layers.size()) != c.nLayers)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("weights: {0} layers, config says {1}",
                      weights.layers.size(), c.nLayers)
            .str());
  for (int64_t i = 0; i < c.nLayers; ++i) {
    const LayerWeights &l = weights.layers[i];
    std::string p = "layers." + std::to_string(i) + ".";
    const std::pair<const std::vector<float> *, std::pair<int64_t, const char *>>
        expected[] = {
            {&l.attentionNorm, {dim, "attention_norm.weight"}},
            {&l.wq, {dim * dim, "attention.wq.weight"}},
            {&l.wk, {kv * dim, "attention.wk.weight"}},
            {&l.wv, {kv * dim, "attention.wv.weight"}},
            {&l.wo, {dim * dim, "attention.wo.weight"}},
            {&l.ffnNorm, {dim, "ffn_norm.weight"}},
            {&l.w1, {hidden * dim, "feed_forward.w1.weight"}},
            {&l.w2, {dim * hidden, "feed_forward.w2.weight"}},
            {&l.w3, {hidden * dim, "feed_forward.w3.weight"}},
        };
    for (const auto &e : expected)
      if (Error err = check(*e.first, e.second.first, p + e.second.second))
        return err;
  }
  if (Error err = check(weights.finalNorm, dim, "norm.weight"))
    return err;
  if (!c.tiedEmbeddings)
    if (Error err = check(weights.output, c.vocabSize * dim, "output.weight"))
      return err;
  return Error::success();
}

Engine::Engine(const LlamaWeights &weights, unsigned threads)
    : weights_(weights), config_(weights.config), pool_(threads) {
  assert(!checkWeightShapes(weights) && "weights do not match their config");
  const LlamaConfig &c = config_;
  int64_t hd = c.headDim(), half = hd / 2;

  ropeCos_.resize(c.maxSeqLen * half);
  ropeSin_.resize(c.maxSeqLen * half);
  for (int64_t pos = 0; pos < c.maxSeqLen; ++pos)
    for (int64_t i = 0; i < half; ++i) {
      double freq =
          std::pow(double(c.ropeTheta), -double(2 * i) / double(hd));
      double angle = double(pos) * freq;
      ropeCos_[pos * half + i] = float(std::cos(angle));
      ropeSin_[pos * half + i] = float(std::sin(angle));
    }

  keyCache_.resize(c.nLayers * c.maxSeqLen * c.kvDim());
  valueCache_.resize(c.nLayers * c.maxSeqLen * c.kvDim());
  x_.resize(c.dim);
  xn_.resize(c.dim);
  q_.resize(c.dim);
  attOut_.resize(c.dim);
  proj_.resize(c.dim);
  gate_.resize(c.hiddenDim);
  up_.resize(c.hiddenDim);
  logits_.resize(c.vocabSize);
  probs_.resize(c.nLayers * c.nHeads * c.maxSeqLen);
}

Engine::~Engine() = default;

Expected<std::unique_ptr<Engine>> Engine::create(const LlamaWeights &weights,
                                                 unsigned threads) {
  if (Error err = checkWeightShapes(weights))
    return std::move(err);
  // The caches grow with max_seq_len, which no weight backs: check first.
  const LlamaConfig &c = weights.config;
  uint64_t floats = 0, part = 0;
  bool overflow = false;
  auto add = [&](std::initializer_list<uint64_t> factors) {
    part = 1;
    for (uint64_t f : factors)
      overflow |= __builtin_mul_overflow(part, f, &part);
    overflow |= __builtin_add_overflow(floats, part, &floats);
  };
  uint64_t layers = c.nLayers, seq = c.maxSeqLen;
  add({2, layers, seq, uint64_t(c.kvDim())});          // key and value caches
  add({layers, uint64_t(c.nHeads), seq});              // attention weights
  add({2, seq, uint64_t(c.headDim() / 2)});            // RoPE tables
  overflow |= __builtin_mul_overflow(floats, uint64_t(4), &floats);
  if (Error err = checkAllocation(
          floats, overflow,
          llvm::formatv("the engine's KV cache for a context of {0} "
                        "positions",
                        c.maxSeqLen)))
    return std::move(err);
  return std::make_unique<Engine>(weights, threads);
}

void Engine::reset() {
  filled_ = 0;
  lastPos_ = -1;
}

ArrayRef<float> Engine::attentionProbabilities(int layer, int head) const {
  assert(lastPos_ >= 0 && "no forward() yet");
  return ArrayRef<float>(probs_).slice(
      (int64_t(layer) * config_.nHeads + head) * config_.maxSeqLen,
      lastPos_ + 1);
}

void Engine::matvec(const std::vector<float> &w, const float *x, float *out,
                    int64_t rows, int64_t cols) {
  pool_.parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      out[r] = dot(w.data() + r * cols, x, cols);
  });
}

/// Rotates each head of `vec` (heads x head_dim) for position `pos`.
void Engine::applyRope(float *vec, int64_t heads, int pos) const {
  int64_t hd = config_.headDim(), half = hd / 2;
  const float *cosRow = ropeCos_.data() + int64_t(pos) * half;
  const float *sinRow = ropeSin_.data() + int64_t(pos) * half;
  bool adjacent = config_.ropeStyle == RopeStyle::Adjacent;
  for (int64_t h = 0; h < heads; ++h) {
    float *head = vec + h * hd;
    for (int64_t i = 0; i < half; ++i) {
      float &a = adjacent ? head[2 * i] : head[i];
      float &b = adjacent ? head[2 * i + 1] : head[i + half];
      float x0 = a, x1 = b;
      a = x0 * cosRow[i] - x1 * sinRow[i];
      b = x0 * sinRow[i] + x1 * cosRow[i];
    }
  }
}

/// attOut_ = softmax(q·Kᵀ / sqrt(hd)) · V per query head, over 0..pos.
void Engine::attention(int layer, int pos) {
  const LlamaConfig &c = config_;
  int64_t hd = c.headDim(), kvDim = c.kvDim();
  int64_t group = c.nHeads / c.nKvHeads;
  const float *keys = keyCache_.data() + int64_t(layer) * c.maxSeqLen * kvDim;
  const float *values =
      valueCache_.data() + int64_t(layer) * c.maxSeqLen * kvDim;
  float scale = float(1.0 / std::sqrt(double(hd)));
  pool_.parallelFor(c.nHeads, [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) {
      const float *q = q_.data() + h * hd;
      int64_t kvOffset = (h / group) * hd;
      float *p = probs_.data() + (int64_t(layer) * c.nHeads + h) * c.maxSeqLen;
      float maxScore = -INFINITY;
      for (int64_t t = 0; t <= pos; ++t) {
        p[t] = dot(q, keys + t * kvDim + kvOffset, hd) * scale;
        maxScore = std::max(maxScore, p[t]);
      }
      double sum = 0;
      for (int64_t t = 0; t <= pos; ++t) {
        p[t] = std::exp(p[t] - maxScore);
        sum += p[t];
      }
      float inv = float(1.0 / sum);
      float *out = attOut_.data() + h * hd;
      for (int64_t d = 0; d < hd; ++d)
        out[d] = 0;
      for (int64_t t = 0; t <= pos; ++t) {
        p[t] *= inv;
        const float *v = values + t * kvDim + kvOffset;
        for (int64_t d = 0; d < hd; ++d)
          out[d] += p[t] * v[d];
      }
    }
  });
}

void Engine::runLayers(int token, int pos) {
  const LlamaConfig &c = config_;
  assert(token >= 0 && token < c.vocabSize && "token out of range");
  assert(pos >= 0 && pos < c.maxSeqLen && "position out of range");
  assert(pos <= filled_ && "positions before pos were not run");
  int64_t dim = c.dim, kvDim = c.kvDim(), hidden = c.hiddenDim;

  const float *embedding = weights_.tokEmbeddings.data() + int64_t(token) * dim;
  std::copy(embedding, embedding + dim, x_.begin());

  // Runs several matrices sharing the input `x` as one parallel loop.
  auto fusedMatvec = [&](ArrayRef<MatvecSegment> segments, const float *x,
                         int64_t cols) {
    int64_t total = 0;
    for (const MatvecSegment &s : segments)
      total += s.rows;
    pool_.parallelFor(total, [&](int64_t begin, int64_t end) {
      int64_t first = 0;
      for (const MatvecSegment &s : segments) {
        int64_t lo = std::max(begin, first), hi = std::min(end, first + s.rows);
        for (int64_t r = lo; r < hi; ++r)
          s.out[r - first] = dot(s.w + (r - first) * cols, x, cols);
        first += s.rows;
      }
    });
  };

  for (int layer = 0; layer < c.nLayers; ++layer) {
    const LayerWeights &lw = weights_.layers[layer];
    int64_t cacheOffset = (int64_t(layer) * c.maxSeqLen + pos) * kvDim;
    float *k = keyCache_.data() + cacheOffset;
    float *v = valueCache_.data() + cacheOffset;

    // Attention block.
    rmsNorm(x_.data(), lw.attentionNorm.data(), xn_.data(), dim, c.rmsEps);
    observeInput(layer, LinearInput::AttentionInput, xn_);
    MatvecSegment qkv[] = {{lw.wq.data(), q_.data(), dim},
                           {lw.wk.data(), k, kvDim},
                           {lw.wv.data(), v, kvDim}};
    fusedMatvec(qkv, xn_.data(), dim);
    applyRope(q_.data(), c.nHeads, pos);
    applyRope(k, c.nKvHeads, pos);
    attention(layer, pos);
    observeInput(layer, LinearInput::AttentionOutput, attOut_);
    matvec(lw.wo, attOut_.data(), proj_.data(), dim, dim);
    for (int64_t i = 0; i < dim; ++i)
      x_[i] += proj_[i];

    // Feed-forward block (SwiGLU).
    rmsNorm(x_.data(), lw.ffnNorm.data(), xn_.data(), dim, c.rmsEps);
    observeInput(layer, LinearInput::FfnInput, xn_);
    MatvecSegment gateUp[] = {{lw.w1.data(), gate_.data(), hidden},
                              {lw.w3.data(), up_.data(), hidden}};
    fusedMatvec(gateUp, xn_.data(), dim);
    for (int64_t i = 0; i < hidden; ++i) {
      float g = gate_[i];
      gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
    }
    observeInput(layer, LinearInput::FfnHidden, gate_);
    matvec(lw.w2, gate_.data(), proj_.data(), dim, hidden);
    for (int64_t i = 0; i < dim; ++i)
      x_[i] += proj_[i];
  }
  filled_ = pos + 1;
  lastPos_ = pos;
}

void Engine::observeInput(int layer, LinearInput input,
                          std::vector<float> &values) {
  if (observer_)
    observer_->observe(layer, input, values);
  if (transform_)
    transform_->transform(layer, input, values);
}

void Engine::advance(int token, int pos) { runLayers(token, pos); }

ArrayRef<float> Engine::forward(int token, int pos) {
  runLayers(token, pos);
  const LlamaConfig &c = config_;
  rmsNorm(x_.data(), weights_.finalNorm.data(), xn_.data(), c.dim, c.rmsEps);
  matvec(weights_.classifier(), xn_.data(), logits_.data(), c.vocabSize,
         c.dim);
  return logits_;
}
