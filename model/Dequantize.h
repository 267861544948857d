//===- Dequantize.h - Checked dequantization of every scheme ----*- C++ -*-===//
//
// The reference meaning of a QuantizedTensor (model/QuantizedTensor.h): the
// dense fp32 N x K matrix its streams stand for. The reference engine, the
// runtime's checks and the quantizer's tests all use this one implementation;
// the kernels must match it.
//
// Validation first, because a package may come from a stranger: the layout
// must fit the shape, every stream of the scheme must be present with its
// type and EXACT byte size (expectedStreams below), no other stream may be
// present, and the contents must be consistent (precision-map indices, stream
// offsets, slot indices, CSR row pointers and columns, QUIK column indices).
// Any violation is an llvm::Error naming the tensor and the stream; nothing
// is read out of bounds.
//
// Arithmetic (fp32, exactly as written; no fused multiply-add):
//   second-order scale   s = min + float(code) * step   (product rounded)
//   uniform/mixed code   w = float(code - zero) * s
//   mixed slot           w = w + value
//   lut                  w = lut[row][code] (+ csr value at (row, col))
//   quik                 w = float(signed code) * scale; outlier column: F16
//
// Stream order conventions that QuantizedTensor.h leaves implicit:
//   - mixed: the "quantized row-groups" (scales, zeros) are ordered
//     precision-major: every row-group of the 2-bit stream's tile-groups
//     (tile-group by tile-group in codes2 order, then rows 0..tile-1), then
//     those of the 4-bit stream. Zeros use the same order, each at its own
//     precision's width, so the 4-bit zeros start at bit alloc2*tile*2.
//     Slots follow the 2-bit row-group order.
//   - a stream whose exact size is 0 bytes (e.g. "codes16" when no tile-group
//     is FP16, "csr_col" with nnz = 0, QUIK with no FP16 columns) may be
//     absent; the packer omits it.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_DEQUANTIZE_H
#define MIXQ_MODEL_DEQUANTIZE_H

#include "model/QuantizedTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mixq {

// Shared arithmetic (the packer and quantizers use these, so that what they
// intend is bit-for-bit what dequantize() computes)
// -----------------------===//

/// The fp32 scale a second-order code stands for: min + code * step, the
/// product rounded to fp32 before the sum (never fused).
inline float secondOrderScale(float min, float step, uint32_t code) {
#pragma clang fp contract(off)
  float product = static_cast<float>(code) * step;
  return min + product;
}

/// A uniform code's value: (code - zero) * scale.
inline float uniformValue(uint32_t code, int32_t zero, float scale) {
  return static_cast<float>(static_cast<int32_t>(code) - zero) * scale;
}

/// The zero point of a symmetric b-bit grid: 2^(b-1).
inline int32_t symmetricZero(int64_t bits) { return int32_t(1) << (bits - 1); }

/// A b-bit two's-complement code sign-extended.
inline int32_t signExtend(uint32_t code, int64_t bits) {
  uint32_t sign = uint32_t(1) << (bits - 1);
  return static_cast<int32_t>((code ^ sign)) - static_cast<int32_t>(sign);
}

// Streams ----------------------------------------------------------------===//

struct StreamSpec {
  std::string name;
  StreamType type;
  uint64_t bytes;
};

/// The streams a tensor of this layout and shape must hold, with their exact
/// sizes (their bits add up to storageBits(layout, n, k).total()).
llvm::Expected<std::vector<StreamSpec>> expectedStreams(const Layout &layout,
                                                        int64_t n, int64_t k);

// Mixed tile-group bookkeeping
// --------------------------------------------===//

/// Where every tile-group of a mixed layout lives, derived from its precision
/// map. Tile-group t = rowBlock * groupsPerRow + group.
struct MixedPlan {
  int64_t rows = 0, cols = 0, tile = 0, group = 0;
  int64_t rowBlocks = 0, groupsPerRow = 0;
  std::vector<int64_t> bits;         ///< the layout's precisions
  std::vector<uint8_t> precision;    ///< per tile-group, index into bits
  std::vector<int64_t> streamIndex;  ///< per tile-group, in its code stream
  std::vector<int32_t> offsets;      ///< [rowBlocks][#precisions]
  std::vector<int64_t> count;        ///< tile-groups per precision
  std::vector<int64_t> rowGroupBase; ///< first quantized row-group per prec.
  std::vector<uint64_t> zeroBitBase; ///< first zero bit per precision

  /// Builds the plan; fails (naming nothing: callers add the tensor) when a
  /// precision index is out of range or the counts disagree with `alloc`.
  static llvm::Expected<MixedPlan> build(const Layout &layout, int64_t n,
                                         int64_t k,
                                         llvm::ArrayRef<uint8_t> precision);

  int64_t tileGroup(int64_t row, int64_t g) const {
    return (row / tile) * groupsPerRow + g;
  }
  int64_t precisionBits(int64_t row, int64_t g) const {
    return bits[precision[tileGroup(row, g)]];
  }
  /// Index of row-group (row, g) among the stored scales/zeros; -1 for FP16.
  int64_t quantRowGroup(int64_t row, int64_t g) const;
  /// Index of row-group (row, g) among the 2-bit row-groups (slots); -1 if
  /// its tile-group is not 2-bit.
  int64_t twoBitRowGroup(int64_t row, int64_t g) const;
  /// Total stored (2/4-bit) row-groups and 2-bit row-groups.
  int64_t quantRowGroups() const;
  int64_t twoBitRowGroups() const { return count[0] * tile; }
  /// Position of element (row, col) in its precision's code stream.
  uint64_t codeIndex(int64_t row, int64_t col) const;
  /// Bit offset of row-group (row, g)'s zero in the "zeros" stream.
  uint64_t zeroBit(int64_t row, int64_t g) const;
};

/// The name of the code stream of a mixed precision: "codes2", "codes4",
/// "codes16".
std::string mixedCodeStream(int64_t bits);

// Validation and dequantization
// -------------------------------------------===//

/// Checks the layout, the stream set and every content rule above.
llvm::Error validateQuantizedTensor(const QuantizedTensor &tensor);

/// Validates, then returns the N x K fp32 matrix (row-major).
llvm::Expected<std::vector<float>> dequantize(const QuantizedTensor &tensor);

} // namespace mixq

#endif // MIXQ_MODEL_DEQUANTIZE_H
