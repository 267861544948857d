//===- SafetensorsReader.cpp - Hugging Face safetensors checkpoints -------===//
//
// A Llama checkpoint in Hugging Face layout: config.json plus either one
// model.safetensors or shards listed by model.safetensors.index.json
// ("weight_map": tensor name -> shard file). Each shard is validated by
// parseSafetensors; names are mapped to canonical ones (gate=w1, down=w2,
// up=w3) and the q/k rows stay in HF's "rotate half" order, so the config says
// RopeStyle::Half.
//
//===----------------------------------------------------------------------===//
#include "model/CheckpointReaders.h"
#include "model/Safetensors.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <map>
#include <set>

using namespace mixq;

namespace {

class SafetensorsCheckpoint : public Checkpoint {
public:
  llvm::StringRef formatName() const override { return "safetensors"; }

  static llvm::Expected<std::unique_ptr<Checkpoint>>
  create(llvm::StringRef path);

protected:
  llvm::Expected<llvm::ArrayRef<uint8_t>>
  tensorBytes(const TensorInfo &tensor) const override {
    for (const auto &f : files_)
      if (f->path() == tensor.file)
        return f->range(tensor.offset, tensor.size,
                        "tensor '" + tensor.name + "'");
    return fileError(tensor.file, "tensor '" + tensor.name +
                                      "' is not in a file of this checkpoint");
  }

private:
  llvm::Error addShard(const std::string &shardPath,
                       const std::set<std::string> *only);

