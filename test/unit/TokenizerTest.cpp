//===- TokenizerTest.cpp - llama2.c tokenizer.bin and HF tokenizer.json ---===//
//
// Synthetic tokenizers written by the tests: a tokenizer.bin whose pieces are
// duplicated the way stories15M's are (" ", "a", "é"... both as a normal piece
// and as a byte piece), so the strcmp-sorted bsearch choice matters, and
// tokenizer.json files in the normalizer and the Metaspace forms. Encodings
// are compared with hand-derived expectations, with ids printed by
// test/e2e/llama2c_tokenize.py (an independent Python version of llama2.c's
// encoder), and with a quadratic reference encoder written here from the same
// description (fuzzed against the heap-based one). Round trips cover
// multi-byte and 4-byte UTF-8, newlines, runs of spaces, invalid bytes and the
// empty text; malformed files must give an Error naming the file. The last
// tests use the real tokenizer.bin when one is present and skip otherwise.
//
//===----------------------------------------------------------------------===//
#include "model/Tokenizer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace mixq;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

class TempDir {
public:
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("mixq-tokenizer-test", path_);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path_); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<256> p(path_);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  std::string write(llvm::StringRef name, llvm::StringRef bytes) const {
    std::string p = file(name);
    std::error_code ec;
    llvm::raw_fd_ostream os(p, ec);
    EXPECT_FALSE(ec) << ec.message();
    os << bytes;
    return p;
  }

private:
  llvm::SmallString<256> path_;
};

std::string utf8Latin1(unsigned b) {
  std::string s;
  s.push_back(static_cast<char>(0xC0 | (b >> 6)));
  s.push_back(static_cast<char>(0x80 | (b & 0x3F)));
  return s;
}

