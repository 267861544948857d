//===- LayoutTest.cpp - mixq::Layout rules, storage and JSON --------------===//
//
// Checks the plain C++ layout description: JSON round trips of every form,
// exact storage counts against hand computations, the rules that textual IR
// cannot reach, overflow, and strict JSON parsing.
//
//===----------------------------------------------------------------------===//
#include "model/Layout.h"

#include "gtest/gtest.h"

using namespace mixq;

namespace {

Layout uniform(int64_t bits, int64_t group, bool asym = false) {
  Layout l;
  l.scheme = Scheme::Uniform;
  l.bits = {bits};
  l.group = group;
  l.asymmetric = asym;
  return l;
}

Layout mixed() {
  Layout l;
  l.scheme = Scheme::Mixed;
  l.bits = {2, 4, 16};
  l.group = 64;
  l.tile = 16;
  l.alloc = {2, 1, 1};
  l.asymmetric = true;
  l.scaleBits = 4;
  l.scaleBlock = 256;
  l.outliers = OutlierKind::Slots;
  l.slots = 1;
  return l;
}

Layout lut(int64_t bits, int64_t nnz) {
  Layout l;
  l.scheme = Scheme::Lut;
  l.bits = {bits};
  if (nnz) {
    l.outliers = OutlierKind::Csr;
    l.nnz = nnz;
  }
  return l;
}

Layout quik(int64_t bits, int64_t cols, int64_t actBits) {
  Layout l;
  l.scheme = Scheme::Quik;
  l.bits = {bits};
  l.fp16Cols = cols;
  l.act.bits = actBits;
  l.act.asymmetric = actBits != 8;
  return l;
}

std::vector<Layout> everyForm() {
  Layout dense;
  std::vector<Layout> all = {dense, uniform(2, 32), uniform(3, 64, true),
                             uniform(8, 0), mixed(), lut(3, 0), lut(4, 10),
                             quik(4, 8, 4), quik(8, 0, 8), quik(4, 4, 16)};
  Layout dense32;
  dense32.bits = {32};
  all.push_back(dense32);
  Layout second = uniform(4, 16, true);
  second.scaleBits = 6;
  second.scaleBlock = 64;
  all.push_back(second);
  return all;
}

std::string errorOf(llvm::Error e) {
  return e ? llvm::toString(std::move(e)) : std::string();
}

} // namespace

TEST(Layout, EveryFormIsValidAndRoundTripsThroughJSON) {
  for (const Layout &l : everyForm()) {
    SCOPED_TRACE(formatLayout(l));
    EXPECT_EQ(errorOf(verifyLayout(l)), "");
    llvm::json::Value json = layoutToJSON(l);
    // Through text as a package stores it, not just the in-memory value.
    std::string text;
    llvm::raw_string_ostream(text) << json;
    llvm::Expected<llvm::json::Value> reparsed = llvm::json::parse(text);
    ASSERT_TRUE(bool(reparsed)) << llvm::toString(reparsed.takeError());
    llvm::Expected<Layout> back = layoutFromJSON(*reparsed);
    ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(*back, l);
  }
}

TEST(Layout, FormatMatchesTheAttributeSyntax) {
  EXPECT_EQ(formatLayout(uniform(4, 128)), "uniform, bits = 4, group = 128");
  EXPECT_EQ(formatLayout(mixed()),
            "mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, "
            "1], asym, scales = <4, 256>, outliers = slots<1>");
  EXPECT_EQ(formatLayout(lut(3, 7)), "lut, bits = 3, outliers = csr<7>");
  EXPECT_EQ(formatLayout(quik(4, 256, 4)),
            "quik, bits = 4, fp16_cols = 256, act = <4, per_token, asym>");
}

TEST(Layout, UniformStorageByHand) {
  // 4096x4096 int4 g128: 4 bits of code + one FP16 scale per 128 weights.
  auto s = storageBits(uniform(4, 128), 4096, 4096);
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->codes, 4096ull * 4096 * 4);
  EXPECT_EQ(s->scales, 4096ull * 32 * 16);
  EXPECT_EQ(s->zeros, 0u);
  EXPECT_DOUBLE_EQ(*bitsPerWeight(uniform(4, 128), 4096, 4096), 4.125);
  // Asymmetric adds a 4-bit zero per group: 4 + 16/128 + 4/128.
  EXPECT_DOUBLE_EQ(*bitsPerWeight(uniform(4, 128, true), 4096, 4096),
                   4.15625);
  // Per-row int8: one scale per row of 64.
  EXPECT_DOUBLE_EQ(*bitsPerWeight(uniform(8, 0), 32, 64), 8.25);
}

TEST(Layout, OddSizesRoundStreamsUpToBytes) {
  // 3 x 5 int3 = 45 bits of codes -> 48; 3 rows x 1 group of 5.
  auto s = storageBits(uniform(3, 5, true), 3, 5);
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->codes, 48u);
  EXPECT_EQ(s->scales, 3u * 16);
  EXPECT_EQ(s->zeros, 16u); // 3 zeros * 3 bits = 9 -> 16
}

TEST(Layout, SecondOrderScalesByHand) {
  Layout l = uniform(2, 64);
  l.scaleBits = 4;
  l.scaleBlock = 256;
  // 1000 x 640: 10000 groups -> 40000 bits of scale codes + ceil(10000/256)
  // = 40 blocks of (FP16 scale + FP16 minimum).
  auto s = storageBits(l, 1000, 640);
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->scales, 40000u + 40 * 32);
}

