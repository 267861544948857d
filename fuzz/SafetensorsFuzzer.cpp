//===- SafetensorsFuzzer.cpp - Fuzz target: the safetensors reader --------===//
//
// Input: a .safetensors file, or (when it starts with '{') a config.json.
// A safetensors input is first validated from memory by parseSafetensors
// (the container checks the package reader shares), then opened as a
// Hugging Face checkpoint directory beside a fixed valid config.json, and
// its weights are loaded. A config.json input is opened beside a fixed valid
// model.safetensors. Files go to a private temporary directory.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"

#include "model/Checkpoint.h"
#include "model/Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mixq;

namespace {

// The tiny model of test/hostile/tiny_models.py (the seeds): dim 16, hidden
// 32, 1 layer, 2 heads, vocab 271, context 16, tied embeddings.
const char kConfig[] =
    R"({"model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 271,
        "max_position_embeddings": 16, "tie_word_embeddings": true})";

/// A valid model.safetensors for kConfig (F32 weights, all zero).
std::string validModel() {
  struct Tensor {
    const char *name;
    int rows, cols;
  } tensors[] = {{"model.embed_tokens.weight", 271, 16},
                 {"model.layers.0.input_layernorm.weight", 0, 16},
                 {"model.layers.0.self_attn.q_proj.weight", 16, 16},
                 {"model.layers.0.self_attn.k_proj.weight", 16, 16},
                 {"model.layers.0.self_attn.v_proj.weight", 16, 16},
                 {"model.layers.0.self_attn.o_proj.weight", 16, 16},
                 {"model.layers.0.post_attention_layernorm.weight", 0, 16},
                 {"model.layers.0.mlp.gate_proj.weight", 32, 16},
                 {"model.layers.0.mlp.down_proj.weight", 16, 32},
                 {"model.layers.0.mlp.up_proj.weight", 32, 16},
                 {"model.norm.weight", 0, 16}};
  std::string header = "{";
  uint64_t offset = 0;
  for (const Tensor &t : tensors) {
    uint64_t bytes = uint64_t(t.rows ? t.rows : 1) * t.cols * 4;
    std::string shape = t.rows ? std::to_string(t.rows) + "," : "";
    header += std::string(offset ? "," : "") + "\"" + t.name +
              "\":{\"dtype\":\"F32\",\"shape\":[" + shape +
              std::to_string(t.cols) + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + bytes) +
              "]}";
    offset += bytes;
  }
  header += "}";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i)
    file[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return file + header + std::string(offset, '\0');
}

std::string &directory() {
  static std::string dir = [] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("mixq-fuzz-safetensors", path))
      std::abort();
    return std::string(path);
  }();
  return dir;
}

void writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    std::abort();
  os << bytes;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  const std::string &dir = directory();
  std::string config = dir + "/config.json", model = dir + "/model.safetensors";
  if (input.starts_with("{")) {
    writeFile(config, input);
    writeFile(model, validModel());
  } else {
    auto header = parseSafetensors({data, size}, "fuzz.safetensors");
    if (!fuzz::succeeded(header, "fuzz.safetensors"))
      return 0;
    writeFile(config, kConfig);
    writeFile(model, input);
  }
  auto ckpt = Checkpoint::open(dir);
  if (!ckpt) {
    fuzz::checkRefusalIn(ckpt.takeError(), dir);
    return 0;
  }
  auto weights = loadLlamaWeights(**ckpt);
  if (!weights)
    fuzz::checkRefusalIn(weights.takeError(), dir);
  return 0;
}
