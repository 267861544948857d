//===- TinyPackage.h - A tiny random package for tests ----------*- C++ -*-===//
//
// Test support shared by the unit tests that need a whole (small) model as a
// package: FP16 embeddings, FP32 norms near 1, every linear RTN int4 with
// groups of 16, random normal weights from a seed.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TEST_UNIT_SUPPORT_TINYPACKAGE_H
#define MIXQ_TEST_UNIT_SUPPORT_TINYPACKAGE_H

#include "model/Dequantize.h"
#include "model/Package.h"
#include "quant/Pack.h"
#include "quant/Rtn.h"

#include <map>
#include <random>
#include <string>
#include <vector>

namespace mixq::test_support {

/// dim 32, hidden 64, 4 heads, 2 KV heads (GQA), vocab 16, context 8, tied.
inline LlamaConfig tinyPackageConfig(int64_t layers) {
  LlamaConfig c;
  c.dim = 32;
  c.hiddenDim = 64;
  c.nLayers = layers;
  c.nHeads = 4;
  c.nKvHeads = 2;
  c.vocabSize = 16;
  c.maxSeqLen = 8;
  c.tiedEmbeddings = true;
  return c;
}

/// Every tensor of a `config` model, in model order; `dequantized` (if
/// given) receives the fp32 values each tensor stores.
inline Package makeTinyPackage(
    const LlamaConfig &config, unsigned seed,
    std::map<std::string, std::vector<float>> *dequantized = nullptr) {
  std::mt19937 rng(seed);
  auto random = [&](size_t n) {
    std::normal_distribution<float> normal(0.0f, 0.3f);
    std::vector<float> v(n);
    for (float &x : v)
      x = normal(rng);
    return v;
  };
  Package package;
  package.config = config;
  package.tokenizerFormat = "llama2c";
  auto add = [&](QuantizedTensor t, std::vector<int64_t> shape) {
    if (dequantized)
      (*dequantized)[t.name] = llvm::cantFail(dequantize(t));
    package.tensors.push_back({std::move(shape), std::move(t)});
  };
  auto addDense = [&](const std::string &name, std::vector<int64_t> shape,
                      int64_t bits) {
    int64_t n = shape.size() == 2 ? shape[0] : 1, k = shape.back();
    std::vector<float> values = random(n * k);
    if (shape.size() == 1)
      for (float &v : values)
        v += 1.0f; // norm weights near 1
    add(llvm::cantFail(packDense(name, n, k, values, bits)), shape);
  };
  auto addRtn = [&](const std::string &name, int64_t n, int64_t k) {
    auto r = llvm::cantFail(quantizeRtn(name, random(n * k), n, k,
                                        uniformLayout(4, 16, true),
                                        /*wantDequantized=*/false));
    add(std::move(r.tensor), {n, k});
  };
  const LlamaConfig &c = config;
  addDense("tok_embeddings.weight", {c.vocabSize, c.dim}, 16);
  for (int64_t l = 0; l < c.nLayers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    addDense(p + "attention_norm.weight", {c.dim}, 32);
    addRtn(p + "attention.wq.weight", c.dim, c.dim);
    addRtn(p + "attention.wk.weight", c.kvDim(), c.dim);
    addRtn(p + "attention.wv.weight", c.kvDim(), c.dim);
    addRtn(p + "attention.wo.weight", c.dim, c.dim);
    addDense(p + "ffn_norm.weight", {c.dim}, 32);
    addRtn(p + "feed_forward.w1.weight", c.hiddenDim, c.dim);
    addRtn(p + "feed_forward.w2.weight", c.dim, c.hiddenDim);
    addRtn(p + "feed_forward.w3.weight", c.hiddenDim, c.dim);
  }
  addDense("norm.weight", {c.dim}, 32);
  if (!c.tiedEmbeddings)
    addDense("output.weight", {c.vocabSize, c.dim}, 16);
  return package;
}

} // namespace mixq::test_support

#endif // MIXQ_TEST_UNIT_SUPPORT_TINYPACKAGE_H
