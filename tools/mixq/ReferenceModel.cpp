//===- ReferenceModel.cpp - A model loaded for the fp32 engine ------------===//
//
// See ReferenceModel.h.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/ReferenceModel.h"

#include "model/MappedFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace mixq;

std::string mixq::cli::defaultTokenizerPath(const Checkpoint &checkpoint) {
  StringRef modelPath = checkpoint.path();
  if (sys::fs::is_directory(modelPath)) {
    SmallString<256> p(modelPath);
    sys::path::append(p, "tokenizer.json");
    return std::string(p);
  }
  SmallString<256> dir(sys::path::parent_path(modelPath));
  if (dir.empty())
    dir = ".";
  SmallString<256> json(dir), bin(dir);
  sys::path::append(json, "tokenizer.json");
  sys::path::append(bin, "tokenizer.bin");
  if (checkpoint.formatName() != "llama2c" && sys::fs::exists(json))
    return std::string(json);
  return std::string(bin);
}

namespace {

/// Reads the tokenizer file `path` into `m`.
Error loadTokenizerFile(cli::ReferenceModel &m, StringRef path,
                        bool wasDefault) {
  if (!sys::fs::exists(path))
    return fileError(path, wasDefault ? "no tokenizer beside the model (pass "
                                        "--tokenizer)"
                                      : "no such file");
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  m.tokenizerBytes.assign((*file)->bytes().begin(), (*file)->bytes().end());
  m.tokenizerName = path.str();
  auto tokenizer = Tokenizer::loadFromBytes(m.tokenizerBytes, path,
                                            m.weights->config.vocabSize);
  if (!tokenizer)
    return tokenizer.takeError();
  m.tokenizer = std::move(*tokenizer);
  return Error::success();
}

} // namespace

Expected<cli::ReferenceModel>
mixq::cli::loadReferenceModel(StringRef modelPath, StringRef tokenizerPath,
                              unsigned threads) {
  ReferenceModel m;
  if (isPackageFile(modelPath)) {
    auto package = PackageReader::open(modelPath);
    if (!package)
      return package.takeError();
    m.package = std::move(*package);
    auto weights = loadPackageWeights(*m.package);
    if (!weights)
      return weights.takeError();
    m.weights = std::make_unique<LlamaWeights>(std::move(*weights));
    auto plan = activationQuantPlan(*m.package);
    if (!plan)
      return plan.takeError();
    if (!plan->empty())
      m.activationQuant = std::make_unique<ActivationQuantizer>(std::move(*plan));
    if (!tokenizerPath.empty()) {
      if (Error e = loadTokenizerFile(m, tokenizerPath, false))
        return std::move(e);
    } else {
      m.tokenizerBytes = m.package->tokenizer();
      m.tokenizerName = (modelPath + " (embedded tokenizer)").str();
      if (m.tokenizerBytes.empty())
        return fileError(modelPath, "the package embeds no tokenizer (pass "
                                    "--tokenizer)");
      auto tokenizer = Tokenizer::loadFromBytes(
          m.tokenizerBytes, m.tokenizerName, m.weights->config.vocabSize);
      if (!tokenizer)
        return tokenizer.takeError();
      m.tokenizer = std::move(*tokenizer);
    }
  } else {
    auto checkpoint = Checkpoint::open(modelPath);
    if (!checkpoint)
      return checkpoint.takeError();
    m.checkpoint = std::move(*checkpoint);
    auto weights = loadLlamaWeights(*m.checkpoint);
    if (!weights)
      return weights.takeError();
    m.weights = std::make_unique<LlamaWeights>(std::move(*weights));
    bool useDefault = tokenizerPath.empty();
    std::string file = useDefault ? defaultTokenizerPath(*m.checkpoint)
                                  : tokenizerPath.str();
    if (Error e = loadTokenizerFile(m, file, useDefault))
      return std::move(e);
  }

  auto engine = Engine::create(*m.weights, threads);
  if (!engine)
    return fileError(modelPath, toString(engine.takeError()));
  m.engine = std::move(*engine);
  if (m.activationQuant)
    m.engine->setInputTransform(m.activationQuant.get());
  return std::move(m);
}
