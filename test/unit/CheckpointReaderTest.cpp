//===- CheckpointReaderTest.cpp - llama2.c, safetensors and GGUF readers --===//
//
// Each test writes tiny checkpoints into a temporary directory with the small
// writers below, reads them back through Checkpoint::open and compares the
// config and every value. The malformed variants (truncation at every byte,
// absurd counts and lengths, bad dtypes, overlapping or out-of-file ranges,
// quantized GGUF types) must each give an llvm::Error naming the file and the
// reason, never a crash. A last test reads the real stories15M.bin when it is
// present and skips otherwise.
//
//===----------------------------------------------------------------------===//
#include "model/Checkpoint.h"
#include "model/Float16.h"
#include "model/MappedFile.h"
#include "model/Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

using namespace mixq;

namespace {

//===----------------------------------------------------------------------===//
// Helpers: bytes, files, a reference model
//===----------------------------------------------------------------------===//

struct Bytes {
  std::string b;
  Bytes &u8(uint8_t v) {
    b.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes &u16(uint16_t v) {
    for (int i = 0; i < 2; ++i)
      u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes &u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes &u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes &i32(int32_t v) { return u32(static_cast<uint32_t>(v)); }
  Bytes &f32(float v) { return u32(floatBits(v)); }
  Bytes &raw(const std::string &s) {
    b += s;
    return *this;
  }
  Bytes &str64(const std::string &s) { return u64(s.size()).raw(s); }
  void padTo(size_t alignment) {
    while (b.size() % alignment)
      b.push_back(0);
  }
};

void patchU64(std::string &b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    b[at + i] = static_cast<char>(v >> (8 * i));
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string encode(DType dtype, const std::vector<float> &values) {
  Bytes b;
  for (float v : values) {
    if (dtype == DType::F32)
      b.f32(v);
    else if (dtype == DType::F16)
      b.u16(floatToHalf(v));
    else
      b.u16(floatToBf16(v));
  }
  return b.b;
}

/// What a value becomes after storing it as `dtype` and loading it back.
float roundTrip(DType dtype, float v) {
  if (dtype == DType::F16)
    return halfToFloat(floatToHalf(v));
  if (dtype == DType::BF16)
    return bf16ToFloat(floatToBf16(v));
  return v;
}

struct RefTensor {
  std::string canonical;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// dim 8, hidden 12, 2 layers, 4 heads, 2 KV heads (GQA), vocab 10, seq 6.
LlamaConfig tinyConfig(bool tied) {
  LlamaConfig c;
  c.dim = 8;
  c.hiddenDim = 12;
  c.nLayers = 2;
  c.nHeads = 4;
  c.nKvHeads = 2;
  c.vocabSize = 10;
  c.maxSeqLen = 6;
  c.tiedEmbeddings = tied;
  return c;
}

/// Every canonical tensor of `c` with distinct, deterministic values.
std::vector<RefTensor> makeModel(const LlamaConfig &c) {
  std::vector<RefTensor> model;
  int seed = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool norm) {
    RefTensor t{std::move(name), shape, {}};
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    ++seed;
    for (int64_t i = 0; i < n; ++i) {
      float v = 0.5f * std::sin(0.7f * seed + 0.31f * static_cast<float>(i));
      t.values.push_back(norm ? 1.0f + 0.1f * v : v);
    }
    model.push_back(std::move(t));
  };
  int64_t q = c.nHeads * c.headDim(), kv = c.kvDim();
  add("tok_embeddings.weight", {c.vocabSize, c.dim}, false);
  for (int64_t l = 0; l < c.nLayers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    add(p + "attention_norm.weight", {c.dim}, true);
    add(p + "attention.wq.weight", {q, c.dim}, false);
    add(p + "attention.wk.weight", {kv, c.dim}, false);
    add(p + "attention.wv.weight", {kv, c.dim}, false);
    add(p + "attention.wo.weight", {c.dim, q}, false);
    add(p + "ffn_norm.weight", {c.dim}, true);
    add(p + "feed_forward.w1.weight", {c.hiddenDim, c.dim}, false);
    add(p + "feed_forward.w2.weight", {c.dim, c.hiddenDim}, false);
    add(p + "feed_forward.w3.weight", {c.hiddenDim, c.dim}, false);
  }
  add("norm.weight", {c.dim}, true);
  if (!c.tiedEmbeddings)
    add("output.weight", {c.vocabSize, c.dim}, false);
  return model;
}

const RefTensor &ref(const std::vector<RefTensor> &model,
                     const std::string &name) {
  for (const RefTensor &t : model)
    if (t.canonical == name)
      return t;
  static RefTensor none;
  ADD_FAILURE() << "no reference tensor " << name;
  return none;
}

/// Loads all weights and compares them with the reference after `dtype`.
void expectWeights(const Checkpoint &ckpt, const std::vector<RefTensor> &model,
                   DType dtype) {
  auto w = loadLlamaWeights(ckpt);
  ASSERT_TRUE(static_cast<bool>(w)) << llvm::toString(w.takeError());
  auto same = [&](const std::vector<float> &got, const std::string &name) {
    const RefTensor &r = ref(model, name);
    ASSERT_EQ(got.size(), r.values.size()) << name;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(floatBits(got[i]), floatBits(roundTrip(dtype, r.values[i])))
          << name << "[" << i << "]";
  };
  const LlamaConfig &c = w->config;
  same(w->tokEmbeddings, "tok_embeddings.weight");
  ASSERT_EQ(w->layers.size(), static_cast<size_t>(c.nLayers));
  for (int64_t l = 0; l < c.nLayers; ++l) {
    std::string p = "layers." + std::to_string(l) + ".";
    const LayerWeights &lw = w->layers[l];
    same(lw.attentionNorm, p + "attention_norm.weight");
    same(lw.wq, p + "attention.wq.weight");
    same(lw.wk, p + "attention.wk.weight");
    same(lw.wv, p + "attention.wv.weight");
    same(lw.wo, p + "attention.wo.weight");
    same(lw.ffnNorm, p + "ffn_norm.weight");
    same(lw.w1, p + "feed_forward.w1.weight");
    same(lw.w2, p + "feed_forward.w2.weight");
    same(lw.w3, p + "feed_forward.w3.weight");
  }
  same(w->finalNorm, "norm.weight");
  if (c.tiedEmbeddings) {
    EXPECT_TRUE(w->output.empty());
    EXPECT_EQ(&w->classifier(), &w->tokEmbeddings);
  } else {
    same(w->output, "output.weight");
    EXPECT_EQ(&w->classifier(), &w->output);
  }
}

void expectConfig(const LlamaConfig &got, const LlamaConfig &want) {
  EXPECT_EQ(got.dim, want.dim);
  EXPECT_EQ(got.hiddenDim, want.hiddenDim);
  EXPECT_EQ(got.nLayers, want.nLayers);
  EXPECT_EQ(got.nHeads, want.nHeads);
  EXPECT_EQ(got.nKvHeads, want.nKvHeads);
  EXPECT_EQ(got.vocabSize, want.vocabSize);
  EXPECT_EQ(got.maxSeqLen, want.maxSeqLen);
  EXPECT_EQ(got.tiedEmbeddings, want.tiedEmbeddings);
  EXPECT_EQ(got.ropeStyle, want.ropeStyle);
  EXPECT_FLOAT_EQ(got.rmsEps, want.rmsEps);
  EXPECT_FLOAT_EQ(got.ropeTheta, want.ropeTheta);
}

/// The error message of opening `path` ("" when it opened).
std::string openError(const std::string &path) {
  auto ckpt = Checkpoint::open(path);
  if (ckpt)
    return "";
  return llvm::toString(ckpt.takeError());
}

#define EXPECT_OPEN_FAILS(path, fileInMessage, reason)                         \
  do {                                                                         \
    std::string message_ = openError(path);                                    \
    EXPECT_FALSE(message_.empty()) << "opened: " << (path);                    \
    EXPECT_NE(message_.find(fileInMessage), std::string::npos) << message_;    \
    EXPECT_NE(message_.find(reason), std::string::npos) << message_;           \
  } while (0)

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> d;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mixq-ckpt", d));
    dir = std::string(d);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  std::string dir;
};

//===----------------------------------------------------------------------===//
// Writers
//===----------------------------------------------------------------------===//

std::string llama2cFile(const LlamaConfig &c,
                        const std::vector<RefTensor> &model) {
  Bytes b;
  b.i32(c.dim).i32(c.hiddenDim).i32(c.nLayers).i32(c.nHeads).i32(c.nKvHeads);
  b.i32(c.tiedEmbeddings ? c.vocabSize : -c.vocabSize).i32(c.maxSeqLen);
  auto put = [&](const std::string &name) {
    b.raw(encode(DType::F32, ref(model, name).values));
  };
  put("tok_embeddings.weight");
  for (const char *suffix :
       {"attention_norm.weight", "attention.wq.weight", "attention.wk.weight",
        "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight",
        "feed_forward.w1.weight", "feed_forward.w2.weight",
        "feed_forward.w3.weight"})
    for (int64_t l = 0; l < c.nLayers; ++l)
      put("layers." + std::to_string(l) + "." + suffix);
  put("norm.weight");
  for (int64_t i = 0; i < c.maxSeqLen * c.headDim(); ++i) // freq_cis re+im
    b.f32(0.25f);
  if (!c.tiedEmbeddings)
    put("output.weight");
  return b.b;
}

std::string hfName(const std::string &canonical) {
  static const std::map<std::string, std::string> fixed = {
      {"tok_embeddings.weight", "model.embed_tokens.weight"},
      {"norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  if (fixed.count(canonical))
    return fixed.at(canonical);
  static const std::map<std::string, std::string> suffixes = {
      {"attention_norm.weight", "input_layernorm.weight"},
      {"attention.wq.weight", "self_attn.q_proj.weight"},
      {"attention.wk.weight", "self_attn.k_proj.weight"},
      {"attention.wv.weight", "self_attn.v_proj.weight"},
      {"attention.wo.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"feed_forward.w1.weight", "mlp.gate_proj.weight"},
      {"feed_forward.w2.weight", "mlp.down_proj.weight"},
      {"feed_forward.w3.weight", "mlp.up_proj.weight"}};
  llvm::StringRef rest(canonical);
  rest.consume_front("layers.");
  auto [layer, suffix] = rest.split('.');
  return "model.layers." + layer.str() + "." + suffixes.at(suffix.str());
}

std::string ggufName(const std::string &canonical) {
  static const std::map<std::string, std::string> fixed = {
      {"tok_embeddings.weight", "token_embd.weight"},
      {"norm.weight", "output_norm.weight"},
      {"output.weight", "output.weight"}};
  if (fixed.count(canonical))
    return fixed.at(canonical);
  static const std::map<std::string, std::string> suffixes = {
      {"attention_norm.weight", "attn_norm.weight"},
      {"attention.wq.weight", "attn_q.weight"},
      {"attention.wk.weight", "attn_k.weight"},
      {"attention.wv.weight", "attn_v.weight"},
      {"attention.wo.weight", "attn_output.weight"},
      {"ffn_norm.weight", "ffn_norm.weight"},
      {"feed_forward.w1.weight", "ffn_gate.weight"},
      {"feed_forward.w2.weight", "ffn_down.weight"},
      {"feed_forward.w3.weight", "ffn_up.weight"}};
  llvm::StringRef rest(canonical);
  rest.consume_front("layers.");
  auto [layer, suffix] = rest.split('.');
  return "blk." + layer.str() + "." + suffixes.at(suffix.str());
}

struct StTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
  std::optional<std::pair<uint64_t, uint64_t>> offsets; ///< override
};

std::string safetensorsFile(const std::vector<StTensor> &tensors,
                            const std::map<std::string, std::string> &meta =
                                {{"format", "pt"}}) {
  llvm::json::Object header;
  std::string data;
  for (const StTensor &t : tensors) {
    uint64_t begin = data.size(), end = data.size() + t.bytes.size();
    if (t.offsets) {
      begin = t.offsets->first;
      end = t.offsets->second;
    }
    data += t.bytes;
    llvm::json::Array shape;
    for (int64_t d : t.shape)
      shape.push_back(d);
    header[t.name] = llvm::json::Object{
        {"dtype", t.dtype},
        {"shape", std::move(shape)},
        {"data_offsets", llvm::json::Array{static_cast<int64_t>(begin),
                                           static_cast<int64_t>(end)}}};
  }
  llvm::json::Object metadata;
  for (const auto &[k, v] : meta)
    metadata[k] = v;
  if (!meta.empty())
    header["__metadata__"] = std::move(metadata);
  std::string text =
      llvm::formatv("{0}", llvm::json::Value(std::move(header))).str();
  while ((8 + text.size()) % 8)
    text += ' ';
  Bytes b;
  b.u64(text.size()).raw(text).raw(data);
  return b.b;
}

std::vector<StTensor> hfTensors(const std::vector<RefTensor> &model,
                                DType dtype) {
  std::vector<StTensor> out;
  for (const RefTensor &t : model)
    out.push_back({hfName(t.canonical), std::string(dtypeName(dtype)),
                   t.shape, encode(dtype, t.values), std::nullopt});
  return out;
}

std::string hfConfig(const LlamaConfig &c) {
  llvm::json::Object o{{"architectures", llvm::json::Array{"LlamaForCausalLM"}},
                       {"model_type", "llama"},
                       {"hidden_size", c.dim},
                       {"intermediate_size", c.hiddenDim},
                       {"num_hidden_layers", c.nLayers},
                       {"num_attention_heads", c.nHeads},
                       {"num_key_value_heads", c.nKvHeads},
                       {"vocab_size", c.vocabSize},
                       {"max_position_embeddings", c.maxSeqLen},
                       {"rms_norm_eps", static_cast<double>(c.rmsEps)},
                       {"rope_theta", static_cast<double>(c.ropeTheta)},
                       {"rope_scaling", nullptr},
                       {"hidden_act", "silu"},
                       {"tie_word_embeddings", c.tiedEmbeddings}};
  return llvm::formatv("{0:2}", llvm::json::Value(std::move(o))).str();
}

struct GgufTensor {
  std::string name;
  uint32_t type; ///< 0 F32, 1 F16, 30 BF16, others quantized
  std::vector<int64_t> shape; ///< row-major (written reversed)
  std::string bytes;
  std::optional<uint64_t> offset; ///< override
};

struct GgufFile {
  std::vector<std::string> kvs; ///< encoded key + type + value
  std::vector<GgufTensor> tensors;
  uint32_t alignment = 32;

  void kvString(const std::string &key, const std::string &v) {
    kvs.push_back(Bytes().str64(key).u32(8).str64(v).b);
  }
  void kvU32(const std::string &key, uint32_t v) {
    kvs.push_back(Bytes().str64(key).u32(4).u32(v).b);
  }
  void kvF32(const std::string &key, float v) {
    kvs.push_back(Bytes().str64(key).u32(6).f32(v).b);
  }
  std::string build() const {
    Bytes b;
    b.raw("GGUF").u32(3).u64(tensors.size()).u64(kvs.size());
    for (const std::string &kv : kvs)
      b.raw(kv);
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const GgufTensor &t : tensors) {
      offsets.push_back(t.offset ? *t.offset : offset);
      offset += t.bytes.size();
      offset = (offset + alignment - 1) / alignment * alignment;
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensor &t = tensors[i];
      b.str64(t.name).u32(static_cast<uint32_t>(t.shape.size()));
      for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
        b.u64(static_cast<uint64_t>(*it));
      b.u32(t.type).u64(offsets[i]);
    }
    b.padTo(alignment);
    for (const GgufTensor &t : tensors) {
      b.raw(t.bytes);
      b.padTo(alignment);
    }
    return b.b;
  }
};

GgufFile ggufModel(const LlamaConfig &c, const std::vector<RefTensor> &model,
                   DType dtype) {
  GgufFile g;
  g.kvString("general.architecture", "llama");
  g.kvString("general.name", "tiny");
  g.kvU32("llama.embedding_length", c.dim);
  g.kvU32("llama.feed_forward_length", c.hiddenDim);
  g.kvU32("llama.block_count", c.nLayers);
  g.kvU32("llama.attention.head_count", c.nHeads);
  g.kvU32("llama.attention.head_count_kv", c.nKvHeads);
  g.kvU32("llama.context_length", c.maxSeqLen);
  g.kvU32("llama.rope.dimension_count", c.headDim());
  g.kvF32("llama.attention.layer_norm_rms_epsilon", c.rmsEps);
  g.kvF32("llama.rope.freq_base", c.ropeTheta);
  // Arrays of strings, of scalars and of arrays, skipped by the reader.
  Bytes tokens;
  tokens.str64("tokenizer.ggml.tokens").u32(9).u32(8).u64(c.vocabSize);
  for (int64_t i = 0; i < c.vocabSize; ++i)
    tokens.str64("tok" + std::to_string(i));
  g.kvs.push_back(tokens.b);
  Bytes scores;
  scores.str64("tokenizer.ggml.scores").u32(9).u32(6).u64(c.vocabSize);
  for (int64_t i = 0; i < c.vocabSize; ++i)
    scores.f32(-static_cast<float>(i));
  g.kvs.push_back(scores.b);
  g.kvs.push_back(
      Bytes().str64("test.nested").u32(9).u32(9).u64(1).u32(0).u64(2).u8(1).u8(2).b);
  g.kvs.push_back(Bytes().str64("test.u64").u32(10).u64(7).b);
  g.kvs.push_back(Bytes().str64("test.bool").u32(7).u8(1).b);
  g.kvs.push_back(Bytes().str64("test.f64").u32(12).u64(0).b);
  uint32_t type = dtype == DType::F32 ? 0 : dtype == DType::F16 ? 1 : 30;
  for (const RefTensor &t : model)
    g.tensors.push_back({ggufName(t.canonical),
                         t.canonical.find("norm") != std::string::npos ? 0u
                                                                       : type,
                         t.shape, encode(t.canonical.find("norm") !=
                                                 std::string::npos
                                             ? DType::F32
                                             : dtype,
                                         t.values),
                         std::nullopt});
  return g;
}

//===----------------------------------------------------------------------===//
// Float16
//===----------------------------------------------------------------------===//

TEST(Float16, KnownValues) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // tie rounds to even = inf
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalf(0x1p-14f), 0x0400);  // smallest normal
  EXPECT_EQ(floatToHalf(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000);  // tie to even: zero
  EXPECT_EQ(floatToHalf(0x1.8p-25f), 0x0001);
  EXPECT_EQ(floatToHalf(0x1.8p-24f), 0x0002); // 1.5 ulp: tie to even (2)
  EXPECT_EQ(floatToHalf(0x1.4p-24f), 0x0001);
  EXPECT_EQ(floatToHalf(0x1.ff8p-15f), 0x03ff); // largest subnormal
  EXPECT_EQ(floatToHalf(0x1.ffap-15f), 0x03ff);
  EXPECT_EQ(floatToHalf(0x1.ffcp-15f), 0x0400); // tie: up into the normals
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00); // tie to even
  EXPECT_EQ(floatToHalf(1.0f + 0x1.8p-10f), 0x3c02);
  EXPECT_EQ(floatToHalf(bitsToFloat(0x3f801001u)), 0x3c01); // above the tie
  uint16_t nan = floatToHalf(NAN);
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // A NaN whose payload lives only in the low bits must stay a NaN.
  EXPECT_NE(floatToHalf(bitsToFloat(0x7f800001u)) & 0x03ff, 0);

  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(halfToFloat(0x03ff), 0x1.ff8p-15f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(floatBits(halfToFloat(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
}

TEST(Float16, HalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = halfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(f)))) << h;
      continue;
    }
    ASSERT_EQ(floatToHalf(f), h) << std::hex << h;
  }
}

TEST(Float16, HalfRoundsToNearest) {
  // Every midpoint between consecutive finite positive halves rounds to the
  // even neighbour; just above it rounds up, just below rounds down.
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    float lo = halfToFloat(static_cast<uint16_t>(h));
    float hi = halfToFloat(static_cast<uint16_t>(h + 1));
    float mid = lo + (hi - lo) / 2; // exact in fp32
    uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1)
                            : static_cast<uint16_t>(h);
    ASSERT_EQ(floatToHalf(mid), even) << std::hex << h;
    ASSERT_EQ(floatToHalf(std::nextafter(mid, 1e9f)), h + 1) << h;
    ASSERT_EQ(floatToHalf(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(floatToHalf(-mid), 0x8000 | even) << h;
  }
}

TEST(Float16, BFloat16) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f808000u)), 0x3f80); // tie to even
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f818000u)), 0x3f82);
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f808001u)), 0x3f81);
  EXPECT_EQ(floatToBf16(bitsToFloat(0x7f7fffffu)), 0x7f80); // max -> inf
  EXPECT_EQ(floatToBf16(-INFINITY), 0xff80);
  EXPECT_EQ(floatToBf16(bitsToFloat(0x00000001u)), 0x0000); // subnormal
  EXPECT_EQ(floatToBf16(bitsToFloat(0x00018000u)), 0x0002);
  uint16_t nan = floatToBf16(bitsToFloat(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16ToFloat(nan)));
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0x0001), bitsToFloat(0x00010000u));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float f = bf16ToFloat(static_cast<uint16_t>(b));
    if (std::isnan(f))
      ASSERT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f))));
    else
      ASSERT_EQ(floatToBf16(f), b) << std::hex << b;
  }
}

