//===- BitPack.cpp - Sub-byte code streams and little-endian elements -----===//
//
// LSB-first packing of b-bit codes and the element readers/writers that the
// packer and the dequantizer share (see BitPack.h for the bit order).
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"

#include "model/Float16.h"

#include "llvm/Support/FormatVariadic.h"

#include <cassert>
#include <cstring>

using namespace mixq;

void mixq::putBits(llvm::MutableArrayRef<uint8_t> stream, unsigned bits,
                   uint64_t index, uint32_t code) {
  assert(isPackableWidth(bits) && "unsupported code width");
  code &= (uint32_t(1) << bits) - 1;
  uint64_t bit = index * bits;
  uint64_t byte = bit / 8;
  unsigned shift = bit % 8;
  uint32_t window = code << shift; // at most 16 + 7 bits
  for (unsigned i = 0; window != 0; ++i, window >>= 8)
    stream[byte + i] |= uint8_t(window & 0xff);
}

std::vector<uint8_t> mixq::packBits(llvm::ArrayRef<uint8_t> codes,
                                    unsigned bits) {
  assert(isPackableWidth(bits) && bits <= 8 && "unsupported code width");
  std::vector<uint8_t> out(packedBytes(codes.size(), bits), 0);
  if (bits == 8) {
    if (!codes.empty())
      std::memcpy(out.data(), codes.data(), codes.size());
    return out;
  }
  // Accumulate into a 64-bit window and flush whole bytes.
  uint64_t window = 0;
  unsigned filled = 0;
  size_t pos = 0;
  uint32_t mask = (1u << bits) - 1;
  for (uint8_t c : codes) {
    window |= uint64_t(c & mask) << filled;
    filled += bits;
    while (filled >= 8) {
      out[pos++] = uint8_t(window & 0xff);
      window >>= 8;
      filled -= 8;
    }
  }
  if (filled)
    out[pos++] = uint8_t(window & 0xff);
  assert(pos == out.size());
  return out;
}

std::vector<uint8_t> mixq::packBits16(llvm::ArrayRef<uint16_t> codes,
                                      unsigned bits) {
  assert(isPackableWidth(bits) && "unsupported code width");
  std::vector<uint8_t> out(packedBytes(codes.size(), bits), 0);
  for (size_t i = 0; i < codes.size(); ++i)
    putBits(out, bits, i, codes[i]);
  return out;
}

void mixq::unpackBits(llvm::ArrayRef<uint8_t> stream, unsigned bits,
                      uint64_t first, uint64_t count, uint8_t *out) {
  assert(bits >= 1 && bits <= 8 && "unsupported code width");
  assert(stream.size() >= packedBytes(first + count, bits));
  if (bits == 8) {
    if (count)
      std::memcpy(out, stream.data() + first, count);
    return;
  }
  uint64_t bit = first * bits;
  uint64_t byte = bit / 8;
  unsigned filled = 0;
  uint64_t window = 0;
  unsigned skip = bit % 8;
  uint32_t mask = (1u << bits) - 1;
  for (uint64_t i = 0; i < count; ++i) {
    while (filled < bits + skip) {
      window |= uint64_t(stream[byte++]) << filled;
      filled += 8;
    }
    window >>= skip;
    filled -= skip;
    skip = 0;
    out[i] = uint8_t(window & mask);
    window >>= bits;
    filled -= bits;
  }
}

std::vector<uint8_t> mixq::unpackBits(llvm::ArrayRef<uint8_t> stream,
                                      unsigned bits, uint64_t count) {
  std::vector<uint8_t> out(count);
  unpackBits(stream, bits, 0, count, out.data());
  return out;
}

llvm::Error mixq::checkCodeRange(llvm::ArrayRef<uint8_t> codes, unsigned bits,
                                 const llvm::Twine &what) {
  if (bits >= 8)
    return llvm::Error::success();
  unsigned limit = 1u << bits;
  for (size_t i = 0; i < codes.size(); ++i)
    if (codes[i] >= limit)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("{0}: code {1} at index {2} does not fit in {3} bits",
                        what, unsigned(codes[i]), i, bits));
  return llvm::Error::success();
}

float mixq::readF16(llvm::ArrayRef<uint8_t> s, uint64_t i) {
  return halfToFloat(readU16(s, i));
}

float mixq::readF32(llvm::ArrayRef<uint8_t> s, uint64_t i) {
  uint32_t u = uint32_t(s[4 * i]) | (uint32_t(s[4 * i + 1]) << 8) |
               (uint32_t(s[4 * i + 2]) << 16) | (uint32_t(s[4 * i + 3]) << 24);
  return bitsToFloat(u);
}

void mixq::appendU16(std::vector<uint8_t> &s, uint16_t v) {
  s.push_back(uint8_t(v & 0xff));
  s.push_back(uint8_t(v >> 8));
}

void mixq::appendI32(std::vector<uint8_t> &s, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i)
    s.push_back(uint8_t((u >> (8 * i)) & 0xff));
}

void mixq::appendF16(std::vector<uint8_t> &s, float v) {
  appendU16(s, floatToHalf(v));
}

void mixq::appendF32(std::vector<uint8_t> &s, float v) {
  appendI32(s, static_cast<int32_t>(floatBits(v)));
}

std::vector<uint8_t> mixq::encodeF16(llvm::ArrayRef<float> values) {
  std::vector<uint8_t> s;
  s.reserve(values.size() * 2);
  for (float v : values)
    appendF16(s, v);
  return s;
}

std::vector<uint8_t> mixq::encodeF32(llvm::ArrayRef<float> values) {
  std::vector<uint8_t> s;
  s.reserve(values.size() * 4);
  for (float v : values)
    appendF32(s, v);
  return s;
}

float mixq::roundToF16(float v) { return halfToFloat(floatToHalf(v)); }
