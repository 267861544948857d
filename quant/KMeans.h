//===- KMeans.h - Weighted 1-D k-means for per-row LUTs ---------*- C++ -*-===//
//
// SqueezeLLM's non-uniform codebook of one output row: k centroids c_j
// minimizing the sensitivity-weighted squared error
//
//     Σ_i  s_i (x_i - c_{a(i)})²        (s_i >= 0, e.g. a Fisher estimate)
//
// Method: the exact optimum by dynamic programming (as Ckmeans.1d.dp, Wang
// and Song 2011). In 1-D an optimal clustering splits the sorted values into
// k contiguous runs, so with D[m][j] = the least error of the first j sorted
// values in m runs,
//
//     D[m][j] = min_{i <= j}  D[m-1][i] + cost(i, j)
//     cost(i, j) = Σ s x² - (Σ s x)² / Σ s   over sorted values [i, j)
//
// (prefix sums of s, s·x, s·x² on values centred by their weighted mean give
// each cost in O(1)). The best i is non-decreasing in j, so each row is
// computed by divide and conquer in O(n log n): O(k n log n) in all, e.g.
// ~1 ms for a 4096-wide row and k = 16.
//
//   centroid   the weighted mean of its run; a run of zero total weight
//              takes its plain mean; an empty run repeats its neighbour
//   assignment each value to the nearest (fp32) centroid, ties to the lower
//              index (which is its run's centroid up to rounding)
//   weights    all zero are treated as all one
//
// Deterministic (no randomness; sorts broken by index). Centroids are
// returned sorted ascending; with fewer distinct values than k some repeat.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_KMEANS_H
#define MIXQ_QUANT_KMEANS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

struct KMeansResult {
  std::vector<float> centroids;    ///< k, ascending
  std::vector<uint8_t> assignment; ///< per value: index into centroids
  double error = 0;                ///< Σ s_i (x_i - c_{a(i)})²
};

/// Weighted 1-D k-means of `values` (weights `weights`, same size, >= 0;
/// empty = all 1). k in 1..256. Fails on mismatched sizes, negative or
/// non-finite weights, non-finite values, or no values.
llvm::Expected<KMeansResult> weightedKMeans1D(llvm::ArrayRef<float> values,
                                              llvm::ArrayRef<float> weights,
                                              int k);

} // namespace mixq

#endif // MIXQ_QUANT_KMEANS_H