//===----------------------------------------------------------------------===//
// MappedFile, ByteReader, LlamaConfig
//===----------------------------------------------------------------------===//

TEST_F(CheckpointTest, MappedFileRanges) {
  writeFile(path("f.bin"), "0123456789");
  auto f = MappedFile::open(path("f.bin"));
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  EXPECT_EQ((*f)->size(), 10u);
  auto ok = (*f)->range(2, 8, "x");
  ASSERT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(ok->front(), '2');
  for (auto [offset, length] :
       std::vector<std::pair<uint64_t, uint64_t>>{{2, 9},
                                                  {11, 0},
                                                  {UINT64_MAX, 2},
                                                  {2, UINT64_MAX}}) {
    auto bad = (*f)->range(offset, length, "thing");
    ASSERT_FALSE(static_cast<bool>(bad));
    std::string m = llvm::toString(bad.takeError());
    EXPECT_NE(m.find(path("f.bin")), std::string::npos) << m;
    EXPECT_NE(m.find("thing"), std::string::npos) << m;
  }
  auto missing = MappedFile::open(path("missing.bin"));
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("missing.bin"),
            std::string::npos);
}

TEST(ByteReader, BoundsAndStrings) {
  Bytes b;
  b.u32(0xdeadbeef).u64(5).raw("hello").u64(uint64_t(1) << 63).raw("x");
  llvm::ArrayRef<uint8_t> data(reinterpret_cast<const uint8_t *>(b.b.data()),
                               b.b.size());
  ByteReader r(data, "mem.bin");
  EXPECT_EQ(*r.readU32(), 0xdeadbeefu);
  auto s = r.readStringU64("greeting");
  ASSERT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(*s, "hello");
  auto huge = r.readStringU64("name");
  ASSERT_FALSE(static_cast<bool>(huge));
  std::string m = llvm::toString(huge.takeError());
  EXPECT_NE(m.find("mem.bin"), std::string::npos) << m;
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  EXPECT_EQ(*r.readU8(), 'x');
  EXPECT_TRUE(r.atEnd());
  EXPECT_FALSE(static_cast<bool>(r.readU64()));
  ByteReader r2(data, "mem.bin");
  ASSERT_TRUE(static_cast<bool>(r2.readU32()));
  auto limited = r2.readStringU64("key", 4);
  ASSERT_FALSE(static_cast<bool>(limited));
  EXPECT_NE(llvm::toString(limited.takeError()).find("limit"),
            std::string::npos);
}

