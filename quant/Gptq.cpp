//===- Gptq.cpp - GPTQ with pluggable column quantizers -------------------===//
//
// The Hessian factorization (double), the blocked error-feedback sweep over
// Wᵀ (float, contiguous rows of N) and the uniform-grid column quantizer.
// See Gptq.h for the math.
//
//===----------------------------------------------------------------------===//
#include "quant/Gptq.h"

#include "model/Dequantize.h"
#include "quant/Pack.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// In-place lower Cholesky factor of the symmetric K x K matrix `a` (only its
/// lower triangle is read and written). False when not positive definite.
bool choleskyLower(std::vector<double> &a, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    double *ri = &a[i * k];
    for (int64_t j = 0; j <= i; ++j) {
      const double *rj = &a[j * k];
      double sum = ri[j];
      for (int64_t t = 0; t < j; ++t)
        sum -= ri[t] * rj[t];
      if (i == j) {
        if (!(sum > 0) || !std::isfinite(sum))
          return false;
        ri[i] = std::sqrt(sum);
      } else {
        ri[j] = sum / rj[j];
      }
    }
  }
  return true;
}

/// U (upper, H⁻¹ = UᵀU) from the lower Cholesky factor L of H.
bool upperFactorOfInverse(const std::vector<double> &l, int64_t k,
                          std::vector<float> &u) {
  // X = L⁻¹ (lower), kept as XT = Xᵀ (upper): column c of X solves L x = e_c.
  std::vector<double> xt(size_t(k) * k, 0.0);
  std::vector<double> x(k);
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t i = c; i < k; ++i) {
      const double *li = &l[i * k];
      double sum = i == c ? 1.0 : 0.0;
      for (int64_t t = c; t < i; ++t)
        sum -= li[t] * x[t];
      x[i] = sum / li[i];
    }
    std::copy(x.begin() + c, x.end(), xt.begin() + c * k + c);
  }
  // H⁻¹ = XᵀX, lower triangle: Hinv[a][b] = Σ_{t >= a} XT[a][t] XT[b][t].
  std::vector<double> hinv(size_t(k) * k, 0.0);
  for (int64_t a = 0; a < k; ++a) {
    const double *ra = &xt[a * k];
    for (int64_t b = 0; b <= a; ++b) {
      const double *rb = &xt[b * k];
      double sum = 0;
      for (int64_t t = a; t < k; ++t)
        sum += ra[t] * rb[t];
      hinv[a * k + b] = sum;
    }
  }
  if (!choleskyLower(hinv, k))
    return false;
  u.assign(size_t(k) * k, 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i; j < k; ++j)
      u[i * k + j] = float(hinv[j * k + i]);
  return true;
}

} // namespace

GptqColumnQuantizer::~GptqColumnQuantizer() = default;

llvm::Expected<GptqFactor> mixq::factorGptq(llvm::ArrayRef<double> h, int64_t k,
                                            const GptqOptions &options) {
  if (k <= 0 || h.size() != uint64_t(k) * k)
    return fail(formatv("GPTQ: the Hessian has {0} entries, expected {1}x{1}",
                        h.size(), k));
  for (double v : h)
    if (!std::isfinite(v))
      return fail("GPTQ: the Hessian has a non-finite entry");
  if (!(options.percdamp >= 0))
    return fail(
        formatv("GPTQ: dampening {0} must not be negative", options.percdamp));
  GptqFactor f;
  f.size = k;
  f.dead.assign(k, 0);
  std::vector<double> diag(k);
  for (int64_t c = 0; c < k; ++c) {
    diag[c] = h[c * k + c];
    if (!(diag[c] > 0)) {
      f.dead[c] = 1;
      diag[c] = 1;
    }
  }
  if (!options.order.empty()) {
    if (options.order.size() != uint64_t(k))
      return fail(formatv("GPTQ: the sweep order has {0} columns, expected {1}",
                          options.order.size(), k));
    std::vector<uint8_t> seen(k, 0);
    for (int64_t c : options.order) {
      if (c < 0 || c >= k || seen[c])
        return fail("GPTQ: the sweep order is not a permutation of the "
                    "columns");
      seen[c] = 1;
    }
    f.order = options.order;
  } else {
    f.order.resize(k);
    std::iota(f.order.begin(), f.order.end(), 0);
    if (options.actOrder)
      std::sort(f.order.begin(), f.order.end(), [&](int64_t a, int64_t b) {
        return diag[a] != diag[b] ? diag[a] > diag[b] : a < b; // stable
      });
  }
  double mean = std::accumulate(diag.begin(), diag.end(), 0.0) / double(k);

  double percdamp = options.percdamp;
  for (int attempt = 0; attempt <= 6; ++attempt, percdamp *= 10) {
    double damp = percdamp * mean;
    std::vector<double> a(size_t(k) * k);
    for (int64_t p = 0; p < k; ++p) {
      int64_t cp = f.order[p];
      for (int64_t q = 0; q <= p; ++q) {
        int64_t cq = f.order[q];
        double v = p == q ? diag[cp] + damp
                   : (f.dead[cp] || f.dead[cq])
                       ? 0.0
                       : 0.5 * (h[cp * k + cq] + h[cq * k + cp]);
        a[p * k + q] = v;
      }
    }
    if (!choleskyLower(a, k))
      continue;
    if (!upperFactorOfInverse(a, k, f.u))
      continue;
    f.percdamp = percdamp;
    return f;
  }
  return fail(formatv("GPTQ: the Hessian stays indefinite with dampening up "
                      "to {0} of its mean diagonal",
                      options.percdamp * 1e6));
}

