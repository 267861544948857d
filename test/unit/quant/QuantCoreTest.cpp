//===- QuantCoreTest.cpp - Packing, dequantization, RTN, GPTQ, k-means ----===//
//
// Known answers for the quantizer's numerical core: bit-exact LSB-first
// packing; for every scheme, streams that add up to storageBits() and
// dequantize(pack(x)) == x bit for bit; RTN codes computed by hand;
// second-order scales within their bound; GPTQ == RTN when H is diagonal and
// better than RTN on correlated inputs; k-means on separable data; malformed
// tensors rejected with errors that name the tensor and the stream.
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"
#include "model/Dequantize.h"
#include "model/Float16.h"
#include "quant/Gptq.h"
#include "quant/KMeans.h"
#include "quant/Pack.h"
#include "quant/Rtn.h"

#include "gtest/gtest.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

using namespace mixq;

namespace {

std::vector<float> gaussian(size_t count, unsigned seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(count);
  for (float &x : v)
    x = dist(rng);
  return v;
}

std::vector<float> f16Values(size_t count, unsigned seed) {
  std::vector<float> v = gaussian(count, seed);
  for (float &x : v)
    x = roundToF16(x);
  return v;
}

/// Bitwise equality of two float vectors (so -0 vs 0 or NaN are caught).
void expectBitwiseEqual(const std::vector<float> &a,
                        const std::vector<float> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(floatBits(a[i]), floatBits(b[i]))
        << "at " << i << ": " << a[i] << " vs " << b[i];
}

void expectExactStorage(const QuantizedTensor &t) {
  auto storage = storageBits(t.layout, t.rows, t.cols);
  ASSERT_TRUE(bool(storage)) << llvm::toString(storage.takeError());
  EXPECT_EQ(t.totalBits(), storage->total()) << formatLayout(t.layout);
  EXPECT_FALSE(bool(validateQuantizedTensor(t)));
}

std::vector<float> dequantOrDie(const QuantizedTensor &t) {
  auto d = dequantize(t);
  if (!d) {
    ADD_FAILURE() << llvm::toString(d.takeError());
    return {};
  }
  return *d;
}

/// The error message of a tensor that must be rejected.
std::string rejection(const QuantizedTensor &t) {
  auto d = dequantize(t);
  if (d) {
    ADD_FAILURE() << "tensor '" << t.name << "' was accepted";
    return "";
  }
  return llvm::toString(d.takeError());
}

// BitPack
// -----------------------------------------------------------------===//

TEST(BitPack, ThreeBitKnownBytes) {
  std::vector<uint8_t> codes = {5, 6, 7};
  std::vector<uint8_t> bytes = packBits(codes, 3);
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0xF5); // 0b11'110'101
  EXPECT_EQ(bytes[1], 0x01);
  // 2-bit: codes 1 2 3 0 1 -> 0b00111001, 0b00000001.
  bytes = packBits({1, 2, 3, 0, 1}, 2);
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x39);
  EXPECT_EQ(bytes[1], 0x01);
  // 4-bit: low nibble first.
  bytes = packBits({0xA, 0x5, 0xF}, 4);
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x5A);
  EXPECT_EQ(bytes[1], 0x0F);
}

TEST(BitPack, RoundTripsEveryWidthAndOddCounts) {
  std::mt19937 rng(7);
  for (unsigned bits = 1; bits <= 8; ++bits)
    for (size_t count : {0u, 1u, 3u, 7u, 8u, 9u, 13u, 35u, 101u}) {
      std::vector<uint8_t> codes(count);
      for (uint8_t &c : codes)
        c = uint8_t(rng() & ((1u << bits) - 1));
      std::vector<uint8_t> bytes = packBits(codes, bits);
      ASSERT_EQ(bytes.size(), (count * bits + 7) / 8);
      EXPECT_EQ(unpackBits(bytes, bits, count), codes)
          << bits << " bits, " << count << " codes";
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(getBits(bytes, bits, i), codes[i]);
      // Any sub-range, from any (unaligned) start.
      for (size_t first = 0; first < count; first += 3) {
        size_t len = std::min<size_t>(5, count - first);
        std::vector<uint8_t> part(len);
        unpackBits(bytes, bits, first, len, part.data());
        for (size_t i = 0; i < len; ++i)
          ASSERT_EQ(part[i], codes[first + i]);
      }
      // Unused high bits of the last byte stay zero.
      if ((count * bits) % 8)
        EXPECT_EQ(bytes.back() >> ((count * bits) % 8), 0);
      // putBits into a zeroed stream gives the same bytes.
      std::vector<uint8_t> put(bytes.size(), 0);
      for (size_t i = 0; i < count; ++i)
        putBits(put, bits, i, codes[i]);
      EXPECT_EQ(put, bytes);
    }
  std::vector<uint16_t> wide = {0x1234, 0xFFFF, 0x0001};
  std::vector<uint8_t> bytes = packBits16(wide, 16);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x34, 0x12, 0xFF, 0xFF, 0x01, 0x00}));
  EXPECT_EQ(getBits(bytes, 16, 1), 0xFFFFu);
  EXPECT_EQ(getBitField(bytes, 4, 8), 0x23u);
}

