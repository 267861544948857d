//===- CheckpointReaders.h - Format readers behind Checkpoint::open -*- C++ -*-===//
//
// Internal to model/: the entry point of each checkpoint format. Checkpoint::
// open detects the format from the contents and calls one of these. Each
// validates everything it will later hand out (see docs/Readers.md).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_CHECKPOINTREADERS_H
#define MIXQ_MODEL_CHECKPOINTREADERS_H

#include "model/Checkpoint.h"
#include "model/MappedFile.h"

namespace mixq {

/// How a format names the Llama tensors: whole-model names, the prefix of
/// per-layer names ("blk.", "model.layers.") and per-layer suffixes, each
/// paired with its canonical form (Checkpoint.h).
struct TensorNaming {
  llvm::ArrayRef<std::pair<const char *, const char *>> globals;
  const char *layerPrefix;
  llvm::ArrayRef<std::pair<const char *, const char *>> layerSuffixes;
};

/// The canonical name of a file's tensor `name`, or "" when it is not a
/// Llama weight (layer numbers must be plain decimals without leading 0s).
std::string canonicalTensorName(llvm::StringRef name,
                                const TensorNaming &naming);

/// A checkpoint whose tensors all live in one mapped file (llama2.c, GGUF).
class SingleFileCheckpoint : public Checkpoint {
protected:
  llvm::Expected<llvm::ArrayRef<uint8_t>>
  tensorBytes(const TensorInfo &tensor) const override {
    return file_->range(tensor.offset, tensor.size,
                        "tensor '" + tensor.name + "'");
  }
  std::unique_ptr<MappedFile> file_;
};

/// A llama2.c version-0 .bin (already mapped).
llvm::Expected<std::unique_ptr<Checkpoint>>
openLlama2c(std::unique_ptr<MappedFile> file);

/// Hugging Face safetensors: `path` is a directory, a .safetensors file or a
/// model.safetensors.index.json (config.json beside it in the last two cases).
llvm::Expected<std::unique_ptr<Checkpoint>>
openSafetensorsCheckpoint(llvm::StringRef path);

/// A GGUF v2/v3 file (already mapped).
llvm::Expected<std::unique_ptr<Checkpoint>>
openGguf(std::unique_ptr<MappedFile> file);

} // namespace mixq

#endif // MIXQ_MODEL_CHECKPOINTREADERS_H