  std::vector<std::unique_ptr<MappedFile>> files_;
  std::set<std::string> names_;
};

/// Hugging Face tensor name -> canonical name ("" when not a Llama weight).
std::string canonicalName(llvm::StringRef name) {
  static const std::pair<const char *, const char *> globals[] = {
      {"model.embed_tokens.weight", "tok_embeddings.weight"},
      {"model.norm.weight", "norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  static const std::pair<const char *, const char *> suffixes[] = {
      {"input_layernorm.weight", "attention_norm.weight"},
      {"self_attn.q_proj.weight", "attention.wq.weight"},
      {"self_attn.k_proj.weight", "attention.wk.weight"},
      {"self_attn.v_proj.weight", "attention.wv.weight"},
      {"self_attn.o_proj.weight", "attention.wo.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "feed_forward.w1.weight"},
      {"mlp.down_proj.weight", "feed_forward.w2.weight"},
      {"mlp.up_proj.weight", "feed_forward.w3.weight"},
  };
  return canonicalTensorName(name, {globals, "model.layers.", suffixes});
}

llvm::Expected<llvm::json::Value> readJSONFile(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  if ((*file)->size() > (uint64_t(64) << 20))
    return fileError(path, "JSON file larger than 64 MiB");
  llvm::ArrayRef<uint8_t> b = (*file)->bytes();
  return parseJSONDocument(
      llvm::StringRef(reinterpret_cast<const char *>(b.data()), b.size()),
      path);
}

/// config.json -> LlamaConfig (validated).
llvm::Expected<LlamaConfig> readHFConfig(const std::string &path) {
  auto json = readJSONFile(path);
  if (!json)
    return json.takeError();
  const llvm::json::Object *o = json->getAsObject();
  if (!o)
    return fileError(path, "config.json is not a JSON object");
  if (auto type = o->getString("model_type"); type && *type != "llama")
    return fileError(path, "model_type '" + *type +
                               "' is not supported (only 'llama')");
  if (auto act = o->getString("hidden_act"); act && *act != "silu")
    return fileError(path, "hidden_act '" + *act +
                               "' is not supported (only 'silu')");
  if (const llvm::json::Value *scaling = o->get("rope_scaling");
      scaling && scaling->kind() != llvm::json::Value::Null)
    return fileError(path, "rope_scaling is not supported");

  LlamaConfig c;
  c.ropeStyle = RopeStyle::Half;
  auto getInt = [&](const char *key, int64_t &out,
                    std::optional<int64_t> fallback) -> llvm::Error {
    const llvm::json::Value *v = o->get(key);
    if (!v || v->kind() == llvm::json::Value::Null) {
      if (!fallback)
        return fileError(path, llvm::Twine("missing \"") + key + "\"");
      out = *fallback;
      return llvm::Error::success();
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return fileError(path, llvm::Twine("\"") + key +
                                 "\" is not an integer");
    out = *i;
    return llvm::Error::success();
  };
  auto getFloat = [&](const char *key, float &out) -> llvm::Error {
    const llvm::json::Value *v = o->get(key);
    if (!v || v->kind() == llvm::json::Value::Null)
      return llvm::Error::success(); // keep the default
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return fileError(path, llvm::Twine("\"") + key + "\" is not a number");
    out = static_cast<float>(*d);
    return llvm::Error::success();
  };
  if (llvm::Error e = getInt("hidden_size", c.dim, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("intermediate_size", c.hiddenDim, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("num_hidden_layers", c.nLayers, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("num_attention_heads", c.nHeads, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("num_key_value_heads", c.nKvHeads, c.nHeads))
    return std::move(e);
  if (llvm::Error e = getInt("vocab_size", c.vocabSize, std::nullopt))
    return std::move(e);
  if (llvm::Error e = getInt("max_position_embeddings", c.maxSeqLen, 2048))
    return std::move(e);
  c.rmsEps = 1e-6f; // Hugging Face LlamaConfig defaults
  c.ropeTheta = 10000.0f;
  if (llvm::Error e = getFloat("rms_norm_eps", c.rmsEps))
    return std::move(e);
  if (llvm::Error e = getFloat("rope_theta", c.ropeTheta))
    return std::move(e);
  if (const llvm::json::Value *v = o->get("tie_word_embeddings");
      v && v->kind() != llvm::json::Value::Null) {
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return fileError(path, "\"tie_word_embeddings\" is not a boolean");
    c.tiedEmbeddings = *b;
  }
  if (llvm::Error e = validateConfig(c))
    return fileError(path, llvm::toString(std::move(e)));
  int64_t headDim = 0;
  if (llvm::Error e = getInt("head_dim", headDim, c.headDim()))
    return std::move(e);
  if (headDim != c.headDim())
    return fileError(path, llvm::formatv("head_dim {0} differs from "
                                         "hidden_size / num_attention_heads "
                                         "= {1}; not supported",
                                         headDim, c.headDim()));
  return c;
}

llvm::Error
SafetensorsCheckpoint::addShard(const std::string &shardPath,
                                const std::set<std::string> *only) {
  auto file = MappedFile::open(shardPath);
  if (!file)
    return file.takeError();
  auto header = parseSafetensors((*file)->bytes(), shardPath);
  if (!header)
    return header.takeError();
  for (const SafetensorsTensor &st : header->tensors) {
    if (only && !only->count(st.name))
      continue; // the index assigns this name to another shard
    TensorInfo t;
    t.name = st.name;
    t.canonicalName = canonicalName(st.name);
    if (st.dtype == "F32")
      t.dtype = DType::F32;
    else if (st.dtype == "F16")
      t.dtype = DType::F16;
    else if (st.dtype == "BF16")
      t.dtype = DType::BF16;
    else
      return fileError(shardPath, "tensor '" + st.name + "' has dtype " +
                                      st.dtype +
                                      "; checkpoints must be F32, F16 or "
                                      "BF16");
    t.shape = st.shape;
    t.file = shardPath;
    t.offset = st.fileOffset;
    t.size = st.size();
    if (!names_.insert(t.name).second)
      return fileError(shardPath, "tensor '" + t.name +
                                      "' is also in another shard");
    tensors_.push_back(std::move(t));
  }
  files_.push_back(std::move(*file));
  return llvm::Error::success();
}

bool isPlainFileName(llvm::StringRef name) {
  return !name.empty() && name != "." && name != ".." &&
         !name.contains('/') && !name.contains('\\') && !name.contains('\0');
}

std::string join(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

llvm::Expected<std::unique_ptr<Checkpoint>>
SafetensorsCheckpoint::create(llvm::StringRef path) {
  std::string dir, single, index;
  if (llvm::sys::fs::is_directory(path)) {
    dir = path.str();
    if (llvm::sys::fs::exists(join(dir, "model.safetensors")))
      single = join(dir, "model.safetensors");
    else if (llvm::sys::fs::exists(join(dir, "model.safetensors.index.json")))
      index = join(dir, "model.safetensors.index.json");
    else
      return fileError(path, "directory holds neither model.safetensors nor "
                             "model.safetensors.index.json");
  } else {
    dir = llvm::sys::path::parent_path(path).str();
    if (dir.empty())
      dir = ".";
    auto file = MappedFile::open(path);
    if (!file)
      return file.takeError();
    llvm::ArrayRef<uint8_t> b = (*file)->bytes();
    if (b.size() >= 9 && b[8] == '{') {
      single = path.str();
    } else {
      // A JSON file: the shard index, or config.json naming its directory.
      auto json = readJSONFile(path.str());
      if (!json)
        return json.takeError();
      const llvm::json::Object *o = json->getAsObject();
      if (o && o->get("weight_map"))
        index = path.str();
      else if (o && o->get("hidden_size"))
        return create(dir);
      else
        return fileError(path, "JSON file is neither a safetensors index "
                               "(no \"weight_map\") nor a config.json");
    }
  }

  auto ckpt = std::make_unique<SafetensorsCheckpoint>();
  ckpt->path_ = path.str();
  std::string configPath = join(dir, "config.json");
  auto config = readHFConfig(configPath);
  if (!config)
    return config.takeError();
  ckpt->config_ = *config;

  if (!single.empty()) {
    if (llvm::Error e = ckpt->addShard(single, nullptr))
      return std::move(e);
  } else {
    auto json = readJSONFile(index);
    if (!json)
      return json.takeError();
    const llvm::json::Object *o = json->getAsObject();
    const llvm::json::Object *map = o ? o->getObject("weight_map") : nullptr;
    if (!map)
      return fileError(index, "\"weight_map\" is missing or not an object");
    std::map<std::string, std::set<std::string>> shards; // file -> names
    for (const auto &entry : *map) {
      std::optional<llvm::StringRef> shard = entry.second.getAsString();
      if (!shard)
        return fileError(index, "weight_map entry '" + entry.first.str() +
                                    "' is not a string");
      if (!isPlainFileName(*shard))
        return fileError(index, "weight_map entry '" + entry.first.str() +
                                    "' names '" + *shard +
                                    "', not a file in the same directory");
      shards[shard->str()].insert(entry.first.str());
    }
    if (shards.empty())
      return fileError(index, "weight_map is empty");
    for (const auto &[shard, names] : shards) {
      std::string shardPath = join(dir, shard);
      if (llvm::Error e = ckpt->addShard(shardPath, &names))
        return std::move(e);
      for (const std::string &name : names)
        if (!ckpt->names_.count(name))
          return fileError(shardPath, "tensor '" + name + "' listed in " +
                                          index + " is not in this shard");
    }
  }
  return std::unique_ptr<Checkpoint>(std::move(ckpt));
}

} // namespace

llvm::Expected<std::unique_ptr<Checkpoint>>
mixq::openSafetensorsCheckpoint(llvm::StringRef path) {
  return SafetensorsCheckpoint::create(path);
}