TEST(BitPack, CodeRangeIsChecked) {
  EXPECT_FALSE(bool(checkCodeRange({0, 1, 2, 3}, 2, "x")));
  llvm::Error e = checkCodeRange({0, 4}, 2, "codes of 'w'");
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("codes of 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("index 1"), std::string::npos) << msg;
}

TEST(BitPack, ElementsAreLittleEndian) {
  std::vector<uint8_t> s;
  appendI32(s, -2);
  appendU16(s, 0xBEEF);
  appendF16(s, 1.0f);
  appendF32(s, -0.5f);
  EXPECT_EQ(readI32(s, 0), -2);
  EXPECT_EQ(s[4], 0xEF);
  EXPECT_EQ(readU16(s, 2), 0xBEEF);
  EXPECT_EQ(readU16(s, 3), 0x3C00);
  EXPECT_EQ(readF16(s, 3), 1.0f);
  EXPECT_EQ(readF32(s, 2), -0.5f);
}

// Second-order scales
// ------------------------------------------------------===//

TEST(SecondOrderScales, WithinHalfAStep) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(0.001f, 0.05f);
  for (int64_t bits : {2, 4, 8})
    for (int64_t block : {1, 7, 64}) {
      std::vector<float> scales(200);
      for (float &s : scales)
        s = dist(rng);
      StoredScales q = quantizeScales(scales, bits, block);
      ASSERT_EQ(q.codes.size(), scales.size());
      ASSERT_EQ(q.step.size(), (scales.size() + block - 1) / block);
      for (size_t i = 0; i < scales.size(); ++i) {
        size_t b = i / block;
        float minV = halfToFloat(q.min[b]), step = halfToFloat(q.step[b]);
        EXPECT_LE(minV, scales[i]);
        EXPECT_LT(q.codes[i], 1u << bits);
        EXPECT_EQ(q.value(i), secondOrderScale(minV, step, q.codes[i]));
        EXPECT_LE(std::fabs(q.value(i) - scales[i]),
                  step / 2 * (1 + 1e-5) + 1e-9)
            << bits << " bits, block " << block << ", scale " << i;
      }
    }
  // A constant block is exact when its value is an F16 value.
  StoredScales c = quantizeScales({0.25f, 0.25f, 0.25f}, 4, 3);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.value(i), 0.25f);
}

TEST(SecondOrderScales, NoFusedMultiplyAdd) {
  // min + code*step with the product rounded first: a case where an FMA
  // would differ (the product 3 * 0.1f is inexact).
  float step = 0.1f, min = -0.3f;
  volatile float product = 3.0f * step;
  EXPECT_EQ(secondOrderScale(min, step, 3), min + product);
}

// RTN
// ---------------------------------------------------------------------===//

TEST(Rtn, HandComputedCodes) {
  // Asymmetric 2-bit, per row: [0, 1, 2, 3] -> scale 1, zero 0.
  {
    auto r = quantizeRtn("a", {0, 1, 2, 3}, 1, 4, uniformLayout(2, 0, true));
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    EXPECT_EQ(unpackBits(r->tensor.streams["codes"].bytes, 2, 4),
              (std::vector<uint8_t>{0, 1, 2, 3}));
    EXPECT_EQ(readF16(r->tensor.streams["scales"].bytes, 0), 1.0f);
    EXPECT_EQ(getBits(r->tensor.streams["zeros"].bytes, 2, 0), 0u);
    expectBitwiseEqual(r->dequantized, {0, 1, 2, 3});
  }
  // Symmetric 2-bit: absmax 1.5 -> scale 2*1.5/3 = 1, zero 2; rint ties to
  // even: -1.5 -> -2, 1.5 -> 2 (clamped to code 3).
  {
    auto r = quantizeRtn("s", {-1.5f, 0, 0.75f, 1.5f}, 1, 4,
                         uniformLayout(2, 0, false));
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    EXPECT_EQ(unpackBits(r->tensor.streams["codes"].bytes, 2, 4),
              (std::vector<uint8_t>{0, 2, 3, 3}));
    expectBitwiseEqual(r->dequantized, {-2, 0, 1, 1});
    EXPECT_EQ(r->tensor.streams.count("zeros"), 0u);
  }
  // Asymmetric 4-bit: [-1, 0.5, 2] -> scale F16(0.2) = 0.199951171875,
  // zero rint(1/0.19995) = 5, codes 0, 8, 15.
  {
    auto r = quantizeRtn("b", {-1, 0.5f, 2}, 1, 3, uniformLayout(4, 0, true));
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    float s = 0.199951171875f;
    EXPECT_EQ(readF16(r->tensor.streams["scales"].bytes, 0), s);
    EXPECT_EQ(getBits(r->tensor.streams["zeros"].bytes, 4, 0), 5u);
    EXPECT_EQ(unpackBits(r->tensor.streams["codes"].bytes, 4, 3),
              (std::vector<uint8_t>{0, 8, 15}));
    expectBitwiseEqual(r->dequantized, {-5 * s, 3 * s, 10 * s});
  }
  // Two groups of two in one row, asymmetric 3-bit: [1, 2 | -4, -3].
  // Group 0 range [0, 2]: scale 2/7 (F16 0.28564453125), zero 0.
  // Group 1 range [-4, 0]: scale 4/7 (F16 0.5712890625), zero 7.
  {
    auto r = quantizeRtn("g", {1, 2, -4, -3}, 1, 4, uniformLayout(3, 2, true));
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    EXPECT_EQ(unpackBits(r->tensor.streams["zeros"].bytes, 3, 2),
              (std::vector<uint8_t>{0, 7}));
    // 1/0.2856 = 3.50 -> 4 (3.5009 rounds up), 2/0.2856 = 7.0017 -> 7;
    // -4/0.5713 = -7.0017 -> -7 + 7 = 0, -3/0.5713 = -5.25 -> -5 + 7 = 2.
    EXPECT_EQ(unpackBits(r->tensor.streams["codes"].bytes, 3, 4),
              (std::vector<uint8_t>{4, 7, 0, 2}));
  }
  // An all-zero row: scale 0, every value 0.
  {
    auto r = quantizeRtn("z", {0, 0, 0}, 1, 3, uniformLayout(4, 0, true));
    ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
    expectBitwiseEqual(r->dequantized, {0, 0, 0});
  }
}

