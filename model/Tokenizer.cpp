//===- Tokenizer.cpp - Format detection and sequence decoding -------------===//
//
// Tokenizer::load reads the file once and hands it to the loader of its format
// (JSON when the first non-blank byte is '{', llama2.c tokenizer.bin
// otherwise). Tokenizer::decode builds the exact text of a token sequence on
// top of each format's decodeToken.
//
//===----------------------------------------------------------------------===//
#include "model/Tokenizer.h"

#include "model/MappedFile.h"
#include "model/TokenizerFormats.h"

#include "llvm/ADT/StringExtras.h"

using namespace mixq;

Tokenizer::~Tokenizer() = default;

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::load(llvm::StringRef path, int64_t vocabSize) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  return loadFromBytes((*file)->bytes(), path, vocabSize);
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::loadFromBytes(llvm::ArrayRef<uint8_t> bytes, llvm::StringRef name,
                         int64_t vocabSize) {
  llvm::StringRef path = name;
  if (vocabSize < 0)
    return fileError(path, "negative expected vocabulary size " +
                               llvm::Twine(vocabSize));
  if (bytes.empty())
    return fileError(path, "empty file is not a tokenizer");

  // A JSON object starts with '{' and then '"' or '}' (after blanks). A
  // tokenizer.bin starts with a little-endian i32 max_token_length, whose
  // high bytes are zero, so even a length of 123 ('{') is not mistaken.
  auto skipBlanks = [&](size_t i) {
    while (i < bytes.size() && llvm::isSpace(bytes[i]))
      ++i;
    return i;
  };
  size_t first = skipBlanks(0);
  size_t second = first < bytes.size() ? skipBlanks(first + 1) : first;
  if (first < bytes.size() && bytes[first] == '{' &&
      (second == bytes.size() || bytes[second] == '"' ||
       bytes[second] == '}'))
    return loadHfTokenizer(
        path,
        llvm::StringRef(reinterpret_cast<const char *>(bytes.data()),
                        bytes.size()),
        vocabSize);
  return loadLlama2cTokenizer(path, bytes, vocabSize);
}

int mixq::hexBytePiece(llvm::StringRef piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>')
    return -1;
  unsigned hi = llvm::hexDigitValue(piece[3]);
  unsigned lo = llvm::hexDigitValue(piece[4]);
  if (hi > 15 || lo > 15)
    return -1;
  return static_cast<int>(hi * 16 + lo);
}

bool Tokenizer::isJson(llvm::ArrayRef<uint8_t> bytes) {
  for (uint8_t b : bytes)
    if (!llvm::isSpace(b))
      return b == '{';
  return false;
}

namespace {

/// The byte a byte-fallback token stands for, or -1. Llama vocabularies put
/// byte b at token b + 3; its text is "<0xNN>" decoded (the raw byte), the raw
/// byte itself, or, in llama2.c's tokenizer.bin, the UTF-8 of U+0080..U+00FF.
int fallbackByte(int token, llvm::StringRef text) {
  int b = token - 3;
  if (b < 0 || b > 0xFF)
    return -1;
  if (text.size() == 1 && static_cast<unsigned char>(text[0]) == b)
    return b;
  if (b >= 0x80 && text.size() == 2 &&
      static_cast<unsigned char>(text[0]) == (0xC0 | (b >> 6)) &&
      static_cast<unsigned char>(text[1]) == (0x80 | (b & 0x3F)))
    return b;
  return -1;
}

/// The length of the well-formed UTF-8 sequence `bytes` starts with (2..4),
/// or 0.
size_t utf8SequenceLength(llvm::ArrayRef<uint8_t> bytes) {
  uint8_t c = bytes[0];
  size_t n = c >= 0xC2 && c <= 0xDF   ? 2
             : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || bytes.size() < n)
    return 0;
  for (size_t i = 1; i < n; ++i)
    if ((bytes[i] & 0xC0) != 0x80)
      return 0;
  uint8_t d = bytes[1];
  if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) ||
      (c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F))
    return 0; // overlong, surrogate or beyond U+10FFFF
  return n;
}

} // namespace

// Both formats encode a leading "dummy prefix" space that is not part of the
// text, so the text of a sequence is the concatenation of the pieces with one
// leading space removed at the start and after every BOS (decodeToken with
// previous = -1, never BOS, yields a piece's full text).
//
// Byte-fallback tokens: where consecutive ones spell a well-formed UTF-8
// character they give those raw bytes (the model writes an emoji as 4 byte
// tokens); elsewhere they give their piece's text. For tokenizer.json this is
// always the raw byte. For llama2.c's tokenizer.bin, whose byte pieces double
// as the characters U+0080..U+00FF (its encoder turns "ï" into the byte token
// of 0xEF), it makes decode(encode(text)) == text for every valid UTF-8 text.
std::string Tokenizer::decode(llvm::ArrayRef<int> tokens) const {
  std::string text;
  size_t i = 0;
  while (i < tokens.size()) {
    if (tokens[i] == bosId() || tokens[i] == eosId()) {
      ++i;
      continue;
    }
    // One segment: up to the next BOS.
    std::vector<std::string> texts;
    std::vector<uint8_t> bytes;
    std::vector<bool> isByte;
    for (; i < tokens.size() && tokens[i] != bosId(); ++i) {
      if (tokens[i] == eosId())
        continue;
      texts.push_back(decodeToken(/*previous=*/-1, tokens[i]));
      int b = fallbackByte(tokens[i], texts.back());
      bytes.push_back(b < 0 ? 0 : static_cast<uint8_t>(b));
      isByte.push_back(b >= 0);
    }
    std::string segment;
    for (size_t k = 0; k < texts.size();) {
      size_t run = 0;
      while (k + run < texts.size() && isByte[k + run] && run < 4)
        ++run;
      size_t n = run >= 2 ? utf8SequenceLength(
                                llvm::ArrayRef<uint8_t>(bytes).slice(k, run))
                          : 0;
      if (n >= 2) {
        segment.append(reinterpret_cast<const char *>(&bytes[k]), n);
        k += n;
      } else {
        segment += texts[k];
        ++k;
      }
    }
    if (!segment.empty() && segment[0] == ' ')
      segment.erase(0, 1);
    text += segment;
  }
  return text;
}
