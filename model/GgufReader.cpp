//===- GgufReader.cpp - GGUF (v2/v3) checkpoints of the llama arch --------===//
//
// Byte layout (little-endian):
//   u32 magic "GGUF" | u32 version (3; 2 has the same layout)
//   u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 value_type | value }
//       string = u64 length + bytes; array = u32 elem_type + u64 count + elems
//   tensor_count x { string name | u32 n_dims | n_dims x u64 ne (ne0 is the
//                    fastest-varying, i.e. in_features) | u32 ggml_type |
//                    u64 offset (relative to the data section) }
//   padding to general.alignment (default 32) | data section
// Every length and count is bounded by the bytes that remain before anything
// is allocated. Only F32, F16 and BF16 tensors are accepted. The llama
// architecture keeps Meta's q/k row order, so RoPE is RopeStyle::Adjacent.
//
//===----------------------------------------------------------------------===//
#include "model/CheckpointReaders.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>
#include <set>

using namespace mixq;

namespace {

enum GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

/// A metadata value; arrays keep only their element type and count.
struct GgufValue {
  uint32_t type = 0;
  uint64_t u = 0;   ///< unsigned integers and bool
  int64_t i = 0;    ///< signed integers
  double f = 0;     ///< floats
  std::string s;    ///< strings
  uint32_t arrayType = 0;
  uint64_t arrayCount = 0;

