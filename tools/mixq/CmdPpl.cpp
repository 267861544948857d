//===- CmdPpl.cpp - `mixq ppl`: perplexity of a model or compiled module --===//
//
//   mixq ppl --model M --text FILE [--ctx 256] [--max-windows N] [--json]
//            [--tokenizer FILE] [--threads N]
//   mixq ppl --model model.so --package PKG --text FILE [...]
//
// M runs on the fp32 reference engine; a compiled module (with the package
// it was compiled for, whose tokenizer it uses) runs each window as one
// prefill, scoring the logits of every position.
//
// The protocol, fixed so that numbers are comparable across schemes:
//   1. tokenize the whole file without BOS;
//   2. cut the tokens into consecutive non-overlapping windows of ctx - 1
//      tokens, dropping a shorter tail (--max-windows keeps the first N);
//   3. per window, with a fresh KV cache, feed BOS then the window: the
//      logits after BOS predict window[0], those after window[j-1] predict
//      window[j]; every one of the ctx - 1 tokens is scored (the last token
//      itself is never fed: nothing reads its logits);
//   4. NLL = log-sum-exp(logits) - logits[target], in double, natural log;
//      ppl = exp(total NLL / tokens scored).
// --json prints {"ppl", "nll" (mean NLL per scored token, nats, so ppl =
// exp(nll)), "tokens" (scored), "windows", "tokens_per_s" (positions fed per
// second of engine time)}.
//
// Hidden options for the independent cross-check (test/e2e/
// reference_llama.py): --dump-tokens FILE writes every window as fed plus its
// last token (BOS, window[0..ctx-2]: ctx int32 values per window) and
// --dump-logits FILE the logits of every fed position (ctx - 1 rows of
// vocab_size float32 per window), both raw little-endian, windows in order.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/ReferenceModel.h"

#include "model/Checkpoint.h"
#include "model/Engine.h"
#include "model/MappedFile.h"
#include "model/Tokenizer.h"
#include "runtime/CompiledModule.h"
#include "runtime/Session.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <optional>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;


namespace {

cl::SubCommand pplCommand("ppl", "Measure perplexity on a text file");
cl::opt<std::string> modelPath("model", cl::desc("Checkpoint (file or directory) or mixq package"),
                               cl::value_desc("path"), cl::Required,
                               cl::sub(pplCommand), cl::cat(category()));
cl::opt<std::string> packagePath("package",
                                 cl::desc("With a compiled module as --model: "
                                          "the package it was compiled for"),
                                 cl::value_desc("path"), cl::init(""),
                                 cl::sub(pplCommand), cl::cat(category()));
cl::opt<std::string> textPath("text", cl::desc("UTF-8 text to score"),
                              cl::value_desc("file"), cl::Required,
                              cl::sub(pplCommand), cl::cat(category()));
cl::opt<int64_t> ctx("ctx",
                     cl::desc("Window length including BOS (2..max_seq_len)"),
                     cl::init(256), cl::sub(pplCommand), cl::cat(category()));
cl::opt<int64_t> maxWindows("max-windows",
                            cl::desc("Score at most N windows (0 = all)"),
                            cl::init(0), cl::sub(pplCommand),
                            cl::cat(category()));
cl::opt<bool> jsonOutput("json", cl::desc("Print one JSON object"),
                         cl::sub(pplCommand), cl::cat(category()));
cl::opt<std::string>
    tokenizerPath("tokenizer",
                  cl::desc("tokenizer.bin or tokenizer.json (default: beside "
                           "the model)"),
                  cl::value_desc("file"), cl::init(""), cl::sub(pplCommand),
                  cl::cat(category()));
cl::opt<unsigned> threads("threads",
                          cl::desc("Threads (0 = one per hardware thread)"),
                          cl::init(0), cl::sub(pplCommand),
                          cl::cat(category()));
cl::opt<std::string> dumpTokens("dump-tokens",
                                cl::desc("Write the fed tokens (int32)"),
                                cl::Hidden, cl::init(""), cl::sub(pplCommand),
                                cl::cat(category()));
cl::opt<std::string> dumpLogits("dump-logits",
                                cl::desc("Write every position's logits "
                                         "(float32)"),
                                cl::Hidden, cl::init(""), cl::sub(pplCommand),
                                cl::cat(category()));

/// -log softmax(logits)[target], in double.
double negativeLogLikelihood(ArrayRef<float> logits, int target) {
  double maxLogit = -INFINITY;
  for (float l : logits)
    maxLogit = std::max(maxLogit, double(l));
  double sum = 0;
  for (float l : logits)
    sum += std::exp(double(l) - maxLogit);
  return maxLogit + std::log(sum) - double(logits[target]);
}

/// An output file for a --dump-* option, or none.
Expected<std::unique_ptr<raw_fd_ostream>> openDump(StringRef path) {
  if (path.empty())
    return nullptr;
  std::error_code ec;
  auto os = std::make_unique<raw_fd_ostream>(path, ec);
  if (ec)
    return fileError(path, ec.message());
  return std::move(os);
}

void writeRaw(raw_ostream *os, const void *data, size_t bytes) {
  if (os)
    os->write(static_cast<const char *>(data), bytes);
}

void drawProgress(int64_t done, int64_t total) {
  constexpr int width = 40;
  int filled = int(width * done / std::max<int64_t>(total, 1));
  errs() << "\r[" << std::string(filled, '=') << std::string(width - filled, ' ')
         << "] " << done << "/" << total << " windows";
  if (done == total)
    errs() << "\n";
  errs().flush();
}

/// What scores windows: the reference engine or a compiled module.
struct PplModel {
  std::optional<ReferenceModel> reference;
  std::unique_ptr<PackageReader> package;
  std::unique_ptr<CompiledModule> module;
  std::unique_ptr<Session> session;
  std::unique_ptr<Tokenizer> ownTokenizer;
  Tokenizer *tokenizer = nullptr;
  int64_t maxSeqLen = 0;

