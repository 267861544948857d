//===- Engine.h - The fp32 reference forward pass of a Llama model -*- C++ -*-===//
//
// The oracle every quantizer and compiled kernel is checked against: a plain
// fp32 decoder over LlamaWeights, one token at a time, with a KV cache of
// config.maxSeqLen positions.
//
//   x = tok_embeddings[token]
//   per layer:  h  = x + wo · attention(rope(wq·n), rope(wk·n), wv·n),
//                    n = rmsnorm(x) * attention_norm
//               x  = h + w2 · (silu(w1·m) * (w3·m)),  m = rmsnorm(h) * ffn_norm
//   logits = classifier · (rmsnorm(x) * norm)
//
// rmsnorm(x) = x / sqrt(mean(x²) + eps). RoPE rotates pairs (2i, 2i+1)
// (RopeStyle::Adjacent) or (i, i + head_dim/2) (RopeStyle::Half) by
// pos · theta^(-2i/head_dim). Grouped-query attention: query head h reads KV
// head h / (n_heads / n_kv_heads). Softmax subtracts the maximum.
//
// Numerics (documented because this is the oracle): weights and activations
// are fp32; every dot product accumulates in fp32 over 8 independent partial
// sums (combined pairwise), which keeps the error of a 4096-long dot near
// sqrt(4096/8)·eps relative instead of 4096·eps and lets the compiler
// vectorize without -ffast-math. Reductions that are cheap and sensitive
// (RMSNorm's mean of squares, the softmax denominator) accumulate in double;
// RoPE angles and their cos/sin are computed in double once per engine.
//
// Weights are taken as plain row-major fp32 matrices ([out][in]) from
// LlamaWeights, which the engine references (it does not copy them: they must
// outlive it). A quantizer checks a scheme by filling a LlamaWeights with the
// dequantized values and running the same engine.
//
// Threads: matrix-vector products are split by output rows and attention by
// heads over a persistent ThreadPool; results are bitwise identical for any
// thread count.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_ENGINE_H
#define MIXQ_MODEL_ENGINE_H

#include "model/Checkpoint.h"
#include "model/LinearObserver.h"
#include "model/ThreadPool.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace mixq {

/// Checks that every vector of `weights` has the size its config implies
/// (and that the config is valid). loadLlamaWeights() already guarantees this;
/// weights built by hand or by a quantizer should be checked.
llvm::Error checkWeightShapes(const LlamaWeights &weights);

class Engine {
public:
  /// `weights` must pass checkWeightShapes() and outlive the engine.
  /// `threads` = 0 uses one thread per hardware thread.
  explicit Engine(const LlamaWeights &weights, unsigned threads = 0);
  ~Engine();

  /// checkWeightShapes() then the constructor.
  static llvm::Expected<std::unique_ptr<Engine>>
  create(const LlamaWeights &weights, unsigned threads = 0);

  const LlamaConfig &config() const { return config_; }
  unsigned threads() const { return pool_.size(); }

  /// Runs `token` at position `pos` and returns the logits (vocab_size
  /// values, valid until the next call). Preconditions (asserted; callers
  /// validate input): 0 <= token < vocab_size, 0 <= pos < max_seq_len, and
  /// positions 0..pos-1 have been run since the last reset().
  llvm::ArrayRef<float> forward(int token, int pos);

  /// Like forward() but skips the final norm and the classifier: for prompt
  /// tokens whose logits nobody reads.
  void advance(int token, int pos);

  /// Forgets the KV cache: the next call must be at position 0.
  void reset();

  /// Receives the input of every linear group (LinearObserver.h) on the
  /// calling thread; null (the default) disables observation.
  void setObserver(LinearObserver *observer) { observer_ = observer; }

  /// Rewrites the input of every linear group after the observer saw it
  /// (QUIK's activation quantization, simulated); null (the default): none.
  void setInputTransform(LinearInputTransform *transform) {
    transform_ = transform;
  }

  /// The logits of the last forward().
  llvm::ArrayRef<float> logits() const { return logits_; }

  /// The softmax probabilities of query head `head` in `layer` over
  /// positions 0..pos of the last forward()/advance() (for tests).
  llvm::ArrayRef<float> attentionProbabilities(int layer, int head) const;

private:
  void runLayers(int token, int pos);
  void observeInput(int layer, LinearInput input, std::vector<float> &values);
  void attention(int layer, int pos);
  void matvec(const std::vector<float> &w, const float *x, float *out,
              int64_t rows, int64_t cols);
  void applyRope(float *vec, int64_t heads, int pos) const;

  const LlamaWeights &weights_;
  LlamaConfig config_;
  ThreadPool pool_;
  LinearObserver *observer_ = nullptr;
  LinearInputTransform *transform_ = nullptr;
  int filled_ = 0;    ///< positions in the KV cache since reset()
  int lastPos_ = -1;  ///< position of the last call

  // RoPE tables: [max_seq_len][head_dim/2].
  std::vector<float> ropeCos_, ropeSin_;
  // KV cache: [layer][pos][kv_dim].
  std::vector<float> keyCache_, valueCache_;
  // Activations of the current token.
  std::vector<float> x_, xn_, q_, attOut_, proj_, gate_, up_, logits_;
  // Attention probabilities: [layer][head][max_seq_len].
  std::vector<float> probs_;
};

} // namespace mixq

#endif // MIXQ_MODEL_ENGINE_H