TEST(Rtn, EveryUniformLayoutRoundTripsExactly) {
  struct Shape {
    int64_t n, k, group;
  };
  for (Shape s :
       {Shape{5, 7, 0}, Shape{3, 24, 8}, Shape{16, 64, 32}, Shape{9, 33, 11}})
    for (int64_t bits : {2, 3, 4, 8})
      for (bool asym : {false, true})
        for (int64_t scaleBits : {0, 3, 8}) {
          Layout l =
              uniformLayout(bits, s.group, asym, scaleBits, scaleBits ? 5 : 0);
          std::vector<float> w = gaussian(s.n * s.k, unsigned(bits * 31 + s.k));
          auto r = quantizeRtn("w", w, s.n, s.k, l);
          ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
          expectExactStorage(r->tensor);
          expectBitwiseEqual(dequantOrDie(r->tensor), r->dequantized);
          // The error is bounded by the stored scale's grid (per-row max
          // |w| times a generous constant).
          double maxErr = 0;
          for (size_t i = 0; i < w.size(); ++i)
            maxErr =
                std::max(maxErr, double(std::fabs(w[i] - r->dequantized[i])));
          EXPECT_LT(maxErr, bits >= 4 && scaleBits == 0 ? 0.5 : 3.0)
              << formatLayout(l);
        }
}

TEST(Rtn, MoreBitsLessError) {
  std::vector<float> w = gaussian(32 * 128, 11);
  double previous = 1e30;
  for (int64_t bits : {2, 3, 4, 8}) {
    auto r = quantizeRtn("w", w, 32, 128, uniformLayout(bits, 32, true));
    ASSERT_TRUE(bool(r));
    double err = 0;
    for (size_t i = 0; i < w.size(); ++i)
      err += double(w[i] - r->dequantized[i]) * (w[i] - r->dequantized[i]);
    EXPECT_LT(err, previous) << bits;
    previous = err;
  }
}

// Pack + dequantize of the other schemes
// -----------------------------------===//

TEST(Pack, DenseRoundTrips) {
  std::vector<float> w = f16Values(3 * 5, 1);
  for (int64_t bits : {16, 32}) {
    auto t = packDense("d", 3, 5, w, bits);
    ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
    expectExactStorage(*t);
    expectBitwiseEqual(dequantOrDie(*t), w);
  }
}

/// A mixed tensor with random decisions and its expected dequantization,
/// computed from the decisions per (row, group) without the code streams.
struct MixedCase {
  Layout layout;
  int64_t n, k;
  MixedDecisions d;
  std::vector<float> expected;
};

MixedCase makeMixed(std::vector<int64_t> bits, std::vector<int64_t> alloc,
                    int64_t n, int64_t k, int64_t group, bool asym,
                    int64_t scaleBits, int64_t slots, unsigned seed) {
  MixedCase c;
  Layout &l = c.layout;
  l.scheme = Scheme::Mixed;
  l.bits = bits;
  l.group = group;
  l.tile = 16;
  l.alloc = alloc;
  l.asymmetric = asym;
  l.scaleBits = scaleBits;
  l.scaleBlock = scaleBits ? 6 : 0;
  if (slots) {
    l.outliers = OutlierKind::Slots;
    l.slots = slots;
  }
  c.n = n;
  c.k = k;
  std::mt19937 rng(seed);
  // A shuffled precision map with exactly `alloc` tile-groups per precision.
  for (size_t p = 0; p < alloc.size(); ++p)
    c.d.precision.insert(c.d.precision.end(), alloc[p], uint8_t(p));
  std::shuffle(c.d.precision.begin(), c.d.precision.end(), rng);
  auto plan = MixedPlan::build(l, n, k, c.d.precision);
  EXPECT_TRUE(bool(plan));
  if (!plan) {
    llvm::consumeError(plan.takeError());
    return c;
  }
  c.d.codes.resize(n * k);
  c.d.fp16 = f16Values(n * k, seed + 1);
  int64_t rowGroups = plan->quantRowGroups();
  std::uniform_real_distribution<float> scaleDist(0.01f, 0.1f);
  std::vector<float> scales(rowGroups);
  for (float &s : scales)
    s = scaleDist(rng);
  c.d.scales = scaleBits ? quantizeScales(scales, scaleBits, l.scaleBlock)
                         : storeScalesF16(scales);
  if (asym)
    c.d.zeros.resize(rowGroups);
  c.d.slotIndex.resize(plan->twoBitRowGroups() * slots);
  c.d.slotValue.resize(plan->twoBitRowGroups() * slots);
  for (size_t i = 0; i < c.d.slotIndex.size(); ++i) {
    c.d.slotIndex[i] = uint16_t(rng() % group);
    c.d.slotValue[i] = (i % 3 == 0) ? 0.0f : roundToF16(float(i) * 0.01f);
  }
  c.expected.assign(n * k, 0);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t g = 0; g < k / group; ++g) {
      int64_t b = plan->precisionBits(row, g);
      int64_t rg = plan->quantRowGroup(row, g);
      int32_t zero = 0;
      if (rg >= 0) {
        zero = asym ? int32_t(rng() % (1u << b)) : (1 << (b - 1));
        if (asym)
          c.d.zeros[rg] = uint8_t(zero);
      }
      for (int64_t j = 0; j < group; ++j) {
        size_t w = size_t(row) * k + g * group + j;
        if (b == 16) {
          c.expected[w] = c.d.fp16[w];
          continue;
        }
        c.d.codes[w] = uint8_t(rng() % (1u << b));
        c.expected[w] =
            float(int32_t(c.d.codes[w]) - zero) * c.d.scales.value(size_t(rg));
      }
      int64_t two = plan->twoBitRowGroup(row, g);
      if (two >= 0)
        for (int64_t s = 0; s < slots; ++s) {
          size_t i = size_t(two) * slots + s;
          float &x = c.expected[size_t(row) * k + g * group + c.d.slotIndex[i]];
          x = x + c.d.slotValue[i];
        }
    }
  return c;
}

