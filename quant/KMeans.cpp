//===- KMeans.cpp - Weighted 1-D k-means for per-row LUTs -----------------===//
//
// The exact optimum by dynamic programming with divide and conquer over the
// sorted values (see KMeans.h).
//
//===----------------------------------------------------------------------===//
#include "quant/KMeans.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

using namespace mixq;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "k-means: " + message);
}

} // namespace

llvm::Expected<KMeansResult>
mixq::weightedKMeans1D(llvm::ArrayRef<float> values,
                       llvm::ArrayRef<float> weights, int k) {
  size_t n = values.size();
  if (n == 0)
    return fail("no values");
  if (k < 1 || k > 256)
    return fail(llvm::formatv("k = {0} is outside 1..256", k));
  if (!weights.empty() && weights.size() != n)
    return fail(llvm::formatv("{0} weights for {1} values", weights.size(), n));
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i]))
      return fail(llvm::formatv("value {0} is not finite", i));
    if (!weights.empty() && !(weights[i] >= 0 && std::isfinite(weights[i])))
      return fail(llvm::formatv("weight {0} is negative or not finite", i));
  }

  // Sorted values with their weights.
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
    return values[a] != values[b] ? values[a] < values[b] : a < b;
  });
  std::vector<double> xs(n), ws(n);
  double total = 0, weighted = 0;
  for (size_t i = 0; i < n; ++i) {
    xs[i] = values[idx[i]];
    ws[i] = weights.empty() ? 1.0 : double(weights[idx[i]]);
    total += ws[i];
    weighted += ws[i] * xs[i];
  }
  if (!(total > 0)) {
    std::fill(ws.begin(), ws.end(), 1.0);
    total = double(n);
    weighted = std::accumulate(xs.begin(), xs.end(), 0.0);
  }
  // Prefix sums on centred values (less cancellation in the costs).
  double shift = weighted / total;
  std::vector<double> pw(n + 1, 0), px(n + 1, 0), pxx(n + 1, 0), praw(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    double x = xs[i] - shift;
    pw[i + 1] = pw[i] + ws[i];
    px[i + 1] = px[i] + ws[i] * x;
    pxx[i + 1] = pxx[i] + ws[i] * x * x;
    praw[i + 1] = praw[i] + x;
  }
  auto cost = [&](size_t i, size_t j) {
    double w = pw[j] - pw[i];
    if (!(w > 0))
      return 0.0;
    double sx = px[j] - px[i];
    return std::max(0.0, (pxx[j] - pxx[i]) - sx * sx / w);
  };

  // D[m][j] for m = 1..k; split[m][j] = start of the last run.
  int runs = int(std::min<size_t>(size_t(k), n));
  std::vector<double> prev(n + 1), cur(n + 1);
  std::vector<std::vector<uint32_t>> split(runs, std::vector<uint32_t>(n + 1));
  for (size_t j = 0; j <= n; ++j) {
    prev[j] = cost(0, j);
    split[0][j] = 0;
  }
  for (int m = 1; m < runs; ++m) {
    std::vector<uint32_t> &s = split[m];
    // Fill cur[j] for j in [jlo, jhi] knowing the best i is in [ilo, ihi].
    std::function<void(size_t, size_t, size_t, size_t)> solve =
        [&](size_t jlo, size_t jhi, size_t ilo, size_t ihi) {
          if (jlo > jhi)
            return;
          size_t j = jlo + (jhi - jlo) / 2;
          size_t best = ilo;
          double bestCost = std::numeric_limits<double>::infinity();
          for (size_t i = ilo; i <= std::min(j, ihi); ++i) {
            double c = prev[i] + cost(i, j);
            if (c < bestCost) {
              bestCost = c;
              best = i;
            }
          }
          cur[j] = bestCost;
          s[j] = uint32_t(best);
          if (j > jlo)
            solve(jlo, j - 1, ilo, best);
          solve(j + 1, jhi, best, ihi);
        };
    solve(0, n, 0, n);
    std::swap(prev, cur);
  }

  // Backtrack the runs, then their centroids.
  std::vector<size_t> bounds(runs + 1);
  bounds[runs] = n;
  for (int m = runs - 1; m >= 0; --m)
    bounds[m] = split[m][bounds[m + 1]];
  std::vector<double> c;
  for (int m = 0; m < runs; ++m) {
    size_t b = bounds[m], e = bounds[m + 1];
    if (b == e)
      continue; // an empty run: repeated below
    double w = pw[e] - pw[b];
    double mean =
        w > 0 ? (px[e] - px[b]) / w : (praw[e] - praw[b]) / double(e - b);
    c.push_back(mean + shift);
  }
  while (c.size() < size_t(k))
    c.push_back(c.back());
  std::sort(c.begin(), c.end());

  KMeansResult result;
  result.centroids.resize(k);
  for (int j = 0; j < k; ++j)
    result.centroids[j] = float(c[j]);
  result.assignment.resize(n);
  for (size_t i = 0; i < n; ++i) {
    float x = values[i];
    // Nearest stored (fp32) centroid, ties to the lower index.
    auto it =
        std::lower_bound(result.centroids.begin(), result.centroids.end(), x);
    size_t hi = std::min<size_t>(it - result.centroids.begin(), k - 1);
    size_t lo = hi > 0 ? hi - 1 : 0;
    // Among equal centroids take the first.
    while (lo > 0 && result.centroids[lo - 1] == result.centroids[lo])
      --lo;
    size_t a = std::fabs(double(x) - result.centroids[lo]) <=
                       std::fabs(double(x) - result.centroids[hi])
                   ? lo
                   : hi;
    while (a > 0 && result.centroids[a - 1] == result.centroids[a])
      --a;
    result.assignment[i] = uint8_t(a);
    double d = double(x) - result.centroids[a];
    result.error += (weights.empty() ? 1.0 : double(weights[i])) * d * d;
  }
  return result;
}
