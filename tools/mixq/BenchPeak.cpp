//===- BenchPeak.cpp - Instruction-count peaks of the CPU GEMVs -----------===//
//
// See BenchPeak.h. Each sequence is a loop over 4096 weights (their codes
// and activations stay in L1) written with AVX2 intrinsics in a function
// compiled for AVX2, FMA and F16C, called only where the CPU has them;
// independent accumulators keep FMA latency off the critical path, as the
// kernels' chains do.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchPeak.h"

#include "tools/mixq/BenchWeights.h"

#include "model/ThreadPool.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace llvm;

namespace mixq::cli {
namespace {

/// Weights per pass: 2 KiB of 4-bit codes and 16 KiB of activations.
constexpr int64_t kWeights = 4096;
/// Passes per timed run per thread (20-80 ms at 5-20 weights per ns).
constexpr int64_t kPasses = 100000;

volatile float peakSink = 0;

/// A zeroed array on a 64-byte boundary, as the kernels' codes and
/// activations are: with a std::vector's 16-byte alignment the sequences'
/// 32-byte loads split cache lines, and their rates moved by up to 30%
/// with where the heap placed them.
template <class T> struct AlignedArray {
  explicit AlignedArray(size_t n)
      : n(n), p(static_cast<T *>(
                  ::operator new[](n * sizeof(T), std::align_val_t(64)))) {
    std::fill(p, p + n, T());
  }
  ~AlignedArray() { ::operator delete[](p, std::align_val_t(64)); }
  AlignedArray(const AlignedArray &) = delete;
  AlignedArray &operator=(const AlignedArray &) = delete;
  T &operator[](size_t i) { return p[i]; }
  const T &operator[](size_t i) const { return p[i]; }
  T *begin() { return p; }
  T *end() { return p + n; }
  const T *data() const { return p; }

private:
  size_t n;
  T *p;
};

/// Inputs of every sequence: codes of each width, FP16 weights, a 4- and an
/// 8-entry table, activations, all in the range the kernels see.
struct PeakData {
  AlignedArray<uint8_t> codes4{kWeights / 2}, codes2{kWeights / 4},
      codes3{kWeights * 3 / 8 + 8};
  AlignedArray<uint16_t> halves{kWeights};
  AlignedArray<float> x{kWeights}, halfValues{kWeights};
  float table4[4] = {-1.5f, -0.5f, 0.5f, 1.5f};
  float table8[8] = {-3.5f, -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f};

  PeakData() {
    uint32_t state = 12345;
    auto next = [&] {
      state = state * 1664525u + 1013904223u;
      return state >> 8;
    };
    for (auto *v : {&codes4, &codes2, &codes3})
      for (uint8_t &c : *v)
        c = uint8_t(next());
    for (float &v : x)
      v = float(int(next() % 2001) - 1000) / 1000.0f;
    // FP16 weights: small integers over 64, exact in both formats.
    for (int64_t i = 0; i < kWeights; ++i) {
      int m = int(next() % 64) + 1;
      halfValues[size_t(i)] = float(m) / 64.0f;
      // m / 64 as IEEE half: m = 2^e * (1 + f / 1024).
      int e = 0;
      while ((m >> (e + 1)) != 0)
        ++e;
      uint16_t frac = uint16_t(((m << 10) >> e) & 0x3ff);
      halves[size_t(i)] = uint16_t(((e - 6 + 15) << 10) | frac);
    }
  }