TEST(LlamaConfig, ValidateAndJSON) {
  LlamaConfig c = tinyConfig(true);
  EXPECT_FALSE(static_cast<bool>(validateConfig(c)));
  auto back = configFromJSON(configToJSON(c));
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  expectConfig(*back, c);
  c.ropeStyle = RopeStyle::Half;
  c.tiedEmbeddings = false;
  c.ropeTheta = 500000.0f;
  back = configFromJSON(configToJSON(c));
  ASSERT_TRUE(static_cast<bool>(back));
  expectConfig(*back, c);

  auto rejects = [](LlamaConfig bad, const char *what) {
    llvm::Error e = validateConfig(bad);
    ASSERT_TRUE(static_cast<bool>(e)) << what;
    std::string m = llvm::toString(std::move(e));
    EXPECT_NE(m.find(what), std::string::npos) << m;
  };
  LlamaConfig bad = tinyConfig(true);
  bad.nKvHeads = 3;
  rejects(bad, "n_kv_heads");
  bad = tinyConfig(true);
  bad.nHeads = 3;
  rejects(bad, "dim 8 is not a multiple");
  bad = tinyConfig(true);
  bad.nHeads = 8; // head_dim 1
  bad.nKvHeads = 8;
  rejects(bad, "odd");
  bad = tinyConfig(true);
  bad.vocabSize = -5;
  rejects(bad, "vocab_size");
  bad = tinyConfig(true);
  bad.dim = int64_t(1) << 40;
  rejects(bad, "limit");
  bad = tinyConfig(true);
  bad.rmsEps = NAN;
  rejects(bad, "rms_eps");
  EXPECT_FALSE(static_cast<bool>(configFromJSON(llvm::json::Value(3))));
  llvm::consumeError(configFromJSON(llvm::json::Value(3)).takeError());
  auto missing = configFromJSON(llvm::json::Object{{"dim", 8}});
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("hidden_dim"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// llama2.c
//===----------------------------------------------------------------------===//

TEST_F(CheckpointTest, Llama2cTiedGQA) {
  LlamaConfig c = tinyConfig(/*tied=*/true);
  auto model = makeModel(c);
  writeFile(path("tiny.bin"), llama2cFile(c, model));
  auto ckpt = Checkpoint::open(path("tiny.bin"));
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  EXPECT_EQ((*ckpt)->formatName(), "llama2c");
  expectConfig((*ckpt)->config(), c);
  // 1 + 9 per layer + norm + 2 freq_cis tables.
  EXPECT_EQ((*ckpt)->tensors().size(), 1u + 9 * 2 + 1 + 2);
  const TensorInfo *wk = (*ckpt)->find("layers.1.attention.wk.weight");
  ASSERT_NE(wk, nullptr);
  EXPECT_EQ(wk->name, "wk[1]");
  EXPECT_EQ(wk->shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(wk->size, 4u * 8 * 4);
  EXPECT_EQ((*ckpt)->find("output.weight"), nullptr);
  EXPECT_EQ((*ckpt)->find(""), nullptr);
  expectWeights(**ckpt, model, DType::F32);
  auto one = (*ckpt)->loadF32("norm.weight");
  ASSERT_TRUE(static_cast<bool>(one));
  EXPECT_EQ(*one, ref(model, "norm.weight").values);
  auto none = (*ckpt)->loadF32("nope");
  ASSERT_FALSE(static_cast<bool>(none));
  EXPECT_NE(llvm::toString(none.takeError()).find("nope"), std::string::npos);
}

TEST_F(CheckpointTest, NonFiniteWeightsAreRefused) {
  LlamaConfig c = tinyConfig(/*tied=*/true);
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    auto model = makeModel(c);
    for (RefTensor &t : model)
      if (t.canonical == "layers.1.feed_forward.w2.weight")
        t.values[5] = bad;
    writeFile(path("bad.bin"), llama2cFile(c, model));
    auto ckpt = Checkpoint::open(path("bad.bin"));
    ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
    auto weights = loadLlamaWeights(**ckpt);
    ASSERT_FALSE(static_cast<bool>(weights));
    std::string message = llvm::toString(weights.takeError());
    EXPECT_NE(message.find(path("bad.bin")), std::string::npos) << message;
    EXPECT_NE(message.find("w2[1]"), std::string::npos) << message;
    EXPECT_NE(message.find(std::isnan(bad) ? "NaN" : "infinite"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("element 5"), std::string::npos) << message;
  }
}

TEST_F(CheckpointTest, Llama2cUntied) {
  LlamaConfig c = tinyConfig(/*tied=*/false);
  auto model = makeModel(c);
  writeFile(path("tiny.bin"), llama2cFile(c, model));
  auto ckpt = Checkpoint::open(path("tiny.bin"));
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  expectConfig((*ckpt)->config(), c);
  ASSERT_NE((*ckpt)->find("output.weight"), nullptr);
  EXPECT_EQ((*ckpt)->find("output.weight")->name, "wcls");
  expectWeights(**ckpt, model, DType::F32);
}

TEST_F(CheckpointTest, Llama2cWith123LayersIsNotSafetensors) {
  // n_layers = 123 puts '{' at byte 8, where safetensors JSON starts.
  LlamaConfig c = tinyConfig(true);
  c.nLayers = 123;
  auto model = makeModel(c);
  writeFile(path("deep.bin"), llama2cFile(c, model));
  auto ckpt = Checkpoint::open(path("deep.bin"));
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  EXPECT_EQ((*ckpt)->formatName(), "llama2c");
  EXPECT_EQ((*ckpt)->config().nLayers, 123);
  expectWeights(**ckpt, model, DType::F32);
}

TEST_F(CheckpointTest, Llama2cSizeMismatch) {
  LlamaConfig c = tinyConfig(true);
  std::string good = llama2cFile(c, makeModel(c));
  std::string expected = std::to_string(good.size());
  writeFile(path("short.bin"), good.substr(0, good.size() - 4));
  EXPECT_OPEN_FAILS(path("short.bin"), path("short.bin"), expected);
  EXPECT_OPEN_FAILS(path("short.bin"), path("short.bin"),
                    std::to_string(good.size() - 4));
  writeFile(path("long.bin"), good + "x");
  EXPECT_OPEN_FAILS(path("long.bin"), path("long.bin"), "does not match");
  // An untied header on a tied file is a size mismatch too.
  std::string flipped = good;
  flipped[20] = static_cast<char>(-c.vocabSize);
  flipped[21] = flipped[22] = flipped[23] = static_cast<char>(0xff);
  writeFile(path("flipped.bin"), flipped);
  EXPECT_OPEN_FAILS(path("flipped.bin"), path("flipped.bin"), "unshared");
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); n += 7) {
    writeFile(path("cut.bin"), good.substr(0, n));
    EXPECT_FALSE(openError(path("cut.bin")).empty()) << n;
  }
}

TEST_F(CheckpointTest, Llama2cBadHeaders) {
  auto header = [](std::vector<int32_t> h) {
    Bytes b;
    for (int32_t v : h)
      b.i32(v);
    b.raw(std::string(64, '\0'));
    return b.b;
  };
  writeFile(path("zero.bin"), header({0, 0, 0, 0, 0, 0, 0}));
  EXPECT_OPEN_FAILS(path("zero.bin"), path("zero.bin"), "must be positive");
  writeFile(path("huge.bin"),
            header({1 << 30, 1 << 30, 1 << 30, 1, 1, INT32_MIN, 1 << 30}));
  EXPECT_OPEN_FAILS(path("huge.bin"), path("huge.bin"), "limit");
  writeFile(path("heads.bin"), header({8, 12, 2, 3, 3, 10, 6}));
  EXPECT_OPEN_FAILS(path("heads.bin"), path("heads.bin"), "multiple");
  // Large but allowed sizes: the expected size is computed without overflow.
  writeFile(path("big.bin"),
            header({1 << 20, 1 << 22, 4096, 1 << 10, 1 << 10, 1 << 24, 1 << 24}));
  EXPECT_OPEN_FAILS(path("big.bin"), path("big.bin"), "does not match");
  writeFile(path("tiny.bin"), "abc");
  EXPECT_OPEN_FAILS(path("tiny.bin"), path("tiny.bin"), "unrecognized");
  writeFile(path("v1.bin"), Bytes().u32(0x616b3432).u32(1).raw(std::string(256, '\0')).b);
  EXPECT_OPEN_FAILS(path("v1.bin"), path("v1.bin"), "version");
  EXPECT_OPEN_FAILS(path("absent.bin"), path("absent.bin"), "cannot open");
}

//===----------------------------------------------------------------------===//
// safetensors
//===----------------------------------------------------------------------===//

class SafetensorsTest : public CheckpointTest {
protected:
  /// Writes config.json and model.safetensors for `c` in `dtype`.
  std::vector<RefTensor> writeModel(const LlamaConfig &c, DType dtype) {
    auto model = makeModel(c);
    writeFile(path("config.json"), hfConfig(c));
    writeFile(path("model.safetensors"),
              safetensorsFile(hfTensors(model, dtype)));
    return model;
  }
  LlamaConfig hf(bool tied) {
    LlamaConfig c = tinyConfig(tied);
    c.ropeStyle = RopeStyle::Half;
    c.rmsEps = 1e-6f;
    c.ropeTheta = 500000.0f;
    return c;
  }
  /// Writes model.safetensors and expects opening it to fail with `reason`.
  void expectBad(const std::vector<StTensor> &tensors,
                 const std::string &reason) {
    writeFile(path("config.json"), hfConfig(hf(true)));
    writeFile(path("model.safetensors"), safetensorsFile(tensors));
    EXPECT_OPEN_FAILS(dir, path("model.safetensors"), reason);
  }
};

TEST_F(SafetensorsTest, F32UntiedDirectoryAndFile) {
  LlamaConfig c = hf(/*tied=*/false);
  auto model = writeModel(c, DType::F32);
  for (const std::string &p : {dir, path("model.safetensors"),
                               path("config.json")}) {
    auto ckpt = Checkpoint::open(p);
    ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
    EXPECT_EQ((*ckpt)->formatName(), "safetensors");
    expectConfig((*ckpt)->config(), c);
    const TensorInfo *gate = (*ckpt)->find("layers.0.feed_forward.w1.weight");
    ASSERT_NE(gate, nullptr);
    EXPECT_EQ(gate->name, "model.layers.0.mlp.gate_proj.weight");
    EXPECT_EQ(gate->file, path("model.safetensors"));
    expectWeights(**ckpt, model, DType::F32);
  }
}

TEST_F(SafetensorsTest, F16AndBF16Tied) {
  for (DType dtype : {DType::F16, DType::BF16}) {
    LlamaConfig c = hf(/*tied=*/true);
    auto model = writeModel(c, dtype);
    auto ckpt = Checkpoint::open(dir);
    ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
    expectConfig((*ckpt)->config(), c);
    EXPECT_EQ((*ckpt)->find("tok_embeddings.weight")->dtype, dtype);
    expectWeights(**ckpt, model, dtype);
  }
}

TEST_F(SafetensorsTest, ConfigDefaultsAndUnknownTensors) {
  LlamaConfig c = hf(true);
  auto model = makeModel(c);
  auto tensors = hfTensors(model, DType::F32);
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32",
                     {1}, encode(DType::F32, {1.0f}), std::nullopt});
  writeFile(path("model.safetensors"), safetensorsFile(tensors, {}));
  // No num_key_value_heads (= heads), eps, theta, tie (= false).
  writeFile(path("config.json"),
            R"({"hidden_size": 8, "intermediate_size": 12,
                "num_hidden_layers": 2, "num_attention_heads": 4,
                "vocab_size": 10, "max_position_embeddings": 6})");
  auto ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  EXPECT_EQ((*ckpt)->config().nKvHeads, 4);
  EXPECT_FLOAT_EQ((*ckpt)->config().rmsEps, 1e-6f);
  EXPECT_FLOAT_EQ((*ckpt)->config().ropeTheta, 10000.0f);
  EXPECT_FALSE((*ckpt)->config().tiedEmbeddings);
  EXPECT_EQ((*ckpt)->tensors().size(), model.size() + 1);
  // With 4 KV heads the stored wk [4, 8] is the wrong shape: named clearly.
  auto w = loadLlamaWeights(**ckpt);
  ASSERT_FALSE(static_cast<bool>(w));
  std::string m = llvm::toString(w.takeError());
  EXPECT_NE(m.find("model.layers.0.self_attn.k_proj.weight"),
            std::string::npos) << m;
  EXPECT_NE(m.find("expected [8, 8]"), std::string::npos) << m;
}

