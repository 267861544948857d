//===- Checkpoint.h - Reading Llama checkpoints -----------------*- C++ -*-===//
//
// One interface over the checkpoint formats mixq reads: llama2.c .bin,
// Hugging Face safetensors (single or sharded, with config.json) and GGUF v3.
// Files are memory-mapped; every offset and length is bounds-checked when the
// file is opened, and every failure is an llvm::Error naming the file and the
// reason.
//
// Tensor names: each reader lists the file's own names and maps them to the
// canonical (Meta / llama2.c) names the rest of mixq uses:
//   tok_embeddings.weight                 [vocab, dim]
//   layers.{i}.attention_norm.weight      [dim]
//   layers.{i}.attention.wq.weight        [n_heads*head_dim, dim]
//   layers.{i}.attention.wk.weight        [n_kv_heads*head_dim, dim]
//   layers.{i}.attention.wv.weight        [n_kv_heads*head_dim, dim]
//   layers.{i}.attention.wo.weight        [dim, n_heads*head_dim]
//   layers.{i}.ffn_norm.weight            [dim]
//   layers.{i}.feed_forward.w1.weight     [hidden, dim]   (gate)
//   layers.{i}.feed_forward.w2.weight     [dim, hidden]   (down)
//   layers.{i}.feed_forward.w3.weight     [hidden, dim]   (up)
//   norm.weight                           [dim]
//   output.weight                         [vocab, dim]    (absent when tied)
// Shapes are row-major, [out_features, in_features] for linears.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_CHECKPOINT_H
#define MIXQ_MODEL_CHECKPOINT_H

#include "model/LlamaConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace mixq {

enum class DType { F32, F16, BF16 };
llvm::StringRef dtypeName(DType dtype);
unsigned dtypeSize(DType dtype);

struct TensorInfo {
  std::string name;          ///< as stored in the file
  std::string canonicalName; ///< see the table above
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string file;          ///< the file holding the data (shards differ)
  uint64_t offset = 0;       ///< byte offset of the data in that file
  uint64_t size = 0;         ///< bytes
  uint64_t numElements() const;
};

class Checkpoint {
public:
  virtual ~Checkpoint();

  /// Opens `path`: a llama2.c .bin, a .safetensors file, a directory with
  /// model.safetensors or model.safetensors.index.json plus config.json, or a
  /// .gguf file. The format is detected from the contents, not the name.
  static llvm::Expected<std::unique_ptr<Checkpoint>> open(llvm::StringRef path);

  /// "llama2c", "safetensors" or "gguf".
  virtual llvm::StringRef formatName() const = 0;
  const std::string &path() const { return path_; }
  const LlamaConfig &config() const { return config_; }
  llvm::ArrayRef<TensorInfo> tensors() const { return tensors_; }
  /// The tensor with this canonical name, or null.
  const TensorInfo *find(llvm::StringRef canonicalName) const;

  /// The tensor's values converted to fp32, row-major.
  llvm::Expected<std::vector<float>> loadF32(const TensorInfo &tensor) const;
  llvm::Expected<std::vector<float>>
  loadF32(llvm::StringRef canonicalName) const;

protected:
  /// The mapped bytes of `tensor` (bounds were checked at open time).
  virtual llvm::Expected<llvm::ArrayRef<uint8_t>>
  tensorBytes(const TensorInfo &tensor) const = 0;

  std::string path_;
  LlamaConfig config_;
  std::vector<TensorInfo> tensors_;
};

/// All weights of a model in fp32, in canonical layout.
struct LayerWeights {
  std::vector<float> attentionNorm, wq, wk, wv, wo;
  std::vector<float> ffnNorm, w1, w2, w3;
};
struct LlamaWeights {
  LlamaConfig config;
  std::vector<float> tokEmbeddings;
  std::vector<LayerWeights> layers;
  std::vector<float> finalNorm;
  std::vector<float> output; ///< empty when config.tiedEmbeddings
  /// The classifier matrix (output, or tokEmbeddings when tied).
  const std::vector<float> &classifier() const {
    return config.tiedEmbeddings ? tokEmbeddings : output;
  }
};

/// Loads and shape-checks every tensor of the model.
llvm::Expected<LlamaWeights> loadLlamaWeights(const Checkpoint &checkpoint);

} // namespace mixq

#endif // MIXQ_MODEL_CHECKPOINT_H
