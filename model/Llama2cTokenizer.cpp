//===- Llama2cTokenizer.cpp - llama2.c tokenizer.bin ----------------------===//
//
// File layout (little-endian, no header magic, no piece count):
//
//   i32 max_token_length
//   repeated vocab_size times:  f32 score | i32 len | len bytes (the piece)
//
// Encoding reproduces llama2.c's run.c encode() token for token:
//  * a dummy-prefix " " when the text is not empty;
//  * the text is cut into UTF-8 sequences of at most 4 bytes exactly as
//    run.c's byte loop does (invalid UTF-8 included); each is looked up, and
//    one not found becomes byte tokens (byte + 3);
//  * repeatedly the adjacent pair whose concatenation is a piece with the
//    highest score (> -1e10, first pair on ties) is merged.
// The string -> id lookup is run.c's str_lookup: the vocabulary sorted by
// strcmp with a stable sort, searched with glibc's bsearch. tokenizer.bin holds
// 204 strings twice (see DESIGN.md), and that search decides which id wins
// (" " is 35, not 29871); we run the same search once per distinct string at
// load time and keep the answers in a hash map.
// run.c merges with an O(n^2) rescan; we use a heap ordered by (score, first
// position), which selects the same pair at every step, so long texts (a
// whole book for perplexity) encode in O(n log n).
//
// decodeToken is run.c's decode(): after BOS a leading ' ' is dropped and a
// "<0xNN>" piece is the raw byte. Note that stories15M's tokenizer.bin spells
// the byte-fallback pieces 3..258 as the byte itself (< 0x80) or as the UTF-8
// of U+0080..U+00FF, so the same token stands for "\xEF" and for "ï";
// Tokenizer::decode resolves that from the context (Tokenizer.cpp).
//
//===----------------------------------------------------------------------===//
#include "model/MappedFile.h"
#include "model/TokenizerFormats.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>

using namespace mixq;

namespace {

constexpr int kBos = 1;
constexpr int kEos = 2;
constexpr int kByteBase = 3; ///< byte b falls back to token b + 3
/// run.c starts the best-score search at -1e10: pairs at or below never merge.
constexpr float kNoMerge = -1e10f;

/// The C-string view of a piece: what strcmp sees (up to the first NUL).
llvm::StringRef cString(llvm::StringRef s) {
  size_t nul = s.find('\0');
  return nul == llvm::StringRef::npos ? s : s.take_front(nul);
}

/// strcmp's sign on C strings (bytes compare as unsigned char).
int cCompare(llvm::StringRef a, llvm::StringRef b) {
  return cString(a).compare(cString(b));
}

class Llama2cTokenizer final : public Tokenizer {
public:
  Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores)
      : pieces_(std::move(pieces)), scores_(std::move(scores)) {
    buildLookup();
  }

  std::vector<int> encode(llvm::StringRef text, bool bos,
                          bool eos) const override;
  std::string decodeToken(int previous, int token) const override;
  int vocabSize() const override { return static_cast<int>(pieces_.size()); }
  int bosId() const override { return kBos; }
  int eosId() const override { return kEos; }

private:
  void buildLookup();
  /// run.c's str_lookup: the id bsearch finds for `s`, or -1.
  int lookup(llvm::StringRef s) const {
    auto it = lookup_.find(s);
    return it == lookup_.end() ? -1 : it->second;
  }
  void mergePairs(std::vector<int> &tokens) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  llvm::StringMap<int> lookup_;
};

void Llama2cTokenizer::buildLookup() {
  const int n = vocabSize();
  // qsort(compare_tokens) in glibc is a merge sort here: stable, so equal
  // strings keep increasing ids (the explicit tie-break makes std::sort
  // stable).
  std::vector<int> sorted(n);
  for (int i = 0; i < n; ++i)
    sorted[i] = i;
  std::sort(sorted.begin(), sorted.end(), [&](int a, int b) {
    int cmp = cCompare(pieces_[a], pieces_[b]);
    return cmp != 0 ? cmp < 0 : a < b;
  });
  // glibc bsearch: l = 0, u = n; probe (l + u) / 2; return on equality.
  auto bsearch = [&](llvm::StringRef key) {
    size_t l = 0, u = static_cast<size_t>(n);
    while (l < u) {
      size_t idx = (l + u) / 2;
      int cmp = cCompare(key, pieces_[sorted[idx]]);
      if (cmp < 0)
        u = idx;
      else if (cmp > 0)
        l = idx + 1;
      else
        return sorted[idx];
    }
    return -1;
  };
  for (int i = 0; i < n; ++i) {
    if (lookup_.count(pieces_[i]))
      continue;
    int id = bsearch(pieces_[i]);
    // Only a piece with an embedded NUL can resolve to another string; keep
    // such pieces reachable by their own id.
    if (id < 0 || pieces_[id] != pieces_[i])
      id = i;
    lookup_[pieces_[i]] = id;
  }
}

std::vector<int> Llama2cTokenizer::encode(llvm::StringRef text, bool bos,
                                          bool eos) const {
  std::vector<int> tokens;
  if (bos) // run.c puts BOS first and lets it take part in merges
    tokens.push_back(kBos);
  auto pushOrBytes = [&](llvm::StringRef s) {
    int id = lookup(s);
    if (id >= 0) {
      tokens.push_back(id);
      return;
    }
    for (unsigned char c : s)
      tokens.push_back(c + kByteBase);
  };

  if (!text.empty())
    pushOrBytes(" "); // the dummy prefix
  // run.c's loop: a buffer restarts at every non-continuation byte and is
  // flushed unless the next byte continues it and it holds fewer than 4.
  std::string buffer;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    unsigned char c = text[i];
    if ((c & 0xC0) != 0x80)
      buffer.clear();
    buffer.push_back(static_cast<char>(c));
    unsigned char next = i + 1 < e ? text[i + 1] : 0;
    if ((next & 0xC0) == 0x80 && buffer.size() < 4)
      continue;
    pushOrBytes(buffer);
    buffer.clear();
  }
  mergePairs(tokens);
  if (eos)
    tokens.push_back(kEos);
  return tokens;
}

