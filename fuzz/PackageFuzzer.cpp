//===- PackageFuzzer.cpp - Fuzz target: the mixq package reader -----------===//
//
// Input: a whole package file. Opens it from memory with PackageReader
// (without the content hash, so that mutations reach the checks behind it;
// then once more with it), dequantizes every tensor as `ppl`/`generate` do,
// builds the QUIK activation plan and loads the embedded tokenizer. Every
// refusal must name the file in one line.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzSupport.h"

#include "model/MappedFile.h"
#include "model/Package.h"
#include "model/PackageWeights.h"
#include "model/Tokenizer.h"

using namespace mixq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = "fuzz.mixq";
  auto package = PackageReader::open(MappedFile::fromBytes(name, {data, size}),
                                     /*verifyContentHash=*/false);
  if (!fuzz::succeeded(package, name))
    return 0;
  auto weights = loadPackageWeights(**package);
  fuzz::succeeded(weights, name);
  auto plan = activationQuantPlan(**package);
  fuzz::succeeded(plan, name);
  auto tokenizer = Tokenizer::loadFromBytes((*package)->tokenizer(), name,
                                            (*package)->config().vocabSize);
  fuzz::succeeded(tokenizer, name);
  auto hashed = PackageReader::open(MappedFile::fromBytes(name, {data, size}),
                                    /*verifyContentHash=*/true);
  fuzz::succeeded(hashed, name);
  return 0;
}
