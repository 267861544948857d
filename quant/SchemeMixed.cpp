//===- SchemeMixed.cpp - The 2/4/16 mixed scheme (Li et al., ICCAD'24) ----===//
//
// One N x K weight into `mixed, bits = [2, 4, 16]` (model/Layout.h):
//
// 1. Shape: group = options.mixedGroup, tile = options.tile, or the largest
//    valid divisors below them (quant/MixedAllocation.h).
// 2. Sensitivity. d_k = E[x_k²] (stats.secondMoment(), the diagonal of the
//    GPTQ Hessian up to a factor 2) plus a floor of `damp` x its mean, so
//    dead inputs still get a sane grid. Every row-group (one row, one group)
//    gets its best asymmetric grid w = (code - zero) * scale, zero an integer
//    code, minimizing the d-weighted error Σ_k d_k (w_k - Q(w_k))²: the
//    scale is searched over the group's range (extended to contain 0)
//    shrunk by 1.00, 0.95, ..., 0.50 (clipping), with the best zeros near
//    -lo/scale. For 2-bit row-groups the `slots` exclusive outliers are
//    chosen first, greedily one at a time: among the group's current min,
//    its max and the element with the largest d-weighted error under the
//    current grid, the one whose removal gives the least error of the
//    refitted grid; removed elements do not count in the group's range (so
//    they do not blow the scale). E2 (2-bit, after slots) and E4 of a
//    tile-group are the sums over its rows: the "range variation" of a
//    group enters through its own range in both (E ∝ d · range²).
// 3. Allocation: exact-accounting greedy to options.bpw (<= target, within
//    one 2->4 promotion), done for every slot count 0..options.slots that
//    fits, keeping the least estimated error (slots cost 0.375 bpw at group
//    64, more than they save at tight targets); or options.fractions when
//    bpw = 0 (with options.slots). See quant/MixedAllocation.h.
// 4. Scales second-order (options.mixedScaleBits per scale, FP16 step/min
//    per options.mixedScaleBlock scales, in the package's precision-major
//    row-group order); then each row-group re-picks, on its block's grid,
//    the scale code (nearest ±2) and zero point with the least d-weighted
//    error, so the rounding of the scale is compensated by the zero.
// 5. GPTQ under this allocation with static groups (the scales and zeros
//    above, from the original W), options.damp / actOrder / gptqBlock:
//    2/4-bit columns are rounded on their row-group's stored grid; a slot
//    position keeps the code and stores the residual w - dequant(code) as
//    F16 (dequant adds it, reproducing w to F16 precision); FP16 tile-groups
//    store w rounded to F16.
// 6. packMixed.
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"
#include "model/Dequantize.h"
#include "quant/Gptq.h"
#include "quant/MixedAllocation.h"
#include "quant/Pack.h"
#include "quant/Quantizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mixq;
using llvm::formatv;