TEST_F(SafetensorsTest, UntiedWithoutLmHeadFailsAtLoad) {
  LlamaConfig c = hf(true);
  auto model = writeModel(c, DType::F32);
  writeFile(path("config.json"), hfConfig(hf(false)));
  auto ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  auto w = loadLlamaWeights(**ckpt);
  ASSERT_FALSE(static_cast<bool>(w));
  EXPECT_NE(llvm::toString(w.takeError()).find("output.weight"),
            std::string::npos);
}

TEST_F(SafetensorsTest, Sharded) {
  LlamaConfig c = hf(false);
  auto model = makeModel(c);
  auto tensors = hfTensors(model, DType::BF16);
  std::vector<StTensor> a(tensors.begin(), tensors.begin() + 7),
      b(tensors.begin() + 7, tensors.end());
  writeFile(path("model-00001-of-00002.safetensors"), safetensorsFile(a));
  writeFile(path("model-00002-of-00002.safetensors"), safetensorsFile(b));
  writeFile(path("config.json"), hfConfig(c));
  llvm::json::Object map;
  for (const StTensor &t : a)
    map[t.name] = "model-00001-of-00002.safetensors";
  for (const StTensor &t : b)
    map[t.name] = "model-00002-of-00002.safetensors";
  llvm::json::Object index{{"metadata", llvm::json::Object{{"total_size", 1}}},
                           {"weight_map", std::move(map)}};
  std::string indexText =
      llvm::formatv("{0}", llvm::json::Value(std::move(index))).str();
  writeFile(path("model.safetensors.index.json"), indexText);
  for (const std::string &p : {dir, path("model.safetensors.index.json")}) {
    auto ckpt = Checkpoint::open(p);
    ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
    EXPECT_EQ((*ckpt)->tensors().size(), model.size());
    EXPECT_EQ((*ckpt)->find("tok_embeddings.weight")->file,
              path("model-00001-of-00002.safetensors"));
    EXPECT_EQ((*ckpt)->find("output.weight")->file,
              path("model-00002-of-00002.safetensors"));
    expectWeights(**ckpt, model, DType::BF16);
  }

  // A name the index puts in a shard that lacks it.
  std::string moved = indexText;
  size_t at = moved.find("\"lm_head.weight\":\"model-00002");
  ASSERT_NE(at, std::string::npos);
  moved.replace(moved.find("00002", at), 5, "00001");
  writeFile(path("model.safetensors.index.json"), moved);
  EXPECT_OPEN_FAILS(dir, "model-00001-of-00002.safetensors",
                    "'lm_head.weight' listed in");
  // A shard outside the directory.
  std::string escape = indexText;
  at = escape.find("\"lm_head.weight\":\"");
  escape.replace(escape.find("model-00002", at), 0, "../");
  writeFile(path("model.safetensors.index.json"), escape);
  EXPECT_OPEN_FAILS(dir, "model.safetensors.index.json", "not a file in");
  // A missing shard.
  writeFile(path("model.safetensors.index.json"), indexText);
  llvm::sys::fs::remove(path("model-00002-of-00002.safetensors"));
  EXPECT_OPEN_FAILS(dir, "model-00002-of-00002.safetensors", "cannot open");
}

