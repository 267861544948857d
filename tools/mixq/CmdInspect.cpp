//===- CmdInspect.cpp - `mixq inspect FILE [--json]` ----------------------===//
//
// Prints what a checkpoint holds: its format, the Llama config and every
// tensor (file name, canonical name, dtype, shape, file offset, size), as a
// table or as JSON, after checking that its weights are finite and that the
// tokenizer beside it (if any) loads. printCheckpoint() is the checkpoint half of the command;
// the package half plugs in beside it in runInspect().
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/ReferenceModel.h"

#include "model/Checkpoint.h"
#include "model/MappedFile.h"
#include "model/NonFinite.h"
#include "model/Package.h"
#include "model/Tokenizer.h"

#include "llvm/Support/FileSystem.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand inspectCommand("inspect", "Print the config, tensors and "
                                         "layouts of a checkpoint or package");
cl::opt<std::string> inputPath(cl::Positional, cl::desc("<file or directory>"),
                               cl::Required, cl::sub(inspectCommand),
                               cl::cat(category()));
cl::opt<bool> jsonOutput("json", cl::desc("Print JSON instead of a table"),
                         cl::sub(inspectCommand), cl::cat(category()));

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string padRight(std::string s, size_t width) {
  if (s.size() < width)
    s.append(width - s.size(), ' ');
  return s;
}

void printConfigTable(const LlamaConfig &c, raw_ostream &os) {
  os << "config:\n";
  os << formatv("  dim {0}, hidden_dim {1}, n_layers {2}\n", c.dim,
                c.hiddenDim, c.nLayers);
  os << formatv("  n_heads {0}, n_kv_heads {1}, head_dim {2}\n", c.nHeads,
                c.nKvHeads, c.headDim());
  os << formatv("  vocab_size {0}, max_seq_len {1}\n", c.vocabSize,
                c.maxSeqLen);
  os << formatv("  rms_eps {0}, rope_theta {1}, rope_style {2}\n",
                format("%g", static_cast<double>(c.rmsEps)),
                format("%g", static_cast<double>(c.ropeTheta)),
                c.ropeStyle == RopeStyle::Half ? "half" : "adjacent");
  os << "  embeddings " << (c.tiedEmbeddings ? "tied" : "untied") << "\n";
}

} // namespace

namespace mixq::cli {

int inspectPackage(StringRef path, bool json, raw_ostream &os);

/// Prints an opened checkpoint as a table or JSON.
void printCheckpoint(const Checkpoint &ckpt, bool json, raw_ostream &os) {
  if (json) {
    json::Array tensors;
    for (const TensorInfo &t : ckpt.tensors()) {
      json::Array shape;
      for (int64_t d : t.shape)
        shape.push_back(d);
      tensors.push_back(json::Object{{"name", t.name},
                                     {"canonical", t.canonicalName},
                                     {"dtype", dtypeName(t.dtype)},
                                     {"shape", std::move(shape)},
                                     {"file", t.file},
                                     {"offset", static_cast<int64_t>(t.offset)},
                                     {"size", static_cast<int64_t>(t.size)}});
    }
    json::Object root{{"path", ckpt.path()},
                      {"kind", "checkpoint"},
                      {"format", ckpt.formatName()},
                      {"config", configToJSON(ckpt.config())},
                      {"tensors", std::move(tensors)}};
    os << formatv("{0:2}", json::Value(std::move(root))) << "\n";
    return;
  }
  os << "path: " << ckpt.path() << "\n";
  os << "format: " << ckpt.formatName() << "\n";
  printConfigTable(ckpt.config(), os);
  uint64_t total = 0, params = 0;
  size_t nameWidth = 4, canonWidth = 9, shapeWidth = 5;
  bool multiFile = false;
  for (const TensorInfo &t : ckpt.tensors()) {
    nameWidth = std::max(nameWidth, t.name.size());
    canonWidth = std::max(canonWidth, t.canonicalName.size());
    shapeWidth = std::max(shapeWidth, shapeString(t.shape).size());
    multiFile |= t.file != ckpt.tensors().front().file;
  }
  os << "tensors: " << ckpt.tensors().size() << "\n";
  os << formatv("  {0} {1} {2,-5} {3} {4,14} {5,12}{6}\n",
                padRight("name", nameWidth),
                padRight("canonical", canonWidth), "dtype",
                padRight("shape", shapeWidth), "offset",
                "bytes", multiFile ? "  file" : "");
  for (const TensorInfo &t : ckpt.tensors()) {
    os << formatv("  {0} {1} {2,-5} {3} {4,14} {5,12}",
                  padRight(t.name, nameWidth),
                  padRight(t.canonicalName.empty() ? std::string("-")
                                                   : t.canonicalName,
                           canonWidth),
                  dtypeName(t.dtype),
                  padRight(shapeString(t.shape), shapeWidth),
                  t.offset, t.size);
    if (multiFile)
      os << "  " << t.file;
    os << "\n";
    total += t.size;
    if (!t.canonicalName.empty())
      params += t.numElements();
  }
  os << formatv("total: {0} bytes of tensor data, {1} model parameters\n",
                total, params);
}

/// What inspect checks beyond the reader's open-time checks (which trust
/// the values): every Llama weight is finite, and the tokenizer that
/// generate/ppl would use beside the checkpoint, if there is one, loads.
Error checkContents(const Checkpoint &ckpt) {
  for (const TensorInfo &t : ckpt.tensors()) {
    if (t.canonicalName.empty())
      continue;
    auto values = ckpt.loadF32(t);
    if (!values)
      return values.takeError();
    if (std::optional<size_t> bad = firstNonFinite(*values))
      return fileError(t.file, "tensor '" + t.name + "' has a" +
                                   (std::isnan((*values)[*bad]) ? " NaN"
                                                                : "n infinite") +
                                   " value at element " + Twine(*bad));
  }
  std::string tokenizer = defaultTokenizerPath(ckpt);
  if (sys::fs::exists(tokenizer)) {
    auto loaded = Tokenizer::load(tokenizer, ckpt.config().vocabSize);
    if (!loaded)
      return loaded.takeError();
  }
  return Error::success();
}

/// `mixq inspect` for a checkpoint path; returns the exit code.
int inspectCheckpoint(StringRef path, bool json, raw_ostream &os) {
  auto ckpt = Checkpoint::open(path);
  if (!ckpt) // reader errors already start with "<file>: "
    return fail(ckpt.takeError());
  if (Error e = checkContents(**ckpt))
    return fail(std::move(e));
  printCheckpoint(**ckpt, json, os);
  return Success;
}

} // namespace mixq::cli

namespace {

int runInspect() {
  if (isPackageFile(inputPath))
    return inspectPackage(inputPath, jsonOutput, outs());
  return inspectCheckpoint(inputPath, jsonOutput, outs());
}

CommandRegistration registration(inspectCommand, runInspect);

} // namespace