llvm::Expected<GptqResult> mixq::runGptq(llvm::ArrayRef<float> w, int64_t n,
                                         int64_t k, const GptqFactor &factor,
                                         GptqColumnQuantizer &quantizer,
                                         const GptqOptions &options) {
  if (n <= 0 || k <= 0 || w.size() != uint64_t(n) * k)
    return fail(
        formatv("GPTQ: {0} weights for a {1}x{2} matrix", w.size(), n, k));
  if (factor.size != k)
    return fail(formatv("GPTQ: the Hessian factor is for K = {0}, the matrix "
                        "has K = {1}",
                        factor.size, k));
  int64_t gs = quantizer.groupSize();
  if (gs < 0 || (gs > 0 && k % gs != 0))
    return fail(formatv("GPTQ: group size {0} does not divide K = {1}", gs, k));
  const std::vector<int64_t> &order = factor.order;
  bool identity = true;
  for (int64_t p = 0; p < k; ++p)
    identity &= order[p] == p;
  bool dynamic = identity && !options.staticGroups && gs > 0;

  // Wᵀ in sweep order: row p holds the N values of original column order[p].
  std::vector<float> wt(size_t(k) * n);
  std::vector<int64_t> position(k);
  for (int64_t p = 0; p < k; ++p) {
    int64_t c = order[p];
    position[c] = p;
    float *row = &wt[size_t(p) * n];
    for (int64_t r = 0; r < n; ++r)
      row[r] = factor.dead[c] ? 0.0f : w[size_t(r) * k + c];
  }
  auto column = [&](int64_t c) -> llvm::ArrayRef<float> {
    return llvm::ArrayRef<float>(&wt[size_t(position[c]) * n], n);
  };
  if (!dynamic) {
    int64_t groups = gs ? k / gs : 1;
    for (int64_t g = 0; g < groups; ++g)
      quantizer.beginGroup(g, column);
  }

  int64_t block = std::max<int64_t>(1, options.blockSize);
  if (dynamic)
    block = std::max(gs, block / gs * gs); // every group inside one block

  GptqResult result;
  result.dequantized.assign(size_t(n) * k, 0.0f);
  std::vector<float> q(n);
  std::vector<float> err(size_t(block) * n);
  const float *u = factor.u.data();
  for (int64_t i1 = 0; i1 < k; i1 += block) {
    int64_t i2 = std::min(k, i1 + block);
    for (int64_t p = i1; p < i2; ++p) {
      int64_t c = order[p];
      if (dynamic && c % gs == 0)
        quantizer.beginGroup(c / gs, column);
      float *wp = &wt[size_t(p) * n];
      quantizer.quantizeColumn(c, llvm::ArrayRef<float>(wp, n), q);
      float d = u[p * k + p];
      float *e = &err[size_t(p - i1) * n];
      double loss = 0;
      for (int64_t r = 0; r < n; ++r) {
        float diff = wp[r] - q[r];
        e[r] = diff / d;
        loss += double(diff) * diff;
        result.dequantized[size_t(r) * k + c] = q[r];
      }
      result.loss += loss / (2.0 * double(d) * d);
      // Eager updates inside the block.
      for (int64_t j = p + 1; j < i2; ++j) {
        float f = u[p * k + j];
        if (f == 0.0f)
          continue;
        float *wj = &wt[size_t(j) * n];
        for (int64_t r = 0; r < n; ++r)
          wj[r] -= f * e[r];
      }
    }
    // Lazy update of the later columns: W[:, i2:] -= Err · U[i1:i2, i2:].
    for (int64_t j = i2; j < k; ++j) {
      float *wj = &wt[size_t(j) * n];
      for (int64_t p = i1; p < i2; ++p) {
        float f = u[p * k + j];
        if (f == 0.0f)
          continue;
        const float *e = &err[size_t(p - i1) * n];
        for (int64_t r = 0; r < n; ++r)
          wj[r] -= f * e[r];
      }
    }
  }
  return result;
}