void Llama2cTokenizer::mergePairs(std::vector<int> &tokens) const {
  const int count = static_cast<int>(tokens.size());
  if (count < 2)
    return;
  // A doubly linked list over the initial symbols; a merge keeps the left
  // symbol (whose position therefore still orders the list) and kills the
  // right one.
  std::vector<int> prev(count), next(count);
  std::vector<char> alive(count, 1);
  for (int i = 0; i < count; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  struct Candidate {
    float score;
    int left, right;       ///< symbol positions
    int leftId, rightId;   ///< their tokens when the candidate was made
    int merged;
  };
  // Highest score first; among equal scores the leftmost pair (run.c scans
  // left to right and replaces the best only on a strictly greater score).
  auto worse = [](const Candidate &a, const Candidate &b) {
    if (a.score != b.score)
      return a.score < b.score;
    return a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(
      worse);
  std::string joined;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0)
      return;
    joined = pieces_[tokens[left]];
    joined += pieces_[tokens[right]];
    int id = lookup(joined);
    if (id < 0)
      return;
    float score = scores_[id];
    if (!(score > kNoMerge)) // also rejects NaN, as run.c's '>' does
      return;
    heap.push({score, left, right, tokens[left], tokens[right], id});
  };
  for (int i = 0; i + 1 < count; ++i)
    consider(i, i + 1);

  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
        tokens[c.left] != c.leftId || tokens[c.right] != c.rightId)
      continue; // stale
    tokens[c.left] = c.merged;
    alive[c.right] = 0;
    next[c.left] = next[c.right];
    if (next[c.left] >= 0)
      prev[next[c.left]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }

  int out = 0;
  for (int i = 0; i < count; ++i)
    if (alive[i])
      tokens[out++] = tokens[i];
  tokens.resize(out);
}

std::string Llama2cTokenizer::decodeToken(int previous, int token) const {
  if (token < 0 || token >= vocabSize())
    return std::string();
  llvm::StringRef piece = pieces_[token];
  if (previous == kBos && piece.starts_with(" "))
    return piece.drop_front().str();
  if (int byte = hexBytePiece(piece); byte >= 0)
    return std::string(1, static_cast<char>(byte));
  return piece.str();
}

} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
mixq::loadLlama2cTokenizer(llvm::StringRef path,
                           llvm::ArrayRef<uint8_t> contents,
                           int64_t vocabSize) {
  // Each piece takes at least 8 bytes, which bounds any count we accept.
  const uint64_t maxPieces = contents.size() / 8;
  if (vocabSize > 0 && static_cast<uint64_t>(vocabSize) > maxPieces)
    return fileError(path, "llama2.c tokenizer of " +
                               llvm::Twine(contents.size()) +
                               " bytes cannot hold " + llvm::Twine(vocabSize) +
                               " pieces");
  ByteReader reader(contents, path);
  auto maxTokenLength = reader.readI32("max_token_length");
  if (!maxTokenLength)
    return maxTokenLength.takeError();
  if (*maxTokenLength <= 0)
    return fileError(path, "llama2.c tokenizer: max_token_length is " +
                               llvm::Twine(*maxTokenLength) +
                               ", expected a positive length");

  std::vector<std::string> pieces;
  std::vector<float> scores;
  while (vocabSize > 0 ? static_cast<int64_t>(pieces.size()) < vocabSize
                       : !reader.atEnd()) {
    std::string what = "piece " + std::to_string(pieces.size());
    auto score = reader.readF32(what + " score");
    if (!score)
      return score.takeError();
    auto length = reader.readI32(what + " length");
    if (!length)
      return length.takeError();
    if (*length < 0)
      return reader.error(what + " has negative length " +
                          llvm::Twine(*length));
    if (*length > *maxTokenLength)
      return reader.error(what + " is " + llvm::Twine(*length) +
                          " bytes, longer than max_token_length " +
                          llvm::Twine(*maxTokenLength));
    auto piece = reader.readString(static_cast<uint64_t>(*length), what);
    if (!piece)
      return piece.takeError();
    // SentencePiece pieces are UTF-8 text (byte pieces included: llama2.c's
    // export spells them as characters); anything else is not a vocabulary.
    size_t bad = 0;
    if (!llvm::json::isUTF8(*piece, &bad))
      return reader.error(what + " is not valid UTF-8 (byte " +
                          llvm::Twine(bad) + " of " + llvm::Twine(*length) +
                          ")");
    pieces.push_back(std::move(*piece));
    scores.push_back(*score);
  }
  if (!reader.atEnd())
    return reader.error(llvm::Twine(reader.remaining()) +
                        " unexpected bytes after the " +
                        llvm::Twine(pieces.size()) +
                        " pieces of the vocabulary");
  // Ids 0..2 are <unk>, BOS, EOS and 3..258 the byte-fallback pieces.
  if (pieces.size() < 3 + 256)
    return fileError(path, "llama2.c tokenizer has " +
                               llvm::Twine(pieces.size()) +
                               " pieces, fewer than the 259 of <unk>, BOS, "
                               "EOS and the 256 byte pieces");
  if (pieces.size() > static_cast<size_t>(INT32_MAX))
    return fileError(path, "llama2.c tokenizer has too many pieces");
  return std::unique_ptr<Tokenizer>(
      new Llama2cTokenizer(std::move(pieces), std::move(scores)));
}
