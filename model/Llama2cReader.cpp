//===- Llama2cReader.cpp - llama2.c version-0 .bin checkpoints ------------===//
//
// Byte layout (all little-endian, no padding):
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//         (vocab_size < 0: an unshared classifier `wcls` follows at the end)
//   fp32  token_embedding_table [vocab][dim]
//         rms_att_weight        [layers][dim]
//         wq                    [layers][n_heads*hd][dim]
//         wk, wv                [layers][n_kv_heads*hd][dim]
//         wo                    [layers][dim][n_heads*hd]
//         rms_ffn_weight        [layers][dim]
//         w1                    [layers][hidden][dim]
//         w2                    [layers][dim][hidden]
//         w3                    [layers][hidden][dim]
//         rms_final_weight      [dim]
//         freq_cis_real, freq_cis_imag [seq_len][hd/2]   (unused by mixq)
//         wcls                  [vocab][dim]              (only if unshared)
// The file size must equal exactly what the header implies.
//
//===----------------------------------------------------------------------===//
#include "model/CheckpointReaders.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mixq;

namespace {

class Llama2cCheckpoint : public SingleFileCheckpoint {
public:
  llvm::StringRef formatName() const override { return "llama2c"; }

  static llvm::Expected<std::unique_ptr<Checkpoint>>
  create(std::unique_ptr<MappedFile> file);
};

/// Appends tensors laid out back to back, with overflow-checked offsets.
struct Layout {
  std::vector<TensorInfo> &tensors;
  const std::string &file;
  uint64_t offset;
  bool overflow = false;

  void add(std::string name, std::string canonical,
           std::vector<int64_t> shape) {
    TensorInfo t;
    t.name = std::move(name);
    t.canonicalName = std::move(canonical);
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    t.file = file;
    t.offset = offset;
    uint64_t n = 0;
    if (!checkedProduct(t.shape, n) || !checkedMul(n, 4, t.size) ||
        !checkedAdd(offset, t.size, offset))
      overflow = true;
    tensors.push_back(std::move(t));
  }
  /// One tensor per layer: "<array>[i]" named "layers.i.<suffix>".
  void addPerLayer(int64_t layers, const char *array, const char *suffix,
                   std::vector<int64_t> shape) {
    for (int64_t i = 0; i < layers; ++i)
      add(llvm::formatv("{0}[{1}]", array, i).str(),
          llvm::formatv("layers.{0}.{1}", i, suffix).str(), shape);
  }
};

llvm::Expected<std::unique_ptr<Checkpoint>>
Llama2cCheckpoint::create(std::unique_ptr<MappedFile> file) {
  const std::string &path = file->path();
  ByteReader reader(file->bytes(), path);
  int32_t header[7];
  static const char *const names[7] = {"dim",      "hidden_dim", "n_layers",
                                       "n_heads",  "n_kv_heads", "vocab_size",
                                       "seq_len"};
  for (int i = 0; i < 7; ++i) {
    auto v = reader.readI32(llvm::Twine("llama2.c header field ") + names[i]);
    if (!v)
      return v.takeError();
    header[i] = *v;
  }
  auto ckpt = std::make_unique<Llama2cCheckpoint>();
  ckpt->path_ = path;
  LlamaConfig &c = ckpt->config_;
  c.dim = header[0];
  c.hiddenDim = header[1];
  c.nLayers = header[2];
  c.nHeads = header[3];
  c.nKvHeads = header[4];
  bool shared = header[5] > 0;
  c.vocabSize = header[5] < 0 ? -static_cast<int64_t>(header[5]) : header[5];
  c.maxSeqLen = header[6];
  c.tiedEmbeddings = shared;
  c.ropeStyle = RopeStyle::Adjacent;
  c.rmsEps = 1e-5f;
  c.ropeTheta = 10000.0f;
  if (llvm::Error e = validateConfig(c))
    return fileError(path, "not a llama2.c checkpoint: " +
                               llvm::toString(std::move(e)) +
                               llvm::formatv(" (header: {0} {1} {2} {3} {4} "
                                             "{5} {6})",
                                             header[0], header[1], header[2],
                                             header[3], header[4], header[5],
                                             header[6]));

  const int64_t dim = c.dim, hidden = c.hiddenDim, L = c.nLayers,
                hd = c.headDim(), q = c.nHeads * hd, kv = c.kvDim();
  Layout layout{ckpt->tensors_, path, 28};
  layout.add("token_embedding_table", "tok_embeddings.weight",
             {c.vocabSize, dim});
  layout.addPerLayer(L, "rms_att_weight", "attention_norm.weight", {dim});
  layout.addPerLayer(L, "wq", "attention.wq.weight", {q, dim});
  layout.addPerLayer(L, "wk", "attention.wk.weight", {kv, dim});
  layout.addPerLayer(L, "wv", "attention.wv.weight", {kv, dim});
  layout.addPerLayer(L, "wo", "attention.wo.weight", {dim, q});
  layout.addPerLayer(L, "rms_ffn_weight", "ffn_norm.weight", {dim});
  layout.addPerLayer(L, "w1", "feed_forward.w1.weight", {hidden, dim});
  layout.addPerLayer(L, "w2", "feed_forward.w2.weight", {dim, hidden});
  layout.addPerLayer(L, "w3", "feed_forward.w3.weight", {hidden, dim});
  layout.add("rms_final_weight", "norm.weight", {dim});
  layout.add("freq_cis_real", "", {c.maxSeqLen, hd / 2});
  layout.add("freq_cis_imag", "", {c.maxSeqLen, hd / 2});
  if (!shared)
    layout.add("wcls", "output.weight", {c.vocabSize, dim});
  if (layout.overflow)
    return fileError(path, "llama2.c header implies a size that overflows");
  if (layout.offset != file->size())
    return fileError(
        path, llvm::formatv("file size {0} does not match the {1} bytes the "
                            "llama2.c header implies (dim {2}, hidden {3}, "
                            "layers {4}, heads {5}, kv heads {6}, vocab {7}, "
                            "seq_len {8}, {9} classifier)",
                            file->size(), layout.offset, dim, hidden, L,
                            c.nHeads, c.nKvHeads, c.vocabSize, c.maxSeqLen,
                            shared ? "shared" : "unshared"));
  ckpt->file_ = std::move(file);
  return std::unique_ptr<Checkpoint>(std::move(ckpt));
}

} // namespace

llvm::Expected<std::unique_ptr<Checkpoint>>
mixq::openLlama2c(std::unique_ptr<MappedFile> file) {
  return Llama2cCheckpoint::create(std::move(file));
}