std::string hexPiece(unsigned b) {
  char buf[8];
  snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

struct Piece {
  std::string text;
  float score;
};

void appendI32(std::string &out, int32_t v) {
  char b[4];
  memcpy(b, &v, 4); // the test machines are little-endian, like the format
  out.append(b, 4);
}
void appendF32(std::string &out, float v) {
  char b[4];
  memcpy(b, &v, 4);
  out.append(b, 4);
}

std::string tokenizerBin(const std::vector<Piece> &pieces) {
  int32_t maxLen = 0;
  for (const Piece &p : pieces)
    maxLen = std::max<int32_t>(maxLen, static_cast<int32_t>(p.text.size()));
  std::string out;
  appendI32(out, maxLen);
  for (const Piece &p : pieces) {
    appendF32(out, p.score);
    appendI32(out, static_cast<int32_t>(p.text.size()));
    out += p.text;
  }
  return out;
}

/// A llama2.c vocabulary with stories15M's quirks: bytes 0x20..0x7F spelled as
/// themselves and 0x80..0xFF as U+0080..U+00FF (so they collide with normal
/// pieces); bytes below 0x20 spelled "<0xNN>".
std::vector<Piece> syntheticLlama2cVocab() {
  std::vector<Piece> v = {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
  for (unsigned b = 0; b < 256; ++b)
    v.push_back({b < 0x20   ? hexPiece(b)
                  : b < 0x80 ? std::string(1, static_cast<char>(b))
                             : utf8Latin1(b),
                 0.0f});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<Piece> normal = {
      {" ", -1e9f},       // 259: duplicate of byte 0x20 (35)
      {"  ", -1e9f},      // 260
      {" t", -1},         // 261
      {"he", -2},         // 262
      {" the", -3},       // 263
      {"ab", -7},         // 264
      {"bc", -7},         // 265: same score as "ab"
      {" a", -6},         // 266
      {"aa", -20},        // 267
      {"xy", -1e10f},     // 268: at run.c's floor, never merged
      {"yz", nan},        // 269: NaN, never merged
      {"\xC3\xA9", -10},  // 270 "é": duplicate of byte 0xE9 (236)
      {"\xE6\x97\xA5", -12},                 // 271 "日"
      {"\xE6\x9C\xAC", -13},                 // 272 "本"
      {"\xE6\x97\xA5\xE6\x9C\xAC", -11},     // 273 "日本"
      {"\r\n", -14},                         // 274
      {"\xF0\x9F\x98\x80", -15},             // 275 "😀"
      {"a", -1e9f},       // 276: duplicate of byte 0x61 (100)
      {"\n", -1e9f},      // 277: not a duplicate ("<0x0A>" is 13)
      {"t", -1e9f},       // 278: duplicate of 119
      {"e", -1e9f},       // 279: duplicate of 104
      {"h", -1e9f},       // 280: duplicate of 107
      {"\xC3\xAF", -1e9f}, // 281 "ï": duplicate of byte 0xEF (242)
      {" \xC3\xA9", -16}, // 282 " é"
      {"z", -1e9f},       // 283: duplicate of 125
  };
  v.insert(v.end(), normal.begin(), normal.end());
  return v;
}

/// run.c's encode() as the plain quadratic loop, written from the algorithm's
/// description: stable strcmp sort, glibc bsearch, byte fallback, rescan for
/// the best-scoring pair after every merge.
std::vector<int> referenceEncode(const std::vector<Piece> &vocab,
                                 llvm::StringRef text, bool bos, bool eos) {
  std::vector<int> sorted(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i)
    sorted[i] = static_cast<int>(i);
  std::sort(sorted.begin(), sorted.end(), [&](int a, int b) { // stable
    int cmp = strcmp(vocab[a].text.c_str(), vocab[b].text.c_str());
    return cmp != 0 ? cmp < 0 : a < b;
  });
  auto lookup = [&](const std::string &s) {
    size_t l = 0, u = sorted.size();
    while (l < u) {
      size_t idx = (l + u) / 2;
      int cmp = strcmp(s.c_str(), vocab[sorted[idx]].text.c_str());
      if (cmp < 0)
        u = idx;
      else if (cmp > 0)
        l = idx + 1;
      else
        return sorted[idx];
    }
    return -1;
  };
  std::vector<int> tokens;
  if (bos)
    tokens.push_back(1);
  if (!text.empty())
    tokens.push_back(lookup(" "));
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if ((c & 0xC0) != 0x80)
      buf.clear();
    buf.push_back(static_cast<char>(c));
    unsigned char next = i + 1 < text.size() ? text[i + 1] : 0;
    if ((next & 0xC0) == 0x80 && buf.size() < 4)
      continue;
    int id = lookup(buf);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char b : buf)
        tokens.push_back(b + 3);
    }
    buf.clear();
  }
  while (true) {
    float best = -1e10f;
    int bestId = -1, bestIdx = -1;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      int id = lookup(vocab[tokens[i]].text + vocab[tokens[i + 1]].text);
      if (id != -1 && vocab[id].score > best) {
        best = vocab[id].score;
        bestId = id;
        bestIdx = static_cast<int>(i);
      }
    }
    if (bestIdx < 0)
      break;
    tokens[bestIdx] = bestId;
    tokens.erase(tokens.begin() + bestIdx + 1);
  }
  if (eos)
    tokens.push_back(2);
  return tokens;
}

std::unique_ptr<Tokenizer> mustLoad(const std::string &path,
                                    int64_t vocabSize = 0) {
  auto t = Tokenizer::load(path, vocabSize);
  if (!t) {
    ADD_FAILURE() << llvm::toString(t.takeError());
    return nullptr;
  }
  return std::move(*t);
}

std::string loadError(const std::string &path, int64_t vocabSize = 0) {
  auto t = Tokenizer::load(path, vocabSize);
  if (t)
    return "(loaded)";
  return llvm::toString(t.takeError());
}

/// Texts every tokenizer must round-trip (valid UTF-8).
const char *const kRoundTripTexts[] = {
    "",
    " ",
    "  ",
    "a",
    "the cat",
    "  leading and trailing  ",
    "runs   of    spaces",
    "line\nbreaks\n\nand\r\nCRLF\n",
    "\n",
    "\ttab",
    "caf\xC3\xA9 na\xC3\xAFve \xC3\xBF",                  // é ï ÿ
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",               // 日本語
    "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89!",           // 😀🎉
    "\xE2\x82\xAC" "100 \xC2\xB1" "1",                   // €100 ±1
    "<s> </s> <0x41> literal",
    "xyz yz xy aaa abc bcbc",
};

//===----------------------------------------------------------------------===//
// llama2.c tokenizer.bin, synthetic
//===----------------------------------------------------------------------===//

class Llama2cSynthetic : public ::testing::Test {
protected:
  void SetUp() override {
    vocab = syntheticLlama2cVocab();
    path = dir.write("tokenizer.bin", tokenizerBin(vocab));
    tok = mustLoad(path, static_cast<int64_t>(vocab.size()));
    ASSERT_TRUE(tok);
  }
  TempDir dir;
  std::vector<Piece> vocab;
  std::string path;
  std::unique_ptr<Tokenizer> tok;
};