// Uniform GPTQ
// ------------------------------------------------------------===//

namespace {

/// Quantizes columns onto the uniform grid of quant/Rtn.h, one scale (and
/// zero) per row-group, chosen when the group begins.
class UniformColumnQuantizer : public GptqColumnQuantizer {
public:
  UniformColumnQuantizer(const Layout &layout, int64_t n, int64_t k,
                         StoredScales stored)
      : layout(layout), n(n), k(k), bits(layout.bits[0]),
        gs(layout.group ? layout.group : k), groupsPerRow(k / gs),
        stored(std::move(stored)), scale(size_t(n) * groupsPerRow),
        zero(size_t(n) * groupsPerRow), codes(size_t(n) * k) {}

  int64_t groupSize() const override { return layout.group; }

  void beginGroup(
      int64_t g,
      llvm::function_ref<llvm::ArrayRef<float>(int64_t)> column) override {
    std::vector<GroupRange> ranges(n);
    for (int64_t c = g * gs; c < (g + 1) * gs; ++c) {
      llvm::ArrayRef<float> v = column(c);
      for (int64_t r = 0; r < n; ++r)
        ranges[r].add(v[r]);
    }
    for (int64_t r = 0; r < n; ++r) {
      size_t gi = size_t(r) * groupsPerRow + g;
      float s =
          stored.store(gi, uniformScale(ranges[r], bits, layout.asymmetric));
      scale[gi] = s;
      zero[gi] = uniformZero(ranges[r], s, bits, layout.asymmetric);
    }
  }

  void quantizeColumn(int64_t col, llvm::ArrayRef<float> values,
                      llvm::MutableArrayRef<float> out) override {
    int64_t g = col / gs;
    for (int64_t r = 0; r < n; ++r) {
      size_t gi = size_t(r) * groupsPerRow + g;
      uint8_t c = uniformCode(values[r], scale[gi], zero[gi], bits);
      codes[size_t(r) * k + col] = c;
      out[r] = uniformValue(c, zero[gi], scale[gi]);
    }
  }

  const Layout &layout;
  int64_t n, k, bits, gs, groupsPerRow;
  StoredScales stored;
  std::vector<float> scale;
  std::vector<int32_t> zero;
  std::vector<uint8_t> codes;
};

} // namespace

llvm::Expected<QuantResult>
mixq::quantizeGptq(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                   int64_t k, const GptqFactor &factor, const Layout &layout,
                   const GptqOptions &options) {
  auto failHere = [&](const llvm::Twine &message) {
    return fail("GPTQ of '" + name + "': " + message);
  };
  if (layout.scheme != Scheme::Uniform)
    return failHere("needs a 'uniform' layout, got '" + formatLayout(layout) +
                    "'");
  if (auto e = verifyLayoutForShape(layout, n, k))
    return failHere(llvm::toString(std::move(e)));
  if (w.size() != uint64_t(n) * k)
    return failHere(formatv("{0} values for a {1}x{2} matrix", w.size(), n, k));

  // The stored-scale container; second-order scales get their (step, min)
  // grid from RTN's scales of the original W.
  int64_t gs = layout.group ? layout.group : k;
  int64_t groupsPerRow = k / gs;
  std::vector<float> rtnScales(size_t(n) * groupsPerRow);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < groupsPerRow; ++g) {
      GroupRange range;
      for (int64_t c = g * gs; c < (g + 1) * gs; ++c)
        if (!factor.dead[c])
          range.add(w[size_t(r) * k + c]);
      rtnScales[size_t(r) * groupsPerRow + g] =
          uniformScale(range, layout.bits[0], layout.asymmetric);
    }
  UniformColumnQuantizer quantizer(layout, n, k,
                                   storeScales(layout, rtnScales));
  auto run = runGptq(w, n, k, factor, quantizer, options);
  if (!run)
    return failHere(llvm::toString(run.takeError()));
  std::vector<uint8_t> zeros;
  if (layout.asymmetric)
    for (int32_t z : quantizer.zero)
      zeros.push_back(uint8_t(z));
  auto tensor =
      packUniform(name, layout, n, k, quantizer.codes, quantizer.stored, zeros);
  if (!tensor)
    return tensor.takeError();
  QuantResult result;
  result.tensor = std::move(*tensor);
  result.dequantized = std::move(run->dequantized);
  return result;
}

llvm::Expected<QuantResult>
mixq::quantizeGptq(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                   int64_t k, llvm::ArrayRef<double> h, const Layout &layout,
                   const GptqOptions &options) {
  auto factor = factorGptq(h, k, options);
  if (!factor)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "GPTQ of '" + name + "': " + llvm::toString(factor.takeError()));
  return quantizeGptq(name, w, n, k, *factor, layout, options);
}
