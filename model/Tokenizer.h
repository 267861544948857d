//===- Tokenizer.h - Llama SentencePiece-BPE tokenizers ---------*- C++ -*-===//
//
// Reads llama2.c's tokenizer.bin and Hugging Face's tokenizer.json (Llama
// SentencePiece BPE with byte fallback). Encoding reproduces llama2.c's
// reference encoder for tokenizer.bin (including its choice among duplicated
// pieces, see DESIGN.md) and SentencePiece for tokenizer.json: dummy-prefix
// space, merges by score, <0xNN> byte fallback. Decoding is exact.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_TOKENIZER_H
#define MIXQ_MODEL_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace mixq {

class Tokenizer {
public:
  virtual ~Tokenizer();

  /// Loads tokenizer.bin (llama2.c) or tokenizer.json (Hugging Face); the
  /// format is detected from the contents. `vocabSize` > 0 checks the count.
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  load(llvm::StringRef path, int64_t vocabSize = 0);
  /// The same from the file's bytes (e.g. the copy a package embeds); `name`
  /// names it in errors. The loaders copy what they keep.
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  loadFromBytes(llvm::ArrayRef<uint8_t> bytes, llvm::StringRef name,
                int64_t vocabSize = 0);
  /// Whether tokenizer bytes are a tokenizer.json (else a tokenizer.bin).
  static bool isJson(llvm::ArrayRef<uint8_t> bytes);

  virtual std::vector<int> encode(llvm::StringRef text, bool bos,
                                  bool eos) const = 0;
  /// The text of `token` following `previous` (llama2.c semantics: the
  /// leading space of a piece after BOS is dropped; <0xNN> gives the byte).
  virtual std::string decodeToken(int previous, int token) const = 0;
  /// The exact text of a token sequence (without BOS/EOS).
  std::string decode(llvm::ArrayRef<int> tokens) const;

  virtual int vocabSize() const = 0;
  virtual int bosId() const = 0;
  virtual int eosId() const = 0;
};

} // namespace mixq

#endif // MIXQ_MODEL_TOKENIZER_H