TEST_F(Llama2cSynthetic, Basics) {
  EXPECT_EQ(tok->vocabSize(), static_cast<int>(vocab.size()));
  EXPECT_EQ(tok->bosId(), 1);
  EXPECT_EQ(tok->eosId(), 2);
  EXPECT_EQ(tok->encode("", false, false), std::vector<int>{});
  EXPECT_EQ(tok->encode("", true, true), (std::vector<int>{1, 2}));
  // Reading until the end of the file finds the same pieces.
  auto all = mustLoad(path);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->vocabSize(), static_cast<int>(vocab.size()));
}

// Expected ids printed by test/e2e/llama2c_tokenize.py on this vocabulary.
TEST_F(Llama2cSynthetic, DuplicatedPiecesFollowBsearch) {
  // " " is stored as 35 (byte) and 259; bsearch finds 35 here, so a lone
  // space text is dummy prefix + space merged into "  " (260).
  EXPECT_EQ(tok->encode(" ", false, false), (std::vector<int>{260}));
  // "\n" is not duplicated (the byte piece is "<0x0A>"): dummy " " is 35.
  EXPECT_EQ(tok->encode("\n", false, false), (std::vector<int>{35, 277}));
  // ...but for "z" (125 and 283) and "ï" (242 and 281) it finds the later,
  // normal piece: neither "first id" nor "last id" reproduces run.c.
  EXPECT_EQ(tok->encode("z", false, false), (std::vector<int>{35, 283}));
  EXPECT_EQ(tok->encode("a", false, false), (std::vector<int>{266}));
  EXPECT_EQ(tok->encode("\xC3\xAF", false, false),
            (std::vector<int>{35, 281}));
  EXPECT_EQ(tok->encode("\xC3\xA9", false, false),
            (std::vector<int>{282})); // " é"
  EXPECT_EQ(tok->encode("the", false, false), (std::vector<int>{263}));
  EXPECT_EQ(tok->encode("the", true, true), (std::vector<int>{1, 263, 2}));
}

TEST_F(Llama2cSynthetic, MergeOrder) {
  // "ab" and "bc" score alike: the leftmost pair is merged first.
  EXPECT_EQ(tok->encode("abc", false, false),
            (std::vector<int>{266, 265}))
      << "\" a\" (-6) beats \"ab\"/\"bc\" (-7); then \"bc\"";
  EXPECT_EQ(tok->encode("xbcbc", false, false),
            (std::vector<int>{35, 123, 265, 265}));
  // Pieces scored at -1e10 or NaN never merge.
  EXPECT_EQ(tok->encode("xy", false, false),
            (std::vector<int>{35, 123, 124}));
  EXPECT_EQ(tok->encode("yz", false, false),
            (std::vector<int>{35, 124, 283}));
  // "aaa": " a" first (-6), then "aa" (-20).
  EXPECT_EQ(tok->encode("aaa", false, false),
            (std::vector<int>{266, 267}));
  // 日本 merges, 語 is not a piece and falls back to bytes.
  EXPECT_EQ(tok->encode("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", false, false),
            (std::vector<int>{35, 273, 0xE8 + 3, 0xAA + 3, 0x9E + 3}));
}

TEST_F(Llama2cSynthetic, InvalidUtf8IsChunkedLikeRunC) {
  // A lone continuation byte, a truncated sequence, and six continuation
  // bytes after a 4-byte lead (cut into groups of at most 4 bytes).
  for (llvm::StringRef text :
       {llvm::StringRef("\x80" "abc"), llvm::StringRef("\xE2\x82"),
        llvm::StringRef("\xF0\x9F\x98\x80\x80\x80"),
        llvm::StringRef("\xFF\xFE"), llvm::StringRef("a\0b", 3)}) {
    std::vector<int> ids = tok->encode(text, true, true);
    if (text.find('\0') == llvm::StringRef::npos)
      EXPECT_EQ(ids, referenceEncode(vocab, text, true, true));
    for (int id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tok->vocabSize());
    }
    (void)tok->decode(ids);
  }
  EXPECT_EQ(tok->encode("\xF0\x9F\x98\x80\x80\x80", false, false),
            (std::vector<int>{35, 275, 0x80 + 3, 0x80 + 3}));
}