  std::optional<int64_t> asInt() const {
    switch (type) {
    case U8: case U16: case U32: case U64:
      if (u > static_cast<uint64_t>(INT64_MAX))
        return std::nullopt;
      return static_cast<int64_t>(u);
    case I8: case I16: case I32: case I64:
      return i;
    default:
      return std::nullopt;
    }
  }
  std::optional<double> asFloat() const {
    if (type == F32 || type == F64)
      return f;
    if (auto v = asInt())
      return static_cast<double>(*v);
    return std::nullopt;
  }
};

/// The name of a ggml tensor type, or "" for an unknown id.
llvm::StringRef ggmlTypeName(uint32_t type) {
  static const char *const names[] = {
      "F32",     "F16",    "Q4_0",   "Q4_1",    "",        "",
      "Q5_0",    "Q5_1",   "Q8_0",   "Q8_1",    "Q2_K",    "Q3_K",
      "Q4_K",    "Q5_K",   "Q6_K",   "Q8_K",    "IQ2_XXS", "IQ2_XS",
      "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",   "IQ2_S",   "IQ4_XS",
      "I8",      "I16",    "I32",    "I64",     "F64",     "IQ1_M",
      "BF16",    "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0",
      "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  return type < std::size(names) ? names[type] : "";
}

constexpr unsigned kMaxArrayDepth = 4;
constexpr uint64_t kMaxKeyLength = 65535;

class GgufCheckpoint : public SingleFileCheckpoint {
public:
  llvm::StringRef formatName() const override { return "gguf"; }

  static llvm::Expected<std::unique_ptr<Checkpoint>>
  create(std::unique_ptr<MappedFile> file);
};

/// Reads (or skips, for arrays) one value of `type`.
llvm::Error readValue(ByteReader &r, uint32_t type, const std::string &key,
                      GgufValue &out, unsigned depth) {
  out.type = type;
  auto what = [&] { return "value of '" + key + "'"; };
  switch (type) {
  case U8:
  case BOOL: {
    auto v = r.readU8(what());
    if (!v)
      return v.takeError();
    out.u = *v;
    return llvm::Error::success();
  }
  case I8: {
    auto v = r.readU8(what());
    if (!v)
      return v.takeError();
    out.i = static_cast<int8_t>(*v);
    return llvm::Error::success();
  }
  case U16: {
    auto v = r.readU16(what());
    if (!v)
      return v.takeError();
    out.u = *v;
    return llvm::Error::success();
  }
  case I16: {
    auto v = r.readU16(what());
    if (!v)
      return v.takeError();
    out.i = static_cast<int16_t>(*v);
    return llvm::Error::success();
  }
  case U32: {
    auto v = r.readU32(what());
    if (!v)
      return v.takeError();
    out.u = *v;
    return llvm::Error::success();
  }
  case I32: {
    auto v = r.readI32(what());
    if (!v)
      return v.takeError();
    out.i = *v;
    return llvm::Error::success();
  }
  case U64: {
    auto v = r.readU64(what());
    if (!v)
      return v.takeError();
    out.u = *v;
    return llvm::Error::success();
  }
  case I64: {
    auto v = r.readI64(what());
    if (!v)
      return v.takeError();
    out.i = *v;
    return llvm::Error::success();
  }
  case F32: {
    auto v = r.readF32(what());
    if (!v)
      return v.takeError();
    out.f = *v;
    return llvm::Error::success();
  }
  case F64: {
    auto v = r.readF64(what());
    if (!v)
      return v.takeError();
    out.f = *v;
    return llvm::Error::success();
  }
  case STRING: {
    auto v = r.readStringU64(what());
    if (!v)
      return v.takeError();
    out.s = std::move(*v);
    return llvm::Error::success();
  }
  case ARRAY: {
    if (depth >= kMaxArrayDepth)
      return r.error("arrays of '" + key + "' nest deeper than " +
                     llvm::Twine(kMaxArrayDepth) + " levels");
    auto elemType = r.readU32("array element type of '" + key + "'");
    if (!elemType)
      return elemType.takeError();
    auto count = r.readU64("array count of '" + key + "'");
    if (!count)
      return count.takeError();
    out.arrayType = *elemType;
    out.arrayCount = *count;
    static const unsigned fixedSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (*elemType > F64)
      return r.error("array '" + key + "' has unknown element type " +
                     llvm::Twine(*elemType));
    unsigned minSize = fixedSize[*elemType];
    if (minSize) {
      uint64_t bytes;
      if (!checkedMul(*count, minSize, bytes) || bytes > r.remaining())
        return r.error(llvm::formatv("array '{0}' of {1} elements does not "
                                     "fit in the {2} bytes that remain",
                                     key, *count, r.remaining()));
      return r.skip(bytes, "array '" + key + "'");
    }
    // Strings (>= 8 bytes each) or nested arrays (>= 12 bytes each).
    minSize = *elemType == STRING ? 8 : 12;
    if (*count > r.remaining() / minSize)
      return r.error(llvm::formatv("array '{0}' of {1} elements does not fit "
                                   "in the {2} bytes that remain",
                                   key, *count, r.remaining()));
    for (uint64_t k = 0; k < *count; ++k) {
      if (*elemType == STRING) {
        auto length = r.readU64("string length in array '" + key + "'");
        if (!length)
          return length.takeError();
        if (llvm::Error e = r.skip(*length, "string in array '" + key + "'"))
          return e;
      } else {
        GgufValue inner;
        if (llvm::Error e = readValue(r, ARRAY, key, inner, depth + 1))
          return e;
      }
    }
    return llvm::Error::success();
  }
  default:
    return r.error("metadata '" + key + "' has unknown value type " +
                   llvm::Twine(type));
  }
}

/// GGUF tensor name -> canonical name ("" when not a Llama weight).
std::string canonicalName(llvm::StringRef name) {
  static const std::pair<const char *, const char *> globals[] = {
      {"token_embd.weight", "tok_embeddings.weight"},
      {"output_norm.weight", "norm.weight"},
      {"output.weight", "output.weight"},
  };
  static const std::pair<const char *, const char *> suffixes[] = {
      {"attn_norm.weight", "attention_norm.weight"},
      {"attn_q.weight", "attention.wq.weight"},
      {"attn_k.weight", "attention.wk.weight"},
      {"attn_v.weight", "attention.wv.weight"},
      {"attn_output.weight", "attention.wo.weight"},
      {"ffn_norm.weight", "ffn_norm.weight"},
      {"ffn_gate.weight", "feed_forward.w1.weight"},
      {"ffn_down.weight", "feed_forward.w2.weight"},
      {"ffn_up.weight", "feed_forward.w3.weight"},
  };
  return canonicalTensorName(name, {globals, "blk.", suffixes});
}

llvm::Expected<std::unique_ptr<Checkpoint>>
GgufCheckpoint::create(std::unique_ptr<MappedFile> file) {
  const std::string &path = file->path();
  ByteReader r(file->bytes(), path);
  auto magic = r.readU32("GGUF magic");
  if (!magic)
    return magic.takeError();
  if (*magic != 0x46554747u) // "GGUF"
    return fileError(path, "not a GGUF file (bad magic)");
  auto version = r.readU32("GGUF version");
  if (!version)
    return version.takeError();
  if (*version != 3 && *version != 2)
    return fileError(path, "GGUF version " + llvm::Twine(*version) +
                               " is not supported (only 2 and 3)");
  auto tensorCount = r.readU64("tensor count");
  if (!tensorCount)
    return tensorCount.takeError();
  auto kvCount = r.readU64("metadata count");
  if (!kvCount)
    return kvCount.takeError();
  // Each metadata entry takes >= 13 bytes, each tensor info >= 24.
  if (*kvCount > r.remaining() / 13)
    return r.error(llvm::formatv("metadata count {0} cannot fit in the {1} "
                                 "bytes that remain",
                                 *kvCount, r.remaining()));
  if (*tensorCount > r.remaining() / 24)
    return r.error(llvm::formatv("tensor count {0} cannot fit in the {1} "
                                 "bytes that remain",
                                 *tensorCount, r.remaining()));

  std::map<std::string, GgufValue> meta;
  for (uint64_t k = 0; k < *kvCount; ++k) {
    auto key = r.readStringU64("metadata key", kMaxKeyLength);
    if (!key)
      return key.takeError();
    auto type = r.readU32("value type of '" + *key + "'");
    if (!type)
      return type.takeError();
    GgufValue value;
    if (llvm::Error e = readValue(r, *type, *key, value, 0))
      return std::move(e);
    if (!meta.emplace(*key, std::move(value)).second)
      return fileError(path, "duplicate metadata key '" + *key + "'");
  }

  auto ckpt = std::make_unique<GgufCheckpoint>();
  ckpt->path_ = path;
  std::vector<TensorInfo> &tensors = ckpt->tensors_;
  std::set<std::string> names;
  for (uint64_t k = 0; k < *tensorCount; ++k) {
    auto name = r.readStringU64("tensor name", kMaxKeyLength);
    if (!name)
      return name.takeError();
    auto nDims = r.readU32("n_dims of '" + *name + "'");
    if (!nDims)
      return nDims.takeError();
    if (*nDims == 0 || *nDims > 4)
      return r.error("tensor '" + *name + "' has " + llvm::Twine(*nDims) +
                     " dimensions (1 to 4 allowed)");
    TensorInfo t;
    t.name = *name;
    t.canonicalName = canonicalName(*name);
    t.file = path;
    std::vector<int64_t> ne;
    for (uint32_t d = 0; d < *nDims; ++d) {
      auto dim = r.readU64("dimension of '" + *name + "'");
      if (!dim)
        return dim.takeError();
      if (*dim > static_cast<uint64_t>(INT64_MAX))
        return r.error("tensor '" + *name + "' has dimension " +
                       llvm::Twine(*dim));
      ne.push_back(static_cast<int64_t>(*dim));
    }
    t.shape.assign(ne.rbegin(), ne.rend()); // row-major: ne0 is last
    auto type = r.readU32("type of '" + *name + "'");
    if (!type)
      return type.takeError();
    auto offset = r.readU64("offset of '" + *name + "'");
    if (!offset)
      return offset.takeError();
    llvm::StringRef typeName = ggmlTypeName(*type);
    if (*type == 0)
      t.dtype = DType::F32;
    else if (*type == 1)
      t.dtype = DType::F16;
    else if (*type == 30)
      t.dtype = DType::BF16;
    else if (typeName.empty())
      return fileError(path, "tensor '" + *name +
                                 "': unknown GGUF tensor type " +
                                 llvm::Twine(*type));
    else if (*type >= 24 && *type <= 28)
      return fileError(path, "tensor '" + *name + "': GGUF tensor type " +
                                 llvm::Twine(*type) + " (" + typeName +
                                 ") is not supported; only F32, F16 and "
                                 "BF16");
    else
      return fileError(path, "tensor '" + *name +
                                 "': quantized GGUF tensor type " +
                                 llvm::Twine(*type) + " (" + typeName +
                                 ") is not supported; convert to F16/F32 "
                                 "first");
    uint64_t count = 0;
    if (!checkedProduct(t.shape, count) ||
        !checkedMul(count, dtypeSize(t.dtype), t.size))
      return fileError(path, "tensor '" + *name + "': size overflows");
    t.offset = *offset; // relative for now
    if (!names.insert(t.name).second)
      return fileError(path, "duplicate tensor '" + t.name + "'");
    tensors.push_back(std::move(t));
  }

  uint64_t alignment = 32;
  if (auto it = meta.find("general.alignment"); it != meta.end()) {
    std::optional<int64_t> a = it->second.asInt();
    if (!a || *a <= 0 || *a > (1 << 30) || (*a & (*a - 1)) != 0)
      return fileError(path, "general.alignment must be a power of two");
    alignment = static_cast<uint64_t>(*a);
  }
  uint64_t dataStart;
  if (!checkedAlignTo(r.position(), alignment, dataStart))
    return fileError(path, "data section offset overflows");
  for (TensorInfo &t : tensors) {
    if (t.offset % alignment != 0)
      return fileError(path, llvm::formatv("tensor '{0}': offset {1} is not "
                                           "a multiple of the alignment {2}",
                                           t.name, t.offset, alignment));
    uint64_t absolute;
    if (!checkedAdd(dataStart, t.offset, absolute) ||
        !file->contains(absolute, t.size))
      return fileError(path, llvm::formatv("tensor '{0}': {1} bytes at data "
                                           "offset {2} extend past the end "
                                           "of the file ({3} bytes)",
                                           t.name, t.size, t.offset,
                                           file->size()));
    t.offset = absolute;
  }
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : tensors)
    if (t.size)
      byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->offset < b->offset;
            });
  for (size_t k = 1; k < byOffset.size(); ++k)
    if (byOffset[k]->offset < byOffset[k - 1]->offset + byOffset[k - 1]->size)
      return fileError(path, "tensor '" + byOffset[k]->name +
                                 "' overlaps tensor '" +
                                 byOffset[k - 1]->name + "'");

  // The config.
  auto arch = meta.find("general.architecture");
  if (arch == meta.end() || arch->second.type != STRING)
    return fileError(path, "missing string general.architecture");
  if (arch->second.s != "llama")
    return fileError(path, "general.architecture is '" + arch->second.s +
                               "'; only 'llama' is supported");
  LlamaConfig &c = ckpt->config_;
  c.ropeStyle = RopeStyle::Adjacent;
  auto getInt = [&](const std::string &key, int64_t &out,
                    std::optional<int64_t> fallback) -> llvm::Error {
    auto it = meta.find(key);
    if (it == meta.end()) {
      if (!fallback)
        return fileError(path, "missing metadata '" + key + "'");
      out = *fallback;
      return llvm::Error::success();
    }
    std::optional<int64_t> v = it->second.asInt();
    if (!v)
      return fileError(path, "metadata '" + key + "' is not an integer");
    out = *v;
    return llvm::Error::success();
  };
  auto getFloat = [&](const std::string &key, float &out) -> llvm::Error {
    auto it = meta.find(key);
    if (it == meta.end())
      return llvm::Error::success();
    std::optional<double> v = it->second.asFloat();
    if (!v)
      return fileError(path, "metadata '" + key + "' is not a number");
    out = static_cast<float>(*v);
    return llvm::Error::success();
  };
  if (llvm::Error e = getInt("llama.embedding_length", c.dim, std::nullopt))
    return std::move(e);
  if (llvm::Error e =
          getInt("llama.feed_forward_length", c.hiddenDim, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("llama.block_count", c.nLayers, std::nullopt))
    return std::move(e);
  if (llvm::Error e =
          getInt("llama.attention.head_count", c.nHeads, std::nullopt))
    return std::move(e);
  if (llvm::Error e =
          getInt("llama.attention.head_count_kv", c.nKvHeads, c.nHeads))
    return std::move(e);
  if (llvm::Error e = getInt("llama.context_length", c.maxSeqLen, 2048))
    return std::move(e);
  c.rmsEps = 1e-5f;
  c.ropeTheta = 10000.0f;
  if (llvm::Error e = getFloat("llama.attention.layer_norm_rms_epsilon",
                               c.rmsEps))
    return std::move(e);
  if (llvm::Error e = getFloat("llama.rope.freq_base", c.ropeTheta))
    return std::move(e);
  int64_t experts = 0;
  if (llvm::Error e = getInt("llama.expert_count", experts, 0))
    return std::move(e);
  if (experts > 0)
    return fileError(path, "mixture-of-experts llama models are not "
                           "supported");
  // Vocabulary: the embedding table's rows, else the tokenizer's size.
  const TensorInfo *embed = ckpt->find("tok_embeddings.weight");
  if (embed && embed->shape.size() == 2)
    c.vocabSize = embed->shape[0];
  else if (auto it = meta.find("tokenizer.ggml.tokens");
           it != meta.end() && it->second.type == ARRAY)
    c.vocabSize = static_cast<int64_t>(
        std::min<uint64_t>(it->second.arrayCount, INT64_MAX));
  else if (llvm::Error e = getInt("llama.vocab_size", c.vocabSize,
                                  std::nullopt))
    return std::move(e);
  c.tiedEmbeddings = ckpt->find("output.weight") == nullptr;
  if (llvm::Error e = validateConfig(c))
    return fileError(path, llvm::toString(std::move(e)));
  int64_t ropeDims = 0;
  if (llvm::Error e = getInt("llama.rope.dimension_count", ropeDims,
                             c.headDim()))
    return std::move(e);
  if (ropeDims != c.headDim())
    return fileError(path, llvm::formatv("llama.rope.dimension_count {0} "
                                         "differs from head_dim {1}; partial "
                                         "rotary embeddings are not supported",
                                         ropeDims, c.headDim()));
  ckpt->file_ = std::move(file);
  return std::unique_ptr<Checkpoint>(std::move(ckpt));
}

} // namespace

llvm::Expected<std::unique_ptr<Checkpoint>>
mixq::openGguf(std::unique_ptr<MappedFile> file) {
  return GgufCheckpoint::create(std::move(file));
}
