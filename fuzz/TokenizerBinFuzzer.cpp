//===- TokenizerBinFuzzer.cpp - Fuzz target: llama2.c tokenizer.bin -------===//
//
// Input: a tokenizer.bin. Loads it with the llama2.c tokenizer reader (any
// piece count, then the exact count its own size implies) and encodes and
// decodes with it (TokenizerFuzzing.h).
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"
#include "fuzz/TokenizerFuzzing.h"

#include "model/TokenizerFormats.h"

using namespace mixq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = "fuzz-tokenizer.bin";
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto tokenizer = loadLlama2cTokenizer(name, {data, size}, 0);
  if (!fuzz::succeeded(tokenizer, name))
    return 0;
  fuzz::exerciseTokenizer(**tokenizer, text);
  auto exact = loadLlama2cTokenizer(name, {data, size},
                                    (*tokenizer)->vocabSize());
  fuzz::succeeded(exact, name);
  return 0;
}
