//===- CmdQuantize.cpp - `mixq quantize`: checkpoint -> package -----------===//
//
//   mixq quantize --model M --scheme rtn|gptq|mixed|squeeze|quik [options]
//                 [--calib FILE] [--calib-tokens N] -o PKG
//
// Loads the checkpoint, calibrates on text with the fp32 reference engine
// (schemes other than rtn), quantizes every linear layer with its scheme
// (quant/Quantizer.h), keeps norms in FP32 and the embeddings and head in
// FP16 unless asked, and writes one package (model/Package.h) atomically.
// Progress goes to stderr, one line per tensor; the summary to stdout.
//
// Calibration defaults to the King James Bible (`mixq fetch kjv`, fetched
// when missing) and 8192 tokens in windows of 256 (see quant/Calibration.h).
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/Fetch.h"
#include "tools/mixq/ReferenceModel.h"

#include "model/Dequantize.h"
#include "model/MappedFile.h"
#include "model/Package.h"
#include "model/PackageHash.h"
#include "quant/Calibration.h"
#include "quant/Pack.h"
#include "quant/Quantizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand quantizeCommand("quantize",
                               "Quantize a checkpoint into a mixq package");
cl::OptionCategory &cat() { return category(); }

/// One option of this command: type, variable, flag, help text, default.
#define MIXQ_Q_OPT(TYPE, VAR, FLAG, HELP, DEFAULT)                             \
  cl::opt<TYPE> VAR(FLAG, cl::desc(HELP), cl::init(DEFAULT),                   \
                    cl::sub(quantizeCommand), cl::cat(cat()))

cl::opt<std::string> modelPath("model", cl::desc("Checkpoint file or directory"),
                               cl::Required, cl::sub(quantizeCommand),
                               cl::cat(cat()));
cl::opt<std::string> outputPath("o", cl::desc("Package to write"),
                                cl::Required, cl::sub(quantizeCommand),
                                cl::cat(cat()));
MIXQ_Q_OPT(std::string, tokenizerPath, "tokenizer",
           "tokenizer.bin or tokenizer.json (default: beside the model)", "");
MIXQ_Q_OPT(std::string, scheme, "scheme",
           "rtn | gptq | mixed | squeeze | quik", "mixed");
MIXQ_Q_OPT(int64_t, bits, "bits", "rtn/gptq: 2, 3, 4 or 8", 4);
MIXQ_Q_OPT(int64_t, group, "group", "rtn/gptq: group size (0 = per row)", 128);
MIXQ_Q_OPT(bool, asym, "asym", "rtn/gptq: zero points", true);
MIXQ_Q_OPT(int64_t, scaleBits, "scale-bits",
           "rtn/gptq: second-order scale bits (0 = FP16 scales)", 0);
MIXQ_Q_OPT(int64_t, scaleBlock, "scale-block",
           "rtn/gptq: scales per FP16 scale-of-scales", 64);
MIXQ_Q_OPT(double, damp, "damp", "GPTQ dampening (share of mean diag H)", 0.01);
MIXQ_Q_OPT(bool, actOrder, "act-order", "GPTQ: columns by decreasing diag H",
           true);
MIXQ_Q_OPT(int64_t, gptqBlock, "gptq-block", "GPTQ lazy-update block", 128);
MIXQ_Q_OPT(double, bpw, "bpw",
           "mixed: target bits per weight, everything counted (0: use "
           "--fractions)",
           2.91);
cl::list<double> fractions("fractions",
                           cl::desc("mixed: 4-bit and FP16 shares of "
                                    "tile-groups, e.g. 0.1,0.01 (with --bpw=0)"),
                           cl::CommaSeparated, cl::sub(quantizeCommand),
                           cl::cat(cat()));
MIXQ_Q_OPT(int64_t, mixedGroup, "mixed-group", "mixed: group size", 64);
MIXQ_Q_OPT(int64_t, tile, "tile", "mixed: rows per tile-group", 16);
MIXQ_Q_OPT(int64_t, slots, "slots", "mixed: outlier slots per 2-bit group", 1);
MIXQ_Q_OPT(int64_t, mixedScaleBits, "mixed-scale-bits",
           "mixed: second-order scale bits", 4);
MIXQ_Q_OPT(int64_t, mixedScaleBlock, "mixed-scale-block",
           "mixed: scales per FP16 scale-of-scales", 64);
