//===- BenchCublas.h - cuBLAS FP16 baseline of `mixq bench` -----*- C++ -*-===//
//
// With --target=sm_80|sm_90a, `mixq bench` times cuBLAS FP16 products in
// the same run as mixq's GPU modules: Y[M][N] = X[M][K] W[N][K]^T with
// cublasGemmEx (FP16 X, W and Y, FP32 compute, the default algorithm) on
// the Llama-2-7B shapes N x K = 4096x4096, 12288x4096 (fused QKV),
// 11008x4096 (w1, w3) and 4096x11008 (w2) for M = 1, 4, 16 (decode:
// GB/s of the weights read) and 256 ... 4096 (prefill: TFLOP/s), timed with
// CUDA events on one stream, the median of 5 batches (each 50 calls at
// M <= 16, 5 above). Weights rotate through copies of at least 256 MiB in
// all, so M = 1 reads them from HBM, not from L2. Also the classifier
// (vocab x dim) at M = 1, so that an FP16 decode step's products (cuBLAS
// GEMVs only: a lower bound of an FP16 decode step) can be set against each
// format's measured decode step as a ratio.
// Nothing here fails the bench: without a GPU, driver events or cuBLAS
// (Cublas.h), or when a call fails, `skipped` says why.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_BENCHCUBLAS_H
#define MIXQ_TOOLS_MIXQ_BENCHCUBLAS_H

#include "model/LlamaConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mixq::cli {

struct CublasTiming {
  int64_t n = 0, k = 0, m = 0;
  double us = 0; ///< per call
};

struct CublasBench {
  std::string skipped; ///< non-empty: why (part of) it did not run
  std::string library, device;
  std::vector<CublasTiming> timings; ///< the Llama-2-7B shapes
  /// One decode step's products at M = 1 for `config` (its layers' seven
  /// weights and the classifier), in microseconds; unset when not measured.
  std::optional<double> decodeStepUs;
};

/// Runs the baseline (see the header comment) for the products of `config`.
CublasBench benchCublasFp16(const LlamaConfig &config);

/// {"library", "device", "shapes": [{"shape": "NxK", "n", "k", "m", "us",
/// "weight_gbs", "tflops"}...], "decode_step_us", "decode_vs_cublas":
/// {format: cuBLAS step time / the format's decode step time}} or
/// {"skipped": "..."}. `decodeTps`: each format's measured decode tokens/s.
llvm::json::Value
toJSON(const CublasBench &b,
       llvm::ArrayRef<std::pair<std::string, double>> decodeTps);

/// The same as a table.
void printCublas(const CublasBench &b,
                 llvm::ArrayRef<std::pair<std::string, double>> decodeTps,
                 llvm::raw_ostream &os);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_BENCHCUBLAS_H