  unsigned code4(int64_t k) const { return (codes4[size_t(k / 2)] >> (4 * (k % 2))) & 15; }
  unsigned code3(int64_t k) const {
    unsigned bit = unsigned(k * 3), v = codes3[bit / 8] | (codes3[bit / 8 + 1] << 8);
    return (v >> (bit % 8)) & 7;
  }
  /// 4-bit plane blocks: element 16 s + b of a 32-weight block is the
  /// field at bit 4 s of byte b.
  unsigned code4Planes(int64_t k) const {
    int64_t block = k / 32, s = (k % 32) / 16, b = k % 16;
    return (codes4[size_t(block * 16 + b)] >> (4 * s)) & 15;
  }
  /// 2-bit plane blocks: element i + 16 s + b of a 64-weight block is the
  /// field at bit 2 s of byte b (the kernels' plane order).
  unsigned code2(int64_t k) const {
    int64_t block = k / 64, s = (k % 64) / 16, b = k % 16;
    return (codes2[size_t(block * 16 + b)] >> (2 * s)) & 3;
  }
};

#if defined(__x86_64__)
#define MIXQ_AVX2 __attribute__((target("avx2,fma,f16c"), noinline))

/// The 8 bytes at p widened to 32-bit lanes (vpmovzxbd from memory).
__attribute__((target("avx2"), always_inline)) inline __m256i
widenBytes(const uint8_t *p) {
  return _mm256_cvtepu8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
}

MIXQ_AVX2 float hsum(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 s = _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

int32_t word(const uint8_t *p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

/// 3-bit codes (and 4-bit ones where groups are not whole plane blocks):
/// per 8 weights vpbroadcastd, vpsrlvd, vpand,
/// vcvtdq2ps, vfmadd231ps.
MIXQ_AVX2 float unpackDot(const PeakData &d) {
  const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i mask = _mm256_set1_epi32(15);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint8_t *codes = d.codes4.data();
  const float *x = d.x.data();
  for (int64_t i = 0; i < kWeights; i += 32)
    for (int c = 0; c < 4; ++c) {
      __m256i w = _mm256_set1_epi32(word(codes + (i + 8 * c) / 2));
      w = _mm256_and_si256(_mm256_srlv_epi32(w, shifts), mask);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(w),
                               _mm256_loadu_ps(x + i + 8 * c), acc[c]);
    }
  return hsum(acc[0], acc[1], acc[2], acc[3]);
}

/// 4-bit codes in 16-byte plane blocks: per 32 weights 2 vpmovzxbd, 2
/// vpand (low nibbles), 2 vpsrld (high nibbles), 4 vcvtdq2ps, 4 FMAs.
MIXQ_AVX2 float planes4Dot(const PeakData &d) {
  const __m256i mask = _mm256_set1_epi32(15);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint8_t *codes = d.codes4.data();
  const float *x = d.x.data();
  for (int64_t i = 0; i < kWeights; i += 32) {
    const uint8_t *block = codes + i / 2;
    __m256i lo = widenBytes(block), hi = widenBytes(block + 8);
    __m256i planes[4] = {_mm256_and_si256(lo, mask), _mm256_and_si256(hi, mask),
                         _mm256_srli_epi32(lo, 4), _mm256_srli_epi32(hi, 4)};
    for (int c = 0; c < 4; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(planes[c]),
                               _mm256_loadu_ps(x + i + 8 * c), acc[c]);
  }
  return hsum(acc[0], acc[1], acc[2], acc[3]);
}

/// 2-bit codes in 16-byte plane blocks: per 64 weights 2 vpmovzxbd, 6
/// vpsrld, 8 vpermilps (4-entry table in each 128-bit lane), 8 FMAs.
MIXQ_AVX2 float lookup4Dot(const PeakData &d) {
  const __m256 table = _mm256_setr_ps(d.table4[0], d.table4[1], d.table4[2],
                                      d.table4[3], d.table4[0], d.table4[1],
                                      d.table4[2], d.table4[3]);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint8_t *codes = d.codes2.data();
  const float *x = d.x.data();
  for (int64_t i = 0; i < kWeights; i += 64) {
    const uint8_t *block = codes + i / 4;
    __m256i lo = widenBytes(block), hi = widenBytes(block + 8);
    for (int s = 0; s < 4; ++s) {
      __m256i a = _mm256_srli_epi32(lo, 2 * s), b = _mm256_srli_epi32(hi, 2 * s);
      acc[s] = _mm256_fmadd_ps(_mm256_permutevar_ps(table, a),
                               _mm256_loadu_ps(x + i + 16 * s), acc[s]);
      acc[s] = _mm256_fmadd_ps(_mm256_permutevar_ps(table, b),
                               _mm256_loadu_ps(x + i + 16 * s + 8), acc[s]);
    }
  }
  return hsum(acc[0], acc[1], acc[2], acc[3]);
}

/// 3-bit LUT codes: per 8 weights vpbroadcastd, vpsrlvd, vpermps (8-entry
/// table), vfmadd231ps.
MIXQ_AVX2 float lookup8Dot(const PeakData &d) {
  const __m256 table = _mm256_loadu_ps(d.table8);
  const __m256i lowShifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
  const __m256i highShifts = _mm256_setr_epi32(8, 11, 14, 17, 20, 23, 26, 29);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint8_t *codes = d.codes3.data();
  const float *x = d.x.data();
  for (int64_t i = 0; i < kWeights; i += 32)
    for (int c = 0; c < 2; ++c) {
      const uint8_t *chunk = codes + (i + 16 * c) * 3 / 8;
      __m256i a = _mm256_srlv_epi32(_mm256_set1_epi32(word(chunk)), lowShifts);
      __m256i b =
          _mm256_srlv_epi32(_mm256_set1_epi32(word(chunk + 2)), highShifts);
      acc[2 * c] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(table, a),
                                   _mm256_loadu_ps(x + i + 16 * c), acc[2 * c]);
      acc[2 * c + 1] =
          _mm256_fmadd_ps(_mm256_permutevar8x32_ps(table, b),
                          _mm256_loadu_ps(x + i + 16 * c + 8), acc[2 * c + 1]);
    }
  return hsum(acc[0], acc[1], acc[2], acc[3]);
}

/// FP16 weights: per 8 weights vcvtph2ps, vfmadd231ps.
MIXQ_AVX2 float f16Dot(const PeakData &d) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint16_t *h = d.halves.data();
  const float *x = d.x.data();
  for (int64_t i = 0; i < kWeights; i += 32)
    for (int c = 0; c < 4; ++c)
      acc[c] = _mm256_fmadd_ps(
          _mm256_cvtph_ps(_mm_loadu_si128(
              reinterpret_cast<const __m128i *>(h + i + 8 * c))),
          _mm256_loadu_ps(x + i + 8 * c), acc[c]);
  return hsum(acc[0], acc[1], acc[2], acc[3]);
}
#endif

struct Sequence {
  const char *name, *instructions;
  float (*dot)(const PeakData &);
  std::function<double(const PeakData &, int64_t)> weight;
};

/// Sum of weight(k) * x[k] in double.
double referenceDot(const PeakData &d,
                    const std::function<double(const PeakData &, int64_t)> &w) {
  double sum = 0;
  for (int64_t k = 0; k < kWeights; ++k)
    sum += w(d, k) * double(d.x[size_t(k)]);
  return sum;
}

Error peakError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

} // namespace