MIXQ_Q_OPT(int64_t, lutBits, "lut-bits", "squeeze: 3 or 4", 3);
MIXQ_Q_OPT(double, fence, "fence",
           "squeeze: share of range-fence outliers kept FP16", 0.0045);
MIXQ_Q_OPT(double, sensitive, "sensitive",
           "squeeze: share of most sensitive values kept FP16", 0.0005);
MIXQ_Q_OPT(int64_t, fp16Cols, "fp16-cols",
           "quik: FP16 input columns (-1: 256 per 4096 of width)", -1);
MIXQ_Q_OPT(int64_t, quikBits, "quik-bits", "quik: weight bits", 4);
MIXQ_Q_OPT(int64_t, downBits, "down-bits", "quik: weight bits of down_proj", 8);
MIXQ_Q_OPT(int64_t, actBits, "act-bits",
           "quik: run-time activation bits (4, 8; 16 = none)", 16);
MIXQ_Q_OPT(bool, actAsym, "act-asym", "quik: asymmetric activations", true);
MIXQ_Q_OPT(bool, quantizeEmbeddings, "quantize-embeddings",
           "Quantize the embedding table (RTN, --bits/--group)", false);
MIXQ_Q_OPT(bool, quantizeHead, "quantize-head",
           "Quantize the output head (RTN, --bits/--group)", false);
MIXQ_Q_OPT(int64_t, tableBits, "table-bits",
           "Embedding table and head when not quantized like the linears: "
           "16 (FP16) or 8 (int8 per row)",
           16);
MIXQ_Q_OPT(std::string, calibPath, "calib",
           "Calibration text (default: the KJV Bible from `mixq fetch kjv`)",
           "");
MIXQ_Q_OPT(int64_t, calibTokens, "calib-tokens", "Calibration tokens", 8192);
MIXQ_Q_OPT(int64_t, calibCtx, "calib-ctx", "Calibration window length", 256);
MIXQ_Q_OPT(unsigned, threads, "threads", "Engine threads (0: all)", 0);
MIXQ_Q_OPT(bool, jsonOutput, "json", "Print the summary as JSON", false);

QuantizerOptions optionsFromFlags() {
  QuantizerOptions o;
  o.scheme = scheme;
  o.bits = bits;
  o.group = group;
  o.asym = asym;
  o.scaleBits = scaleBits;
  o.scaleBlock = scaleBits ? scaleBlock : 0;
  o.damp = damp;
  o.actOrder = actOrder;
  o.gptqBlock = gptqBlock;
  o.bpw = bpw;
  o.fractions.assign(fractions.begin(), fractions.end());
  o.mixedGroup = mixedGroup;
  o.tile = tile;
  o.slots = slots;
  o.mixedScaleBits = mixedScaleBits;
  o.mixedScaleBlock = mixedScaleBlock;
  o.lutBits = lutBits;
  o.fenceFraction = fence;
  o.sensitiveFraction = sensitive;
  o.fp16Cols = fp16Cols;
  o.quikBits = quikBits;
  o.downBits = downBits;
  o.actBits = actBits;
  o.actAsym = actAsym;
  o.quantizeEmbeddings = quantizeEmbeddings;
  o.quantizeHead = quantizeHead;
  o.tableBits = tableBits;
  return o;
}

/// How an embedding table or head that is not quantized like the linears
/// is stored at --table-bits 8: RTN int8 codes with an FP16 scale and zero
/// per row (8.06 bpw at dim 288). Per row rather than per group: the
/// decode GEMV of the head then reads a row's codes with one scale, and a
/// stories15M decode step reads 9.3 MB instead of 18.4 MB of FP16 (its
/// largest read by far); per-group scales bought nothing measurable at 8
/// bits (held-out perplexity 686.4 per row, 685.1 per 32 columns, 684.1
/// FP16).
QuantizerOptions tableOptions(const QuantizerOptions &o) {
  QuantizerOptions t = o;
  t.scheme = "rtn";
  t.bits = o.tableBits;
  t.group = 0;
  t.asym = true;
  t.scaleBits = 0;
  t.scaleBlock = 0;
  return t;
}

/// SHA-256 identifying the source checkpoint: of the file, or for a
/// directory of the hashes of its files (config, shards) in name order.
Expected<std::string> sourceHash(const Checkpoint &checkpoint) {
  StringRef path = checkpoint.path();
  if (!sys::fs::is_directory(path))
    return fetch::sha256File(path);
  std::vector<std::string> files;
  std::error_code ec;
  for (sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = sys::path::filename(it->path());
    if (name.ends_with(".safetensors") || name.ends_with(".json"))
      files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::string combined;
  for (const std::string &file : files) {
    auto hash = fetch::sha256File(file);
    if (!hash)
      return hash.takeError();
    combined += sys::path::filename(file).str() + "=" + *hash + "\n";
  }
  return sha256Hex(ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(combined.data()), combined.size()));
}

