//===- BenchWeights.cpp - Synthetic packages for `mixq bench` -------------===//
//
// See BenchWeights.h. Streams are filled in bulk from 64-bit random words;
// the structured streams (precision map, offsets, slots, CSR, QUIK column
// indices) are built so that validation accepts them, and every tensor is
// validated before it is returned.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchWeights.h"

#include "model/BitPack.h"
#include "model/Dequantize.h"
#include "model/Tokenizer.h"
#include "quant/Quantizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace llvm;

namespace {

const StringRef formatNames[] = {"fp32",      "f16",   "uniform-4",
                                 "uniform-3", "uniform-2", "mixed",
                                 "lut-3",     "quik-4"};

/// Share of the weights a SqueezeLLM layout keeps as CSR outliers.
constexpr double kLutOutlierFraction = 0.0045;
/// Seed of the token embeddings, the same in every package.
constexpr uint64_t kEmbeddingSeed = 0x6d69787121656d62ull;

Error weightsError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Random contents in bulk.
class RandomFill {
public:
  explicit RandomFill(uint64_t seed) : rng_(seed) {}
  std::mt19937_64 &engine() { return rng_; }
  /// Uniform in [0, n) (the modulo bias does not matter here).
  uint64_t below(uint64_t n) { return n ? rng_() % n : 0; }

  void bytes(MutableArrayRef<uint8_t> out) {
    size_t i = 0, size = out.size();
    for (; i + 8 <= size; i += 8) {
      uint64_t r = rng_();
      std::memcpy(out.data() + i, &r, 8);
    }
    if (i < size) {
      uint64_t r = rng_();
      std::memcpy(out.data() + i, &r, size - i);
    }
  }

  /// F16 values: signed, magnitudes in [2^-6, 2^-2) (weights, LUT entries,
  /// outliers), or positive in [2^-10, 2^-6) (scales); always finite.
  void halfs(MutableArrayRef<uint8_t> out, bool positive) {
    size_t count = out.size() / 2;
    uint8_t *p = out.data();
    for (size_t i = 0; i < count; i += 4) {
      uint64_t r = rng_();
      size_t n = std::min<size_t>(4, count - i);
      for (size_t j = 0; j < n; ++j) {
        uint16_t b = uint16_t(r >> (16 * j));
        uint16_t e = uint16_t((b >> 10) & 3);
        uint16_t h = positive
                         ? uint16_t(((5 + e) << 10) | (b & 0x3ff))
                         : uint16_t((b & 0x8000) | ((9 + e) << 10) | (b & 0x3ff));
        std::memcpy(p + 2 * (i + j), &h, 2);
      }
    }
  }

