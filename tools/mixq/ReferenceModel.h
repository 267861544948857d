//===- ReferenceModel.h - A model loaded for the fp32 engine ----*- C++ -*-===//
//
// What `generate`, `ppl` and `quantize` run the reference engine on: a
// checkpoint (its fp32 weights) or a mixq package (its weights dequantized,
// plus QUIK's activation quantization simulated), with its tokenizer.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_REFERENCEMODEL_H
#define MIXQ_TOOLS_MIXQ_REFERENCEMODEL_H

#include "model/Checkpoint.h"
#include "model/Engine.h"
#include "model/Package.h"
#include "model/PackageWeights.h"
#include "model/Tokenizer.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace mixq::cli {

struct ReferenceModel {
  std::unique_ptr<Checkpoint> checkpoint;   ///< when a checkpoint was given
  std::unique_ptr<PackageReader> package;   ///< when a package was given
  std::unique_ptr<LlamaWeights> weights;    ///< stable address for the engine
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizerName;                ///< file it came from
  std::vector<uint8_t> tokenizerBytes;      ///< its bytes (to embed)
  std::unique_ptr<ActivationQuantizer> activationQuant; ///< QUIK packages
  std::unique_ptr<Engine> engine;
};

/// The tokenizer file used for a checkpoint when --tokenizer is not given:
/// tokenizer.json inside a model directory; beside a file, tokenizer.bin for
/// a llama2.c checkpoint, else tokenizer.json if present, else tokenizer.bin.
std::string defaultTokenizerPath(const Checkpoint &checkpoint);

/// Opens `modelPath` (checkpoint or package), loads its weights and its
/// tokenizer (`tokenizerPath`, else the default above, else for a package
/// its embedded copy) and builds the engine with `threads` threads.
llvm::Expected<ReferenceModel> loadReferenceModel(llvm::StringRef modelPath,
                                                  llvm::StringRef tokenizerPath,
                                                  unsigned threads);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_REFERENCEMODEL_H
