//===- TokenizerFormats.h - The two tokenizer file formats ------*- C++ -*-===//
//
// Internal to model/: the loaders behind Tokenizer::load, one per format
// (Llama2cTokenizer.cpp, HfTokenizer.cpp). `path` is only used in messages;
// `contents` is the whole file.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_TOKENIZERFORMATS_H
#define MIXQ_MODEL_TOKENIZERFORMATS_H

#include "model/Tokenizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>

namespace mixq {

/// llama2.c tokenizer.bin: i32 max_token_length, then per piece f32 score,
/// i32 length, bytes. `vocabSize` > 0 reads exactly that many pieces (and
/// rejects trailing bytes); 0 reads pieces until the end of the file.
llvm::Expected<std::unique_ptr<Tokenizer>>
loadLlama2cTokenizer(llvm::StringRef path, llvm::ArrayRef<uint8_t> contents,
                     int64_t vocabSize);

/// The byte a byte-fallback piece of the form "<0xNN>" stands for, or -1.
int hexBytePiece(llvm::StringRef piece);

/// Hugging Face tokenizer.json of a Llama SentencePiece-BPE model.
/// `vocabSize` > 0 requires every token id to be below it.
llvm::Expected<std::unique_ptr<Tokenizer>>
loadHfTokenizer(llvm::StringRef path, llvm::StringRef contents,
                int64_t vocabSize);

} // namespace mixq

#endif // MIXQ_MODEL_TOKENIZERFORMATS_H