TEST_F(Llama2cSynthetic, MatchesQuadraticReferenceOnRandomTexts) {
  // Alphabet with every kind of piece: merging letters, duplicated ones,
  // multi-byte characters, CR/LF, and bytes that are not valid UTF-8.
  const char *alphabet[] = {"a", "b", "c", "t", "h", "e", "x", "y", "z",
                            " ", " ", "\n", "\r", "\xC3\xA9", "\xC3\xAF",
                            "\xE6\x97\xA5", "\xE6\x9C\xAC",
                            "\xF0\x9F\x98\x80", "\x80", "\xFF", "\xE2"};
  std::mt19937 rng(42);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    int length = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < length; ++i)
      text += alphabet[rng() % std::size(alphabet)];
    bool bos = round % 2, eos = round % 3 == 0;
    ASSERT_EQ(tok->encode(text, bos, eos),
              referenceEncode(vocab, text, bos, eos))
        << "text: '" << text << "'";
  }
}

TEST_F(Llama2cSynthetic, DecodeToken) {
  EXPECT_EQ(tok->decodeToken(1, 263), "the"); // after BOS: space dropped
  EXPECT_EQ(tok->decodeToken(50, 263), " the");
  EXPECT_EQ(tok->decodeToken(-1, 263), " the");
  EXPECT_EQ(tok->decodeToken(50, 3 + 0x0A), "\n"); // "<0x0A>" -> byte
  EXPECT_EQ(tok->decodeToken(50, 3 + 0x00), std::string(1, '\0'));
  EXPECT_EQ(tok->decodeToken(1, 35), ""); // " " after BOS, as run.c
  // run.c prints the piece of a byte token spelled as a character.
  EXPECT_EQ(tok->decodeToken(50, 3 + 0xEF), "\xC3\xAF");
  EXPECT_EQ(tok->decodeToken(50, -1), "");
  EXPECT_EQ(tok->decodeToken(50, tok->vocabSize()), "");
}

TEST_F(Llama2cSynthetic, DecodeResolvesByteTokens) {
  // Byte tokens spelling a UTF-8 character give its raw bytes...
  EXPECT_EQ(tok->decode({35, 0xE8 + 3, 0xAA + 3, 0x9E + 3}), "\xE8\xAA\x9E");
  // ...and a lone one gives its character (stories15M's encoder makes 242
  // from "ï").
  EXPECT_EQ(tok->decode({35, 242}), "\xC3\xAF");
  // BOS/EOS are not text; a BOS starts a new text (its dummy space dropped).
  EXPECT_EQ(tok->decode({1, 263, 2, 1, 266}), "thea");
}

TEST_F(Llama2cSynthetic, RoundTrips) {
  for (const char *text : kRoundTripTexts) {
    EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text);
    EXPECT_EQ(tok->decode(tok->encode(text, true, true)), text);
  }
}

