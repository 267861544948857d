//===- ReferenceModule.cpp - A test module running the fp32 engine --------===//
//
// TEST-ONLY. A shared library implementing ModuleABI.h with the fp32
// reference Engine on the dequantized package streams. It is how the runtime
// (CompiledModule, Session) is tested before the compiler emits real
// modules; it is never installed or shipped.
//
// A real module knows its package at compile time; this one cannot, so it
// exports one extra function, mixq_reference_configure(package_path), which
// a TEST calls through dlsym before the runtime binds the module (the
// runtime itself never calls it). Configuring reads the package's hash,
// config and stream list (names "<tensor>:<stream>" in package order, with
// their sizes and layouts). mixq_reference_set_abi_version lets a test make
// the module claim another ABI version.
//
// What it does with the ABI's arguments:
//   - streams: used. On the first prefill/decode every tensor is rebuilt as a
//     QuantizedTensor from the stream pointers it is given (sizes from the
//     configured package) and dequantized once into LlamaWeights, exactly as
//     loadPackageWeights() does from the package itself;
//   - kcache/vcache: SHORTCUT: only checked to be non-null. The keys and
//     values live in the Engine's own cache, indexed by position (a call at
//     position p overwrites p and needs 0..p-1 run before, as the ABI says);
//     the runtime's caches stay untouched;
//   - scratch: checked non-null, unused (mixq_scratch_bytes asks for 64
//     bytes per token so the runtime's allocation is exercised);
//   - rt: the logits are copied out through rt->parallel_for.
// Global state, one package and one sequence at a time: a test double.
//
//===----------------------------------------------------------------------===//
#include "runtime/ModuleABI.h"

#include "model/Dequantize.h"
#include "model/Engine.h"
#include "model/Package.h"
#include "model/PackageWeights.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define MIXQ_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mixq;

namespace {

struct RefStream {
  std::string name; ///< stream name within its tensor
  StreamType type;
  size_t bytes;
};

struct RefTensor {
  std::string name;
  int64_t rows, cols;
  Layout layout;
  std::vector<RefStream> streams;
};

struct State {
  int32_t abiVersion = MIXQ_ABI_VERSION;
  std::string sha256, error;
  LlamaConfig config;
  std::vector<RefTensor> tensors;
  std::vector<std::string> streamNames; ///< "<tensor>:<stream>", table order
  std::unique_ptr<ActivationQuantizer> quantizer;
  // Built on first use from the stream pointers.
  std::unique_ptr<LlamaWeights> weights;
  std::unique_ptr<Engine> engine;
  int64_t filled = 0;
};

State &state() {
  static State s;
  return s;
}


/// Dequantizes the streams behind `table` into an Engine (once).
bool ensureEngine(const void *const *table) {
  State &s = state();
  if (s.engine)
    return true;
  if (s.tensors.empty())
    return false; // not configured
  auto weights = std::make_unique<LlamaWeights>();
  weights->config = s.config;
  weights->layers.resize(s.config.nLayers);
  size_t index = 0;
  for (const RefTensor &t : s.tensors) {
    QuantizedTensor q;
    q.name = t.name;
    q.rows = t.rows;
    q.cols = t.cols;
    q.layout = t.layout;
    for (const RefStream &info : t.streams) {
      const auto *bytes = static_cast<const uint8_t *>(table[index++]);
      if (!bytes)
        return false;
      Stream &stream = q.streams[info.name];
      stream.type = info.type;
      stream.bytes.assign(bytes, bytes + info.bytes);
    }
    std::vector<float> *slot = llamaWeightSlot(*weights, t.name);
    auto values = dequantize(q);
    if (!slot || !values) {
      if (!values)
        llvm::consumeError(values.takeError());
      return false;
    }
    *slot = std::move(*values);
  }
  if (llvm::Error e = checkWeightShapes(*weights)) {
    llvm::consumeError(std::move(e));
    return false;
  }
  s.weights = std::move(weights);
  s.engine = std::make_unique<Engine>(*s.weights, /*threads=*/1);
  if (s.quantizer && !s.quantizer->empty())
    s.engine->setInputTransform(s.quantizer.get());
  s.filled = 0;
  return true;
}

struct CopyArgs {
  const float *from;
  float *to;
};

void copyLogits(void *args, int64_t begin, int64_t end) {
  auto *a = static_cast<CopyArgs *>(args);
  std::memcpy(a->to + begin, a->from + begin, size_t(end - begin) * 4);
}

int32_t run(const mixq_runtime *rt, const void *const *streams, float *kcache,
            float *vcache, const int32_t *tokens, int64_t n, int64_t pos,
            float *logits, void *scratch) {
  State &s = state();
  if (!rt || !rt->parallel_for || !streams || !kcache || !vcache || !tokens ||
      !logits || !scratch || n <= 0)
    return MIXQ_STATUS_BAD_ARGUMENT;
  if (!ensureEngine(streams))
    return MIXQ_STATUS_INTERNAL;
  const LlamaConfig &c = s.config;
  if (pos < 0 || pos > s.filled || pos + n > c.maxSeqLen)
    return MIXQ_STATUS_BAD_ARGUMENT;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.vocabSize)
      return MIXQ_STATUS_BAD_ARGUMENT;
  for (int64_t i = 0; i < n; ++i) {
    llvm::ArrayRef<float> out = s.engine->forward(tokens[i], int(pos + i));
    CopyArgs args{out.data(), logits + i * c.vocabSize};
    rt->parallel_for(rt->ctx, c.vocabSize, copyLogits, &args);
  }
  s.filled = pos + n;
  return MIXQ_STATUS_OK;
}

} // namespace

