//===- Gptq.h - GPTQ with pluggable column quantizers -----------*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022) quantizes W (N x K, row-major) one input column
// at a time and spreads each column's error over the columns not yet
// quantized so that the layer output error ||(W - Q) X||² stays small:
//
//   H  = XᵀX (K x K). Any positive multiple gives the same result (2XᵀX/T,
//        as quant/Calibration.h returns, is fine): dampening is relative.
//   dead columns (H_kk = 0): W[:, k] = 0, H_kk = 1.
//   order: the identity, act-order (decreasing H_kk, stable), or a caller's
//        permutation (QUIK puts its FP16 columns last); H and W are permuted.
//   H += percdamp * mean(diag H) * I (percdamp default 0.01; if the Cholesky
//        factorization still fails, percdamp is multiplied by 10, up to 6
//        times).
//   U  = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), in double.
//   for each column j in sweep order:
//        q_j = quantize(w_j)                (the format's stored value)
//        e_j = (w_j - q_j) / U_jj
//        w_l -= e_j U_jl   for every later column l
//   The updates are applied lazily in blocks of `blockSize` columns (within
//   a block eagerly, to later blocks as one matrix product at its end).
//   loss = 1/2 Σ_j ||w_j - q_j||² / U_jj²  (GPTQ's reported error).
//
// The per-column quantizer is pluggable (GptqColumnQuantizer) so the uniform,
// mixed 2/4/16 and QUIK schemes all run GPTQ under their own formats. Column
// groups are contiguous ranges of `groupSize()` ORIGINAL columns:
//   - dynamic groups (identity order): beginGroup(g) runs when the sweep
//     reaches the group, and sees the group's columns with all error feedback
//     so far (blocks are aligned to groups so that this is exact);
//   - static groups (any other order, or GptqOptions::staticGroups): every
//     beginGroup runs before the sweep, on the original W ("static groups":
//     with act-order a group's scale still covers its original contiguous
//     columns).
// groupSize() 0 means one group of all columns (e.g. per-row scales), begun
// before the sweep.
//
// Memory: H⁻¹'s factor (K² floats and doubles during factoring) and Wᵀ.
// Cost: ~K³ double flops to factor, ~N K² / 2 float flops to sweep; the inner
// loops run over N contiguous floats.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_GPTQ_H
#define MIXQ_QUANT_GPTQ_H

#include "model/QuantizedTensor.h"
#include "quant/Rtn.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

struct GptqOptions {
  double percdamp = 0.01;     ///< dampening, relative to mean(diag H)
  int64_t blockSize = 128;    ///< columns per lazy-update block
  bool actOrder = false;      ///< sweep by decreasing diag(H)
  bool staticGroups = false;  ///< group parameters from the original W
  std::vector<int64_t> order; ///< explicit sweep order (overrides actOrder)
};

/// H's factorization for one sweep order; reusable by every weight that
/// shares the input (wq/wk/wv, w1/w3).
struct GptqFactor {
  int64_t size = 0;           ///< K
  std::vector<int64_t> order; ///< sweep position -> original column
  std::vector<uint8_t> dead;  ///< per original column: H_kk was 0
  std::vector<float> u;       ///< U (K x K, upper, in sweep order)
  double percdamp = 0;        ///< dampening actually used
};

/// Factors H (K x K row-major, symmetric). Fails when H has the wrong size,
/// a non-finite entry, an invalid order, or stays indefinite after dampening.
llvm::Expected<GptqFactor> factorGptq(llvm::ArrayRef<double> h, int64_t k,
                                      const GptqOptions &options = {});

/// The callbacks through which GPTQ quantizes.
class GptqColumnQuantizer {
public:
  virtual ~GptqColumnQuantizer();
  /// Original columns per group; 0 = all columns form one group.
  virtual int64_t groupSize() const { return 0; }
  /// Called once per group before its first column is quantized; column(c)
  /// returns the N current values of original column c of the group.
  virtual void
  beginGroup(int64_t group,
             llvm::function_ref<llvm::ArrayRef<float>(int64_t)> column) {}
  /// Quantizes original column `col` (its N current values) and writes the
  /// N values the format will store (its dequantization) into `out`.
  virtual void quantizeColumn(int64_t col, llvm::ArrayRef<float> values,
                              llvm::MutableArrayRef<float> out) = 0;
};

struct GptqResult {
  std::vector<float> dequantized; ///< Q, N x K row-major, original order
  double loss = 0;                ///< 1/2 Σ ||w_j - q_j||² / U_jj²
};

/// Runs the sweep over W (N x K row-major) with `quantizer`. Dead columns of
/// W are zeroed before anything else (the quantizer sees zeros there).
llvm::Expected<GptqResult> runGptq(llvm::ArrayRef<float> w, int64_t n,
                                   int64_t k, const GptqFactor &factor,
                                   GptqColumnQuantizer &quantizer,
                                   const GptqOptions &options = {});

/// GPTQ into a uniform layout (the grid of quant/Rtn.h). Group scales come
/// from the current (dynamic) or original (static) columns; second-order
/// scales use the (step, min) grid of RTN's scales of the original W, and
/// each group's scale is the grid point nearest to its GPTQ scale.
llvm::Expected<QuantResult> quantizeGptq(llvm::StringRef name,
                                         llvm::ArrayRef<float> w, int64_t n,
                                         int64_t k, llvm::ArrayRef<double> h,
                                         const Layout &layout,
                                         const GptqOptions &options = {});

/// Same with a precomputed factor (from factorGptq with the same options).
llvm::Expected<QuantResult> quantizeGptq(llvm::StringRef name,
                                         llvm::ArrayRef<float> w, int64_t n,
                                         int64_t k, const GptqFactor &factor,
                                         const Layout &layout,
                                         const GptqOptions &options = {});

} // namespace mixq

#endif // MIXQ_QUANT_GPTQ_H
