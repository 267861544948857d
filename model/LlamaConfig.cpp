//===- LlamaConfig.cpp - Validation and JSON form of LlamaConfig ----------===//
//
// validateConfig rejects configs no reader should hand on (the readers add the
// file name to its message); configToJSON/configFromJSON give the form stored
// in package metadata and printed by `mixq inspect --json`.
//
//===----------------------------------------------------------------------===//
#include "model/LlamaConfig.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mixq;

namespace {

llvm::Error invalid(const llvm::Twine &reason) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "invalid Llama config: " + reason);
}

// Generous upper bounds: far above any real Llama, low enough that products
// of two of them cannot overflow int64 and a bogus header is caught early.
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxHidden = int64_t(1) << 22;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxSeqLen = int64_t(1) << 24;

llvm::Error checkRange(const char *name, int64_t value, int64_t max) {
  if (value <= 0)
    return invalid(llvm::Twine(name) + " = " + llvm::Twine(value) +
                   " must be positive");
  if (value > max)
    return invalid(llvm::Twine(name) + " = " + llvm::Twine(value) +
                   " exceeds the limit of " + llvm::Twine(max));
  return llvm::Error::success();
}

} // namespace

llvm::Error mixq::validateConfig(const LlamaConfig &c) {
  if (llvm::Error e = checkRange("dim", c.dim, kMaxDim))
    return e;
  if (llvm::Error e = checkRange("hidden_dim", c.hiddenDim, kMaxHidden))
    return e;
  if (llvm::Error e = checkRange("n_layers", c.nLayers, kMaxLayers))
    return e;
  if (llvm::Error e = checkRange("n_heads", c.nHeads, c.dim))
    return e;
  if (llvm::Error e = checkRange("n_kv_heads", c.nKvHeads, c.nHeads))
    return e;
  if (llvm::Error e = checkRange("vocab_size", c.vocabSize, kMaxVocab))
    return e;
  if (llvm::Error e = checkRange("max_seq_len", c.maxSeqLen, kMaxSeqLen))
    return e;
  if (c.dim % c.nHeads != 0)
    return invalid("dim " + llvm::Twine(c.dim) + " is not a multiple of " +
                   "n_heads " + llvm::Twine(c.nHeads));
  if (c.nHeads % c.nKvHeads != 0)
    return invalid("n_heads " + llvm::Twine(c.nHeads) +
                   " is not a multiple of n_kv_heads " +
                   llvm::Twine(c.nKvHeads));
  if (c.headDim() % 2 != 0)
    return invalid("head_dim " + llvm::Twine(c.headDim()) +
                   " is odd (RoPE rotates pairs)");
  if (!std::isfinite(c.rmsEps) || c.rmsEps <= 0.0f || c.rmsEps >= 1.0f)
    return invalid(llvm::formatv("rms_eps {0} is not in (0, 1)",
                                 static_cast<double>(c.rmsEps)));
  if (!std::isfinite(c.ropeTheta) || c.ropeTheta <= 1.0f)
    return invalid(llvm::formatv("rope_theta {0} must be a finite number "
                                 "above 1",
                                 static_cast<double>(c.ropeTheta)));
  return llvm::Error::success();
}

llvm::json::Value mixq::configToJSON(const LlamaConfig &c) {
  return llvm::json::Object{
      {"dim", c.dim},
      {"hidden_dim", c.hiddenDim},
      {"n_layers", c.nLayers},
      {"n_heads", c.nHeads},
      {"n_kv_heads", c.nKvHeads},
      {"vocab_size", c.vocabSize},
      {"max_seq_len", c.maxSeqLen},
      {"rms_eps", static_cast<double>(c.rmsEps)},
      {"rope_theta", static_cast<double>(c.ropeTheta)},
      {"tied_embeddings", c.tiedEmbeddings},
      {"rope_style", c.ropeStyle == RopeStyle::Half ? "half" : "adjacent"},
  };
}

llvm::Expected<LlamaConfig> mixq::configFromJSON(const llvm::json::Value &v) {
  const llvm::json::Object *o = v.getAsObject();
  if (!o)
    return invalid("the config is not a JSON object");
  LlamaConfig c;
  struct IntField {
    const char *key;
    int64_t *field;
  } ints[] = {{"dim", &c.dim},           {"hidden_dim", &c.hiddenDim},
              {"n_layers", &c.nLayers},  {"n_heads", &c.nHeads},
              {"n_kv_heads", &c.nKvHeads}, {"vocab_size", &c.vocabSize},
              {"max_seq_len", &c.maxSeqLen}};
  for (const IntField &f : ints) {
    const llvm::json::Value *value = o->get(f.key);
    if (!value)
      return invalid(llvm::Twine("missing key '") + f.key + "'");
    std::optional<int64_t> i = value->getAsInteger();
    if (!i)
      return invalid(llvm::Twine("'") + f.key + "' is not an integer");
    *f.field = *i;
  }
  if (const llvm::json::Value *value = o->get("rms_eps")) {
    std::optional<double> d = value->getAsNumber();
    if (!d)
      return invalid("'rms_eps' is not a number");
    c.rmsEps = static_cast<float>(*d);
  }
  if (const llvm::json::Value *value = o->get("rope_theta")) {
    std::optional<double> d = value->getAsNumber();
    if (!d)
      return invalid("'rope_theta' is not a number");
    c.ropeTheta = static_cast<float>(*d);
  }
  if (const llvm::json::Value *value = o->get("tied_embeddings")) {
    std::optional<bool> b = value->getAsBoolean();
    if (!b)
      return invalid("'tied_embeddings' is not a boolean");
    c.tiedEmbeddings = *b;
  }
  if (const llvm::json::Value *value = o->get("rope_style")) {
    std::optional<llvm::StringRef> s = value->getAsString();
    if (s && *s == "adjacent")
      c.ropeStyle = RopeStyle::Adjacent;
    else if (s && *s == "half")
      c.ropeStyle = RopeStyle::Half;
    else
      return invalid("'rope_style' must be \"adjacent\" or \"half\"");
  }
  if (llvm::Error e = validateConfig(c))
    return std::move(e);
  return c;
}