/// Calibrates `model`'s engine on the calibration text.
Expected<std::unique_ptr<Calibrator>> calibrate(ReferenceModel &model,
                                                int64_t &tokensUsed,
                                                std::string &textPath) {
  textPath = calibPath;
  if (textPath.empty()) {
    auto cache = fetch::defaultCacheDir();
    if (!cache)
      return cache.takeError();
    auto kjv = fetch::fetchKjv(*cache, errs());
    if (!kjv)
      return kjv.takeError();
    textPath = *kjv;
  }
  auto buffer = MemoryBuffer::getFile(textPath);
  if (!buffer)
    return fileError(textPath, buffer.getError().message());
  std::vector<int> tokens = model.tokenizer->encode((*buffer)->getBuffer(),
                                                    /*bos=*/false,
                                                    /*eos=*/false);
  if (tokens.empty())
    return fileError(textPath, "calibration text has no tokens");
  CalibrationOptions options;
  options.tokens = calibTokens;
  options.ctx = std::min<int64_t>(calibCtx, model.weights->config.maxSeqLen);
  if (options.ctx < 2)
    return fileError(textPath, "--calib-ctx must be at least 2");
  auto calibrator = std::make_unique<Calibrator>(model.weights->config);
  model.engine->setObserver(calibrator.get());
  Engine &engine = *model.engine;
  auto start = std::chrono::steady_clock::now();
  tokensUsed = runCalibration(
      tokens, model.tokenizer->bosId(), options,
      [&](int token, int pos) { engine.advance(token, pos); },
      [&] { engine.reset(); },
      [&](int64_t done, int64_t total) {
        double s = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
        errs() << formatv("\rcalibrating: {0}/{1} tokens ({2:F0} tokens/s)",
                          done, total, done / std::max(s, 1e-9));
      });
  errs() << "\n";
  model.engine->setObserver(nullptr);
  if (tokensUsed < options.tokens)
    WithColor::warning(errs(), "mixq")
        << textPath << ": only " << tokensUsed << " calibration tokens (asked "
        << options.tokens << ")\n";
  calibrator->finish();
  return std::move(calibrator);
}

/// The canonical tensors of a model, in package order.
struct Entry {
  std::string name;
  const std::vector<float> *values;
  std::vector<int64_t> shape;
};
std::vector<Entry> modelTensors(const LlamaWeights &w) {
  const LlamaConfig &c = w.config;
  std::vector<Entry> out;
  out.push_back({"tok_embeddings.weight", &w.tokEmbeddings, {c.vocabSize, c.dim}});
  int64_t q = c.nHeads * c.headDim(), kv = c.kvDim();
  for (int64_t i = 0; i < c.nLayers; ++i) {
    const LayerWeights &l = w.layers[i];
    std::string p = "layers." + std::to_string(i) + ".";
    out.push_back({p + "attention_norm.weight", &l.attentionNorm, {c.dim}});
    out.push_back({p + "attention.wq.weight", &l.wq, {q, c.dim}});
    out.push_back({p + "attention.wk.weight", &l.wk, {kv, c.dim}});
    out.push_back({p + "attention.wv.weight", &l.wv, {kv, c.dim}});
    out.push_back({p + "attention.wo.weight", &l.wo, {c.dim, q}});
    out.push_back({p + "ffn_norm.weight", &l.ffnNorm, {c.dim}});
    out.push_back({p + "feed_forward.w1.weight", &l.w1, {c.hiddenDim, c.dim}});
    out.push_back({p + "feed_forward.w2.weight", &l.w2, {c.dim, c.hiddenDim}});
    out.push_back({p + "feed_forward.w3.weight", &l.w3, {c.hiddenDim, c.dim}});
  }
  out.push_back({"norm.weight", &w.finalNorm, {c.dim}});
  if (!c.tiedEmbeddings)
    out.push_back({"output.weight", &w.output, {c.vocabSize, c.dim}});
  return out;
}

