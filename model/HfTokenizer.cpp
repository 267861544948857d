//===- HfTokenizer.cpp - Hugging Face tokenizer.json (SentencePiece BPE) --===//
//
// Reads the tokenizer.json of a Llama SentencePiece-BPE model with llvm::json:
//
//   "model": {"type": "BPE", "vocab": {piece: id}, "merges": ["a b" | [a, b]],
//             "byte_fallback": true, "unk_token": "<unk>", "fuse_unk": ...,
//             "ignore_merges": ...}
//   "normalizer": Sequence[Prepend "▁", Replace " " -> "▁"]    (newer files)
//   "pre_tokenizer": Metaspace {replacement, add_prefix_space |
//                               prepend_scheme, split}       (older files)
//   "added_tokens": [{"id", "content", "special"}]   (<unk>, <s>, </s>)
//
// Encoding follows the tokenizers library for such files: normalize (prepend
// U+2581 to non-empty text, spaces -> U+2581), for Metaspace split the text
// before every U+2581, cut each word into characters (an invalid UTF-8 byte is
// a character of its own), look every character up, fall back to <0xNN> byte
// pieces (or <unk>), then apply merges by rank (lowest first, leftmost on
// ties). Added tokens are not matched inside the text (SentencePiece
// behaviour): "<s>" in a text is just characters.
// Decoding: <0xNN> pieces give the raw byte, U+2581 gives ' ', and after BOS
// the leading space of a piece is dropped.
//
//===----------------------------------------------------------------------===//
#include "model/MappedFile.h"
#include "model/TokenizerFormats.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/JSON.h"

#include <queue>

using namespace mixq;