TEST_F(SafetensorsTest, MalformedContainers) {
  LlamaConfig c = hf(true);
  auto model = makeModel(c);
  auto good = hfTensors(model, DType::F32);

  auto withDtype = good;
  withDtype[1].dtype = "Q4";
  expectBad(withDtype, "unknown dtype 'Q4'");
  withDtype[1].dtype = "I8";
  withDtype[1].bytes.resize(withDtype[1].bytes.size() / 4);
  expectBad(withDtype, "dtype I8");

  auto wrongShape = good;
  wrongShape[1].shape = {9};
  expectBad(wrongShape, "needs 36 bytes");

  auto overlap = good;
  overlap[2].offsets = {overlap[1].bytes.size() / 2 + 4 * 80,
                        overlap[1].bytes.size() / 2 + 4 * 80 +
                            overlap[2].bytes.size()};
  expectBad(overlap, "overlaps");

  auto hole = good;
  hole.back().offsets = {0, 0}; // data bytes left uncovered
  hole.back().bytes.clear();
  hole.back().shape = {0};
  hole.back().bytes = std::string(4, '\0');
  expectBad(hole, "data section");

  auto outside = good;
  outside.back().offsets = {1u << 20, (1u << 20) + outside.back().bytes.size()};
  expectBad(outside, "outside the data section");

  auto reversed = good;
  reversed.back().offsets = {10, 2};
  expectBad(reversed, "end before they begin");

  auto negative = good;
  negative[0].shape = {-1, 8};
  expectBad(negative, "shape");

  // Header length past the end, absurd, and a non-object header.
  writeFile(path("config.json"), hfConfig(c));
  std::string file = safetensorsFile(good);
  std::string past = file;
  patchU64(past, 0, file.size());
  writeFile(path("model.safetensors"), past);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "past the end");
  patchU64(past, 0, uint64_t(1) << 63);
  writeFile(path("model.safetensors"), past);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "exceeds the limit");
  writeFile(path("model.safetensors"), Bytes().u64(4).raw("{\"a\"").b);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "invalid JSON");
  std::string array = "{\"x\": [1, 2]}";
  writeFile(path("model.safetensors"),
            Bytes().u64(array.size()).raw(array).b);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "not a JSON object");
  std::string deep = "{\"a\":" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  writeFile(path("model.safetensors"), Bytes().u64(deep.size()).raw(deep).b);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "nests deeper");
  std::string meta = "{\"__metadata__\": {\"a\": 1}}";
  writeFile(path("model.safetensors"), Bytes().u64(meta.size()).raw(meta).b);
  EXPECT_OPEN_FAILS(dir, path("model.safetensors"), "not a string");

  // Every truncation fails cleanly.
  for (size_t n = 0; n < file.size(); n += 13) {
    writeFile(path("model.safetensors"), file.substr(0, n));
    EXPECT_FALSE(openError(dir).empty()) << n;
  }
  // Config problems name config.json.
  writeFile(path("model.safetensors"), file);
  writeFile(path("config.json"), "{\"hidden_size\": 8}");
  EXPECT_OPEN_FAILS(dir, path("config.json"), "intermediate_size");
  writeFile(path("config.json"), "[1");
  EXPECT_OPEN_FAILS(dir, path("config.json"), "invalid JSON");
  std::string rope = hfConfig(c);
  rope.replace(rope.find("\"rope_scaling\": null"), 20,
               "\"rope_scaling\": {\"type\": \"llama3\"}");
  writeFile(path("config.json"), rope);
  EXPECT_OPEN_FAILS(dir, path("config.json"), "rope_scaling");
  llvm::sys::fs::remove(path("config.json"));
  EXPECT_OPEN_FAILS(dir, path("config.json"), "cannot open");
  llvm::sys::fs::remove(path("model.safetensors"));
  EXPECT_OPEN_FAILS(dir, dir, "neither");
}

