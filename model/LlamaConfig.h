//===- LlamaConfig.h - Hyper-parameters of a Llama-family model -*- C++ -*-===//
//
// What every checkpoint reader produces and the reference engine, quantizer
// and compiler consume: dimensions, grouped-query attention, RoPE and norm
// settings, and whether the classifier shares the embedding table.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_LLAMACONFIG_H
#define MIXQ_MODEL_LLAMACONFIG_H

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>

namespace mixq {

/// Which elements RoPE rotates together (see DESIGN.md, "RoPE layout trap").
enum class RopeStyle {
  Adjacent, ///< pairs (2i, 2i+1): llama2.c, Meta, GGUF `llama`
  Half,     ///< pairs (i, i + head_dim/2): Hugging Face q/k row order
};

struct LlamaConfig {
  int64_t dim = 0;        ///< model width (embedding size)
  int64_t hiddenDim = 0;  ///< feed-forward width
  int64_t nLayers = 0;
  int64_t nHeads = 0;     ///< query heads
  int64_t nKvHeads = 0;   ///< key/value heads (grouped-query attention)
  int64_t vocabSize = 0;
  int64_t maxSeqLen = 0;  ///< context length
  float rmsEps = 1e-5f;
  float ropeTheta = 10000.0f;
  bool tiedEmbeddings = false; ///< output head shares tok_embeddings
  RopeStyle ropeStyle = RopeStyle::Adjacent;

  int64_t headDim() const { return nHeads ? dim / nHeads : 0; }
  int64_t kvDim() const { return headDim() * nKvHeads; }
};

/// Rejects impossible configs (non-positive sizes, heads not dividing dim,
/// query heads not a multiple of KV heads, odd head_dim, absurd sizes).
llvm::Error validateConfig(const LlamaConfig &config);

llvm::json::Value configToJSON(const LlamaConfig &config);
llvm::Expected<LlamaConfig> configFromJSON(const llvm::json::Value &value);

} // namespace mixq

#endif // MIXQ_MODEL_LLAMACONFIG_H