namespace {

constexpr llvm::StringLiteral kSpaceMark = "\xE2\x96\x81"; // U+2581 '▁'
/// Ids may leave at most this many holes above the number of pieces (Llama
/// ids are dense; a hostile id must not make a huge table).
constexpr int64_t kMaxIdHoles = 1024;
/// Deeper JSON is rejected before parsing (llvm::json parses recursively).
constexpr int kMaxJsonDepth = 64;

/// The length of the UTF-8 character at the start of `s` (1 for an invalid
/// or truncated sequence, so that every byte belongs to one character).
size_t utf8CharLength(llvm::StringRef s) {
  unsigned char c = s[0];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                                                 : (c >> 3) == 0x1E ? 4 : 1;
  if (n > s.size())
    return 1;
  for (size_t i = 1; i < n; ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80)
      return 1;
  return n;
}

std::string replaceAll(llvm::StringRef text, llvm::StringRef from,
                       llvm::StringRef to) {
  if (from.empty())
    return text.str();
  std::string out;
  out.reserve(text.size());
  while (true) {
    size_t at = text.find(from);
    if (at == llvm::StringRef::npos)
      break;
    out += text.take_front(at);
    out += to;
    text = text.drop_front(at + from.size());
  }
  out += text;
  return out;
}

/// Maximum nesting depth of arrays/objects, ignoring brackets in strings.
int jsonDepth(llvm::StringRef text) {
  int depth = 0, maxDepth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      maxDepth = std::max(maxDepth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return maxDepth;
}

/// One text transformation of the normalizer / Metaspace pre-tokenizer.
struct NormalizeStep {
  enum Kind {
    Prepend,         ///< a + text (text not empty)
    PrependIfAbsent, ///< a + text unless text starts with a (Metaspace)
    Replace          ///< every a -> b
  } kind;
  std::string a, b;
};

class HfTokenizer final : public Tokenizer {
public:
  std::vector<int> encode(llvm::StringRef text, bool bos,
                          bool eos) const override;
  std::string decodeToken(int previous, int token) const override;
  int vocabSize() const override { return static_cast<int>(pieces_.size()); }
  int bosId() const override { return bos_; }
  int eosId() const override { return eos_; }

  // Filled by the loader.
  std::vector<std::string> pieces_; ///< id -> piece ("" for unused ids)
  std::vector<int16_t> byteOf_;     ///< id -> raw byte of <0xNN>, else -1
  llvm::StringMap<int> vocab_;      ///< model.vocab
  /// (left id, right id) -> (rank, merged id)
  llvm::DenseMap<uint64_t, std::pair<int, int>> merges_;
  std::vector<NormalizeStep> steps_;
  bool splitOnMark_ = false; ///< Metaspace split=true
  std::string mark_ = kSpaceMark.str();
  bool byteFallback_ = false;
  bool fuseUnk_ = false;
  bool ignoreMerges_ = false;
  int unk_ = -1;
  int bos_ = -1;
  int eos_ = -1;
  int byteId_[256];

private:
  void encodeWord(llvm::StringRef word, std::vector<int> &out) const;
};

uint64_t pairKey(int a, int b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
         static_cast<uint32_t>(b);
}

std::vector<int> HfTokenizer::encode(llvm::StringRef text, bool bos,
                                     bool eos) const {
  std::vector<int> tokens;
  if (bos)
    tokens.push_back(bos_);
  if (!text.empty()) {
    std::string normalized = text.str();
    for (const NormalizeStep &step : steps_) {
      if (step.kind == NormalizeStep::Prepend) {
        if (!normalized.empty())
          normalized = step.a + normalized;
      } else if (step.kind == NormalizeStep::PrependIfAbsent) {
        if (!llvm::StringRef(normalized).starts_with(step.a))
          normalized = step.a + normalized;
      } else {
        normalized = replaceAll(normalized, step.a, step.b);
      }
    }
    llvm::StringRef rest = normalized;
    if (splitOnMark_ && !mark_.empty()) {
      // Metaspace splits with "merged with next": every mark starts a word.
      while (!rest.empty()) {
        size_t end = rest.find(mark_, rest.starts_with(mark_) ? mark_.size()
                                                              : 0);
        encodeWord(rest.take_front(end), tokens);
        rest = end == llvm::StringRef::npos ? llvm::StringRef()
                                            : rest.drop_front(end);
      }
    } else {
      encodeWord(rest, tokens);
    }
  }
  if (eos)
    tokens.push_back(eos_);
  return tokens;
}

void HfTokenizer::encodeWord(llvm::StringRef word,
                             std::vector<int> &out) const {
  if (word.empty())
    return;
  if (ignoreMerges_) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int> symbols;
  bool lastWasUnk = false;
  while (!word.empty()) {
    size_t n = utf8CharLength(word);
    llvm::StringRef ch = word.take_front(n);
    word = word.drop_front(n);
    auto it = vocab_.find(ch);
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
      lastWasUnk = false;
      continue;
    }
    bool allBytes = byteFallback_;
    for (unsigned char c : ch)
      allBytes &= byteId_[c] >= 0;
    if (allBytes) {
      for (unsigned char c : ch)
        symbols.push_back(byteId_[c]);
      lastWasUnk = false;
      continue;
    }
    if (unk_ < 0)
      continue; // no way to represent it; the text loses this character
    if (!(fuseUnk_ && lastWasUnk))
      symbols.push_back(unk_);
    lastWasUnk = true;
  }

  const int count = static_cast<int>(symbols.size());
  std::vector<int> prev(count), next(count);
  std::vector<char> alive(count, 1);
  for (int i = 0; i < count; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }
  struct Candidate {
    int rank, left, right, leftId, rightId, merged;
  };
  auto worse = [](const Candidate &a, const Candidate &b) {
    if (a.rank != b.rank)
      return a.rank > b.rank;
    return a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(
      worse);
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0)
      return;
    auto it = merges_.find(pairKey(symbols[left], symbols[right]));
    if (it == merges_.end())
      return;
    heap.push({it->second.first, left, right, symbols[left], symbols[right],
               it->second.second});
  };
  for (int i = 0; i + 1 < count; ++i)
    consider(i, i + 1);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
        symbols[c.left] != c.leftId || symbols[c.right] != c.rightId)
      continue;
    symbols[c.left] = c.merged;
    alive[c.right] = 0;
    next[c.left] = next[c.right];
    if (next[c.left] >= 0)
      prev[next[c.left]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  for (int i = 0; i < count; ++i)
    if (alive[i])
      out.push_back(symbols[i]);
}