TEST(SafetensorsContainer, MetadataAndOrder) {
  std::vector<StTensor> tensors = {
      {"b", "U8", {3}, "abc", std::nullopt},
      {"a", "I32", {1}, std::string(4, '\1'), std::nullopt},
      {"empty", "F16", {0, 5}, "", std::nullopt}};
  std::string file =
      safetensorsFile(tensors, {{"format", "mixq"}, {"k", "{\"x\":1}"}});
  auto h = parseSafetensors(
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(file.data()),
                              file.size()),
      "mem.safetensors");
  ASSERT_TRUE(static_cast<bool>(h)) << llvm::toString(h.takeError());
  EXPECT_EQ(h->metadata.at("format"), "mixq");
  EXPECT_EQ(h->metadata.at("k"), "{\"x\":1}");
  ASSERT_EQ(h->tensors.size(), 3u);
  EXPECT_EQ(h->tensors[0].name, "b"); // sorted by data offset
  EXPECT_EQ(h->tensors[1].name, "a");
  EXPECT_EQ(h->tensors[1].fileOffset, h->dataOffset + 3);
  EXPECT_EQ(h->dataSize, 7u);
  ASSERT_NE(h->find("empty"), nullptr);
  EXPECT_EQ(h->find("empty")->size(), 0u);
  EXPECT_EQ(safetensorsDTypeSize("BF16"), 2u);
  EXPECT_EQ(safetensorsDTypeSize("F64"), 8u);
  EXPECT_EQ(safetensorsDTypeSize("Q4"), 0u);
}

