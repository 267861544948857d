//===- CmdRun.cpp - `mixq run`: text from a compiled module ---------------===//
//
//   mixq run model.so --package PKG --prompt "..." [-n N] [--temp T]
//            [--top-p P] [--seed S] [--threads N]
//
// Loads a compiled module (runtime/CompiledModule.h), binds it to the
// package it was compiled for (mmapped, its content hash checked) and
// generates text with the package's tokenizer: the prompt (with BOS) in one
// prefill, then one decode per token. -n counts positions as `mixq generate`
// does (BOS and the prompt included; 0 = the whole context; beyond the
// context it is an error), so both commands print the same text for the same
// weights. Stops early on BOS or EOS. The text goes to stdout, prefill and
// decode speeds to stderr (with the threads, or the GPU of a GPU module).
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/TextOutput.h"

#include "model/MappedFile.h"
#include "model/Package.h"
#include "model/Sampler.h"
#include "model/Tokenizer.h"
#include "runtime/CompiledModule.h"
#include "runtime/Session.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <chrono>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand runCommand("run", "Generate text with a compiled module");
cl::opt<std::string> modulePath(cl::Positional, cl::desc("<model.so>"),
                                cl::Required, cl::sub(runCommand),
                                cl::cat(category()));
cl::opt<std::string> packagePath("package",
                                 cl::desc("The package the module was "
                                          "compiled for"),
                                 cl::value_desc("path"), cl::Required,
                                 cl::sub(runCommand), cl::cat(category()));
cl::opt<std::string> prompt("prompt", cl::desc("Text to continue"),
                            cl::init(""), cl::sub(runCommand),
                            cl::cat(category()));
cl::opt<int> steps("n",
                   cl::desc("Positions to run, counting BOS and the prompt "
                            "(0 = the whole context)"),
                   cl::init(256), cl::sub(runCommand), cl::cat(category()));
cl::opt<float> temperature("temp",
                           cl::desc("Sampling temperature (0 = greedy)"),
                           cl::init(0.0f), cl::sub(runCommand),
                           cl::cat(category()));
cl::opt<float> topP("top-p",
                    cl::desc("Nucleus sampling threshold (>= 1 disables)"),
                    cl::init(0.9f), cl::sub(runCommand), cl::cat(category()));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of the sampler"), cl::init(0),
                       cl::sub(runCommand), cl::cat(category()));
cl::opt<unsigned> threads("threads",
                          cl::desc("Threads (0 = one per hardware thread)"),
                          cl::init(0), cl::sub(runCommand),
                          cl::cat(category()));


double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

int runRun() {
  if (temperature < 0)
    return fail(createStringError(inconvertibleErrorCode(),
                                  "--temp must be >= 0"));
  if (steps < 0)
    return fail(createStringError(inconvertibleErrorCode(),
                                  "-n must be >= 0"));
  auto package = PackageReader::open(packagePath);
  if (!package)
    return fail(package.takeError());
  auto module = CompiledModule::open(modulePath);
  if (!module)
    return fail(module.takeError());
  if (Error e = (*module)->bindPackage(**package))
    return fail(std::move(e));
  const LlamaConfig &config = (*package)->config();
  auto tokenizer = Tokenizer::loadFromBytes((*package)->tokenizer(),
                                            packagePath, config.vocabSize);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  auto session = Session::create(**module, threads);
  if (!session)
    return fail(session.takeError());
  Session &s = **session;

  std::vector<int> tokens = (*tokenizer)->encode(prompt, /*bos=*/true,
                                                 /*eos=*/false);
  int64_t context = s.contextLength();
  if (int64_t(tokens.size()) > context)
    return fail(fileError(
        modulePath, formatv("the prompt is {0} tokens with BOS but the "
                            "context holds {1}",
                            tokens.size(), context)));
  int64_t n = steps == 0 ? context : int64_t(steps);
  if (n > context)
    return fail(fileError(
        modulePath, formatv("-n {0} exceeds the context of {1} positions (-n "
                            "counts the prompt; -n 0 runs the whole context)",
                            n, context)));
  n = std::max<int64_t>(n, int64_t(tokens.size()));

  Sampler sampler(temperature, topP, seed);
  int bos = (*tokenizer)->bosId(), eos = (*tokenizer)->eosId();
  for (size_t i = 0; i + 1 < tokens.size(); ++i)
    printPiece((*tokenizer)->decodeToken(tokens[i], tokens[i + 1]), outs());

  auto start = std::chrono::steady_clock::now();
  auto logits = s.prefill(tokens);
  if (!logits)
    return fail(logits.takeError());
  double prefillSeconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  int64_t decoded = 0;
  int token = tokens.back();
  while (true) {
    int next = sampler.sample(*logits);
    if (next == bos || next == eos)
      break;
    printPiece((*tokenizer)->decodeToken(token, next), outs());
    token = next;
    if (s.pos() >= n)
      break;
    logits = s.decode(token);
    if (!logits)
      return fail(logits.takeError());
    ++decoded;
  }
  double decodeSeconds = secondsSince(start);
  outs() << "\n";
  outs().flush();
  auto rate = [](int64_t count, double seconds) {
    return seconds > 0 ? double(count) / seconds : 0.0;
  };
  std::string where = s.device().empty()
                          ? formatv("{0} threads", s.threads()).str()
                          : s.device() + ", " + s.gpuDecodeMode();
  errs() << formatv("prefill: {0} tokens in {1:f3} s ({2:f1} tokens/s); "
                    "decode: {3} tokens in {4:f3} s ({5:f1} tokens/s); {6}\n",
                    tokens.size(), prefillSeconds,
                    rate(int64_t(tokens.size()), prefillSeconds), decoded,
                    decodeSeconds, rate(decoded, decodeSeconds), where);
  return Success;
}

CommandRegistration registration(runCommand, runRun);

} // namespace