  /// F32 values: signed, magnitudes in [2^-9, 2^-5).
  void floats(MutableArrayRef<uint8_t> out) {
    size_t count = out.size() / 4;
    uint8_t *p = out.data();
    for (size_t i = 0; i < count; i += 2) {
      uint64_t r = rng_();
      size_t n = std::min<size_t>(2, count - i);
      for (size_t j = 0; j < n; ++j) {
        uint32_t u = uint32_t(r >> (32 * j));
        uint32_t f = (u & 0x807fffffu) | ((118u + ((u >> 23) & 3u)) << 23);
        std::memcpy(p + 4 * (i + j), &f, 4);
      }
    }
  }

private:
  std::mt19937_64 rng_;
};

/// Clears the bits of the last byte beyond `usedBits` (the packing
/// convention: a stream is padded with zero bits to a byte).
void maskTail(std::vector<uint8_t> &bytes, uint64_t usedBits) {
  if (usedBits % 8 != 0 && usedBits / 8 < bytes.size())
    bytes[usedBits / 8] &= uint8_t((1u << (usedBits % 8)) - 1);
}

void putI32(std::vector<uint8_t> &bytes, uint64_t index, int32_t value) {
  std::memcpy(bytes.data() + 4 * index, &value, 4);
}

/// `count` strictly increasing values in [0, k): one per stride of k/count,
/// at a random place inside it. Needs 0 < count <= k.
template <typename Put>
void spreadColumns(RandomFill &random, int64_t count, int64_t k, Put put) {
  int64_t stride = k / count;
  for (int64_t i = 0; i < count; ++i)
    put(i, i * stride + int64_t(random.below(uint64_t(stride))));
}

/// The layout of `format` for a linear named `name` with K inputs, before
/// the parts decided by the random contents (mixed alloc, CSR count).
Expected<mixq::Layout> benchLayout(StringRef format, StringRef name,
                                   int64_t k) {
  using namespace mixq;
  Layout l;
  if (format == "fp32") {
    l.bits = {32};
  } else if (format == "f16") {
    l.bits = {16};
  } else if (format == "uniform-4" || format == "uniform-3" ||
             format == "uniform-2") {
    l.scheme = Scheme::Uniform;
    l.bits = {format == "uniform-4" ? 4 : format == "uniform-3" ? 3 : 2};
    l.group = format == "uniform-2" ? 64 : 128;
    l.asymmetric = format != "uniform-3";
  } else if (format == "mixed") {
    l.scheme = Scheme::Mixed;
    l.bits = {2, 4, 16};
    l.group = 128;
    l.tile = 16;
    l.asymmetric = true;
    l.scaleBits = 4;
    l.scaleBlock = 64;
    l.outliers = OutlierKind::Slots;
    l.slots = 1;
  } else if (format == "lut-3") {
    l.scheme = Scheme::Lut;
    l.bits = {3};
    l.outliers = OutlierKind::Csr;
  } else if (format == "quik-4") {
    l.scheme = Scheme::Quik;
    QuantizerOptions options; // the quantizer's defaults: w2 at 8 bits
    l.bits = {name.ends_with("feed_forward.w2.weight") ? options.downBits
                                                       : options.quikBits};
    l.fp16Cols = quikColumnCount(options, k);
    l.act.bits = 8;
    l.act.asymmetric = true;
  } else {
    return weightsError("unknown bench format '" + format + "'");
  }
  return l;
}

} // namespace