TEST(Pack, MixedRoundTripsExactly) {
  std::vector<MixedCase> cases;
  cases.push_back(makeMixed({2, 4, 16}, {5, 2, 1}, 32, 256, 64, true, 4, 1, 1));
  cases.push_back(makeMixed({2, 4}, {3, 1}, 16, 128, 32, false, 0, 0, 2));
  cases.push_back(makeMixed({2, 16}, {2, 1}, 48, 48, 48, true, 0, 3, 3));
  cases.push_back(
      makeMixed({2, 4, 16}, {1, 0, 1}, 16, 1024, 512, true, 2, 2, 4));
  cases.push_back(
      makeMixed({2, 4, 16}, {12, 3, 1}, 64, 128, 32, false, 8, 1, 5));
  for (MixedCase &c : cases) {
    auto t = packMixed("m", c.layout, c.n, c.k, c.d);
    ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
    expectExactStorage(*t);
    expectBitwiseEqual(dequantOrDie(*t), c.expected);
  }
}

TEST(Pack, MixedStreamOrderByHand) {
  // 16 x 8, group 4: tile-group 0 is 4-bit, tile-group 1 is 2-bit.
  Layout l;
  l.scheme = Scheme::Mixed;
  l.bits = {2, 4};
  l.group = 4;
  l.tile = 16;
  l.alloc = {1, 1};
  l.asymmetric = true;
  auto plan = MixedPlan::build(l, 16, 8, {1, 0});
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  // Row-groups: the 2-bit stream's first (rows 0..15), then the 4-bit one's.
  EXPECT_EQ(plan->quantRowGroup(3, 1), 3);
  EXPECT_EQ(plan->quantRowGroup(3, 0), 19);
  EXPECT_EQ(plan->twoBitRowGroup(3, 1), 3);
  EXPECT_EQ(plan->twoBitRowGroup(3, 0), -1);
  EXPECT_EQ(plan->zeroBit(3, 1), 6u);
  EXPECT_EQ(plan->zeroBit(3, 0), 32u + 12u);
  EXPECT_EQ(plan->codeIndex(1, 6), 4u + 2u);

  MixedDecisions d;
  d.precision = {1, 0};
  d.codes.assign(16 * 8, 0);
  d.codes[0 * 8 + 5] = 3; // row 0, 2-bit group, element 1
  d.codes[1 * 8 + 0] = 9; // row 1, 4-bit group, element 0
  std::vector<float> scales(32, 1.0f);
  d.scales = storeScalesF16(scales);
  d.zeros.assign(32, 0);
  d.zeros[0] = 1;  // 2-bit row-group of row 0
  d.zeros[17] = 2; // 4-bit row-group of row 1
  auto t = packMixed("m", l, 16, 8, d);
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->streams["pmap"].bytes, (std::vector<uint8_t>{0x01}));
  EXPECT_EQ(t->streams["offsets"].bytes,
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(t->streams["codes2"].bytes.size(), 16u);
  EXPECT_EQ(t->streams["codes2"].bytes[0], 0x0C); // code 3 at element 1
  EXPECT_EQ(t->streams["codes4"].bytes.size(), 32u);
  EXPECT_EQ(t->streams["codes4"].bytes[2], 0x09);   // row 1 starts at byte 2
  EXPECT_EQ(t->streams["zeros"].bytes.size(), 12u); // 16*2 + 16*4 bits
  EXPECT_EQ(t->streams["zeros"].bytes[0], 0x01);
  EXPECT_EQ(t->streams["zeros"].bytes[4], 0x20); // 4-bit zero of row 1
  auto w = dequantOrDie(*t);
  EXPECT_EQ(w[0 * 8 + 5], 2.0f);  // (3 - 1) * 1
  EXPECT_EQ(w[0 * 8 + 4], -1.0f); // (0 - 1) * 1
  EXPECT_EQ(w[1 * 8 + 0], 7.0f);  // (9 - 2) * 1
}

TEST(Pack, LutRoundTripsExactly) {
  for (int64_t bits : {3, 4})
    for (auto [n, k, nnz] : {std::tuple<int64_t, int64_t, int64_t>{5, 7, 0},
                             {5, 7, 6},
                             {8, 33, 20}}) {
      Layout l;
      l.scheme = Scheme::Lut;
      l.bits = {bits};
      if (nnz) {
        l.outliers = OutlierKind::Csr;
        l.nnz = nnz;
      }
      std::mt19937 rng(unsigned(bits * 100 + k + nnz));
      std::vector<uint8_t> codes(n * k);
      for (uint8_t &c : codes)
        c = uint8_t(rng() % (1u << bits));
      std::vector<float> lut = f16Values(n << bits, unsigned(bits + nnz));
      std::vector<float> expected(n * k);
      for (int64_t i = 0; i < n * k; ++i)
        expected[i] = lut[(i / k << bits) + codes[i]];
      std::vector<CsrEntry> outliers;
      std::vector<int64_t> positions(n * k);
      std::iota(positions.begin(), positions.end(), 0);
      std::shuffle(positions.begin(), positions.end(), rng);
      for (int64_t i = 0; i < nnz; ++i) {
        float v = roundToF16(float(i + 1) * 0.5f);
        outliers.push_back({positions[i] / k, positions[i] % k, v});
        float &x = expected[positions[i]];
        x = x + v;
      }
      auto t = packLut("l", l, n, k, codes, lut, outliers);
      ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
      expectExactStorage(*t);
      expectBitwiseEqual(dequantOrDie(*t), expected);
    }
}