//===----------------------------------------------------------------------===//
// GGUF
//===----------------------------------------------------------------------===//

class GgufTest : public CheckpointTest {
protected:
  void expectBad(const std::string &bytes, const std::string &reason) {
    writeFile(path("bad.gguf"), bytes);
    EXPECT_OPEN_FAILS(path("bad.gguf"), path("bad.gguf"), reason);
  }
};

TEST_F(GgufTest, RoundTripAllDTypes) {
  for (bool tied : {true, false}) {
    for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
      LlamaConfig c = tinyConfig(tied);
      c.rmsEps = 1e-6f;
      c.ropeTheta = 1e6f;
      auto model = makeModel(c);
      writeFile(path("m.gguf"), ggufModel(c, model, dtype).build());
      auto ckpt = Checkpoint::open(path("m.gguf"));
      ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
      EXPECT_EQ((*ckpt)->formatName(), "gguf");
      expectConfig((*ckpt)->config(), c);
      const TensorInfo *wo = (*ckpt)->find("layers.1.attention.wo.weight");
      ASSERT_NE(wo, nullptr);
      EXPECT_EQ(wo->name, "blk.1.attn_output.weight");
      EXPECT_EQ(wo->dtype, dtype);
      EXPECT_EQ(wo->offset % 32, 0u);
      const TensorInfo *w1 = (*ckpt)->find("layers.0.feed_forward.w1.weight");
      ASSERT_NE(w1, nullptr);
      EXPECT_EQ(w1->shape, (std::vector<int64_t>{12, 8})); // ne = [8, 12]
      // Norms are F32 in GGUF files; the matrices are `dtype`.
      auto w = loadLlamaWeights(**ckpt);
      ASSERT_TRUE(static_cast<bool>(w)) << llvm::toString(w.takeError());
      const auto &r = ref(model, "layers.1.feed_forward.w2.weight").values;
      for (size_t i = 0; i < r.size(); ++i)
        ASSERT_EQ(w->layers[1].w2[i], roundTrip(dtype, r[i]));
      EXPECT_EQ(w->layers[0].ffnNorm,
                ref(model, "layers.0.ffn_norm.weight").values);
    }
  }
}

TEST_F(GgufTest, VocabFromTokenizerAndAlignment) {
  LlamaConfig c = tinyConfig(true);
  auto model = makeModel(c);
  GgufFile g = ggufModel(c, model, DType::F32);
  g.alignment = 64;
  g.kvU32("general.alignment", 64);
  writeFile(path("m.gguf"), g.build());
  auto ckpt = Checkpoint::open(path("m.gguf"));
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  for (const TensorInfo &t : (*ckpt)->tensors())
    EXPECT_EQ(t.offset % 64, 0u) << t.name;
  expectWeights(**ckpt, model, DType::F32);
}

