//===- QuantizedTensor.h - The packed streams of one weight -----*- C++ -*-===//
//
// A quantized N x K weight as the package stores it: its layout plus named
// byte streams. The stream set of each scheme is fixed below, and the bits of
// all streams of a tensor add up to storageBits(layout, N, K).total() exactly
// (the packer's tests check this), so the bits per weight mixq reports are
// the bits it stores.
//
// Streams whose size is 0 bytes (codes16 without FP16 tile-groups, CSR with
// nnz 0, QUIK without FP16 columns) are omitted.
//
// Conventions for every stream:
//   - little-endian; sub-byte codes are packed LSB-first, consecutively, with
//     no padding between rows (the stream is padded to a byte at its end);
//   - row-major order over the weight (row n, then column k), groups in
//     (row, group) order.
//
// Streams per scheme (name: content, element):
//   dense   "values": N*K values (F16 when bits = 16, F32 when 32).
//   uniform "codes": N*K unsigned b-bit codes.
//           "scales": G F16 scales (G = groups), or with second-order scales
//             "scale_codes": G s-bit codes and "scale_meta": F16 pairs
//             (step, min) per block of `scaleBlock` scales.
//           "zeros" (asym): G b-bit zero points.
//   mixed   "pmap": 2-bit precision index per tile-group (index into bits),
//             tile-groups in (row block, group) order;
//           "offsets": I32 [N/tile][#precisions]: the first tile-group of
//             each row block within each precision's code stream;
//           "codes2", "codes4": the codes of 2- and 4-bit tile-groups, one
//             tile-group after another (tile rows x group columns, row-major
//             inside), "codes16": F16 values of the FP16 tile-groups;
//           "scales" / "scale_codes" + "scale_meta": per quantized row-group,
//             precision-major: the row-groups of all 2-bit tile-groups (in
//             codes2 order, tile-group by tile-group, then rows), then those
//             of the 4-bit tile-groups;
//           "zeros" (asym): per quantized row-group in the same order, each
//             at its own code width (the 4-bit zeros start at bit
//             alloc[2-bit]*tile*2);
//           "slot_index": U8 (U16 when group > 256) and "slot_value": F16,
//             `slots` per 2-bit row-group, in stream order (index within
//             the group). An unused slot has index 0 and value 0.
//   lut     "codes": N*K b-bit codes; "lut": F16 [N][2^b];
//           "csr_rowptr": I32 [N+1], "csr_col": U16 (I32 when K > 65536),
//           "csr_value": F16 [nnz].
//   quik    "codes": N*(K-C) b-bit codes of the quantized columns (original
//             column order with the C outlier columns removed), two's-
//             complement signed; "scales": F16 [N];
//           "fp16_cols": F16 [N][C]; "col_index": I32 [C] (increasing).
//
// Dequantization (model/Dequantize.h implements it; the kernels match it):
//   uniform/mixed 2/4-bit: w = (code - zero) * scale, where zero is the
//     stored zero point (asym) or 2^(b-1) (symmetric), and scale is the F16
//     scale, or with second-order scales min + scaleCode * step of its block
//     (computed in fp32, not rounded to F16);
//   mixed FP16 tile-groups: w = value; in a 2-bit row-group each slot adds
//     its F16 value to the weight at its index (the quantizer stores the
//     residual w - dequant(code), so an outlier is reproduced to FP16
//     precision and an unused slot, value 0, changes nothing);
//   lut: w = lut[row][code], plus the CSR value at (row, col) if any;
//   quik: w = code * scale (code signed), outlier columns w = fp16 value.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_QUANTIZEDTENSOR_H
#define MIXQ_MODEL_QUANTIZEDTENSOR_H

#include "model/Layout.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mixq {

/// Element type of a stream, as a safetensors dtype names it.
enum class StreamType { U8, U16, I32, F16, F32 };

/// Safetensors dtype name of a stream type ("U8", "F16", ...), its element
/// size, and the reverse lookup.
llvm::StringRef streamTypeName(StreamType type);
unsigned streamTypeSize(StreamType type);
bool parseStreamTypeName(llvm::StringRef name, StreamType &type);

struct Stream {
  StreamType type = StreamType::U8;
  std::vector<uint8_t> bytes;
  /// Bits the stream occupies in the storage count (sub-byte streams count
  /// their used bits rounded up to a byte, i.e. bytes.size() * 8).
  uint64_t bits() const { return uint64_t(bytes.size()) * 8; }
};

struct QuantizedTensor {
  std::string name;  ///< canonical tensor name
  int64_t rows = 0;  ///< N
  int64_t cols = 0;  ///< K
  Layout layout;
  std::map<std::string, Stream> streams;

  uint64_t totalBits() const {
    uint64_t sum = 0;
    for (const auto &entry : streams)
      sum += entry.second.bits();
    return sum;
  }
};

} // namespace mixq

#endif // MIXQ_MODEL_QUANTIZEDTENSOR_H