TEST_F(Llama2cSynthetic, LongTextIsFast) {
  std::string text;
  while (text.size() < 400000)
    text += "the cat ate abc \xE6\x97\xA5\xE6\x9C\xAC xy\n";
  auto start = std::chrono::steady_clock::now();
  std::vector<int> ids = tok->encode(text, true, false);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  EXPECT_LT(seconds, 10.0) << "encode is not O(n log n)";
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(Llama2cErrors, MalformedFilesNameTheFileAndReason) {
  TempDir dir;
  std::string good = tokenizerBin(syntheticLlama2cVocab());
  int64_t n = static_cast<int64_t>(syntheticLlama2cVocab().size());

  std::string missing = dir.file("missing.bin");
  EXPECT_NE(loadError(missing).find("missing.bin"), std::string::npos);

  std::string empty = dir.write("empty.bin", "");
  EXPECT_NE(loadError(empty).find("empty.bin: empty file"), std::string::npos);

  // More pieces requested than stored / fewer (trailing bytes).
  std::string p = dir.write("good.bin", good);
  EXPECT_NE(loadError(p, n + 1).find("good.bin"), std::string::npos);
  EXPECT_NE(loadError(p, n - 1).find("unexpected bytes"), std::string::npos);

  // Truncated at every byte: an error, never a crash (bounded loop: the
  // interesting cuts are in the header and the first and last pieces).
  for (size_t cut = 0; cut < good.size(); cut += (cut < 64 || cut > good.size() - 64) ? 1 : 97) {
    std::string t = dir.write("cut.bin", good.substr(0, cut));
    std::string err = loadError(t, n);
    EXPECT_NE(err.find("cut.bin"), std::string::npos) << "cut " << cut;
  }

  // Negative length, negative max_token_length, too few pieces.
  std::string neg;
  appendI32(neg, 8);
  appendF32(neg, 0);
  appendI32(neg, -5);
  EXPECT_NE(loadError(dir.write("neg.bin", neg)).find("negative length"),
            std::string::npos);
  std::string badMax;
  appendI32(badMax, -1);
  EXPECT_NE(loadError(dir.write("max.bin", badMax)).find("max_token_length"),
            std::string::npos);
  std::vector<Piece> few = {{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}};
  EXPECT_NE(loadError(dir.write("few.bin", tokenizerBin(few))).find("259"),
            std::string::npos);
  // A huge length must not allocate.
  std::string huge;
  appendI32(huge, 8);
  appendF32(huge, 0);
  appendI32(huge, 0x7FFFFFFF);
  EXPECT_NE(loadError(dir.write("huge.bin", huge)).find("huge.bin"),
            std::string::npos);

  // Random garbage: an error or a tokenizer, never a crash.
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(rng() % 600, '\0');
    for (char &c : junk)
      c = static_cast<char>(rng());
    auto t = Tokenizer::load(dir.write("junk.bin", junk));
    if (t)
      (void)(*t)->decode((*t)->encode("junk \xFF text", true, true));
    else
      llvm::consumeError(t.takeError());
  }
}

//===----------------------------------------------------------------------===//
// Hugging Face tokenizer.json, synthetic
//===----------------------------------------------------------------------===//

/// Vocabulary: <unk> <s> </s>, <0x00>..<0xFF> (3..258), then
/// 259 ▁, 260 a, 261 b, 262 c, 263 ab, 264 ▁a, 265 ▁ab, 266 bc, 267 ▁▁,
/// 268 é, 269 h, 270 i, 271 hi, 272 ▁hi.
/// Merges by rank: ▁ a, a b, ▁a b, b c, ▁ ▁, h i, ▁ hi.
std::string hfJson(llvm::StringRef normalizerAndPreTokenizer,
                   bool arrayMerges) {
  std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2)";
  for (unsigned b = 0; b < 256; ++b)
    vocab += ", \"" + hexPiece(b) + "\": " + std::to_string(b + 3);
  const char *pieces[] = {"▁", "a", "b", "c", "ab", "▁a", "▁ab", "bc", "▁▁",
                          "é", "h", "i", "hi", "▁hi"};
  int id = 259;
  for (const char *p : pieces)
    vocab += std::string(", \"") + p + "\": " + std::to_string(id++);
  const char *merges[][2] = {{"▁", "a"}, {"a", "b"}, {"▁a", "b"},
                             {"b", "c"}, {"▁", "▁"}, {"h", "i"},
                             {"▁", "hi"}};
  std::string mergeList;
  for (const auto &m : merges) {
    if (!mergeList.empty())
      mergeList += ", ";
    mergeList += arrayMerges
                     ? std::string("[\"") + m[0] + "\", \"" + m[1] + "\"]"
                     : std::string("\"") + m[0] + " " + m[1] + "\"";
  }
  return std::string(R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true},
    {"id": 1, "content": "<s>", "special": true},
    {"id": 2, "content": "</s>", "special": true}
  ],
  )") + normalizerAndPreTokenizer.str() + R"(,
  "decoder": null,
  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
            "fuse_unk": true, "byte_fallback": true,
            "vocab": {)" + vocab + R"(},
            "merges": [)" + mergeList + R"(]}
})";
}

const char *kNormalizerForm =
    R"("normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
      "pre_tokenizer": null)";
const char *kMetaspaceForm =
    R"("normalizer": null,
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁",
                        "add_prefix_space": true})";