const PeakSequence *InstructionPeaks::find(StringRef name) const {
  for (const PeakSequence &s : sequences)
    if (s.name == name)
      return &s;
  return nullptr;
}

std::optional<double>
InstructionPeaks::weightsPerSecond(StringRef format) const {
  auto rate = [&](StringRef name) -> std::optional<double> {
    const PeakSequence *s = find(name);
    if (!s || s->weightsPerSecond <= 0)
      return std::nullopt;
    return s->weightsPerSecond;
  };
  if (format == "uniform-4")
    return rate("planes4");
  if (format == "uniform-3")
    return rate("unpack");
  if (format == "uniform-2")
    return rate("lookup4");
  if (format == "lut-3")
    return rate("lookup8");
  if (format == "mixed") {
    auto two = rate("lookup4"), four = rate("planes4"), half = rate("f16");
    if (!two || !four || !half)
      return std::nullopt;
    double seconds = (1 - kMixed4Bit - kMixed16Bit) / *two +
                     kMixed4Bit / *four + kMixed16Bit / *half;
    return 1 / seconds;
  }
  return std::nullopt;
}

std::optional<double> InstructionPeaks::gbs(StringRef format,
                                            double bpw) const {
  return packedWeightGbs(weightsPerSecond(format), bpw);
}