int runQuantize() {
  auto start = std::chrono::steady_clock::now();
  QuantizerOptions options = optionsFromFlags();
  if (Error e = options.validate())
    return fail(std::move(e));
  if (isPackageFile(modelPath))
    return fail(fileError(modelPath, "is already a mixq package; quantize "
                                     "takes a checkpoint"));
  auto model = loadReferenceModel(modelPath, tokenizerPath, threads);
  if (!model)
    return fail(model.takeError());

  std::unique_ptr<Calibrator> calibrator;
  int64_t calibrationTokens = 0;
  std::string calibrationText;
  if (options.needsCalibration()) {
    auto c = calibrate(*model, calibrationTokens, calibrationText);
    if (!c)
      return fail(c.takeError());
    calibrator = std::move(*c);
  }

  Package package;
  package.config = model->weights->config;
  package.tokenizer = model->tokenizerBytes;
  package.tokenizerFormat =
      Tokenizer::isJson(package.tokenizer) ? "hf-json" : "llama2c";
  package.quantizer = options.toJSON();
  if (calibrator) {
    package.quantizer["calibration_text"] =
        sys::path::filename(calibrationText).str();
    package.quantizer["calibration_tokens"] = calibrationTokens;
  }
  auto hash = sourceHash(*model->checkpoint);
  if (!hash)
    return fail(hash.takeError());
  package.sourceSha256 = *hash;

  std::vector<Entry> entries = modelTensors(*model->weights);
  size_t index = 0;
  for (const Entry &entry : entries) {
    ++index;
    auto tensorStart = std::chrono::steady_clock::now();
    int64_t n = entry.shape.size() == 2 ? entry.shape[0] : 1;
    int64_t k = entry.shape.back();
    bool isEmbedding = entry.name == "tok_embeddings.weight";
    bool isHead = entry.name == "output.weight";
    Expected<QuantizedTensor> tensor = [&]() -> Expected<QuantizedTensor> {
      if (entry.shape.size() == 1) // norms: exact
        return packDense(entry.name, n, k, *entry.values, 32);
      if ((isEmbedding && !options.quantizeEmbeddings) ||
          (isHead && !options.quantizeHead)) {
        if (options.tableBits == 16)
          return packDense(entry.name, n, k, *entry.values, 16);
        return quantizeLinear(entry.name, *entry.values, n, k, nullptr,
                              tableOptions(options));
      }
      const InputStats *stats =
          calibrator ? calibrator->statsFor(entry.name) : nullptr;
      return quantizeLinear(entry.name, *entry.values, n, k, stats, options);
    }();
    if (!tensor)
      return fail(fileError(modelPath, toString(tensor.takeError())));
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - tensorStart)
                         .count();
    errs() << formatv("[{0,3}/{1}] {2,-34} {3,5}x{4,-6} {5,7:F4} bpw  {6:F2}s  "
                      "<{7}>\n",
                      index, entries.size(), entry.name, n, k,
                      double(tensor->totalBits()) / double(n * k), seconds,
                      formatLayout(tensor->layout));
    package.tensors.push_back({entry.shape, std::move(*tensor)});
  }

  if (Error e = writePackage(package, outputPath))
    return fail(std::move(e));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  // Summary from the package as written (the same numbers inspect prints).
  auto written = PackageReader::open(outputPath);
  if (!written)
    return fail(written.takeError());
  uint64_t linearBits = 0, linearParams = 0, allBits = 0, allParams = 0;
  for (const PackageTensorView &t : (*written)->tensors()) {
    uint64_t params = uint64_t(t.rows) * uint64_t(t.cols);
    allBits += t.storageBits();
    allParams += params;
    if (StringRef(t.name).starts_with("layers.") && t.rows > 1) {
      linearBits += t.storageBits();
      linearParams += params;
    }
  }
  double linearBpw = double(linearBits) / double(linearParams);
  double allBpw = double(allBits) / double(allParams);
  if (jsonOutput) {
    outs() << formatv("{0:2}", json::Value(json::Object{
                                   {"package", outputPath.getValue()},
                                   {"scheme", options.scheme},
                                   {"bpw", linearBpw},
                                   {"bpw_all", allBpw},
                                   {"seconds", seconds},
                                   {"calibration_tokens", calibrationTokens}}))
           << "\n";
  } else {
    outs() << formatv("wrote {0}\n  scheme {1}: {2:F4} bits per weight over "
                      "the quantized linears, {3:F4} over everything stored\n"
                      "  {4:F1} s\n",
                      outputPath, options.scheme, linearBpw, allBpw, seconds);
  }
  return Success;
}

CommandRegistration registration(quantizeCommand, runQuantize);

} // namespace