namespace {

/// Round to nearest, ties to even (the default FP mode), as nearbyint for
/// |v| < 2^22; callers clamp first.
inline float roundEven(float v) {
  const float magic = 12582912.0f; // 1.5 * 2^23
  float t = v + magic; // not folded: no fast-math in this project
  return t - magic;
}

/// Σ d (x - Q(x))² over the non-skipped elements of one row-group, with the
/// exact arithmetic of uniformCode/uniformValue.
double gridError(const float *x, const float *d, int64_t count,
                 const uint8_t *skip, float scale, int32_t zero, int maxCode) {
  double err = 0;
  if (!(scale > 0)) {
    for (int64_t j = 0; j < count; ++j)
      if (!skip || !skip[j])
        err += double(d[j]) * double(x[j]) * double(x[j]);
    return err;
  }
  float fz = float(zero), fm = float(maxCode);
  for (int64_t j = 0; j < count; ++j) {
    if (skip && skip[j])
      continue;
    float q = std::clamp(x[j] / scale, -1.0e6f, 1.0e6f);
    q = std::clamp(roundEven(q) + fz, 0.0f, fm);
    float v = (q - fz) * scale;
    float diff = x[j] - v;
    err += double(d[j]) * double(diff) * double(diff);
  }
  return err;
}

struct Grid {
  float scale = 0;
  int32_t zero = 0;
  double err = 0;
};

/// The d-weighted best grid of a row-group (see the header comment).
Grid fitGrid(const float *x, const float *d, int64_t count,
             const uint8_t *skip, int bits) {
  int maxCode = (1 << bits) - 1;
  float lo = 0, hi = 0;
  for (int64_t j = 0; j < count; ++j)
    if (!skip || !skip[j]) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
  Grid best;
  if (!(hi - lo > 0)) {
    best.err = gridError(x, d, count, skip, 0, 0, maxCode);
    return best;
  }
  best.err = INFINITY;
  for (int i = 0; i <= 10; ++i) {
    float f = 1.0f - 0.05f * float(i);
    float s = (hi - lo) * f / float(maxCode);
    if (!(s > 0))
      continue;
    int32_t z0 = int32_t(std::clamp(std::nearbyint(-lo * f / s), 0.0f,
                                    float(maxCode)));
    for (int32_t z = std::max(0, z0 - 1); z <= std::min(maxCode, z0 + 1);
         ++z) {
      double e = gridError(x, d, count, skip, s, z, maxCode);
      if (e < best.err) {
        best.scale = s;
        best.zero = z;
        best.err = e;
      }
    }
  }
  return best;
}

/// Picks up to `slots` exclusive outliers of a 2-bit row-group greedily (in
/// `chosen`, in the order picked) and returns the grid of the rest for every
/// slot count 0..slots (grids[s] excludes chosen[0..s)).
void fitTwoBitWithSlots(const float *x, const float *d, int64_t count,
                        int64_t slots, uint8_t *skip,
                        std::vector<uint16_t> &chosen,
                        std::vector<Grid> &grids) {
  std::fill(skip, skip + count, 0);
  chosen.clear();
  grids.clear();
  Grid grid = fitGrid(x, d, count, skip, 2);
  grids.push_back(grid);
  for (int64_t s = 0; s < slots; ++s) {
    int64_t lo = -1, hi = -1, worst = -1;
    double worstErr = -1;
    for (int64_t j = 0; j < count; ++j) {
      if (skip[j])
        continue;
      if (lo < 0 || x[j] < x[lo])
        lo = j;
      if (hi < 0 || x[j] > x[hi])
        hi = j;
      double e = gridError(x + j, d + j, 1, nullptr, grid.scale, grid.zero, 3);
      if (e > worstErr) {
        worstErr = e;
        worst = j;
      }
    }
    if (lo < 0) { // every element is a slot already (slots == group)
      grids.push_back(grid);
      for (int64_t j = 0; j < count; ++j)
        if (std::find(chosen.begin(), chosen.end(), j) == chosen.end()) {
          chosen.push_back(uint16_t(j));
          break;
        }
      continue;
    }
    int64_t best = -1;
    Grid bestGrid;
    bestGrid.err = INFINITY;
    for (int64_t c : {lo, hi, worst}) {
      if (c == best)
        continue;
      skip[c] = 1;
      Grid g = fitGrid(x, d, count, skip, 2);
      skip[c] = 0;
      if (g.err < bestGrid.err) {
        bestGrid = g;
        best = c;
      }
    }
    skip[best] = 1;
    chosen.push_back(uint16_t(best));
    grid = bestGrid;
    grids.push_back(grid);
  }
}

/// GPTQ's per-column quantizer under a fixed allocation and fixed grids.
class MixedColumnQuantizer : public GptqColumnQuantizer {
public:
  MixedColumnQuantizer(const MixedPlan &plan, int64_t slots,
                       const std::vector<float> &scale,
                       const std::vector<int32_t> &zero,
                       const std::vector<uint16_t> &slotIndex)
      : plan(plan), n(plan.rows), k(plan.cols), G(plan.group), slots(slots),
        scale(scale), zero(zero), slotIndex(slotIndex),
        codes(size_t(n) * k, 0), slotValue(slotIndex.size(), 0.0f) {
    for (size_t q = 0; q < plan.bits.size(); ++q)
      hasFp16 |= plan.bits[q] == 16 && plan.count[q] > 0;
    if (hasFp16)
      fp16.assign(size_t(n) * k, 0.0f);
  }

  int64_t groupSize() const override { return G; }

  void quantizeColumn(int64_t col, llvm::ArrayRef<float> values,
                      llvm::MutableArrayRef<float> out) override {
    int64_t g = col / G, inGroup = col % G;
    for (int64_t r = 0; r < n; ++r) {
      size_t at = size_t(r) * k + col;
      int64_t b = plan.precisionBits(r, g);
      if (b == 16) {
        float v = roundToF16(values[r]);
        fp16[at] = v;
        out[r] = v;
        continue;
      }
      int64_t rg = plan.quantRowGroup(r, g);
      uint8_t c = uniformCode(values[r], scale[rg], zero[rg], b);
      codes[at] = c;
      float v = uniformValue(c, zero[rg], scale[rg]);
      if (b == 2 && slots > 0) {
        size_t base = size_t(plan.twoBitRowGroup(r, g)) * slots;
        for (int64_t i = 0; i < slots; ++i)
          if (slotIndex[base + i] == inGroup) {
            float residual = roundToF16(values[r] - v);
            slotValue[base + i] = residual;
            v = v + residual;
            break;
          }
      }
      out[r] = v;
    }
  }

