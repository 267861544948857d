//===- CmdGenerate.cpp - `mixq generate`: text from the fp32 engine -------===//
//
//   mixq generate --model M --prompt "..." -n N [--temp T] [--top-p P]
//                 [--seed S] [--tokenizer FILE] [--threads N]
//
// Encodes the prompt with BOS and runs N positions counting BOS and the
// prompt (as llama2.c does: -n 64 runs positions 0..63), printing each piece
// as soon as it is known; prompt pieces are printed too. Stops early when the
// model produces BOS or EOS. The speed goes to stderr.
//
// Defaults: temperature 0 (greedy, so the reference engine is deterministic
// unless asked otherwise), top-p 0.9, seed 0. -n 0 means the whole context;
// -n beyond the context, like a prompt that does not fit in it, is an
// error.
//
// The model may be a checkpoint or a mixq package (ReferenceModel.h).
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/TextOutput.h"
#include "tools/mixq/ReferenceModel.h"

#include "model/Checkpoint.h"
#include "model/Engine.h"
#include "model/MappedFile.h"
#include "model/Sampler.h"
#include "model/Tokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cctype>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;


namespace {

cl::SubCommand generateCommand("generate",
                               "Generate text with the fp32 reference engine");
cl::opt<std::string> modelPath("model", cl::desc("Checkpoint (file or directory) or mixq package"),
                               cl::value_desc("path"), cl::Required,
                               cl::sub(generateCommand), cl::cat(category()));
cl::opt<std::string> prompt("prompt", cl::desc("Text to continue"),
                            cl::init(""), cl::sub(generateCommand),
                            cl::cat(category()));
cl::opt<int> steps("n",
                   cl::desc("Positions to run, counting BOS and the prompt "
                            "(0 = the whole context)"),
                   cl::init(256), cl::sub(generateCommand),
                   cl::cat(category()));
cl::opt<float> temperature("temp",
                           cl::desc("Sampling temperature (0 = greedy)"),
                           cl::init(0.0f), cl::sub(generateCommand),
                           cl::cat(category()));
cl::opt<float> topP("top-p",
                    cl::desc("Nucleus sampling threshold (>= 1 disables)"),
                    cl::init(0.9f), cl::sub(generateCommand),
                    cl::cat(category()));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of the sampler"), cl::init(0),
                       cl::sub(generateCommand), cl::cat(category()));
cl::opt<std::string>
    tokenizerPath("tokenizer",
                  cl::desc("tokenizer.bin or tokenizer.json (default: beside "
                           "the model)"),
                  cl::value_desc("file"), cl::init(""),
                  cl::sub(generateCommand), cl::cat(category()));
cl::opt<unsigned> threads("threads",
                          cl::desc("Threads (0 = one per hardware thread)"),
                          cl::init(0), cl::sub(generateCommand),
                          cl::cat(category()));


int runGenerate() {
  if (temperature < 0)
    return fail(createStringError(inconvertibleErrorCode(),
                                  "--temp must be >= 0"));
  if (steps < 0)
    return fail(createStringError(inconvertibleErrorCode(),
                                  "-n must be >= 0"));
  Expected<ReferenceModel> model =
      loadReferenceModel(modelPath, tokenizerPath, threads);
  if (!model)
    return fail(model.takeError());
  const LlamaConfig &config = model->engine->config();
  Engine &engine = *model->engine;
  const Tokenizer &tokenizer = *model->tokenizer;

  std::vector<int> tokens = tokenizer.encode(prompt, /*bos=*/true,
                                             /*eos=*/false);
  if (int64_t(tokens.size()) > config.maxSeqLen)
    return fail(fileError(
        modelPath, formatv("the prompt is {0} tokens with BOS but the context "
                           "holds {1}",
                           tokens.size(), config.maxSeqLen)));
  int64_t n = steps;
  if (n == 0)
    n = config.maxSeqLen;
  if (n > config.maxSeqLen)
    return fail(fileError(
        modelPath, formatv("-n {0} exceeds the context of {1} positions (-n "
                           "counts the prompt; -n 0 runs the whole context)",
                           n, config.maxSeqLen)));

  Sampler sampler(temperature, topP, seed);
  int bos = tokenizer.bosId(), eos = tokenizer.eosId();
  int token = tokens[0];
  int64_t pos = 0;
  auto start = std::chrono::steady_clock::now();
  while (pos < n) {
    int next;
    if (pos + 1 < int64_t(tokens.size())) {
      engine.advance(token, int(pos));
      next = tokens[pos + 1];
    } else {
      next = sampler.sample(engine.forward(token, int(pos)));
    }
    ++pos;
    if (next == bos || next == eos)
      break;
    printPiece(tokenizer.decodeToken(token, next), outs());
    token = next;
  }
  outs() << "\n";
  outs().flush();
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  errs() << formatv("{0} positions in {1:f3} s: {2:f1} tokens/s ({3} "
                    "threads)\n",
                    pos, seconds, seconds > 0 ? double(pos) / seconds : 0.0,
                    engine.threads());
  return Success;
}

CommandRegistration registration(generateCommand, runGenerate);

} // namespace