std::string HfTokenizer::decodeToken(int previous, int token) const {
  if (token < 0 || token >= vocabSize())
    return std::string();
  if (byteOf_[token] >= 0)
    return std::string(1, static_cast<char>(byteOf_[token]));
  std::string text = replaceAll(pieces_[token], mark_, " ");
  if (previous == bos_ && !text.empty() && text[0] == ' ')
    text.erase(0, 1);
  return text;
}

/// Errors of the loader: "<file>: tokenizer.json: <reason>".
struct Loader {
  llvm::StringRef path;
  llvm::Error error(const llvm::Twine &reason) const {
    return fileError(path, "tokenizer.json: " + reason);
  }

  llvm::Error addNormalizer(const llvm::json::Object &n, HfTokenizer &t) {
    llvm::StringRef type = n.getString("type").value_or("");
    if (type == "Sequence") {
      const llvm::json::Array *list = n.getArray("normalizers");
      if (!list)
        return error("normalizer Sequence without a 'normalizers' list");
      for (const llvm::json::Value &v : *list) {
        const llvm::json::Object *o = v.getAsObject();
        if (!o)
          return error("a normalizer is not an object");
        if (llvm::Error e = addNormalizer(*o, t))
          return e;
      }
      return llvm::Error::success();
    }
    if (type == "Prepend") {
      auto s = n.getString("prepend");
      if (!s)
        return error("normalizer Prepend without a 'prepend' string");
      t.steps_.push_back({NormalizeStep::Prepend, s->str(), ""});
      return llvm::Error::success();
    }
    if (type == "Replace") {
      const llvm::json::Object *pattern = n.getObject("pattern");
      std::optional<llvm::StringRef> from =
          pattern ? pattern->getString("String") : std::nullopt;
      auto to = n.getString("content");
      if (!from || !to)
        return error("normalizer Replace needs pattern.String and content "
                     "(regex patterns are not supported)");
      t.steps_.push_back({NormalizeStep::Replace, from->str(), to->str()});
      return llvm::Error::success();
    }
    return error("unsupported normalizer '" + type +
                 "' (expected Prepend, Replace or Sequence)");
  }

