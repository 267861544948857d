//===- Pack.h - QuantizedTensors from a quantizer's decisions ---*- C++ -*-===//
//
// One function per scheme turns the integer decisions of a quantizer (codes,
// stored scales, zero points, precision map, slots, LUTs, outliers) into the
// byte streams of model/QuantizedTensor.h. Every function checks its inputs
// (sizes, code ranges, indices) and returns an llvm::Error naming the tensor
// otherwise; its result always passes validateQuantizedTensor and holds
// exactly storageBits(layout, N, K).total() bits. Streams of 0 bytes are
// omitted (see model/Dequantize.h for that and for the mixed stream order).
//
// Values that a stream stores in F16 (scales, LUT entries, FP16 groups, slot
// and outlier values) are rounded to nearest-even F16 here; a quantizer that
// wants dequantize(pack(...)) to reproduce its intended values exactly rounds
// them first (roundToF16 in model/BitPack.h) and chooses its codes against
// the rounded values, as quant/Rtn.h does.
//
// Second-order scales (quantizeScales): per block of `block` consecutive
// scales, with lo/hi the block's smallest/largest scale,
//   min  = the largest F16 value <= lo,
//   step = the smallest F16 value >= (hi - min) / (2^bits - 1),
// and each scale s gets the code c in [0, 2^bits - 1] that minimizes
// |secondOrderScale(min, step, c) - s| (evaluated in fp32 exactly as the
// dequantizer does). Every scale in [min, min + (2^bits-1) step] is then
// reproduced within step/2 (plus one fp32 rounding).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_PACK_H
#define MIXQ_QUANT_PACK_H

#include "model/QuantizedTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

/// Scales as a tensor stores them: FP16 each, or second-order codes with an
/// F16 (step, min) per block.
struct StoredScales {
  int64_t bits = 0;           ///< 0: FP16 scales; else second-order width
  int64_t block = 0;          ///< scales per (step, min) block
  std::vector<uint16_t> half; ///< FP16 bit patterns (bits == 0)
  std::vector<uint8_t> codes; ///< second-order codes (bits > 0)
  std::vector<uint16_t> step; ///< per block, F16 bit pattern
  std::vector<uint16_t> min;  ///< per block, F16 bit pattern

  size_t size() const { return bits ? codes.size() : half.size(); }
  /// The fp32 scale the dequantizer uses for scale `i`.
  float value(size_t i) const;
  /// The code of block `blockIndex` whose scale is nearest to `scale` (ties
  /// to the smaller code); for quantizers that pick scales late (GPTQ).
  uint8_t nearestCode(size_t blockIndex, float scale) const;
  /// Replaces scale `i` by the stored value nearest to `scale` (F16 rounding
  /// or nearestCode of its block) and returns the value now stored.
  float store(size_t i, float scale);
};

/// FP16 scales (each rounded to nearest even).
StoredScales storeScalesF16(llvm::ArrayRef<float> scales);

/// Second-order scales (see the header comment); bits in 2..8, block >= 1.
StoredScales quantizeScales(llvm::ArrayRef<float> scales, int64_t bits,
                            int64_t block);

/// FP16 or second-order scales as `layout` (scaleBits, scaleBlock) asks.
StoredScales storeScales(const Layout &layout, llvm::ArrayRef<float> scales);

/// dense: values (N*K row-major) as F16 (bits 16) or F32 (bits 32).
llvm::Expected<QuantizedTensor> packDense(llvm::StringRef name, int64_t n,
                                          int64_t k,
                                          llvm::ArrayRef<float> values,
                                          int64_t bits);

/// uniform: codes N*K (row-major, each < 2^b); scales per group in (row,
/// group) order, stored as the layout asks (FP16 or second-order with the
/// layout's bits/block); zeros per group (< 2^b) when asymmetric, else empty.
llvm::Expected<QuantizedTensor>
packUniform(llvm::StringRef name, const Layout &layout, int64_t n, int64_t k,
            llvm::ArrayRef<uint8_t> codes, const StoredScales &scales,
            llvm::ArrayRef<uint8_t> zeros);

/// The decisions of a mixed (2/4/16) quantizer. Per-row-group data is in the
/// MixedPlan order of model/Dequantize.h (MixedPlan::quantRowGroup and
/// twoBitRowGroup give each (row, group) its index).
struct MixedDecisions {
  std::vector<uint8_t> precision;  ///< per tile-group: index into layout.bits
  std::vector<uint8_t> codes;      ///< N*K row-major (2/4-bit tile-groups)
  std::vector<float> fp16;         ///< N*K row-major (FP16 tile-groups); may
                                   ///< be empty when there are none
  StoredScales scales;             ///< per quantized row-group
  std::vector<uint8_t> zeros;      ///< per quantized row-group (asym)
  std::vector<uint16_t> slotIndex; ///< per 2-bit row-group x slots: in-group
  std::vector<float> slotValue;    ///< index and F16 value added there
};

llvm::Expected<QuantizedTensor> packMixed(llvm::StringRef name,
                                          const Layout &layout, int64_t n,
                                          int64_t k,
                                          const MixedDecisions &decisions);

/// One FP16 sparse outlier; its value is ADDED to the dense part.
struct CsrEntry {
  int64_t row = 0, col = 0;
  float value = 0;
};

/// lut: codes N*K (< 2^b); lut N x 2^b values (rounded to F16); outliers in
/// any order (sorted here; duplicates rejected), exactly layout.nnz of them
/// when the layout has CSR outliers, none otherwise.
llvm::Expected<QuantizedTensor>
packLut(llvm::StringRef name, const Layout &layout, int64_t n, int64_t k,
        llvm::ArrayRef<uint8_t> codes, llvm::ArrayRef<float> lut,
        llvm::ArrayRef<CsrEntry> outliers);

/// quik: codes N*K signed in [-2^(b-1), 2^(b-1)-1] (row-major over ALL K
/// columns; entries of the FP16 columns are ignored), scales N, colIndex the
/// C = layout.fp16Cols outlier columns (strictly increasing), fp16Values N x C
/// (row-major, in colIndex order).
llvm::Expected<QuantizedTensor>
packQuik(llvm::StringRef name, const Layout &layout, int64_t n, int64_t k,
         llvm::ArrayRef<int8_t> codes, llvm::ArrayRef<float> scales,
         llvm::ArrayRef<int64_t> colIndex, llvm::ArrayRef<float> fp16Values);

} // namespace mixq

#endif // MIXQ_QUANT_PACK_H
