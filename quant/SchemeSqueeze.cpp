//===- SchemeSqueeze.cpp - SqueezeLLM: dense-and-sparse LUT quantization --===//
//
// SqueezeLLM (Kim et al., 2023) for one N x K weight:
//
// Sensitivity. SqueezeLLM weighs each weight's squared error by the Fisher
// information diag F = E[g²] of the loss gradient. The true Fisher needs
// gradients of the model's loss; here we use the activation second moment
// s_k = E[x_k²] = stats.secondMoment()[k], the diagonal of XᵀX / tokens that
// GPTQ-style objectives ||(W - Q) X||² weigh column k with (the layer-local
// approximation: it is the same for every row, and exact for the layer's
// output error when the inputs are uncorrelated).
//
// Sparse part (FP16 CSR, values ADDED to the dense part), with F = N K:
//   - range fences: the round(fenceFraction F) weights of largest |w| in the
//     whole layer (symmetric fences at +-t, t the percentile of |w| that
//     leaves exactly that many outside; ties broken by position);
//   - sensitive values: among the rest, the round(sensitiveFraction F) of
//     largest s_k w² (sensitivity-weighted magnitude);
//   with both fractions 0 there is no sparse part (the layout has no CSR).
// Dense part: per output row, an exact weighted 1-D k-means
// (weightedKMeans1D, weights s_k) with 2^lutBits centroids over the row's
// non-outlier values; the LUT is the centroids rounded to F16 and every
// code is the nearest LUT entry. Outlier positions take the nearest entry
// too and store the residual w - lut[code] (rounded to F16) in the CSR, so
// dequantization reproduces them to F16 precision.
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"
#include "quant/KMeans.h"
#include "quant/Pack.h"
#include "quant/Quantizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "SqueezeLLM quantization of '" + name +
                                     "': " + message);
}

/// Index of the LUT entry nearest to x (ties to the lower index).
uint8_t nearest(const float *lut, int entries, float x) {
  int best = 0;
  float bestErr = std::fabs(x - lut[0]);
  for (int e = 1; e < entries; ++e) {
    float err = std::fabs(x - lut[e]);
    if (err < bestErr) {
      bestErr = err;
      best = e;
    }
  }
  return uint8_t(best);
}

/// The indices of the `count` largest keys (ties: lower index first).
std::vector<int64_t> topIndices(const std::vector<float> &key,
                                const std::vector<uint8_t> &excluded,
                                int64_t count) {
  std::vector<int64_t> idx;
  idx.reserve(key.size());
  for (int64_t i = 0; i < int64_t(key.size()); ++i)
    if (!excluded[i])
      idx.push_back(i);
  count = std::clamp<int64_t>(count, 0, int64_t(idx.size()));
  auto greater = [&](int64_t a, int64_t b) {
    return key[a] != key[b] ? key[a] > key[b] : a < b;
  };
  std::nth_element(idx.begin(), idx.begin() + count, idx.end(), greater);
  idx.resize(count);
  std::sort(idx.begin(), idx.end());
  return idx;
}

} // namespace

llvm::Expected<QuantizedTensor>
mixq::quantizeSqueezeScheme(llvm::StringRef name, llvm::ArrayRef<float> w,
                            int64_t n, int64_t k, const InputStats &stats,
                            const QuantizerOptions &options) {
  if (n <= 0 || k <= 0 || w.size() != uint64_t(n) * k)
    return fail(name, formatv("{0} values for a {1}x{2} weight", w.size(), n,
                              k));
  if (stats.size != k)
    return fail(name, formatv("calibration statistics of width {0} for "
                              "K = {1}",
                              stats.size, k));
  if (options.lutBits != 3 && options.lutBits != 4)
    return fail(name, formatv("LUT bits must be 3 or 4, got {0}",
                              options.lutBits));
  for (float v : w)
    if (!std::isfinite(v))
      return fail(name, "the weight has a non-finite value");
  const int entries = 1 << options.lutBits;
  const uint64_t F = uint64_t(n) * k;

  std::vector<double> moment = stats.secondMoment();
  std::vector<float> s(k);
  for (int64_t c = 0; c < k; ++c)
    s[c] = float(std::max(moment[c], 0.0));

  // Sparse positions: range fences, then the most sensitive values.
  std::vector<uint8_t> outlier(F, 0);
  int64_t fenceCount = std::llround(options.fenceFraction * double(F));
  int64_t sensitiveCount = std::llround(options.sensitiveFraction * double(F));
  if (fenceCount > 0) {
    std::vector<float> key(F);
    for (uint64_t i = 0; i < F; ++i)
      key[i] = std::fabs(w[i]);
    for (int64_t i : topIndices(key, outlier, fenceCount))
      outlier[i] = 1;
  }
  if (sensitiveCount > 0) {
    std::vector<float> key(F);
    for (uint64_t i = 0; i < F; ++i)
      key[i] = s[i % k] * w[i] * w[i];
    for (int64_t i : topIndices(key, outlier, sensitiveCount))
      outlier[i] = 1;
  }

  // Dense part: per-row weighted k-means over the non-outlier values.
  std::vector<uint8_t> codes(F, 0);
  std::vector<float> lut(size_t(n) * entries, 0.0f);
  std::vector<CsrEntry> sparse;
  std::vector<float> values, weights;
  for (int64_t r = 0; r < n; ++r) {
    const float *row = &w[size_t(r) * k];
    values.clear();
    weights.clear();
    for (int64_t c = 0; c < k; ++c)
      if (!outlier[size_t(r) * k + c]) {
        values.push_back(row[c]);
        weights.push_back(s[c]);
      }
    float *table = &lut[size_t(r) * entries];
    if (values.empty()) {
      std::fill(table, table + entries, 0.0f);
    } else {
      auto km = weightedKMeans1D(values, weights, entries);
      if (!km)
        return fail(name, formatv("row {0}: {1}", r,
                                  llvm::toString(km.takeError())));
      for (int e = 0; e < entries; ++e)
        table[e] = roundToF16(km->centroids[e]);
    }
    for (int64_t c = 0; c < k; ++c) {
      size_t at = size_t(r) * k + c;
      uint8_t code = nearest(table, entries, row[c]);
      codes[at] = code;
      if (outlier[at])
        sparse.push_back({r, c, roundToF16(row[c] - table[code])});
    }
  }

  Layout layout;
  layout.scheme = Scheme::Lut;
  layout.bits = {options.lutBits};
  if (!sparse.empty()) {
    layout.outliers = OutlierKind::Csr;
    layout.nnz = int64_t(sparse.size());
  }
  return packLut(name, layout, n, k, codes, lut, sparse);
}
