//===- TokenizerJsonFuzzer.cpp - Fuzz target: HF tokenizer.json -----------===//
//
// Input: a tokenizer.json. Loads it with the Hugging Face tokenizer reader
// and encodes and decodes with it (TokenizerFuzzing.h).
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"
#include "fuzz/TokenizerFuzzing.h"

#include "model/TokenizerFormats.h"

using namespace mixq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = "fuzz-tokenizer.json";
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  auto tokenizer = loadHfTokenizer(name, text, 0);
  if (!fuzz::succeeded(tokenizer, name))
    return 0;
  fuzz::exerciseTokenizer(**tokenizer, text);
  return 0;
}
