//===- Llama2cFuzzer.cpp - Fuzz target: the llama2.c .bin reader ----------===//
//
// Input: a whole llama2.c checkpoint. Opens it from memory with the llama2.c
// reader and, when it opens, loads every weight (shape and NaN/Inf checks).
// Every refusal must name the file in one line (FuzzSupport.h).
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"

#include "model/CheckpointReaders.h"

using namespace mixq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = "fuzz-llama2c.bin";
  auto ckpt = openLlama2c(MappedFile::fromBytes(name, {data, size}));
  if (!fuzz::succeeded(ckpt, name))
    return 0;
  auto weights = loadLlamaWeights(**ckpt);
  fuzz::succeeded(weights, name);
  return 0;
}