TEST(Pack, QuikRoundTripsExactly) {
  for (int64_t bits : {4, 8})
    for (auto [n, k, cols] : {std::tuple<int64_t, int64_t, int64_t>{3, 9, 0},
                              {3, 9, 2},
                              {7, 40, 5}}) {
      Layout l;
      l.scheme = Scheme::Quik;
      l.bits = {bits};
      l.fp16Cols = cols;
      l.act.bits = 4;
      std::mt19937 rng(unsigned(bits + k + cols));
      std::vector<int64_t> colIndex;
      for (int64_t c = 0; c < cols; ++c)
        colIndex.push_back(c * (k / std::max<int64_t>(cols, 1)) + 1);
      std::vector<int8_t> codes(n * k);
      int lo = -(1 << (bits - 1)), range = 1 << bits;
      for (int8_t &c : codes)
        c = int8_t(lo + int(rng() % range));
      std::vector<float> scales = f16Values(n, 5),
                         fp16 = f16Values(n * cols, 6);
      std::vector<float> expected(n * k);
      for (int64_t r = 0; r < n; ++r) {
        int64_t next = 0;
        for (int64_t c = 0; c < k; ++c) {
          if (next < cols && colIndex[next] == c)
            expected[r * k + c] = fp16[r * cols + next++];
          else
            expected[r * k + c] = float(codes[r * k + c]) * scales[r];
        }
      }
      auto t = packQuik("q", l, n, k, codes, scales, colIndex, fp16);
      ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
      expectExactStorage(*t);
      expectBitwiseEqual(dequantOrDie(*t), expected);
    }
}

TEST(Pack, RejectsBadDecisions) {
  Layout l = uniformLayout(2, 0, true);
  StoredScales s = storeScalesF16({1.0f});
  auto bad = packUniform("w", l, 1, 4, {0, 1, 4, 0}, s, {0});
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("'w'"), std::string::npos);
  auto zeros = packUniform("w", l, 1, 4, {0, 1, 2, 0}, s, {});
  EXPECT_FALSE(bool(zeros));
  llvm::consumeError(zeros.takeError());
  Layout lut;
  lut.scheme = Scheme::Lut;
  lut.bits = {3};
  lut.outliers = OutlierKind::Csr;
  lut.nnz = 2;
  std::vector<float> table(8, 0.0f);
  auto dup = packLut("l", lut, 1, 4, {0, 0, 0, 0}, table,
                     {{0, 1, 1.0f}, {0, 1, 2.0f}});
  ASSERT_FALSE(bool(dup));
  EXPECT_NE(llvm::toString(dup.takeError()).find("twice"), std::string::npos);
}

// Malformed tensors
// ---------------------------------------------------------===//

QuantizedTensor goodUniform() {
  auto r = quantizeRtn("layers.0.wq", gaussian(4 * 16, 9), 4, 16,
                       uniformLayout(3, 8, true, 4, 3));
  EXPECT_TRUE(bool(r));
  return r->tensor;
}

void expectRejected(const QuantizedTensor &t,
                    std::initializer_list<const char *> needles) {
  std::string msg = rejection(t);
  EXPECT_NE(msg.find("'" + t.name + "'"), std::string::npos) << msg;
  for (const char *needle : needles)
    EXPECT_NE(msg.find(needle), std::string::npos)
        << "'" << needle << "' not in: " << msg;
}

TEST(Malformed, StreamSetTypeAndSize) {
  {
    QuantizedTensor t = goodUniform();
    t.streams.erase("scale_meta");
    expectRejected(t, {"'scale_meta'", "missing"});
  }
  {
    QuantizedTensor t = goodUniform();
    t.streams["codes"].bytes.pop_back();
    expectRejected(t, {"'codes'", "bytes"});
  }
  {
    QuantizedTensor t = goodUniform();
    t.streams["zeros"].type = StreamType::F16;
    expectRejected(t, {"'zeros'", "type"});
  }
  {
    QuantizedTensor t = goodUniform();
    t.streams["extra"] = {StreamType::U8, {1}};
    expectRejected(t, {"'extra'"});
  }
  {
    QuantizedTensor t = goodUniform();
    t.cols = 12; // the group of 8 no longer divides K
    expectRejected(t, {"group"});
  }
  {
    QuantizedTensor t = goodUniform();
    t.rows = int64_t(1) << 40; // a lying shape: sizes cannot match
    expectRejected(t, {"'codes'"});
  }
}

