//===- MixedAllocation.cpp - Tile-group precisions of the 2/4/16 scheme ---===//
//
// Shape fallback and the exact-accounting greedy allocation; see
// MixedAllocation.h for the rules.
//
//===----------------------------------------------------------------------===//
#include "quant/MixedAllocation.h"

#include "quant/Quantizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

using namespace mixq;
using llvm::formatv;

llvm::Error mixq::mixedError(llvm::StringRef name,
                             const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "mixed quantization of '" + name +
                                     "': " + message);
}

llvm::Expected<MixedShape> mixq::chooseMixedShape(llvm::StringRef name,
                                                  int64_t n, int64_t k,
                                                  int64_t group, int64_t tile) {
  if (n <= 0 || k <= 0)
    return mixedError(name, formatv("weight shape {0}x{1} must be positive", n, k));
  if (group <= 0 || tile <= 0 || tile % 16 != 0)
    return mixedError(name, formatv("group {0} and tile {1} must be positive, the "
                              "tile a multiple of 16",
                              group, tile));
  if (n % 16 != 0)
    return mixedError(name, formatv("N = {0} is not a multiple of 16 rows, so no "
                              "tile-group layout fits it",
                              n));
  MixedShape s;
  s.group = fittingGroup(group, k);
  s.tile = std::min(tile, n) / 16 * 16;
  while (n % s.tile != 0)
    s.tile -= 16;
  return s;
}

Layout mixq::mixedLayout(const MixedShape &shape,
                         const QuantizerOptions &options, int64_t slots,
                         int64_t alloc2, int64_t alloc4, int64_t alloc16) {
  Layout l;
  l.scheme = Scheme::Mixed;
  l.bits = {2, 4, 16};
  l.group = shape.group;
  l.tile = shape.tile;
  l.asymmetric = true;
  l.scaleBits = options.mixedScaleBits;
  l.scaleBlock = options.mixedScaleBits ? options.mixedScaleBlock : 0;
  slots = std::clamp<int64_t>(slots, 0, shape.group);
  l.outliers = slots > 0 ? OutlierKind::Slots : OutlierKind::None;
  l.slots = slots;
  l.alloc = {alloc2, alloc4, alloc16};
  return l;
}

llvm::Expected<std::vector<uint8_t>>
mixq::allocateMixedBudget(llvm::StringRef name, const Layout &base, int64_t n,
                          int64_t k, llvm::ArrayRef<double> e2,
                          llvm::ArrayRef<double> e4, double bpw,
                          double maxFp16Share) {
  int64_t T = int64_t(e2.size());
  if (e4.size() != e2.size())
    return mixedError(name, "sensitivities of mismatched sizes");
  Layout l = base;
  auto total = [&](int64_t a2, int64_t a4, int64_t a16) -> uint64_t {
    l.alloc = {a2, a4, a16};
    auto s = storageBits(l, n, k);
    if (!s) {
      llvm::consumeError(s.takeError());
      return UINT64_MAX;
    }
    return s->total();
  };
  double budgetD = std::floor(bpw * double(n) * double(k));
  uint64_t budget = budgetD < 0 ? 0 : uint64_t(budgetD);
  uint64_t floor2 = total(T, 0, 0);
  if (floor2 == UINT64_MAX)
    return mixedError(name, "the layout does not fit the weight");
  if (floor2 > budget)
    return mixedError(name, formatv("the target of {0} bits per weight is below the "
                              "2-bit floor of this layout ({1:F3}: codes, "
                              "scales, zeros, maps and outlier slots)",
                              bpw, double(floor2) / (double(n) * k)));
  // Marginal costs (for the ratios only; the budget check is exact).
  double cost4 = double(total(T - 1, 1, 0)) - double(floor2);
  double cost16 = double(total(T - 1, 0, 1)) - double(floor2);
  cost4 = std::max(cost4, 1.0);
  cost16 = std::max(cost16, cost4 + 1.0);
  int64_t maxFp16 = int64_t(std::ceil(maxFp16Share * double(T)));

  struct Upgrade {
    double ratio;
    int64_t tile;
    uint8_t from, to;
    bool operator<(const Upgrade &o) const {
      return ratio != o.ratio ? ratio < o.ratio : tile > o.tile;
    }
  };
  std::priority_queue<Upgrade> heap;
  for (int64_t t = 0; t < T; ++t) {
    heap.push({(e2[t] - e4[t]) / cost4, t, 0, 1});
    if (maxFp16 > 0)
      heap.push({e2[t] / cost16, t, 0, 2});
  }
  std::vector<uint8_t> precision(T, 0);
  int64_t count[3] = {T, 0, 0};
  while (!heap.empty()) {
    Upgrade u = heap.top();
    heap.pop();
    if (precision[u.tile] != u.from)
      continue;
    if (u.to == 2 && count[2] >= maxFp16)
      continue;
    int64_t next[3] = {count[0], count[1], count[2]};
    --next[u.from];
    ++next[u.to];
    if (total(next[0], next[1], next[2]) > budget)
      continue;
    std::copy(next, next + 3, count);
    precision[u.tile] = u.to;
    if (u.to == 1 && maxFp16 > 0)
      heap.push({e4[u.tile] / (cost16 - cost4), u.tile, 1, 2});
  }
  return precision;
}

std::vector<uint8_t> mixq::allocateMixedFractions(llvm::ArrayRef<double> e2,
                                                  llvm::ArrayRef<double> e4,
                                                  double share4,
                                                  double share16) {
  int64_t T = int64_t(e2.size());
  int64_t n16 = std::clamp<int64_t>(std::llround(share16 * T), 0, T);
  int64_t n4 = std::clamp<int64_t>(std::llround(share4 * T), 0, T - n16);
  std::vector<uint8_t> precision(T, 0);
  std::vector<int64_t> order(T);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return e4[a] > e4[b]; });
  for (int64_t i = 0; i < n16; ++i)
    precision[order[i]] = 2;
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return e2[a] - e4[a] > e2[b] - e4[b];
  });
  for (int64_t i = 0, taken = 0; i < T && taken < n4; ++i)
    if (precision[order[i]] == 0) {
      precision[order[i]] = 1;
      ++taken;
    }
  return precision;
}