TEST(HfTokenizer, NormalizerFormEncodes) {
  TempDir dir;
  for (bool arrays : {false, true}) {
    auto tok = mustLoad(dir.write("tokenizer.json",
                                  "\n  " + hfJson(kNormalizerForm, arrays)),
                        300);
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->vocabSize(), 273);
    EXPECT_EQ(tok->bosId(), 1);
    EXPECT_EQ(tok->eosId(), 2);
    EXPECT_EQ(tok->encode("", false, false), std::vector<int>{});
    // ▁ a b c: "▁ a" (rank 0), then "▁a b" (2) before "b c" (3).
    EXPECT_EQ(tok->encode("abc", true, false), (std::vector<int>{1, 265, 262}));
    EXPECT_EQ(tok->encode("ab c", false, true),
              (std::vector<int>{265, 259, 262, 2}));
    // "▁ ▁" twice: the leftmost pair first.
    EXPECT_EQ(tok->encode("  ", false, false), (std::vector<int>{267, 259}));
    // Merges cross spaces in this form: ▁a ▁▁ b.
    EXPECT_EQ(tok->encode("a  b", false, false),
              (std::vector<int>{264, 267, 261}));
    // Unknown characters fall back to bytes: z, 日 (E6 97 A5), é is a piece.
    EXPECT_EQ(tok->encode("z\xE6\x97\xA5\xC3\xA9", false, false),
              (std::vector<int>{259, 0x7A + 3, 0xE6 + 3, 0x97 + 3, 0xA5 + 3,
                                268}));
    EXPECT_EQ(tok->encode("hi", false, false), (std::vector<int>{272}));
    EXPECT_EQ(tok->decodeToken(1, 272), "hi");
    EXPECT_EQ(tok->decodeToken(5, 272), " hi");
    EXPECT_EQ(tok->decodeToken(5, 0x41 + 3), "A");
  }
}

TEST(HfTokenizer, MetaspaceFormSplitsWords) {
  TempDir dir;
  auto tok = mustLoad(dir.write("tokenizer.json", hfJson(kMetaspaceForm, false)));
  ASSERT_TRUE(tok);
  // Words "▁a", "▁", "▁b": no merge across the split.
  EXPECT_EQ(tok->encode("a  b", false, false),
            (std::vector<int>{264, 259, 259, 261}));
  // The prefix is only added when the text does not start with a space.
  EXPECT_EQ(tok->encode(" a", false, false), (std::vector<int>{264}));
  EXPECT_EQ(tok->encode("a", false, false), (std::vector<int>{264}));
  EXPECT_EQ(tok->decode(tok->encode("hi abc", true, true)), "hi abc");
}

TEST(HfTokenizer, RoundTrips) {
  TempDir dir;
  auto tok = mustLoad(dir.write("tokenizer.json", hfJson(kNormalizerForm, true)));
  ASSERT_TRUE(tok);
  for (const char *text : kRoundTripTexts)
    EXPECT_EQ(tok->decode(tok->encode(text, true, false)), text);
  // Byte fallback is unambiguous here, so invalid UTF-8 round-trips too.
  for (llvm::StringRef text :
       {llvm::StringRef("\xFF\xFE"), llvm::StringRef("\x80" "abc"),
        llvm::StringRef("\xE2\x82"), llvm::StringRef("a\0b", 3)})
    EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text);
}

TEST(HfTokenizer, MalformedFilesNameTheFileAndReason) {
  TempDir dir;
  auto expectError = [&](llvm::StringRef json, llvm::StringRef reason,
                         int64_t vocabSize = 0) {
    std::string p = dir.write("bad.json", json);
    std::string err = loadError(p, vocabSize);
    EXPECT_NE(err.find("bad.json"), std::string::npos) << err;
    EXPECT_NE(err.find(reason), std::string::npos) << err;
  };
  expectError("{", "invalid JSON");
  expectError(R"({"model": 3})", "no 'model' object");
  expectError(R"({"model": {"type": "Unigram", "vocab": {}}})", "Unigram");
  expectError("{\"k\": " + std::string(100000, '{'), "nested deeper");
  expectError(std::string("{\"a\":") + std::string(100000, '['),
              "nested deeper");
  std::string good = hfJson(kNormalizerForm, false);
  expectError(good, "does not fit", 100);
  std::string badMerge = good;
  badMerge.replace(badMerge.find("\"h i\""), 5, "\"h q\"");
  expectError(badMerge, "not in the vocab");
  std::string noBos = good;
  noBos.replace(noBos.find("\"<s>\": 1"), 8, "\"<S>\": 1");
  noBos.replace(noBos.find("\"content\": \"<s>\""), 16, "\"content\": \"<S>\"");
  expectError(noBos, "<s>");
  std::string dupId = good;
  dupId.replace(dupId.find("\"hi\": 271"), 9, "\"hi\": 270");
  expectError(dupId, "is used by both");
  std::string farId = good;
  farId.replace(farId.find("\"hi\": 271"), 9, "\"hi\": 99999999");
  expectError(farId, "out of range");
  std::string regex = good;
  regex.replace(regex.find("{\"String\": \" \"}"), 15,
                "{\"Regex\": \" \"}");
  expectError(regex, "regex");
}