TEST(Malformed, MixedContents) {
  MixedCase c = makeMixed({2, 4, 16}, {5, 2, 1}, 32, 256, 64, true, 4, 1, 1);
  auto good = packMixed("layers.1.w2", c.layout, c.n, c.k, c.d);
  ASSERT_TRUE(bool(good)) << llvm::toString(good.takeError());
  {
    QuantizedTensor t = *good;
    // Tile-group 0 gets precision index 3 (the layout has 3 precisions).
    t.streams["pmap"].bytes[0] |= 0x03;
    expectRejected(t, {"'pmap'", "precision index 3"});
  }
  {
    QuantizedTensor t = *good;
    // Swap two tile-groups' precisions when they differ: counts stay right
    // but then alloc still matches; instead make every tile-group 2-bit.
    std::fill(t.streams["pmap"].bytes.begin(), t.streams["pmap"].bytes.end(),
              0);
    expectRejected(t, {"'pmap'", "alloc"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["offsets"].bytes[4 * 3] ^= 1; // row block 1, 2-bit offset
    expectRejected(t, {"'offsets'", "row block 1"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["slot_index"].bytes[2] = 64; // group is 64
    expectRejected(t, {"'slot_index'", "in-group index 64"});
  }
  {
    QuantizedTensor t = *good;
    t.streams.erase("codes16");
    expectRejected(t, {"'codes16'", "missing"});
  }
}

TEST(Malformed, CsrContents) {
  Layout l;
  l.scheme = Scheme::Lut;
  l.bits = {4};
  l.outliers = OutlierKind::Csr;
  l.nnz = 3;
  std::vector<float> lut = f16Values(3 * 16, 2);
  auto good = packLut("layers.2.w1", l, 3, 10, std::vector<uint8_t>(30, 1), lut,
                      {{0, 2, 1.0f}, {2, 9, 2.0f}, {2, 4, 3.0f}});
  ASSERT_TRUE(bool(good)) << llvm::toString(good.takeError());
  EXPECT_FALSE(bool(validateQuantizedTensor(*good)));
  {
    QuantizedTensor t = *good;
    t.streams["csr_col"].bytes[0] = 10; // K = 10
    expectRejected(t, {"'csr_col'", "column 10"});
  }
  {
    QuantizedTensor t = *good;
    // rowptr = [0, 1, 1, 3] -> [0, 2, 1, 3]: not monotone.
    t.streams["csr_rowptr"].bytes[4] = 2;
    expectRejected(t, {"'csr_rowptr'", "monotone"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["csr_rowptr"].bytes[12] = 2; // ends at 2, nnz is 3
    expectRejected(t, {"'csr_rowptr'", "3 outliers"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["csr_rowptr"].bytes[12] = 7; // beyond nnz
    expectRejected(t, {"'csr_rowptr'"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["csr_col"].bytes[2 * 1] = 9; // row 2: columns 4, 9 -> 9, 9
    expectRejected(t, {"'csr_col'", "increasing"});
  }
}

TEST(Malformed, QuikColumns) {
  Layout l;
  l.scheme = Scheme::Quik;
  l.bits = {4};
  l.fp16Cols = 2;
  auto good = packQuik("layers.3.wo", l, 2, 6, std::vector<int8_t>(12, 1),
                       {1.0f, 2.0f}, {1, 4}, {0.5f, 0.5f, 0.5f, 0.5f});
  ASSERT_TRUE(bool(good)) << llvm::toString(good.takeError());
  {
    QuantizedTensor t = *good;
    t.streams["col_index"].bytes[4] = 1; // [1, 1]
    expectRejected(t, {"'col_index'", "increasing"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["col_index"].bytes[4] = 6; // K = 6
    expectRejected(t, {"'col_index'", "index 6"});
  }
  {
    QuantizedTensor t = *good;
    t.streams["col_index"].bytes[3] = 0x80; // negative
    expectRejected(t, {"'col_index'"});
  }
}

// GPTQ
// ----------------------------------------------------------------------===//

std::vector<double> identityHessian(int64_t k, double scale = 1.0) {
  std::vector<double> h(k * k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    h[i * k + i] = scale;
  return h;
}

void expectSameTensor(const QuantizedTensor &a, const QuantizedTensor &b) {
  ASSERT_EQ(a.streams.size(), b.streams.size());
  for (const auto &[name, stream] : a.streams) {
    auto it = b.streams.find(name);
    ASSERT_NE(it, b.streams.end()) << name;
    EXPECT_EQ(stream.bytes, it->second.bytes) << "stream " << name;
  }
}

TEST(Gptq, EqualsRtnWhenTheHessianIsDiagonal) {
  int64_t n = 12, k = 64;
  std::vector<float> w = gaussian(n * k, 21);
  std::vector<double> diag = identityHessian(k, 2.0);
  std::vector<double> distinct = identityHessian(k);
  for (int64_t i = 0; i < k; ++i)
    distinct[i * k + i] = 1.0 + double((i * 37) % k); // act-order reorders
  for (Layout l :
       {uniformLayout(4, 16, true), uniformLayout(3, 0, false),
        uniformLayout(2, 32, true, 4, 5), uniformLayout(8, 64, false)})
    for (bool actOrder : {false, true})
      for (const std::vector<double> *h : {&diag, &distinct}) {
        GptqOptions options;
        options.actOrder = actOrder;
        options.blockSize = 24; // not a multiple of the group
        auto g = quantizeGptq("w", w, n, k, *h, l, options);
        ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
        auto r = quantizeRtn("w", w, n, k, l);
        ASSERT_TRUE(bool(r));
        expectSameTensor(g->tensor, r->tensor);
        expectBitwiseEqual(g->dequantized, r->dequantized);
        expectBitwiseEqual(dequantOrDie(g->tensor), g->dequantized);
      }
}

/// ||(W - Q) Xᵀ||² for X (T x K) and W, Q (N x K).
double outputError(const std::vector<float> &w, const std::vector<float> &q,
                   const std::vector<float> &x, int64_t n, int64_t k,
                   int64_t t) {
  double sum = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t s = 0; s < t; ++s) {
      double dot = 0;
      for (int64_t c = 0; c < k; ++c)
        dot += double(w[r * k + c] - q[r * k + c]) * x[s * k + c];
      sum += dot * dot;
    }
  return sum;
}

TEST(Gptq, BeatsRtnOnCorrelatedInputs) {
  int64_t n = 32, k = 96, t = 512;
  // Correlated inputs: x = z A with a random mixing matrix and uneven
  // column scales.
  std::vector<float> z = gaussian(t * k, 31), a = gaussian(k * k, 32, 0.3f);
  for (int64_t i = 0; i < k; ++i)
    a[i * k + i] += 1.0f;
  std::vector<float> x(t * k, 0.0f);
  for (int64_t s = 0; s < t; ++s)
    for (int64_t i = 0; i < k; ++i) {
      float zi = z[s * k + i];
      for (int64_t j = 0; j < k; ++j)
        x[s * k + j] += zi * a[i * k + j] * (1.0f + float(j % 7));
    }
  std::vector<double> h(k * k, 0.0);
  for (int64_t s = 0; s < t; ++s)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        h[i * k + j] += double(x[s * k + i]) * x[s * k + j];
  std::vector<float> w = gaussian(n * k, 33);
  for (Layout l : {uniformLayout(3, 0, true), uniformLayout(4, 32, true),
                   uniformLayout(2, 16, false, 4, 8)})
    for (bool actOrder : {false, true}) {
      GptqOptions options;
      options.actOrder = actOrder;
      auto g = quantizeGptq("w", w, n, k, h, l, options);
      ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
      auto r = quantizeRtn("w", w, n, k, l);
      ASSERT_TRUE(bool(r));
      expectBitwiseEqual(dequantOrDie(g->tensor), g->dequantized);
      double eg = outputError(w, g->dequantized, x, n, k, t);
      double er = outputError(w, r->dequantized, x, n, k, t);
      EXPECT_LT(eg, 0.8 * er) << formatLayout(l) << " act-order " << actOrder
                              << ": gptq " << eg << " rtn " << er;
    }
}

TEST(Gptq, DeadColumnsAndBadInputs) {
  int64_t n = 4, k = 8;
  std::vector<double> h = identityHessian(k);
  h[2 * k + 2] = 0; // column 2 never sees input
  std::vector<float> w = gaussian(n * k, 41);
  auto g = quantizeGptq("w", w, n, k, h, uniformLayout(4, 0, true));
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  for (int64_t r = 0; r < n; ++r)
    EXPECT_EQ(g->dequantized[r * k + 2], 0.0f);

  auto wrongSize = quantizeGptq("w", w, n, k, std::vector<double>(10, 1.0),
                                uniformLayout(4, 0, true));
  ASSERT_FALSE(bool(wrongSize));
  EXPECT_NE(llvm::toString(wrongSize.takeError()).find("'w'"),
            std::string::npos);
  GptqOptions badOrder;
  badOrder.order = {0, 1, 2, 3, 4, 5, 6, 6};
  auto perm = factorGptq(h, k, badOrder);
  ASSERT_FALSE(bool(perm));
  EXPECT_NE(llvm::toString(perm.takeError()).find("permutation"),
            std::string::npos);
}

/// A plug-in quantizer: keeps columns listed as FP16 exact (QUIK-style, put
/// last in the order) and rounds the rest to integers.
class KeepSomeColumns : public GptqColumnQuantizer {
public:
  std::vector<bool> keep;
  int begun = 0;
  void beginGroup(int64_t,
                  llvm::function_ref<llvm::ArrayRef<float>(int64_t)>) override {
    ++begun;
  }
  void quantizeColumn(int64_t col, llvm::ArrayRef<float> values,
                      llvm::MutableArrayRef<float> out) override {
    for (size_t r = 0; r < values.size(); ++r)
      out[r] = keep[col] ? values[r] : std::nearbyint(values[r]);
  }
};

TEST(Gptq, PluggableQuantizerWithExplicitOrder) {
  int64_t n = 6, k = 10;
  std::vector<float> w = gaussian(n * k, 51, 2.0f);
  std::vector<double> h(k * k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      h[i * k + j] = (i == j ? 2.0 : 0.0) + 0.5; // strongly correlated
  GptqOptions options;
  options.order = {0, 1, 2, 4, 5, 6, 8, 9, 3, 7}; // keep 3 and 7 last
  auto f = factorGptq(h, k, options);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  KeepSomeColumns q;
  q.keep.assign(k, false);
  q.keep[3] = q.keep[7] = true;
  auto g = runGptq(w, n, k, *f, q, options);
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  EXPECT_EQ(q.begun, 1); // one group (per row), begun before the sweep
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      if (!q.keep[c])
        EXPECT_EQ(g->dequantized[r * k + c],
                  std::nearbyint(g->dequantized[r * k + c]));
  // The kept columns absorbed error: they differ from the original W.
  double moved = 0;
  for (int64_t r = 0; r < n; ++r)
    moved += std::fabs(g->dequantized[r * k + 3] - w[r * k + 3]);
  EXPECT_GT(moved, 0.0);
}

TEST(Gptq, Stories15MSizedLayerIsFast) {
  // The widest stories15M input (w2: 288 x 768).
  int64_t n = 288, k = 768, t = 1024;
  std::vector<float> x = gaussian(t * k, 61);
  std::vector<double> h(k * k, 0.0);
  for (int64_t s = 0; s < t; ++s)
    for (int64_t i = 0; i < k; ++i) {
      double xi = x[s * k + i];
      for (int64_t j = 0; j <= i; ++j)
        h[i * k + j] += xi * x[s * k + j];
    }
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j)
      h[i * k + j] = h[j * k + i];
  std::vector<float> w = gaussian(n * k, 62, 0.02f);
  auto start = std::chrono::steady_clock::now();
  auto g = quantizeGptq("w2", w, n, k, h, uniformLayout(4, 64, true));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  std::printf("GPTQ 288x768 int4 g64: %.3f s\n", seconds);
  EXPECT_LT(seconds, 20.0);
}

// k-means
// -------------------------------------------------------------------===//

TEST(KMeans, FindsSeparableClusters) {
  std::vector<float> centers = {-3.0f, -1.0f, 0.5f, 2.0f,
                                4.0f,  7.0f,  9.5f, 12.0f};
  std::mt19937 rng(71);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> values;
  std::vector<int> truth;
  for (int i = 0; i < 400; ++i) {
    int c = int((i * 7919) % centers.size());
    values.push_back(centers[c] + noise(rng));
    truth.push_back(c);
  }
  auto r = weightedKMeans1D(values, {}, 8);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  ASSERT_EQ(r->centroids.size(), 8u);
  for (int j = 0; j < 8; ++j)
    EXPECT_NEAR(r->centroids[j], centers[j], 0.05) << j;
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(r->assignment[i], truth[i]) << i;
  EXPECT_TRUE(std::is_sorted(r->centroids.begin(), r->centroids.end()));
  // Deterministic.
  auto again = weightedKMeans1D(values, {}, 8);
  ASSERT_TRUE(bool(again));
  EXPECT_EQ(again->centroids, r->centroids);
  EXPECT_EQ(again->assignment, r->assignment);
}

TEST(KMeans, WeightsPullCentroids) {
  // One cluster: the weighted mean.
  auto one = weightedKMeans1D({0.0f, 1.0f}, {3.0f, 1.0f}, 1);
  ASSERT_TRUE(bool(one));
  EXPECT_FLOAT_EQ(one->centroids[0], 0.25f);
  EXPECT_NEAR(one->error, 3 * 0.0625 + 0.5625, 1e-6);
  // Two clusters among three points: the heavy point gets its own.
  auto two = weightedKMeans1D({0.0f, 1.0f, 1.2f}, {1.0f, 100.0f, 1.0f}, 2);
  ASSERT_TRUE(bool(two));
  EXPECT_EQ(two->assignment[1], two->assignment[2]);
  EXPECT_NEAR(two->centroids[1], (100.0 + 1.2) / 101.0, 1e-5);
}

TEST(KMeans, FewDistinctValuesAndErrors) {
  std::vector<float> v = {1, 1, 2, 2, 2, 5};
  auto r = weightedKMeans1D(v, {}, 16);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->centroids.size(), 16u);
  EXPECT_EQ(r->error, 0.0);
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(r->centroids[r->assignment[i]], v[i]);
  auto bad = weightedKMeans1D({1.0f, 2.0f}, {1.0f, -1.0f}, 2);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("negative"),
            std::string::npos);
  auto none = weightedKMeans1D({}, {}, 8);
  EXPECT_FALSE(bool(none));
  llvm::consumeError(none.takeError());
}

TEST(KMeans, NearOptimalOnGaussianRows) {
  // Lloyd from weighted quantiles reaches a lower weighted error than a
  // uniform 16-level grid over the same range.
  std::vector<float> v = gaussian(768, 81);
  std::vector<float> s(768);
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = 0.1f + float(i % 13);
  auto r = weightedKMeans1D(v, s, 16);
  ASSERT_TRUE(bool(r));
  float lo = *std::min_element(v.begin(), v.end());
  float hi = *std::max_element(v.begin(), v.end());
  double uniformErr = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    double step = (hi - lo) / 15.0;
    double q = lo + std::nearbyint((v[i] - lo) / step) * step;
    uniformErr += s[i] * (v[i] - q) * (v[i] - q);
  }
  EXPECT_LT(r->error, 0.8 * uniformErr);
}

} // namespace

namespace {

// Corrupted streams never crash: every flip is either accepted (the data is
// still well-formed) or rejected with an error.
TEST(Malformed, RandomCorruptionIsRejectedOrHarmless) {
  std::vector<QuantizedTensor> tensors;
  tensors.push_back(goodUniform());
  MixedCase c = makeMixed({2, 4, 16}, {5, 2, 1}, 32, 256, 64, true, 4, 2, 9);
  auto mixed = packMixed("m", c.layout, c.n, c.k, c.d);
  ASSERT_TRUE(bool(mixed));
  tensors.push_back(*mixed);
  Layout lut;
  lut.scheme = Scheme::Lut;
  lut.bits = {3};
  lut.outliers = OutlierKind::Csr;
  lut.nnz = 4;
  auto l =
      packLut("l", lut, 4, 9, std::vector<uint8_t>(36, 2), f16Values(4 * 8, 3),
              {{0, 1, 1.0f}, {1, 8, 1.0f}, {3, 0, 1.0f}, {3, 5, 1.0f}});
  ASSERT_TRUE(bool(l));
  tensors.push_back(*l);
  Layout quik;
  quik.scheme = Scheme::Quik;
  quik.bits = {4};
  quik.fp16Cols = 3;
  auto q = packQuik("q", quik, 3, 11, std::vector<int8_t>(33, -1),
                    {1.0f, 1.0f, 1.0f}, {0, 5, 10}, f16Values(9, 4));
  ASSERT_TRUE(bool(q));
  tensors.push_back(*q);
  std::mt19937 rng(99);
  int rejected = 0;
  for (const QuantizedTensor &good : tensors)
    for (int trial = 0; trial < 300; ++trial) {
      QuantizedTensor t = good;
      auto it = t.streams.begin();
      std::advance(it, rng() % t.streams.size());
      std::vector<uint8_t> &bytes = it->second.bytes;
      if (bytes.empty())
        continue;
      for (int flips = 0; flips < 3; ++flips)
        bytes[rng() % bytes.size()] ^= uint8_t(1u << (rng() % 8));
      auto d = dequantize(t);
      if (!d) {
        ++rejected;
        EXPECT_NE(llvm::toString(d.takeError()).find("'" + t.name + "'"),
                  std::string::npos);
      } else {
        EXPECT_EQ(d->size(), size_t(t.rows * t.cols));
      }
    }
  EXPECT_GT(rejected, 0);
}

} // namespace
