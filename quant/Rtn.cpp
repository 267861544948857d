//===- Rtn.cpp - Round-to-nearest uniform quantization --------------------===//
//
// The uniform grid (scale, zero point, code) and RTN of a whole matrix; see
// Rtn.h for the formulas.
//
//===----------------------------------------------------------------------===//
#include "quant/Rtn.h"

#include "model/Dequantize.h"
#include "quant/Pack.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace mixq;

GroupRange mixq::groupRange(const float *values, int64_t count,
                            int64_t stride) {
  GroupRange r;
  for (int64_t i = 0; i < count; ++i)
    r.add(values[i * stride]);
  return r;
}

float mixq::uniformScale(GroupRange range, int64_t bits, bool asymmetric) {
  double levels = double((int64_t(1) << bits) - 1);
  if (asymmetric)
    return float((double(range.hi) - double(range.lo)) / levels);
  double absMax = std::max(std::fabs(double(range.lo)), double(range.hi));
  return float(2.0 * absMax / levels);
}

int32_t mixq::uniformZero(GroupRange range, float scale, int64_t bits,
                          bool asymmetric) {
  if (!asymmetric)
    return symmetricZero(bits);
  if (!(scale > 0))
    return 0;
  int64_t maxCode = (int64_t(1) << bits) - 1;
  double z = std::nearbyint(-double(range.lo) / double(scale));
  return int32_t(std::clamp<double>(z, 0, double(maxCode)));
}

uint8_t mixq::uniformCode(float x, float scale, int32_t zero, int64_t bits) {
  if (!(scale > 0))
    return uint8_t(zero);
  int64_t maxCode = (int64_t(1) << bits) - 1;
  double q = std::nearbyint(double(x / scale)) + zero;
  if (std::isnan(q))
    return uint8_t(zero);
  return uint8_t(std::clamp<double>(q, 0, double(maxCode)));
}

Layout mixq::uniformLayout(int64_t bits, int64_t group, bool asymmetric,
                           int64_t scaleBits, int64_t scaleBlock) {
  Layout l;
  l.scheme = Scheme::Uniform;
  l.bits = {bits};
  l.group = group;
  l.asymmetric = asymmetric;
  l.scaleBits = scaleBits;
  l.scaleBlock = scaleBlock;
  return l;
}

llvm::Expected<QuantResult>
mixq::quantizeRtn(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                  int64_t k, const Layout &layout, bool wantDequantized) {
  if (layout.scheme != Scheme::Uniform)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "RTN of '" + name +
                                       "': needs a 'uniform' layout, got '" +
                                       formatLayout(layout) + "'");
  if (auto e = verifyLayoutForShape(layout, n, k))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "RTN of '" + name +
                                       "': " + llvm::toString(std::move(e)));
  if (w.size() != uint64_t(n) * k)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("RTN of '{0}': {1} values for a {2}x{3} matrix", name,
                      w.size(), n, k));
  int64_t bits = layout.bits[0];
  bool asym = layout.asymmetric;
  int64_t gs = layout.group ? layout.group : k;
  int64_t groupsPerRow = k / gs;
  uint64_t groups = uint64_t(n) * groupsPerRow;

  // Ranges and fp32 scales, then the scales as stored.
  std::vector<GroupRange> ranges(groups);
  std::vector<float> scales(groups);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t g = 0; g < groupsPerRow; ++g) {
      uint64_t gi = uint64_t(row) * groupsPerRow + g;
      ranges[gi] = groupRange(w.data() + uint64_t(row) * k + g * gs, gs);
      scales[gi] = uniformScale(ranges[gi], bits, asym);
    }
  StoredScales stored = storeScales(layout, scales);

  // Zero points and codes against the stored scales.
  std::vector<uint8_t> codes(uint64_t(n) * k), zeros;
  if (asym)
    zeros.resize(groups);
  QuantResult result;
  if (wantDequantized)
    result.dequantized.resize(codes.size());
  for (int64_t row = 0; row < n; ++row)
    for (int64_t g = 0; g < groupsPerRow; ++g) {
      uint64_t gi = uint64_t(row) * groupsPerRow + g;
      float s = stored.value(gi);
      int32_t zero = uniformZero(ranges[gi], s, bits, asym);
      if (asym)
        zeros[gi] = uint8_t(zero);
      uint64_t first = uint64_t(row) * k + g * gs;
      for (int64_t j = 0; j < gs; ++j) {
        uint8_t c = uniformCode(w[first + j], s, zero, bits);
        codes[first + j] = c;
        if (wantDequantized)
          result.dequantized[first + j] = uniformValue(c, zero, s);
      }
    }
  auto tensor = packUniform(name, layout, n, k, codes, stored, zeros);
  if (!tensor)
    return tensor.takeError();
  result.tensor = std::move(*tensor);
  return result;
}
