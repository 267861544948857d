//===- Float16.h - IEEE half and bfloat16 conversions -----------*- C++ -*-===//
//
// Bit-exact conversions between fp32 and the two 16-bit float formats found
// in checkpoints. Widening is exact (subnormals, signed zeros, inf, NaN
// payloads). Narrowing rounds to nearest, ties to even; values too large
// become inf, NaN stays NaN (quiet, sign kept).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_FLOAT16_H
#define MIXQ_MODEL_FLOAT16_H

#include <cstdint>
#include <cstring>

namespace mixq {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// IEEE binary16 -> fp32 (exact).
inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exact in fp32.
    float magnitude = static_cast<float>(mant) * 0x1p-24f;
    return bitsToFloat(sign | floatBits(magnitude));
  }
  if (exp == 31)
    return bitsToFloat(sign | 0x7f800000u | (mant << 13));
  return bitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

/// fp32 -> IEEE binary16, round to nearest even.
inline uint16_t floatToHalf(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {
    if (ax == 0x7f800000u)
      return static_cast<uint16_t>(sign | 0x7c00u);
    // NaN: keep the top payload bits, force quiet so it stays a NaN.
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) // >= 65520: rounds to inf
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (ax < 0x38800000u) { // below 2^-14: subnormal half or zero
    uint32_t exp = ax >> 23;
    if (exp < 102) // below 2^-25: rounds to zero
      return static_cast<uint16_t>(sign);
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u; // value = mant * 2^(exp-150)
    uint32_t shift = 126 - exp;                   // 14 .. 24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1)))
      ++q; // may carry into the smallest normal: the encoding is still right
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (((ax >> 23) - 112) << 10) | ((ax >> 13) & 0x3ffu);
  uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
    ++h; // a carry into the exponent is the correct rounding
  return static_cast<uint16_t>(sign | h);
}

/// bfloat16 -> fp32 (exact).
inline float bf16ToFloat(uint16_t b) {
  return bitsToFloat(static_cast<uint32_t>(b) << 16);
}

/// fp32 -> bfloat16, round to nearest even.
inline uint16_t floatToBf16(float f) {
  uint32_t x = floatBits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) // NaN: quiet, sign kept
    return static_cast<uint16_t>((x >> 16) | 0x0040u);
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

} // namespace mixq

#endif // MIXQ_MODEL_FLOAT16_H
