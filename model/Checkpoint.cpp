//===- Checkpoint.cpp - Format detection, fp32 loading, weight checks -----===//
//
// Checkpoint::open looks at the bytes (not the file name) to choose a reader;
// loadF32 converts any stored dtype to fp32; loadLlamaWeights checks every
// canonical tensor against the shape the config implies.
//
//===----------------------------------------------------------------------===//
#include "model/Checkpoint.h"
#include "model/CheckpointReaders.h"
#include "model/Float16.h"
#include "model/MappedFile.h"
#include "model/NonFinite.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mixq;

std::string mixq::canonicalTensorName(llvm::StringRef name,
                                      const TensorNaming &naming) {
  for (const auto &[file, canonical] : naming.globals)
    if (name == file)
      return canonical;
  if (!name.consume_front(naming.layerPrefix))
    return "";
  auto [index, rest] = name.split('.');
  unsigned layer;
  if (index.empty() || index.getAsInteger(10, layer) ||
      (index.size() > 1 && index[0] == '0'))
    return "";
  for (const auto &[file, canonical] : naming.layerSuffixes)
    if (rest == file)
      return "layers." + std::to_string(layer) + "." + canonical;
  return "";
}

llvm::StringRef mixq::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  }
  return "?";
}

unsigned mixq::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  }
  return 0;
}

uint64_t TensorInfo::numElements() const {
  uint64_t n = 0;
  if (!checkedProduct(shape, n))
    return 0; // readers reject such shapes at open time
  return n;
}

Checkpoint::~Checkpoint() = default;

llvm::Expected<std::unique_ptr<Checkpoint>>
Checkpoint::open(llvm::StringRef path) {
  if (llvm::sys::fs::is_directory(path))
    return openSafetensorsCheckpoint(path);
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  llvm::ArrayRef<uint8_t> bytes = (*file)->bytes();
  auto startsWith = [&](const char *magic) {
    size_t n = std::strlen(magic);
    return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
  };
  if (startsWith("GGUF"))
    return openGguf(std::move(*file));
  // safetensors: u64 header length, then a JSON object. A llama2.c header
  // can have '{' at byte 8 too (n_layers = 123), but then bytes 4..7 hold a
  // positive hidden_dim, while a plausible safetensors header length has its
  // high half zero (an absurd one, the sign bit set).
  if (bytes.size() >= 9 && bytes[8] == '{') {
    uint32_t high = llvm::support::endian::read32le(bytes.data() + 4);
    if (high == 0 || high >= 0x80000000u)
      return openSafetensorsCheckpoint(path);
  }
  // A JSON file: model.safetensors.index.json or config.json.
  size_t firstNonSpace = 0;
  while (firstNonSpace < bytes.size() && firstNonSpace < 4096 &&
         llvm::isSpace(bytes[firstNonSpace]))
    ++firstNonSpace;
  if (firstNonSpace < bytes.size() && bytes[firstNonSpace] == '{')
    return openSafetensorsCheckpoint(path);
  // llama2.c's newer exports (version >= 1) start with the magic 0x616b3432.
  if (startsWith("24ka"))
    return fileError(path, "llama2.c export version >= 1 (magic 'ak42') is "
                           "not supported; export with --version 0 (legacy)");
  if (bytes.size() >= 28)
    return openLlama2c(std::move(*file));
  return fileError(path, "unrecognized checkpoint format (not a llama2.c "
                         ".bin, safetensors or GGUF file; " +
                             llvm::Twine(bytes.size()) + " bytes)");
}

const TensorInfo *Checkpoint::find(llvm::StringRef canonicalName) const {
  if (canonicalName.empty())
    return nullptr;
  for (const TensorInfo &t : tensors_)
    if (t.canonicalName == canonicalName)
      return &t;
  return nullptr;
}