//===----------------------------------------------------------------------===//
// The real stories15M tokenizer.bin
//===----------------------------------------------------------------------===//

std::string findRealTokenizer() {
  std::vector<std::string> candidates;
  if (auto home = llvm::sys::Process::GetEnv("MIXQ_HOME"))
    candidates.push_back(*home + "/tokenizer.bin");
  if (auto home = llvm::sys::Process::GetEnv("HOME"))
    candidates.push_back(*home + "/.cache/mixq/tokenizer.bin");
  candidates.push_back("/tmp/mixq-data/tokenizer.bin");
  for (const std::string &c : candidates)
    if (llvm::sys::fs::exists(c))
      return c;
  return "";
}

class RealTokenizer : public ::testing::Test {
protected:
  void SetUp() override {
    path = findRealTokenizer();
    if (path.empty())
      GTEST_SKIP() << "no tokenizer.bin in $MIXQ_HOME, ~/.cache/mixq or "
                      "/tmp/mixq-data (run 'mixq fetch stories15M')";
    tok = mustLoad(path, 32000);
    ASSERT_TRUE(tok);
  }
  std::string path;
  std::unique_ptr<Tokenizer> tok;
};

// Every expectation below was printed by test/e2e/llama2c_tokenize.py (an
// independent Python version of run.c's encoder) on stories15M's
// tokenizer.bin, e.g.
//   python3 test/e2e/llama2c_tokenize.py tokenizer.bin 'py:"a\nb"'
TEST_F(RealTokenizer, MatchesLlama2cReference) {
  struct Case {
    llvm::StringRef text;
    std::vector<int> ids;
  };
  const Case cases[] = {
      {"", {}},
      {" ", {259}},
      {"\n", {35, 13}}, // the dummy-prefix " " is 35, not 29871
      {"Once upon a time", {9038, 2501, 263, 931}},
      {"Hello world", {15043, 3186}},
      {"Once upon a time, there was a little girl named Lily.",
       {9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 7826, 4257, 365,
        2354, 29889}},
      {"a\nb", {263, 13, 101}},
      {"  two  spaces   three", {259, 1023, 35, 8162, 259, 2211}},
      {"Tab\there", {11090, 12, 4150}},
      {"caf\xC3\xA9 na\xC3\xAFve", {274, 28059, 1055, 242, 345}},
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", {35, 30325, 30346, 30968}},
      {"\xF0\x9F\x98\x80 emoji", {35, 243, 162, 155, 131, 953, 29877, 2397}},
      {"\xE2\x82\xAC" "100", {25540, 29896, 29900, 29900}},
      {"\r\n", {6756, 13}},
      {"\xFF\xFE", {35, 258, 257}},
      {"\xE2\x82", {19406, 133}},
      {"\x80" "abc", {35, 131, 10736}},
      {"<s>", {529, 118, 29958}},
      {"\xC3\xBF", {35, 258}},
      {"\xF0\x9F\x98\x80\x80\x80", {35, 243, 162, 155, 131, 131, 131}},
      {"Lily's dog!!", {365, 2354, 42, 118, 11203, 6824}},
      {"!", {1738}},
      {"A", {319}},
  };
  for (const Case &c : cases)
    EXPECT_EQ(tok->encode(c.text, false, false), c.ids)
        << "text: '" << c.text.str() << "'";
  EXPECT_EQ(tok->encode("Once upon a time", true, false),
            (std::vector<int>{1, 9038, 2501, 263, 931}));
}

TEST_F(RealTokenizer, Decodes) {
  EXPECT_EQ(tok->decodeToken(1, 9038), "Once");
  EXPECT_EQ(tok->decodeToken(9038, 2501), " upon");
  EXPECT_EQ(tok->decode({1, 9038, 2501, 263, 931, 29892}),
            "Once upon a time,");
  for (const char *text : kRoundTripTexts)
    EXPECT_EQ(tok->decode(tok->encode(text, true, false)), text);
}

TEST_F(RealTokenizer, VocabSizeIsChecked) {
  std::string err = loadError(path, 32001);
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

} // namespace