/// Test hook: reads `package_path` (hash, config, streams) and forgets any
/// earlier package. Returns null on success, else a static error message.
MIXQ_EXPORT const char *mixq_reference_configure(const char *package_path) {
  State &s = state();
  s.engine.reset(); // it references the weights
  s = State();
  auto reader = PackageReader::open(package_path ? package_path : "");
  if (!reader) {
    s.error = llvm::toString(reader.takeError());
    return s.error.c_str();
  }
  const PackageReader &p = **reader;
  auto plan = activationQuantPlan(p);
  if (!plan) {
    s.error = llvm::toString(plan.takeError());
    return s.error.c_str();
  }
  s.quantizer = std::make_unique<ActivationQuantizer>(std::move(*plan));
  s.sha256 = p.contentSha256();
  s.config = p.config();
  for (const PackageTensorView &view : p.tensors()) {
    RefTensor t{view.name, view.rows, view.cols, view.layout, {}};
    for (const auto &stream : view.streams) {
      t.streams.push_back({stream.name, stream.type, stream.bytes.size()});
      s.streamNames.push_back(view.name + ":" + stream.name);
    }
    s.tensors.push_back(std::move(t));
  }
  return nullptr;
}

/// Test hook: the version mixq_abi_version() reports from now on.
MIXQ_EXPORT void mixq_reference_set_abi_version(int32_t version) {
  state().abiVersion = version;
}

MIXQ_EXPORT int32_t mixq_abi_version(void) { return state().abiVersion; }

MIXQ_EXPORT const char *mixq_package_sha256(void) {
  return state().sha256.c_str();
}

MIXQ_EXPORT const char *mixq_target(void) { return "x86-64:reference"; }

MIXQ_EXPORT void mixq_get_model_dims(mixq_model_dims *dims) {
  const LlamaConfig &c = state().config;
  *dims = {c.dim,      c.hiddenDim, c.nLayers,   c.nHeads,
           c.nKvHeads, c.headDim(), c.vocabSize, c.maxSeqLen};
}

MIXQ_EXPORT int64_t mixq_stream_count(void) {
  return int64_t(state().streamNames.size());
}

MIXQ_EXPORT const char *mixq_stream_name(int64_t index) {
  const auto &names = state().streamNames;
  return index >= 0 && size_t(index) < names.size() ? names[index].c_str()
                                                    : nullptr;
}

MIXQ_EXPORT int64_t mixq_scratch_bytes(int64_t max_tokens) {
  return 64 * (max_tokens > 0 ? max_tokens : 1);
}

MIXQ_EXPORT int32_t mixq_prefill(const mixq_runtime *rt,
                                 const void *const *streams, float *kcache,
                                 float *vcache, const int32_t *tokens,
                                 int64_t n, int64_t pos, int64_t first_logit,
                                 float *logits, void *scratch) {
  if (first_logit < 0 || first_logit >= n)
    return MIXQ_STATUS_BAD_ARGUMENT;
  return run(rt, streams, kcache, vcache, tokens, n, pos, logits, scratch);
}

MIXQ_EXPORT int32_t mixq_decode(const mixq_runtime *rt,
                                const void *const *streams, float *kcache,
                                float *vcache, int32_t token, int64_t pos,
                                float *logits, void *scratch) {
  return run(rt, streams, kcache, vcache, &token, 1, pos, logits, scratch);
}
