//===- ActivationQuant.h - Per-token activation quantization ----*- C++ -*-===//
//
// QUIK's run-time activation quantization, as the reference engine simulates
// it and the compiled kernels must reproduce it. For one token's input vector
// x (length K) and the FP16 outlier columns C of its linear group:
//   - columns in C are kept as they are (the FP16 part);
//   - over the other columns, asymmetric (b bits):
//       lo = min(min x, 0), hi = max(max x, 0), scale = (hi - lo) / (2^b - 1),
//       zero = round(-lo / scale), q = clamp(round(x / scale) + zero, 0,
//       2^b - 1), x' = (q - zero) * scale;
//     symmetric: scale = max|x| / (2^(b-1) - 1),
//       q = clamp(round(x / scale), -(2^(b-1) - 1), 2^(b-1) - 1),
//       x' = q * scale.
//   A vector of zeros stays zero. round() is to nearest, ties to even; all
//   arithmetic is fp32.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_ACTIVATIONQUANT_H
#define MIXQ_MODEL_ACTIVATIONQUANT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace mixq {

struct ActivationQuantSpec {
  int64_t bits = 16;              ///< 4 or 8 (16: no quantization)
  bool asymmetric = true;
  std::vector<int64_t> fp16Cols;  ///< increasing, kept unquantized
};

/// Replaces `x` by its quantize-dequantize image under `spec` (see above).
void fakeQuantizeActivations(llvm::MutableArrayRef<float> x,
                             const ActivationQuantSpec &spec);

} // namespace mixq

#endif // MIXQ_MODEL_ACTIVATIONQUANT_H