  const MixedPlan &plan;
  int64_t n, k, G, slots;
  const std::vector<float> &scale;
  const std::vector<int32_t> &zero;
  const std::vector<uint16_t> &slotIndex;
  bool hasFp16 = false;
  std::vector<uint8_t> codes;
  std::vector<float> fp16;
  std::vector<float> slotValue;
};

} // namespace

llvm::Expected<QuantizedTensor>
mixq::quantizeMixedScheme(llvm::StringRef name, llvm::ArrayRef<float> w,
                          int64_t n, int64_t k, const InputStats &stats,
                          const QuantizerOptions &options) {
  if (w.size() != uint64_t(n) * k)
    return mixedError(name, formatv("{0} values for a {1}x{2} weight", w.size(), n,
                              k));
  if (stats.size != k || stats.gram.size() != uint64_t(k) * k)
    return mixedError(name, formatv("calibration statistics of width {0} for "
                              "K = {1}",
                              stats.size, k));
  auto shapeOr = chooseMixedShape(name, n, k, options.mixedGroup, options.tile);
  if (!shapeOr)
    return shapeOr.takeError();
  MixedShape shape = *shapeOr;
  const int64_t G = shape.group, tile = shape.tile, GPR = k / G;
  const int64_t rowBlocks = n / tile, T = rowBlocks * GPR;
  const int64_t maxSlots = std::clamp<int64_t>(options.slots, 0, G);
  if (auto e = verifyLayoutForShape(mixedLayout(shape, options, maxSlots, T,
                                                0, 0),
                                    n, k))
    return mixedError(name, llvm::toString(std::move(e)));

  // Sensitivity weights d_k = E[x_k²] + damp * mean.
  std::vector<double> moment = stats.secondMoment();
  double mean = 0;
  for (double m : moment)
    mean += std::max(m, 0.0);
  mean /= double(k);
  if (!(mean > 0))
    mean = 1;
  std::vector<float> d(k);
  for (int64_t c = 0; c < k; ++c)
    d[c] = float(std::max(moment[c], 0.0) + options.damp * mean);

  // Per row-group grids: 2-bit for every slot count, 4-bit without slots.
  const int64_t rowGroups = n * GPR;
  const int64_t S1 = maxSlots + 1;
  std::vector<Grid> fit2(size_t(rowGroups) * S1), fit4(rowGroups);
  std::vector<uint16_t> slotOf(size_t(rowGroups) * maxSlots, 0);
  std::vector<uint8_t> skip(G);
  std::vector<uint16_t> chosen;
  std::vector<Grid> grids;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < GPR; ++g) {
      const float *x = &w[size_t(r) * k + g * G];
      const float *dg = &d[g * G];
      int64_t rg = r * GPR + g;
      fitTwoBitWithSlots(x, dg, G, maxSlots, skip.data(), chosen, grids);
      std::copy(grids.begin(), grids.end(), fit2.begin() + size_t(rg) * S1);
      std::copy(chosen.begin(), chosen.end(),
                slotOf.begin() + size_t(rg) * maxSlots);
      fit4[rg] = fitGrid(x, dg, G, nullptr, 4);
    }
  std::vector<double> e4(T, 0.0);
  std::vector<std::vector<double>> e2(S1, std::vector<double>(T, 0.0));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < GPR; ++g) {
      int64_t t = (r / tile) * GPR + g, rg = r * GPR + g;
      e4[t] += fit4[rg].err;
      for (int64_t s = 0; s < S1; ++s)
        e2[s][t] += fit2[size_t(rg) * S1 + s].err;
    }

  // Allocation, for each slot count; the least estimated error wins.
  std::vector<uint8_t> precision;
  int64_t slots = maxSlots;
  if (options.bpw > 0) {
    double bestErr = INFINITY;
    for (int64_t s = maxSlots; s >= 0; --s) {
      auto alloc = allocateMixedBudget(name, mixedLayout(shape, options, s, T,
                                                         0, 0),
                                       n, k, e2[s], e4, options.bpw);
      if (!alloc) {
        if (s == 0 && precision.empty())
          return alloc.takeError(); // below even the slot-free floor
        llvm::consumeError(alloc.takeError());
        continue;
      }
      double err = 0;
      for (int64_t t = 0; t < T; ++t)
        err += (*alloc)[t] == 0 ? e2[s][t] : (*alloc)[t] == 1 ? e4[t] : 0.0;
      if (err < bestErr) {
        bestErr = err;
        precision = std::move(*alloc);
        slots = s;
      }
    }
  } else {
    if (options.fractions.size() != 2)
      return mixedError(name, "bpw = 0 needs fractions {4-bit share, FP16 share}");
    precision = allocateMixedFractions(e2[maxSlots], e4, options.fractions[0],
                                       options.fractions[1]);
  }
  int64_t alloc[3] = {0, 0, 0};
  for (uint8_t p : precision)
    ++alloc[p];
  Layout layout =
      mixedLayout(shape, options, slots, alloc[0], alloc[1], alloc[2]);
  auto planOr = MixedPlan::build(layout, n, k, precision);
  if (!planOr)
    return mixedError(name, llvm::toString(planOr.takeError()));
  const MixedPlan &plan = *planOr;

  // Second-order scales in the package's row-group order, then the best
  // stored (scale code, zero) per row-group.
  int64_t quantRowGroups = plan.quantRowGroups();
  std::vector<float> fpScales(quantRowGroups, 0.0f);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < GPR; ++g) {
      int64_t rg = plan.quantRowGroup(r, g);
      if (rg >= 0)
        fpScales[rg] = plan.precisionBits(r, g) == 2
                           ? fit2[size_t(r * GPR + g) * S1 + slots].scale
                           : fit4[r * GPR + g].scale;
    }
  StoredScales stored =
      layout.scaleBits ? quantizeScales(fpScales, layout.scaleBits,
                                        layout.scaleBlock)
                       : storeScalesF16(fpScales);
  std::vector<float> scale(quantRowGroups, 0.0f);
  std::vector<int32_t> zero(quantRowGroups, 0);
  std::vector<uint16_t> slotIndex(size_t(plan.twoBitRowGroups()) * slots, 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < GPR; ++g) {
      int64_t rg = plan.quantRowGroup(r, g);
      if (rg < 0)
        continue;
      int64_t b = plan.precisionBits(r, g);
      int maxCode = (1 << b) - 1;
      const float *x = &w[size_t(r) * k + g * G];
      const float *dg = &d[g * G];
      std::fill(skip.begin(), skip.end(), 0);
      if (b == 2) {
        int64_t two = plan.twoBitRowGroup(r, g);
        for (int64_t i = 0; i < slots; ++i) {
          uint16_t idx = slotOf[size_t(r * GPR + g) * maxSlots + i];
          slotIndex[size_t(two) * slots + i] = idx;
          skip[idx] = 1;
        }
      }
      std::vector<int64_t> candidates;
      if (stored.bits) {
        int64_t maxScaleCode = (int64_t(1) << stored.bits) - 1;
        int64_t c0 = stored.nearestCode(rg / stored.block, fpScales[rg]);
        for (int64_t c = std::max<int64_t>(0, c0 - 2);
             c <= std::min(maxScaleCode, c0 + 2); ++c)
          candidates.push_back(c);
      } else {
        candidates.push_back(-1);
      }
      double bestErr = INFINITY;
      int64_t bestCode = candidates.front();
      int32_t bestZero = 0;
      for (int64_t c : candidates) {
        if (c >= 0)
          stored.codes[rg] = uint8_t(c);
        float s = stored.value(rg);
        for (int32_t z = 0; z <= maxCode; ++z) {
          double e = gridError(x, dg, G, skip.data(), s, z, maxCode);
          if (e < bestErr) {
            bestErr = e;
            bestCode = c;
            bestZero = z;
          }
        }
      }
      if (bestCode >= 0)
        stored.codes[rg] = uint8_t(bestCode);
      scale[rg] = stored.value(rg);
      zero[rg] = bestZero;
    }

  // GPTQ under the allocation (static groups).
  GptqOptions gopt;
  gopt.percdamp = options.damp;
  gopt.blockSize = options.gptqBlock;
  gopt.actOrder = options.actOrder;
  gopt.staticGroups = true;
  auto factor = factorGptq(stats.hessian(), k, gopt);
  if (!factor)
    return mixedError(name, llvm::toString(factor.takeError()));
  MixedColumnQuantizer quantizer(plan, slots, scale, zero, slotIndex);
  auto run = runGptq(w, n, k, *factor, quantizer, gopt);
  if (!run)
    return mixedError(name, llvm::toString(run.takeError()));

  MixedDecisions decisions;
  decisions.precision = precision;
  decisions.codes = std::move(quantizer.codes);
  decisions.fp16 = std::move(quantizer.fp16);
  decisions.scales = std::move(stored);
  decisions.zeros.reserve(quantRowGroups);
  for (int32_t z : zero)
    decisions.zeros.push_back(uint8_t(z));
  if (slots > 0) {
    decisions.slotIndex = std::move(slotIndex);
    decisions.slotValue = std::move(quantizer.slotValue);
  }
  return packMixed(name, layout, n, k, decisions);
}