  unsigned threads() const {
    return session ? session->threads() : reference->engine->threads();
  }

  /// Feeds `fed` (BOS then the window but its last token) at positions
  /// 0.. and calls score(j, logits of position j) for each.
  Error run(ArrayRef<int> fed,
            function_ref<void(int64_t, ArrayRef<float>)> score) {
    if (session) {
      session->reset();
      auto last = session->prefill(fed, Session::LogitRows::All);
      if (!last)
        return last.takeError();
      ArrayRef<float> all = session->allLogits();
      size_t vocab = size_t(session->vocabSize());
      for (size_t j = 0; j < fed.size(); ++j)
        score(int64_t(j), all.slice(j * vocab, vocab));
      return Error::success();
    }
    Engine &engine = *reference->engine;
    engine.reset();
    for (size_t j = 0; j < fed.size(); ++j)
      score(int64_t(j), engine.forward(fed[j], int(j)));
    return Error::success();
  }
};

Expected<PplModel> loadPplModel() {
  PplModel m;
  if (packagePath.empty()) {
    Expected<ReferenceModel> model =
        loadReferenceModel(modelPath, tokenizerPath, threads);
    if (!model)
      return model.takeError();
    m.reference.emplace(std::move(*model));
    m.tokenizer = m.reference->tokenizer.get();
    m.maxSeqLen = m.reference->engine->config().maxSeqLen;
    return std::move(m);
  }
  auto package = PackageReader::open(packagePath);
  if (!package)
    return package.takeError();
  m.package = std::move(*package);
  auto module = CompiledModule::open(modelPath);
  if (!module)
    return module.takeError();
  m.module = std::move(*module);
  if (Error e = m.module->bindPackage(*m.package))
    return std::move(e);
  auto session = Session::create(*m.module, threads);
  if (!session)
    return session.takeError();
  m.session = std::move(*session);
  const LlamaConfig &config = m.package->config();
  if (tokenizerPath.empty()) {
    auto tokenizer = Tokenizer::loadFromBytes(m.package->tokenizer(),
                                              packagePath, config.vocabSize);
    if (!tokenizer)
      return tokenizer.takeError();
    m.ownTokenizer = std::move(*tokenizer);
  } else {
    auto tokenizer = Tokenizer::load(tokenizerPath, config.vocabSize);
    if (!tokenizer)
      return tokenizer.takeError();
    m.ownTokenizer = std::move(*tokenizer);
  }
  m.tokenizer = m.ownTokenizer.get();
  m.maxSeqLen = m.session->contextLength();
  return std::move(m);
}

int runPpl() {
  Expected<PplModel> model = loadPplModel();
  if (!model)
    return fail(model.takeError());
  int64_t maxSeqLen = model->maxSeqLen;
  if (ctx < 2 || ctx > maxSeqLen)
    return fail(fileError(modelPath,
                          formatv("--ctx {0} is outside 2..{1} (the model's "
                                  "context)",
                                  int64_t(ctx), maxSeqLen)));
  if (maxWindows < 0)
    return fail(createStringError(inconvertibleErrorCode(),
                                  "--max-windows must be >= 0"));

  ErrorOr<std::unique_ptr<MemoryBuffer>> text =
      MemoryBuffer::getFile(textPath, /*IsText=*/false);
  if (!text)
    return fail(fileError(textPath, text.getError().message()));
  std::vector<int> tokens = model->tokenizer->encode(
      (*text)->getBuffer(), /*bos=*/false, /*eos=*/false);
  int64_t window = ctx - 1;
  int64_t windows = int64_t(tokens.size()) / window;
  if (maxWindows > 0)
    windows = std::min<int64_t>(windows, maxWindows);
  if (windows == 0)
    return fail(fileError(textPath,
                          formatv("{0} tokens, fewer than one window of {1}",
                                  tokens.size(), window)));

  Expected<std::unique_ptr<raw_fd_ostream>> tokenDump = openDump(dumpTokens);
  if (!tokenDump)
    return fail(tokenDump.takeError());
  Expected<std::unique_ptr<raw_fd_ostream>> logitDump = openDump(dumpLogits);
  if (!logitDump)
    return fail(logitDump.takeError());

  bool progress = sys::Process::StandardErrIsDisplayed();
  int bos = model->tokenizer->bosId();
  double totalNll = 0;
  int64_t fed = 0;
  auto start = std::chrono::steady_clock::now();
  std::vector<int> input(size_t(window), 0);
  for (int64_t w = 0; w < windows; ++w) {
    const int *text = tokens.data() + w * window;
    input[0] = bos;
    std::copy(text, text + window - 1, input.begin() + 1);
    if (Error e = model->run(input, [&](int64_t j, ArrayRef<float> logits) {
          totalNll += negativeLogLikelihood(logits, text[j]);
          writeRaw(tokenDump->get(), &input[size_t(j)], sizeof(int32_t));
          writeRaw(logitDump->get(), logits.data(),
                   logits.size() * sizeof(float));
          ++fed;
        }))
      return fail(std::move(e));
    writeRaw(tokenDump->get(), &text[window - 1], sizeof(int32_t));
    if (progress)
      drawProgress(w + 1, windows);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  for (raw_fd_ostream *os : {tokenDump->get(), logitDump->get()})
    if (os) {
      os->close();
      if (os->has_error())
        return fail(fileError(os == tokenDump->get() ? dumpTokens : dumpLogits,
                              os->error().message()));
    }

  int64_t scored = windows * window;
  double meanNll = totalNll / double(scored);
  double ppl = std::exp(meanNll);
  double tokensPerSecond = seconds > 0 ? double(fed) / seconds : 0.0;
  if (jsonOutput) {
    outs() << formatv("{0}\n", json::Value(json::Object{
                                   {"ppl", ppl},
                                   {"nll", meanNll},
                                   {"tokens", scored},
                                   {"windows", windows},
                                   {"tokens_per_s", tokensPerSecond},
                               }));
  } else {
    outs() << formatv("ppl {0:f4} over {1} tokens ({2} windows of {3}), mean "
                      "nll {4:f6}\n",
                      ppl, scored, windows, window, meanNll);
    if (model->session && !model->session->device().empty())
      outs() << formatv("{0:f1} tokens/s ({1}, compiled module)\n",
                        tokensPerSecond, model->session->device());
    else
      outs() << formatv("{0:f1} tokens/s ({1} threads, {2})\n",
                        tokensPerSecond, model->threads(),
                        model->session ? "compiled module"
                                       : "reference engine");
  }
  return Success;
}

CommandRegistration registration(pplCommand, runPpl);

} // namespace
