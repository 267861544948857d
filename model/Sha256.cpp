//===- Sha256.cpp - SHA-256 with the x86 SHA extensions -------------------===//
//
// See Sha256.h. The SHA-extension path keeps the state as two registers,
// (A, B, E, F) and (C, D, G, H), the layout sha256rnds2 works on: each
// instruction runs two rounds, so four message words (with their round
// constants added) feed two of them. Message words 16..63 come from
// sha256msg1 (W[t-16] + s0(W[t-15])), an add of W[t-7] and sha256msg2
// (+ s1(W[t-2])), four at a time.
//
//===----------------------------------------------------------------------===//
#include "model/Sha256.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

using namespace mixq;

namespace {

alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::array<uint32_t, 8> kInitial = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t loadBigEndian(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         uint32_t(p[3]);
}

void compressPortable(uint32_t *state, const uint8_t *blocks, size_t count) {
  for (; count > 0; --count, blocks += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = loadBigEndian(blocks + 4 * t);
    for (int t = 16; t < 64; ++t) {
      uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3],
             e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; ++t) {
      uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t choose = (e & f) ^ (~e & g);
      uint32_t t1 = h + s1 + choose + kRound[t] + w[t];
      uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = s0 + majority;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#if defined(__x86_64__)
__attribute__((target("sha,sse4.1,ssse3"))) void
compressShaExtensions(uint32_t *state, const uint8_t *blocks, size_t count) {
  // (a, b, c, d), (e, f, g, h) -> (A, B, E, F), (C, D, G, H) as the
  // instructions want them (A in the highest lane).
  __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i *>(state));
  __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i *>(state + 4));
  __m128i badc = _mm_shuffle_epi32(abcd, 0xB1);
  __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);
  __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);
  __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xF0);
  // Big-endian words.
  const __m128i byteSwap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  for (; count > 0; --count, blocks += 64) {
    __m128i abefBefore = abef, cdghBefore = cdgh;
    __m128i w[4];
    for (int j = 0; j < 4; ++j)
      w[j] = _mm_shuffle_epi8(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(blocks + 16 * j)),
          byteSwap);
    for (int j = 0; j < 16; ++j) {
      // w[j % 4] holds words 4(j-4)..; the other three the groups after it.
      if (j >= 4) {
        __m128i older = _mm_sha256msg1_epu32(w[j % 4], w[(j + 1) % 4]);
        older = _mm_add_epi32(
            older, _mm_alignr_epi8(w[(j + 3) % 4], w[(j + 2) % 4], 4));
        w[j % 4] = _mm_sha256msg2_epu32(older, w[(j + 3) % 4]);
      }
      __m128i wk = _mm_add_epi32(
          w[j % 4],
          _mm_load_si128(reinterpret_cast<const __m128i *>(kRound + 4 * j)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    }
    abef = _mm_add_epi32(abef, abefBefore);
    cdgh = _mm_add_epi32(cdgh, cdghBefore);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  abcd = _mm_blend_epi16(feba, dchg, 0xF0);
  efgh = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(state), abcd);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(state + 4), efgh);
}
#endif

} // namespace

bool Sha256::hasShaExtensions() {
#if defined(__x86_64__)
  static const bool has = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
      return false;
    bool ssse3 = ecx & (1u << 9), sse41 = ecx & (1u << 19);
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
      return false;
    bool sha = ebx & (1u << 29);
    return sha && ssse3 && sse41;
  }();
  return has;
#else
  return false;
#endif
}

Sha256::Sha256(bool allowShaExtensions)
    : state(kInitial),
      useShaExtensions(allowShaExtensions && hasShaExtensions()) {}

void Sha256::compress(const uint8_t *blocks, size_t count) {
#if defined(__x86_64__)
  if (useShaExtensions) {
    compressShaExtensions(state.data(), blocks, count);
    return;
  }
#endif
  compressPortable(state.data(), blocks, count);
}

void Sha256::update(llvm::ArrayRef<uint8_t> bytes) {
  const uint8_t *p = bytes.data();
  size_t n = bytes.size();
  totalBytes += n;
  if (buffered > 0) {
    size_t take = std::min(n, buffer.size() - buffered);
    std::memcpy(buffer.data() + buffered, p, take);
    buffered += take;
    p += take;
    n -= take;
    if (buffered < buffer.size())
      return;
    compress(buffer.data(), 1);
    buffered = 0;
  }
  size_t whole = n / 64;
  if (whole > 0)
    compress(p, whole);
  p += whole * 64;
  n -= whole * 64;
  std::memcpy(buffer.data(), p, n);
  buffered = n;
}

std::array<uint8_t, 32> Sha256::final() {
  uint64_t bits = totalBytes * 8;
  uint8_t pad[72] = {0x80};
  size_t padLength = (buffered < 56 ? 56 : 120) - buffered;
  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = uint8_t(bits >> (56 - 8 * i));
  update(llvm::ArrayRef<uint8_t>(pad, padLength));
  update(llvm::ArrayRef<uint8_t>(length, 8));
  std::array<uint8_t, 32> digest;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j)
      digest[4 * i + j] = uint8_t(state[i] >> (24 - 8 * j));
  return digest;
}