llvm::Expected<std::vector<float>>
Checkpoint::loadF32(const TensorInfo &tensor) const {
  uint64_t count = 0, bytesNeeded = 0;
  if (!checkedProduct(tensor.shape, count) ||
      !checkedMul(count, dtypeSize(tensor.dtype), bytesNeeded))
    return fileError(tensor.file, "tensor '" + tensor.name +
                                      "': element count overflows");
  auto bytes = tensorBytes(tensor);
  if (!bytes)
    return bytes.takeError();
  if (bytes->size() != bytesNeeded || bytesNeeded != tensor.size)
    return fileError(tensor.file,
                     llvm::formatv("tensor '{0}': {1} bytes stored, {2} "
                                   "expected for {3} x {4}",
                                   tensor.name, bytes->size(), bytesNeeded,
                                   count, dtypeName(tensor.dtype)));
  std::vector<float> out(count);
  const uint8_t *p = bytes->data();
  switch (tensor.dtype) {
  case DType::F32:
    if (bytesNeeded) // a tensor may have no elements (out.data() is null)
      std::memcpy(out.data(), p, bytesNeeded);
    break;
  case DType::F16:
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = halfToFloat(h);
    }
    break;
  case DType::BF16:
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = bf16ToFloat(h);
    }
    break;
  }
  return out;
}

llvm::Expected<std::vector<float>>
Checkpoint::loadF32(llvm::StringRef canonicalName) const {
  const TensorInfo *t = find(canonicalName);
  if (!t)
    return fileError(path_, "no tensor '" + canonicalName + "'");
  return loadF32(*t);
}

namespace {

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Loads `name` after checking that its shape is exactly `shape`.
llvm::Error loadChecked(const Checkpoint &ckpt, const std::string &name,
                        std::vector<int64_t> shape, std::vector<float> &out) {
  const TensorInfo *t = ckpt.find(name);
  if (!t)
    return fileError(ckpt.path(), "missing tensor '" + name + "'");
  if (t->shape != shape)
    return fileError(t->file, "tensor '" + t->name + "' (" + name +
                                  ") has shape " + shapeString(t->shape) +
                                  ", expected " + shapeString(shape));
  auto values = ckpt.loadF32(*t);
  if (!values)
    return values.takeError();
  if (std::optional<size_t> bad = firstNonFinite(*values))
    return fileError(t->file, "tensor '" + t->name + "' has a " +
                                  (std::isnan((*values)[*bad]) ? "NaN"
                                                               : "infinite") +
                                  " value at element " + llvm::Twine(*bad));
  out = std::move(*values);
  return llvm::Error::success();
}

} // namespace

llvm::Expected<LlamaWeights> mixq::loadLlamaWeights(const Checkpoint &ckpt) {
  const LlamaConfig &c = ckpt.config();
  if (llvm::Error e = validateConfig(c))
    return fileError(ckpt.path(), llvm::toString(std::move(e)));
  LlamaWeights w;
  w.config = c;
  const int64_t dim = c.dim, hidden = c.hiddenDim, qDim = c.nHeads * c.headDim(),
                kvDim = c.kvDim();
  if (llvm::Error e = loadChecked(ckpt, "tok_embeddings.weight",
                                  {c.vocabSize, dim}, w.tokEmbeddings))
    return std::move(e);
  w.layers.resize(c.nLayers);
  for (int64_t i = 0; i < c.nLayers; ++i) {
    LayerWeights &l = w.layers[i];
    std::string p = "layers." + std::to_string(i) + ".";
    struct Item {
      const char *suffix;
      std::vector<int64_t> shape;
      std::vector<float> *out;
    } items[] = {
        {"attention_norm.weight", {dim}, &l.attentionNorm},
        {"attention.wq.weight", {qDim, dim}, &l.wq},
        {"attention.wk.weight", {kvDim, dim}, &l.wk},
        {"attention.wv.weight", {kvDim, dim}, &l.wv},
        {"attention.wo.weight", {dim, qDim}, &l.wo},
        {"ffn_norm.weight", {dim}, &l.ffnNorm},
        {"feed_forward.w1.weight", {hidden, dim}, &l.w1},
        {"feed_forward.w2.weight", {dim, hidden}, &l.w2},
        {"feed_forward.w3.weight", {hidden, dim}, &l.w3},
    };
    for (Item &item : items)
      if (llvm::Error e = loadChecked(ckpt, p + item.suffix, item.shape,
                                      *item.out))
        return std::move(e);
  }
  if (llvm::Error e = loadChecked(ckpt, "norm.weight", {dim}, w.finalNorm))
    return std::move(e);
  if (!c.tiedEmbeddings)
    if (llvm::Error e = loadChecked(ckpt, "output.weight", {c.vocabSize, dim},
                                    w.output))
      return std::move(e);
  return w;
}