  llvm::Error addPreTokenizer(const llvm::json::Object &p, HfTokenizer &t) {
    llvm::StringRef type = p.getString("type").value_or("");
    if (type == "Sequence") {
      const llvm::json::Array *list = p.getArray("pretokenizers");
      if (!list)
        return error("pre_tokenizer Sequence without a 'pretokenizers' list");
      for (const llvm::json::Value &v : *list) {
        const llvm::json::Object *o = v.getAsObject();
        if (!o)
          return error("a pre_tokenizer is not an object");
        if (llvm::Error e = addPreTokenizer(*o, t))
          return e;
      }
      return llvm::Error::success();
    }
    if (type != "Metaspace")
      return error("unsupported pre_tokenizer '" + type +
                   "' (expected Metaspace)");
    std::string mark = p.getString("replacement").value_or(kSpaceMark).str();
    if (mark.empty())
      return error("Metaspace with an empty replacement");
    bool prepend = p.getBoolean("add_prefix_space").value_or(true);
    if (auto scheme = p.getString("prepend_scheme")) {
      if (*scheme != "always" && *scheme != "first" && *scheme != "never")
        return error("unknown Metaspace prepend_scheme '" + *scheme + "'");
      prepend = *scheme != "never";
    }
    t.mark_ = mark;
    t.steps_.push_back({NormalizeStep::Replace, " ", mark});
    // Metaspace prepends only when the text does not already start with
    // the mark (so " a" and "a" encode alike, unlike the normalizer form).
    if (prepend)
      t.steps_.push_back({NormalizeStep::PrependIfAbsent, mark, ""});
    t.splitOnMark_ = p.getBoolean("split").value_or(true);
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
mixq::loadHfTokenizer(llvm::StringRef path, llvm::StringRef contents,
                      int64_t vocabSize) {
  Loader loader{path};
  if (jsonDepth(contents) > kMaxJsonDepth)
    return loader.error("JSON nested deeper than " +
                        llvm::Twine(kMaxJsonDepth) + " levels");
  auto parsed = llvm::json::parse(contents);
  if (!parsed)
    return loader.error("invalid JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root)
    return loader.error("the document is not a JSON object");
  const llvm::json::Object *model = root->getObject("model");
  if (!model)
    return loader.error("no 'model' object");
  if (auto type = model->getString("type"); type && *type != "BPE")
    return loader.error("model type '" + *type +
                        "' is not supported (expected BPE)");
  for (llvm::StringRef key : {"continuing_subword_prefix",
                              "end_of_word_suffix"})
    if (auto s = model->getString(key); s && !s->empty())
      return loader.error("model." + key + " is not supported");

  auto tokenizer = std::make_unique<HfTokenizer>();
  HfTokenizer &t = *tokenizer;
  t.byteFallback_ = model->getBoolean("byte_fallback").value_or(false);
  t.fuseUnk_ = model->getBoolean("fuse_unk").value_or(false);
  t.ignoreMerges_ = model->getBoolean("ignore_merges").value_or(false);

  // Pieces: model.vocab, then added_tokens (which may add ids).
  const llvm::json::Object *vocab = model->getObject("vocab");
  if (!vocab)
    return loader.error("model has no 'vocab' object");
  const llvm::json::Array *added = root->getArray("added_tokens");
  const int64_t idLimit = static_cast<int64_t>(vocab->size()) +
                          (added ? static_cast<int64_t>(added->size()) : 0) +
                          kMaxIdHoles;
  auto setPiece = [&](llvm::StringRef piece, int64_t id,
                      const llvm::Twine &where) -> llvm::Error {
    if (id < 0 || id >= idLimit)
      return loader.error(where + ": id " + llvm::Twine(id) +
                          " is out of range");
    if (static_cast<size_t>(id) >= t.pieces_.size())
      t.pieces_.resize(id + 1);
    std::string &slot = t.pieces_[id];
    if (!slot.empty() && slot != piece)
      return loader.error(where + ": id " + llvm::Twine(id) +
                          " is used by both '" + slot + "' and '" + piece +
                          "'");
    slot = piece.str();
    return llvm::Error::success();
  };
  for (const auto &entry : *vocab) {
    llvm::StringRef piece = entry.first;
    auto id = entry.second.getAsInteger();
    if (!id)
      return loader.error("vocab entry '" + piece + "' has no integer id");
    if (piece.empty())
      return loader.error("vocab has an empty piece");
    if (llvm::Error e = setPiece(piece, *id, "vocab entry '" + piece + "'"))
      return std::move(e);
    t.vocab_[piece] = static_cast<int>(*id);
  }
  if (added) {
    for (size_t i = 0; i < added->size(); ++i) {
      const llvm::json::Object *o = (*added)[i].getAsObject();
      auto id = o ? o->getInteger("id") : std::nullopt;
      auto content = o ? o->getString("content") : std::nullopt;
      if (!id || !content || content->empty())
        return loader.error("added_tokens[" + llvm::Twine(i) +
                            "] needs an integer 'id' and a 'content'");
      if (llvm::Error e =
              setPiece(*content, *id, "added_tokens[" + llvm::Twine(i) + "]"))
        return std::move(e);
    }
  }
  if (t.pieces_.empty())
    return loader.error("the vocabulary is empty");
  if (vocabSize > 0 && static_cast<int64_t>(t.pieces_.size()) > vocabSize)
    return loader.error("token id " + llvm::Twine(t.pieces_.size() - 1) +
                        " does not fit the model's vocabulary of " +
                        llvm::Twine(vocabSize));

  auto idOf = [&](llvm::StringRef piece) {
    for (size_t i = 0; i < t.pieces_.size(); ++i)
      if (t.pieces_[i] == piece)
        return static_cast<int>(i);
    return -1;
  };
  t.bos_ = idOf("<s>");
  t.eos_ = idOf("</s>");
  if (t.bos_ < 0 || t.eos_ < 0)
    return loader.error("no <s> and </s> tokens (BOS/EOS)");
  if (auto unk = model->getString("unk_token")) {
    auto it = t.vocab_.find(*unk);
    if (it == t.vocab_.end())
      return loader.error("unk_token '" + *unk + "' is not in the vocab");
    t.unk_ = it->second;
  }
  t.byteOf_.assign(t.pieces_.size(), -1);
  for (int &b : t.byteId_)
    b = -1;
  for (size_t i = 0; i < t.pieces_.size(); ++i) {
    int b = hexBytePiece(t.pieces_[i]);
    if (b < 0)
      continue;
    t.byteOf_[i] = static_cast<int16_t>(b);
    if (t.byteId_[b] < 0 && t.vocab_.count(t.pieces_[i]))
      t.byteId_[b] = static_cast<int>(i);
  }

  // Merges: "a b" strings or [a, b] arrays; the list index is the rank.
  if (const llvm::json::Array *merges = model->getArray("merges")) {
    for (size_t rank = 0; rank < merges->size(); ++rank) {
      const llvm::json::Value &m = (*merges)[rank];
      llvm::StringRef a, b;
      if (auto s = m.getAsString()) {
        std::tie(a, b) = s->split(' ');
        if (a.empty() || b.empty() || b.contains(' '))
          return loader.error("merges[" + llvm::Twine(rank) + "] '" + *s +
                              "' is not two pieces separated by one space");
      } else if (const llvm::json::Array *pair = m.getAsArray();
                 pair && pair->size() == 2 && (*pair)[0].getAsString() &&
                 (*pair)[1].getAsString()) {
        a = *(*pair)[0].getAsString();
        b = *(*pair)[1].getAsString();
      } else {
        return loader.error("merges[" + llvm::Twine(rank) +
                            "] is neither \"a b\" nor [\"a\", \"b\"]");
      }
      auto ia = t.vocab_.find(a), ib = t.vocab_.find(b),
           im = t.vocab_.find((a + b).str());
      if (ia == t.vocab_.end() || ib == t.vocab_.end() ||
          im == t.vocab_.end())
        return loader.error("merges[" + llvm::Twine(rank) + "] '" + a + " " +
                            b + "' uses a piece that is not in the vocab");
      // The first (lowest) rank of a pair wins, as in the tokenizers library.
      t.merges_.try_emplace(pairKey(ia->second, ib->second),
                            static_cast<int>(rank), im->second);
    }
  }

  if (const llvm::json::Value *n = root->get("normalizer");
      n && n->kind() != llvm::json::Value::Null) {
    const llvm::json::Object *o = n->getAsObject();
    if (!o)
      return loader.error("'normalizer' is not an object");
    if (llvm::Error e = loader.addNormalizer(*o, t))
      return std::move(e);
  }
  if (const llvm::json::Value *p = root->get("pre_tokenizer");
      p && p->kind() != llvm::json::Value::Null) {
    const llvm::json::Object *o = p->getAsObject();
    if (!o)
      return loader.error("'pre_tokenizer' is not an object");
    if (llvm::Error e = loader.addPreTokenizer(*o, t))
      return std::move(e);
  }
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}
