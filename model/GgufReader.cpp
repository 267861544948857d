//===- GgufReader.cpp - GGUF checkpoints ----------------------------------===//
// (in progress)
#include "model/CheckpointReaders.h"
using namespace mixq;
llvm::Expected<std::unique_ptr<Checkpoint>>
mixq::openGguf(std::unique_ptr<MappedFile> file) {
  return fileError(file->path(), "GGUF checkpoints are not supported yet");
}