std::optional<double> packedWeightGbs(std::optional<double> weightsPerSecond,
                                      double bpw) {
  if (!weightsPerSecond || bpw <= 0)
    return std::nullopt;
  return *weightsPerSecond * bpw / 8 / 1e9;
}

Expected<InstructionPeaks> measureInstructionPeaks(unsigned threads,
                                                   int repetitions,
                                                   bool kernelsUseAvx512) {
  InstructionPeaks peaks;
  threads = std::max(threads, 1u);
  peaks.threads = threads;
#if !defined(__x86_64__)
  (void)repetitions;
  (void)kernelsUseAvx512;
  peaks.skipped = "not an x86-64 host";
  return peaks;
#else
  __builtin_cpu_init();
  if (kernelsUseAvx512) {
    peaks.skipped = "the modules are compiled for AVX-512, whose GEMVs run "
                    "other sequences (16-lane vpermps lookups, "
                    "vpmultishiftqb); the measured sequences are the AVX2 "
                    "kernels' (--cpu-features=-avx512f compiles those)";
    return peaks;
  }
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
      !__builtin_cpu_supports("f16c")) {
    peaks.skipped = "this CPU lacks AVX2, FMA or F16C";
    return peaks;
  }
  const Sequence sequences[] = {
      {"unpack",
       "2 x (vpbroadcastd, vpsrlvd, vpand, vcvtdq2ps, vfmadd231ps)", unpackDot,
       [](const PeakData &d, int64_t k) { return double(d.code4(k)); }},
      {"planes4", "1 vpmovzxbd, 1 vpand or vpsrld, 2 vcvtdq2ps, 2 vfmadd231ps",
       planes4Dot,
       [](const PeakData &d, int64_t k) { return double(d.code4Planes(k)); }},
      {"lookup4",
       "1/2 vpmovzxbd, 3/2 vpsrld, 2 vpermilps, 2 vfmadd231ps", lookup4Dot,
       [](const PeakData &d, int64_t k) { return double(d.table4[d.code2(k)]); }},
      {"lookup8", "2 x (vpbroadcastd, vpsrlvd, vpermps, vfmadd231ps)",
       lookup8Dot,
       [](const PeakData &d, int64_t k) { return double(d.table8[d.code3(k)]); }},
      {"f16", "2 x (vcvtph2ps, vfmadd231ps)", f16Dot,
       [](const PeakData &d, int64_t k) {
         return double(d.halfValues[size_t(k)]);
       }},
  };
  ThreadPool pool(threads);
  unsigned parts = pool.size();
  std::vector<PeakData> data(parts);
  for (const Sequence &seq : sequences) {
    double want = referenceDot(data[0], seq.weight);
    double got = seq.dot(data[0]);
    double scale = 0;
    for (int64_t k = 0; k < kWeights; ++k)
      scale += std::fabs(seq.weight(data[0], k) * double(data[0].x[size_t(k)]));
    if (!(std::fabs(got - want) <= 1e-5 * std::max(scale, 1.0)))
      return peakError(formatv("instruction-peak sequence '{0}' summed {1}, "
                               "the scalar dot product is {2}",
                               seq.name, got, want));
    peaks.sequences.push_back({seq.name, seq.instructions, 0});
  }
  // Repetitions go round the sequences, so that a slow spell of the host
  // (a VM's neighbours) does not fall on one sequence's every run.
  for (int rep = 0; rep < std::max(repetitions, 1); ++rep)
    for (size_t i = 0; i < std::size(sequences); ++i) {
      const Sequence &seq = sequences[i];
      auto start = std::chrono::steady_clock::now();
      pool.parallelFor(parts, [&](int64_t first, int64_t last) {
        for (int64_t part = first; part < last; ++part) {
          float sum = 0;
          for (int64_t pass = 0; pass < kPasses; ++pass)
            sum += seq.dot(data[size_t(part)]);
          peakSink = peakSink + sum;
        }
      });
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      double &best = peaks.sequences[i].weightsPerSecond;
      best = std::max(best, double(parts) * kPasses * kWeights / seconds);
    }
  return peaks;
#endif
}

} // namespace mixq::cli
