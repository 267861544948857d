//===- Rtn.h - Round-to-nearest uniform quantization ------------*- C++ -*-===//
//
// The uniform b-bit grid every integer scheme of mixq uses, and RTN on it.
//
// A group is `group` consecutive K-elements of one row (group 0: the whole
// row). Its range [lo, hi] is extended to contain 0 (lo = min(0, min x),
// hi = max(0, max x)), so the zero point never needs clamping and 0 is
// always exact. With M = 2^b - 1:
//
//   asymmetric   scale = (hi - lo) / M          zero = clamp(rint(-lo/s), 0, M)
//   symmetric    scale = 2 max(|lo|, |hi|) / M  zero = 2^(b-1)
//                (GPTQ's convention: codes 0..M all used, the grid is
//                 [-2^(b-1), 2^(b-1)-1] * scale; +absmax lands half a step
//                 above the top code and is clamped to it)
//   code         q = clamp(rint(x / s) + zero, 0, M)    (rint: ties to even)
//   value        w = (q - zero) * s                     (model/Dequantize.h)
//
// where s is the scale AS STORED: the fp32 scale is first rounded to F16, or
// quantized second-order (quant/Pack.h: quantizeScales), and the zero point
// and the codes are chosen against that stored value, so the dequantized
// matrix RTN returns is exactly what dequantize() computes from its package.
// A group of zeros gets scale 0 and codes = zero (value 0).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_RTN_H
#define MIXQ_QUANT_RTN_H

#include "model/QuantizedTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

/// The range of a group, extended to contain 0.
struct GroupRange {
  float lo = 0, hi = 0;
  void add(float x) {
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
};

/// Range of values[0..count) taken with `stride` (e.g. a column of a
/// row-major matrix).
GroupRange groupRange(const float *values, int64_t count, int64_t stride = 1);

/// The fp32 scale of a group (before it is stored).
float uniformScale(GroupRange range, int64_t bits, bool asymmetric);

/// The zero point for the stored scale `scale`.
int32_t uniformZero(GroupRange range, float scale, int64_t bits,
                    bool asymmetric);

/// The code of `x`; a scale of 0 (or below) gives `zero`.
uint8_t uniformCode(float x, float scale, int32_t zero, int64_t bits);

/// A uniform layout: bits in {2, 3, 4, 8}, group (0 = per row), zero points
/// when asymmetric, second-order scales when scaleBits > 0.
Layout uniformLayout(int64_t bits, int64_t group, bool asymmetric,
                     int64_t scaleBits = 0, int64_t scaleBlock = 0);

/// A quantized tensor and the N x K fp32 matrix it dequantizes to (empty
/// when not asked for).
struct QuantResult {
  QuantizedTensor tensor;
  std::vector<float> dequantized;
};

/// RTN of a row-major N x K matrix `w` into `layout` (a uniform layout).
llvm::Expected<QuantResult> quantizeRtn(llvm::StringRef name,
                                        llvm::ArrayRef<float> w, int64_t n,
                                        int64_t k, const Layout &layout,
                                        bool wantDequantized = true);

} // namespace mixq

#endif // MIXQ_QUANT_RTN_H
