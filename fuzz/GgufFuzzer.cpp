//===- GgufFuzzer.cpp - Fuzz target: the GGUF reader ----------------------===//
//
// Input: a whole GGUF file. Opens it from memory with the GGUF reader and,
// when it opens, converts every tensor to fp32 and loads the Llama weights
// (shape and NaN/Inf checks). Every refusal must name the file in one line.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"

#include "model/CheckpointReaders.h"

using namespace mixq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = "fuzz.gguf";
  auto ckpt = openGguf(MappedFile::fromBytes(name, {data, size}));
  if (!fuzz::succeeded(ckpt, name))
    return 0;
  for (const TensorInfo &t : (*ckpt)->tensors()) {
    auto values = (*ckpt)->loadF32(t);
    fuzz::succeeded(values, name);
  }
  auto weights = loadLlamaWeights(**ckpt);
  fuzz::succeeded(weights, name);
  return 0;
}
