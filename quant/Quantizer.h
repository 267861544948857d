//===- Quantizer.h - Quantizing one linear weight by any scheme -*- C++ -*-===//
//
// The one entry point `mixq quantize` calls per linear layer. Each scheme is
// implemented in its own file (quant/Scheme*.cpp) and produces a
// QuantizedTensor in its layout (model/QuantizedTensor.h):
//
//   rtn      uniform int2/3/4/8, group-wise, round to nearest
//   gptq     the same format, GPTQ error compensation (quant/Gptq.h)
//   mixed    2/4/16 mixed precision: tile-aligned groups, second-order
//            scales, exclusive outlier slots in 2-bit groups, GPTQ under the
//            chosen allocation
//   squeeze  SqueezeLLM: per-row 3/4-bit LUT from sensitivity-weighted
//            k-means, dense-and-sparse with CSR outliers
//   quik     QUIK: FP16 outlier input columns, GPTQ on the rest (outlier
//            columns last), 4-bit symmetric per-row codes (8-bit for
//            down_proj), run-time activation quantization settings
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_QUANTIZER_H
#define MIXQ_QUANT_QUANTIZER_H

#include "model/QuantizedTensor.h"
#include "quant/Calibration.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace mixq {

struct QuantizerOptions {
  std::string scheme = "mixed"; ///< rtn | gptq | mixed | squeeze | quik

  // Uniform (rtn, gptq).
  int64_t bits = 4;      ///< 2, 3, 4 or 8
  int64_t group = 128;   ///< K-elements per scale; 0 = per row
  bool asym = true;      ///< zero points
  int64_t scaleBits = 0; ///< second-order scale bits (0: FP16 scales)
  int64_t scaleBlock = 0;

  // GPTQ (gptq, and inside mixed and quik).
  double damp = 0.01;    ///< dampening relative to mean(diag H)
  bool actOrder = true;  ///< sweep by decreasing diag(H)
  int64_t gptqBlock = 128;

  // Mixed 2/4/16.
  double bpw = 2.91;                ///< target bits per weight, everything
                                    ///< counted; 0: use `fractions`
  std::vector<double> fractions;    ///< {4-bit share, FP16 share} of
                                    ///< tile-groups (with bpw = 0)
  int64_t mixedGroup = 64;          ///< K-elements per group
  int64_t tile = 16;                ///< rows per tile-group
  int64_t slots = 1;                ///< outlier slots per 2-bit row-group
  int64_t mixedScaleBits = 4;       ///< second-order scale bits
  int64_t mixedScaleBlock = 64;     ///< scales per FP16 (step, min) block

  // SqueezeLLM.
  int64_t lutBits = 3;              ///< 3 or 4
  double fenceFraction = 0.0045;    ///< range-fence outliers kept FP16
  double sensitiveFraction = 0.0005;///< most sensitive values kept FP16

  // QUIK.
  int64_t fp16Cols = -1;   ///< FP16 input columns; -1: 256 per 4096 of K
  int64_t quikBits = 4;    ///< weight bits (4)
  int64_t downBits = 8;    ///< weight bits of down_proj (w2)
  int64_t actBits = 16;    ///< run-time activation bits: 4, 8 or 16
  bool actAsym = true;     ///< asymmetric per-token activation quantization

  // Embeddings and output head: quantized like the linears when asked,
  // else stored with `tableBits`: 16 (FP16) or 8 (RTN int8, one scale and
  // zero per row; the head of a decode step is its largest read).
  bool quantizeEmbeddings = false;
  bool quantizeHead = false;
  int64_t tableBits = 16;

  /// Rejects unknown schemes and values outside each scheme's set.
  llvm::Error validate() const;
  /// The settings as recorded in a package's "quantizer" metadata.
  llvm::json::Object toJSON() const;
  /// Whether the scheme needs calibration statistics.
  bool needsCalibration() const { return scheme != "rtn"; }
};

/// Quantizes W (N x K, row-major, canonical name `name`). `stats` holds the
/// calibration statistics of W's input (null only for rtn, or for embeddings
/// and the head, which have none).
llvm::Expected<QuantizedTensor> quantizeLinear(llvm::StringRef name,
                                               llvm::ArrayRef<float> w,
                                               int64_t n, int64_t k,
                                               const InputStats *stats,
                                               const QuantizerOptions &options);

// The schemes behind quantizeLinear (one file each).
llvm::Expected<QuantizedTensor>
quantizeUniformScheme(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                      int64_t k, const InputStats *stats,
                      const QuantizerOptions &options);
llvm::Expected<QuantizedTensor>
quantizeMixedScheme(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                    int64_t k, const InputStats &stats,
                    const QuantizerOptions &options);
llvm::Expected<QuantizedTensor>
quantizeSqueezeScheme(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                      int64_t k, const InputStats &stats,
                      const QuantizerOptions &options);
llvm::Expected<QuantizedTensor>
quantizeQuikScheme(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                   int64_t k, const InputStats &stats,
                   const QuantizerOptions &options);

/// The group size used for a K-wide weight when `group` is asked: `group`
/// if it divides K, else the largest divisor of K below it (so K = 288 with
/// group 64 gets 48, not per-row scales); 0 (per row) stays 0. Where K is a
/// multiple of 16 and `group` at least 16, that divisor is the largest
/// multiple of 16 below it, since the kernels read groups 16 columns at a
/// time (K = 1376, stories42M's FFN width, with group 128 gets 32, not 86).
int64_t fittingGroup(int64_t group, int64_t k);

/// QUIK's FP16 columns of an input: the `count` columns with the largest
/// calibration max |x|, in increasing column order. Every weight reading the
/// same input gets the same columns, so the run-time split is shared.
std::vector<int64_t> quikOutlierColumns(const InputStats &stats,
                                        int64_t count);
/// The FP16 column count for input width K (options.fp16Cols, or 256 per
/// 4096 of K rounded to a multiple of 8 when it is -1), at most K.
int64_t quikColumnCount(const QuantizerOptions &options, int64_t k);

} // namespace mixq

#endif // MIXQ_QUANT_QUANTIZER_H