TEST_F(GgufTest, Malformed) {
  LlamaConfig c = tinyConfig(false);
  auto model = makeModel(c);
  GgufFile g = ggufModel(c, model, DType::F16);
  std::string good = g.build();

  std::string absurd = good;
  patchU64(absurd, 8, uint64_t(1) << 60); // tensor_count
  expectBad(absurd, "tensor count");
  absurd = good;
  patchU64(absurd, 16, uint64_t(1) << 62); // kv_count
  expectBad(absurd, "metadata count");
  absurd = good;
  patchU64(absurd, 24, uint64_t(1) << 63); // first key's length
  expectBad(absurd, "metadata key has length 9223372036854775808");
  absurd = good;
  patchU64(absurd, 24, UINT64_MAX);
  expectBad(absurd, "limit");

  GgufFile bigArray = g;
  bigArray.kvs.push_back(
      Bytes().str64("huge").u32(9).u32(4).u64(uint64_t(1) << 62).b);
  expectBad(bigArray.build(), "array 'huge'");
  GgufFile bigStrings = g;
  bigStrings.kvs.push_back(
      Bytes().str64("huge").u32(9).u32(8).u64(uint64_t(1) << 61).b);
  expectBad(bigStrings.build(), "array 'huge'");
  GgufFile bigString = g;
  bigString.kvs.push_back(
      Bytes().str64("s").u32(8).u64(uint64_t(1) << 63).b);
  expectBad(bigString.build(), "value of 's'");
  GgufFile badType = g;
  badType.kvs.push_back(Bytes().str64("t").u32(99).u32(0).b);
  expectBad(badType.build(), "unknown value type 99");
  GgufFile deep = g;
  Bytes nest;
  nest.str64("deep").u32(9);
  for (int i = 0; i < 10; ++i)
    nest.u32(9).u64(1);
  nest.u32(0).u64(0);
  deep.kvs.push_back(nest.b);
  expectBad(deep.build(), "nest deeper");

  GgufFile quantized = g;
  quantized.tensors[3].type = 2;
  expectBad(quantized.build(), "quantized GGUF tensor type 2 (Q4_0)");
  expectBad(quantized.build(), "'" + quantized.tensors[3].name + "'");
  quantized.tensors[3].type = 12;
  expectBad(quantized.build(), "Q4_K");
  quantized.tensors[3].type = 26;
  expectBad(quantized.build(), "I32");
  quantized.tensors[3].type = 1000;
  expectBad(quantized.build(), "unknown GGUF tensor type 1000");

  GgufFile past = g;
  past.tensors.back().offset = uint64_t(1) << 40;
  expectBad(past.build(), "past the end");
  past.tensors.back().offset = UINT64_MAX - 31;
  expectBad(past.build(), "past the end");
  GgufFile overlap = g;
  overlap.tensors[2].offset = 0;
  expectBad(overlap.build(), "overlaps");
  GgufFile misaligned = g;
  misaligned.tensors[2].offset = 4;
  expectBad(misaligned.build(), "alignment");
  GgufFile dims = g;
  dims.tensors[0].shape = {1, 1, 1, 1, 1};
  expectBad(dims.build(), "dimensions");
  GgufFile align = g;
  align.kvU32("general.alignment", 48);
  expectBad(align.build(), "power of two");
  GgufFile dup = g;
  dup.kvU32("llama.block_count", 2);
  expectBad(dup.build(), "duplicate metadata key");

  GgufFile arch = g;
  arch.kvs[0] = Bytes().str64("general.architecture").u32(8).str64("gpt2").b;
  expectBad(arch.build(), "'gpt2'");
  GgufFile noDim = g;
  noDim.kvs.erase(noDim.kvs.begin() + 2);
  expectBad(noDim.build(), "llama.embedding_length");
  GgufFile badHeads = g;
  badHeads.kvs[6] =
      Bytes().str64("llama.attention.head_count_kv").u32(4).u32(3).b;
  expectBad(badHeads.build(), "n_kv_heads");

  std::string version = good;
  version[4] = 1;
  expectBad(version, "version 1");

  // Every truncation, and every single-byte corruption of the header and
  // tensor infos, gives an error or a checkpoint, never a crash.
  for (size_t n = 0; n < good.size(); n += 5) {
    writeFile(path("cut.gguf"), good.substr(0, n));
    EXPECT_FALSE(openError(path("cut.gguf")).empty()) << n;
  }
  size_t dataStart = good.size();
  for (const GgufTensor &t : g.tensors)
    dataStart -= (t.bytes.size() + 31) / 32 * 32;
  for (size_t i = 4; i < dataStart; ++i) {
    std::string corrupt = good;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0xff);
    writeFile(path("flip.gguf"), corrupt);
    auto ckpt = Checkpoint::open(path("flip.gguf"));
    if (!ckpt)
      llvm::consumeError(ckpt.takeError());
    else if (auto w = loadLlamaWeights(**ckpt); !w)
      llvm::consumeError(w.takeError());
  }
}

//===----------------------------------------------------------------------===//
// The real stories15M.bin (skipped when absent)
//===----------------------------------------------------------------------===//

TEST(RealCheckpoint, Stories15M) {
  std::string p = "/tmp/mixq-data/stories15M.bin";
  if (const char *home = std::getenv("MIXQ_HOME")) {
    llvm::SmallString<256> candidate(home);
    llvm::sys::path::append(candidate, "stories15M.bin");
    if (llvm::sys::fs::exists(candidate))
      p = std::string(candidate);
  }
  if (!llvm::sys::fs::exists(p))
    GTEST_SKIP() << p << " is absent";
  auto ckpt = Checkpoint::open(p);
  ASSERT_TRUE(static_cast<bool>(ckpt)) << llvm::toString(ckpt.takeError());
  const LlamaConfig &c = (*ckpt)->config();
  EXPECT_EQ(c.dim, 288);
  EXPECT_EQ(c.hiddenDim, 768);
  EXPECT_EQ(c.nLayers, 6);
  EXPECT_EQ(c.nHeads, 6);
  EXPECT_EQ(c.nKvHeads, 6);
  EXPECT_EQ(c.vocabSize, 32000);
  EXPECT_EQ(c.maxSeqLen, 256);
  EXPECT_TRUE(c.tiedEmbeddings);
  EXPECT_EQ(c.ropeStyle, RopeStyle::Adjacent);
  auto w = loadLlamaWeights(**ckpt);
  ASSERT_TRUE(static_cast<bool>(w)) << llvm::toString(w.takeError());
  double sum = 0;
  for (float v : w->layers[5].w3)
    sum += std::fabs(v);
  EXPECT_TRUE(std::isfinite(sum));
  EXPECT_GT(sum, 0.0);
  // RMSNorm weights of a trained model sit around 1, not around 0.
  double normMean = 0;
  for (float v : w->finalNorm)
    normMean += v;
  normMean /= static_cast<double>(w->finalNorm.size());
  EXPECT_GT(normMean, 0.2);
  EXPECT_EQ((*ckpt)->find("layers.5.feed_forward.w3.weight")->offset +
                (*ckpt)->find("layers.5.feed_forward.w3.weight")->size,
            (*ckpt)->find("norm.weight")->offset);
}

} // namespace
