//===- BenchWeights.h - Synthetic packages for `mixq bench` -----*- C++ -*-===//
//
// Random but valid weights: every stream a format stores, with the exact
// names, types and sizes of expectedStreams (model/Dequantize.h) and
// contents that pass validateQuantizedTensor and dequantize to finite values
// (finite F16/F32 values, positive scales, precision maps and stream offsets
// that agree, in-range slot indices, CSR rows with increasing in-range
// columns, increasing QUIK column indices). Codes are uniformly random bytes:
// a kernel's speed does not depend on the values, and running the real
// quantizers on Llama-2-7B shapes would take far too long.
//
// The formats, by the names `mixq bench --formats` takes, in table order:
//   fp32        dense, bits = 32                          (baseline)
//   f16         dense, bits = 16                          (baseline)
//   uniform-4   uniform, bits = 4, group = 128, asym      (RTN/GPTQ int4)
//   uniform-3   uniform, bits = 3, group = 128
//   uniform-2   uniform, bits = 2, group = 64, asym
//   mixed       mixed 2/4/16, group = 128, tile = 16, asym, scales = <4, 64>,
//               slots<1>; ~70% 2-bit, 28% 4-bit, 2% FP16 tile-groups placed
//               at random
//   lut-3       lut, bits = 3, csr outliers (0.45% of the weights)
//   quik-4      quik, bits = 4 (w2: 8), fp16_cols as the quantizer chooses
//               (256 per 4096 of K), act = <8, per_token, asym>
//
// Everything is generated from fixed seeds (std::mt19937_64), so every run
// builds the same packages.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_BENCHWEIGHTS_H
#define MIXQ_TOOLS_MIXQ_BENCHWEIGHTS_H

#include "model/LlamaConfig.h"
#include "model/Package.h"
#include "model/QuantizedTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq::cli {

/// The format names above, in table order.
llvm::ArrayRef<llvm::StringRef> benchFormatNames();
bool isBenchFormat(llvm::StringRef format);

/// Shares of 4-bit and FP16 tile-groups of the "mixed" format's layout
/// (the rest 2-bit).
constexpr double kMixed4Bit = 0.28, kMixed16Bit = 0.02;

/// Llama-2-7B's shape (dim 4096, hidden 11008, 32 heads, no GQA, vocab
/// 32000, RMS eps 1e-5, RoPE theta 10000, tied embeddings) with `layers`
/// layers and a context of `maxSeqLen`.
LlamaConfig llama2_7bConfig(int64_t layers, int64_t maxSeqLen = 256);

/// A random valid N x K linear named `name` (a canonical tensor name; QUIK
/// stores feed_forward.w2 at 8 bits) in `format`.
llvm::Expected<QuantizedTensor> randomLinear(llvm::StringRef format,
                                             llvm::StringRef name, int64_t n,
                                             int64_t k, uint64_t seed);

/// A whole package of `config`'s shape: random FP16 token embeddings (the
/// same table for every format and seed: the classifier, since the
/// embeddings are tied), dense F32 norm gains of 1, and every linear random
/// in `format`. `tokenizer` (llama2.c or HF JSON bytes; may be empty) is
/// embedded as is.
llvm::Expected<Package> syntheticPackage(llvm::StringRef format,
                                         const LlamaConfig &config,
                                         llvm::ArrayRef<uint8_t> tokenizer,
                                         uint64_t seed);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_BENCHWEIGHTS_H