TEST(Layout, MixedStorageByHand) {
  auto s = storageBits(mixed(), 32, 128);
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->codes, 2u * 1024 * 2 + 1024 * 4 + 1024 * 16);
  EXPECT_EQ(s->scales, 48u * 4 + 32);
  EXPECT_EQ(s->zeros, 32u * 2 + 16 * 4);
  EXPECT_EQ(s->maps, 8u + 2 * 3 * 32);
  EXPECT_EQ(s->outlierIndex, 32u * 8);
  EXPECT_EQ(s->outlierValue, 32u * 16);
  EXPECT_EQ(s->total(), 25896u);
  // A group over 256 elements needs 16-bit slot indices.
  Layout wide = mixed();
  wide.group = 512;
  wide.alloc = {1, 0, 0};
  auto w = storageBits(wide, 16, 512);
  ASSERT_TRUE(bool(w));
  EXPECT_EQ(w->outlierIndex, 16u * 16);
}

TEST(Layout, LutAndQuikStorageByHand) {
  auto l = storageBits(lut(4, 100), 10, 70000);
  ASSERT_TRUE(bool(l));
  EXPECT_EQ(l->codes, 10ull * 70000 * 4);
  EXPECT_EQ(l->luts, 10u * 16 * 16);
  // K > 65536: 32-bit column indices.
  EXPECT_EQ(l->outlierIndex, 11u * 32 + 100 * 32);
  EXPECT_EQ(l->outlierValue, 100u * 16);
  auto q = storageBits(quik(8, 16, 8), 64, 128);
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->codes, 64u * 112 * 8);
  EXPECT_EQ(q->scales, 64u * 16);
  EXPECT_EQ(q->outlierValue, 64u * 16 * 16);
  EXPECT_EQ(q->outlierIndex, 16u * 32);
}

TEST(Layout, RulesTextualIRCannotReach) {
  Layout l = uniform(4, 32);
  l.slots = 3; // a count without an outlier kind
  EXPECT_NE(errorOf(verifyLayout(l)).find("without an outlier kind"),
            std::string::npos);
  Layout s = mixed();
  s.nnz = 4;
  EXPECT_NE(errorOf(verifyLayout(s)).find("take no CSR count"),
            std::string::npos);
  Layout c = lut(3, 5);
  c.slots = 1;
  EXPECT_NE(errorOf(verifyLayout(c)).find("take no slot count"),
            std::string::npos);
  Layout e;
  e.bits.clear();
  EXPECT_NE(errorOf(verifyLayout(e)).find("at least one bit width"),
            std::string::npos);
}

TEST(Layout, ShapeRules) {
  EXPECT_NE(errorOf(verifyLayoutForShape(uniform(4, 48), 32, 64))
                .find("group size 48 does not divide K = 64"),
            std::string::npos);
  EXPECT_NE(errorOf(verifyLayoutForShape(mixed(), 32, 192)).find("covers 4"),
            std::string::npos);
  EXPECT_NE(errorOf(verifyLayoutForShape(lut(3, 17), 4, 4)).find("exceed"),
            std::string::npos);
  EXPECT_NE(errorOf(verifyLayoutForShape(uniform(4, 0), -1, 4))
                .find("must be positive"),
            std::string::npos);
}

TEST(Layout, OverflowIsAnErrorNotAWrap) {
  Layout dense;
  dense.bits = {32};
  auto s = storageBits(dense, int64_t(1) << 40, int64_t(1) << 30);
  ASSERT_FALSE(bool(s));
  EXPECT_NE(llvm::toString(s.takeError()).find("overflows"), std::string::npos);
  // Near the edge: the element count fits, the bit count does not.
  auto t = storageBits(dense, int64_t(1) << 30, int64_t(1) << 30);
  ASSERT_FALSE(bool(t));
  llvm::consumeError(t.takeError());
  // A huge CSR count is compared without overflow.
  Layout big = lut(3, INT64_MAX);
  EXPECT_NE(errorOf(verifyLayoutForShape(big, int64_t(1) << 31,
                                         int64_t(1) << 31)),
            "");
}

TEST(Layout, StrictJSON) {
  auto parse = [](const char *text) {
    llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
    EXPECT_TRUE(bool(v));
    return layoutFromJSON(*v);
  };
  struct Case {
    const char *json, *message;
  } cases[] = {
      {R"([1])", "expected a JSON object"},
      {R"({"bits":[4]})", "missing string 'scheme'"},
      {R"({"scheme":"nf4","bits":[4]})", "unknown scheme 'nf4'"},
      {R"({"scheme":"uniform"})", "missing 'bits'"},
      {R"({"scheme":"uniform","bits":4})", "'bits' must be an array"},
      {R"({"scheme":"uniform","bits":[4],"grp":1})", "unknown key 'grp'"},
      {R"({"scheme":"uniform","bits":[4],"group":"x"})",
       "'group' must be an integer"},
      {R"({"scheme":"uniform","bits":[4],"asym":1})",
       "'asym' must be true or false"},
      {R"({"scheme":"uniform","bits":[4],"scales":{"bits":4}})",
       "missing 'block'"},
      {R"({"scheme":"lut","bits":[3],"outliers":{"kind":"coo"}})",
       "'kind' must be none, slots or csr"},
      {R"({"scheme":"lut","bits":[3],"outliers":[]})",
       "'outliers' must be an object"},
      {R"({"scheme":"uniform","bits":[5]})", "one bit width from"},
      {R"({"scheme":"quik","bits":[4],"act":{"bits":4,"x":1}})",
       "unknown key 'x'"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.json);
    llvm::Expected<Layout> l = parse(c.json);
    ASSERT_FALSE(bool(l));
    std::string message = llvm::toString(l.takeError());
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
  }
}
