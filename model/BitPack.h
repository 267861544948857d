//===- BitPack.h - Sub-byte code streams and little-endian elements -*- C++
//-*-===//
//
// The byte-level encoding shared by the packer (quant/Pack.h), the
// dequantizer (model/Dequantize.h) and the kernels:
//
//   b-bit codes (b = 1..8 or 16): code i occupies bits [i*b, (i+1)*b) of the
//   stream, counting bit 0 as the least significant bit of byte 0 (LSB-first,
//   no padding between rows); a stream of `count` codes is exactly
//   ceil(count*b/8) bytes and its unused high bits of the last byte are 0.
//
//     example, b = 3, codes 5 6 7: 5 | 6<<3 | 7<<6 = 0x1F5
//       byte 0 = 0b11110101 = 0xF5, byte 1 = 0b00000001 = 0x01
//
//   elements (U16, I32, F16, F32): little-endian, densely packed.
//
// FP16 conversion is model/Float16.h's (round to nearest even).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_BITPACK_H
#define MIXQ_MODEL_BITPACK_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

/// Bytes of a stream of `count` codes of `bits` bits: ceil(count*bits/8).
inline uint64_t packedBytes(uint64_t count, unsigned bits) {
  return (count * bits + 7) / 8;
}

/// True for the code widths the streams use (1..8 and 16).
inline bool isPackableWidth(unsigned bits) {
  return (bits >= 1 && bits <= 8) || bits == 16;
}

/// Packs `codes` LSB-first at `bits` bits each (values are masked to `bits`;
/// use checkCodeRange first where they come from a caller).
std::vector<uint8_t> packBits(llvm::ArrayRef<uint8_t> codes, unsigned bits);
std::vector<uint8_t> packBits16(llvm::ArrayRef<uint16_t> codes, unsigned bits);

/// Writes code `index` into a zero-initialized or previously written stream
/// (ORs the bits in; the stream must be large enough).
void putBits(llvm::MutableArrayRef<uint8_t> stream, unsigned bits,
             uint64_t index, uint32_t code);

/// The `bits`-bit field starting at bit `bit` (LSB-first) of a stream.
inline uint32_t getBitField(llvm::ArrayRef<uint8_t> stream, uint64_t bit,
                            unsigned bits) {
  uint64_t byte = bit / 8;
  unsigned shift = bit % 8;
  unsigned need = (shift + bits + 7) / 8; // 1..3 bytes
  uint32_t window = 0;
  for (unsigned i = 0; i < need; ++i)
    window |= uint32_t(stream[byte + i]) << (8 * i);
  return (window >> shift) & ((uint32_t(1) << bits) - 1);
}

/// Code `index` of a stream; the stream must hold packedBytes(index+1, bits).
inline uint32_t getBits(llvm::ArrayRef<uint8_t> stream, unsigned bits,
                        uint64_t index) {
  return getBitField(stream, index * bits, bits);
}

/// Unpacks codes [first, first+count) into `out` (size >= count). The stream
/// must hold packedBytes(first+count, bits) bytes.
void unpackBits(llvm::ArrayRef<uint8_t> stream, unsigned bits, uint64_t first,
                uint64_t count, uint8_t *out);

/// All `count` codes of a stream (bits <= 8).
std::vector<uint8_t> unpackBits(llvm::ArrayRef<uint8_t> stream, unsigned bits,
                                uint64_t count);

/// Fails, naming `what`, when a code does not fit in `bits` bits.
llvm::Error checkCodeRange(llvm::ArrayRef<uint8_t> codes, unsigned bits,
                           const llvm::Twine &what);

// Little-endian element access ------------------------------------------===//

inline uint16_t readU16(llvm::ArrayRef<uint8_t> s, uint64_t i) {
  return uint16_t(s[2 * i] | (uint16_t(s[2 * i + 1]) << 8));
}
inline int32_t readI32(llvm::ArrayRef<uint8_t> s, uint64_t i) {
  uint32_t u = uint32_t(s[4 * i]) | (uint32_t(s[4 * i + 1]) << 8) |
               (uint32_t(s[4 * i + 2]) << 16) | (uint32_t(s[4 * i + 3]) << 24);
  return static_cast<int32_t>(u);
}
/// F16 element `i` widened to fp32 (exact).
float readF16(llvm::ArrayRef<uint8_t> s, uint64_t i);
float readF32(llvm::ArrayRef<uint8_t> s, uint64_t i);

void appendU16(std::vector<uint8_t> &s, uint16_t v);
void appendI32(std::vector<uint8_t> &s, int32_t v);
/// Appends `v` rounded to F16 (nearest even).
void appendF16(std::vector<uint8_t> &s, float v);
void appendF32(std::vector<uint8_t> &s, float v);

/// A stream of F16 values (each rounded to nearest even) and of F32 values.
std::vector<uint8_t> encodeF16(llvm::ArrayRef<float> values);
std::vector<uint8_t> encodeF32(llvm::ArrayRef<float> values);

/// `v` rounded to the nearest F16 value, back in fp32 (what a F16 stream
/// stores; quantizers use it to know the exact stored value).
float roundToF16(float v);

} // namespace mixq

#endif // MIXQ_MODEL_BITPACK_H