namespace mixq::cli {

ArrayRef<StringRef> benchFormatNames() { return formatNames; }

bool isBenchFormat(StringRef format) {
  return llvm::is_contained(formatNames, format);
}

LlamaConfig llama2_7bConfig(int64_t layers, int64_t maxSeqLen) {
  LlamaConfig c;
  c.dim = 4096;
  c.hiddenDim = 11008;
  c.nLayers = layers;
  c.nHeads = 32;
  c.nKvHeads = 32;
  c.vocabSize = 32000;
  c.maxSeqLen = maxSeqLen;
  c.rmsEps = 1e-5f;
  c.ropeTheta = 10000.0f;
  c.tiedEmbeddings = true;
  return c;
}

Expected<QuantizedTensor> randomLinear(StringRef format, StringRef name,
                                       int64_t n, int64_t k, uint64_t seed) {
  auto layout = benchLayout(format, name, k);
  if (!layout)
    return layout.takeError();
  RandomFill random(seed);
  QuantizedTensor t;
  t.name = name.str();
  t.rows = n;
  t.cols = k;
  t.layout = *layout;
  Layout &l = t.layout;
  auto shapeError = [&](Error e) {
    return weightsError(formatv("{0} ({1}x{2}, {3}): {4}", name, n, k, format,
                                toString(std::move(e))));
  };
  // Mixed: the precision of every tile-group, at random with fixed shares.
  std::vector<uint8_t> precision;
  if (l.scheme == Scheme::Mixed && n > 0 && k > 0 && n % l.tile == 0 &&
      k % l.group == 0) {
    int64_t tileGroups = (n / l.tile) * (k / l.group);
    int64_t fp16 = std::llround(double(tileGroups) * kMixed16Bit);
    int64_t four = std::llround(double(tileGroups) * kMixed4Bit);
    int64_t two = tileGroups - four - fp16;
    precision.assign(size_t(two), 0);
    precision.insert(precision.end(), size_t(four), 1);
    precision.insert(precision.end(), size_t(fp16), 2);
    std::shuffle(precision.begin(), precision.end(), random.engine());
    l.alloc = {two, four, fp16};
  }
  if (l.scheme == Scheme::Lut)
    l.nnz = std::llround(double(n) * double(k) * kLutOutlierFraction);
  if (Error e = verifyLayoutForShape(l, n, k))
    return shapeError(std::move(e));

  auto specs = expectedStreams(l, n, k);
  if (!specs)
    return shapeError(specs.takeError());
  // Bits of the codes a sub-byte stream holds (its last byte is padded).
  auto usedBits = [&](StringRef stream) -> uint64_t {
    uint64_t N = n, K = k;
    if (l.scheme == Scheme::Mixed) {
      uint64_t tileWeights = uint64_t(l.tile) * l.group, rowGroups = 0,
               zeroBits = 0;
      for (size_t p = 0; p < l.bits.size(); ++p) {
        if (stream == mixedCodeStream(l.bits[p]))
          return uint64_t(l.alloc[p]) * tileWeights * l.bits[p];
        if (l.bits[p] == 16)
          continue;
        rowGroups += uint64_t(l.alloc[p]) * l.tile;
        zeroBits += uint64_t(l.alloc[p]) * l.tile * l.bits[p];
      }
      if (stream == "zeros")
        return zeroBits;
      if (stream == "scale_codes")
        return rowGroups * l.scaleBits;
      return 0;
    }
    uint64_t b = l.bits[0];
    uint64_t groups = l.group ? N * (K / l.group) : N;
    if (stream == "codes")
      return (l.scheme == Scheme::Quik ? N * (K - l.fp16Cols) : N * K) * b;
    if (stream == "zeros")
      return groups * b;
    if (stream == "scale_codes")
      return groups * l.scaleBits;
    return 0;
  };

  for (const StreamSpec &spec : *specs) {
    if (spec.bytes == 0)
      continue; // empty streams are omitted, as the packer does
    Stream s;
    s.type = spec.type;
    s.bytes.assign(size_t(spec.bytes), 0);
    StringRef sn = spec.name;
    std::vector<uint8_t> &b = s.bytes;
    if (sn == "values") {
      if (spec.type == StreamType::F32)
        random.floats(b);
      else
        random.halfs(b, /*positive=*/false);
    } else if (sn == "scales" || sn == "scale_meta") {
      random.halfs(b, /*positive=*/true);
    } else if (sn == "codes16" || sn == "lut" || sn == "csr_value" ||
               sn == "slot_value" || sn == "fp16_cols") {
      random.halfs(b, /*positive=*/false);
    } else if (sn == "pmap") {
      b = packBits(precision, 2);
    } else if (sn == "offsets") {
      size_t P = l.bits.size();
      std::vector<int32_t> count(P, 0);
      for (int64_t r = 0, G = k / l.group; r < n / l.tile; ++r) {
        for (size_t q = 0; q < P; ++q)
          putI32(b, uint64_t(r) * P + q, count[q]);
        for (int64_t g = 0; g < G; ++g)
          ++count[precision[size_t(r * G + g)]];
      }
    } else if (sn == "slot_index") {
      bool wide = spec.type == StreamType::U16;
      uint64_t slots = spec.bytes / (wide ? 2 : 1);
      for (uint64_t i = 0; i < slots; ++i) {
        uint16_t v = uint16_t(random.below(uint64_t(l.group)));
        if (wide)
          std::memcpy(b.data() + 2 * i, &v, 2);
        else
          b[i] = uint8_t(v);
      }
    } else if (sn == "csr_rowptr") {
      int64_t base = l.nnz / n, extra = l.nnz % n, at = 0;
      for (int64_t r = 0; r < n; ++r) {
        putI32(b, uint64_t(r), int32_t(at));
        at += base + (r < extra ? 1 : 0);
      }
      putI32(b, uint64_t(n), int32_t(at));
    } else if (sn == "csr_col") {
      bool narrow = spec.type == StreamType::U16;
      int64_t base = l.nnz / n, extra = l.nnz % n, at = 0;
      for (int64_t r = 0; r < n; ++r) {
        int64_t count = base + (r < extra ? 1 : 0);
        if (count == 0)
          continue;
        spreadColumns(random, count, k, [&](int64_t i, int64_t col) {
          if (narrow) {
            uint16_t v = uint16_t(col);
            std::memcpy(b.data() + 2 * (at + i), &v, 2);
          } else {
            putI32(b, uint64_t(at + i), int32_t(col));
          }
        });
        at += count;
      }
    } else if (sn == "col_index") {
      spreadColumns(random, l.fp16Cols, k, [&](int64_t i, int64_t col) {
        putI32(b, uint64_t(i), int32_t(col));
      });
    } else {
      // Codes, zero points and second-order scale codes: any bits will do.
      random.bytes(b);
      maskTail(b, usedBits(sn));
    }
    t.streams[spec.name] = std::move(s);
  }
  if (Error e = validateQuantizedTensor(t))
    return shapeError(std::move(e));
  return t;
}

Expected<Package> syntheticPackage(StringRef format, const LlamaConfig &config,
                                   ArrayRef<uint8_t> tokenizer, uint64_t seed) {
  if (!isBenchFormat(format))
    return weightsError("unknown bench format '" + format + "'");
  if (Error e = validateConfig(config))
    return std::move(e);
  const LlamaConfig &c = config;
  Package package;
  package.config = c;
  package.tokenizer.assign(tokenizer.begin(), tokenizer.end());
  package.tokenizerFormat = tokenizer.empty()             ? ""
                            : Tokenizer::isJson(tokenizer) ? "hf-json"
                                                           : "llama2c";
  package.quantizer = json::Object{
      {"scheme", "synthetic"},
      {"format", format.str()},
      {"seed", int64_t(seed)},
      {"note", "random valid streams written by mixq bench"}};
  package.sourceSha256 = "synthetic";

  auto addDense = [&](const std::string &name, std::vector<int64_t> shape,
                      int64_t bits, uint64_t denseSeed) {
    QuantizedTensor t;
    t.name = name;
    t.rows = shape.size() == 2 ? shape[0] : 1;
    t.cols = shape.back();
    t.layout.bits = {bits};
    Stream s;
    s.type = bits == 16 ? StreamType::F16 : StreamType::F32;
    s.bytes.assign(size_t(t.rows * t.cols * (bits / 8)), 0);
    if (shape.size() == 1) { // norm gains: ones
      const float one = 1.0f;
      for (size_t i = 0; i < s.bytes.size(); i += 4)
        std::memcpy(s.bytes.data() + i, &one, 4);
    } else {
      RandomFill random(denseSeed);
      random.halfs(s.bytes, /*positive=*/false);
    }
    t.streams["values"] = std::move(s);
    package.tensors.push_back({std::move(shape), std::move(t)});
  };
  uint64_t index = 0;
  auto addLinear = [&](const std::string &name, int64_t n,
                       int64_t k) -> Error {
    ++index;
    auto t = randomLinear(format, name, n, k,
                          seed ^ (0x9e3779b97f4a7c15ull * index));
    if (!t)
      return t.takeError();
    package.tensors.push_back({{n, k}, std::move(*t)});
    return Error::success();
  };

  addDense("tok_embeddings.weight", {c.vocabSize, c.dim}, 16, kEmbeddingSeed);
  int64_t q = c.nHeads * c.headDim(), kv = c.kvDim();
  for (int64_t i = 0; i < c.nLayers; ++i) {
    std::string p = "layers." + std::to_string(i) + ".";
    addDense(p + "attention_norm.weight", {c.dim}, 32, 0);
    for (auto [name, n, k] :
         {std::tuple<const char *, int64_t, int64_t>{"attention.wq", q, c.dim},
          {"attention.wk", kv, c.dim},
          {"attention.wv", kv, c.dim},
          {"attention.wo", c.dim, q}})
      if (Error e = addLinear(p + name + ".weight", n, k))
        return std::move(e);
    addDense(p + "ffn_norm.weight", {c.dim}, 32, 0);
    for (auto [name, n, k] : {std::tuple<const char *, int64_t, int64_t>{
                                  "feed_forward.w1", c.hiddenDim, c.dim},
                              {"feed_forward.w2", c.dim, c.hiddenDim},
                              {"feed_forward.w3", c.hiddenDim, c.dim}})
      if (Error e = addLinear(p + name + ".weight", n, k))
        return std::move(e);
  }
  addDense("norm.weight", {c.dim}, 32, 0);
  if (!c.tiedEmbeddings)
    addDense("output.weight", {c.vocabSize, c.dim}, 16, kEmbeddingSeed + 1);
  return std::move(package);
}

} // namespace mixq::cli
