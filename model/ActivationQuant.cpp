//===- ActivationQuant.cpp - Per-token activation quantization ------------===//
//
// See ActivationQuant.h for the exact arithmetic.
//
//===----------------------------------------------------------------------===//
#include "model/ActivationQuant.h"

#include <algorithm>
#include <cmath>

using namespace mixq;

void mixq::fakeQuantizeActivations(llvm::MutableArrayRef<float> x,
                                   const ActivationQuantSpec &spec) {
  if (spec.bits >= 16 || x.empty())
    return;
  std::vector<uint8_t> keep(x.size(), 0);
  for (int64_t c : spec.fp16Cols)
    if (c >= 0 && size_t(c) < x.size())
      keep[c] = 1;
  float lo = 0.0f, hi = 0.0f, absMax = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    if (keep[i])
      continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    absMax = std::max(absMax, std::fabs(x[i]));
  }
  if (spec.asymmetric) {
    float levels = float((1 << spec.bits) - 1);
    float scale = (hi - lo) / levels;
    if (!(scale > 0.0f))
      return; // all zeros
    float zero = std::nearbyint(-lo / scale);
    for (size_t i = 0; i < x.size(); ++i) {
      if (keep[i])
        continue;
      float q = std::clamp(std::nearbyint(x[i] / scale) + zero, 0.0f, levels);
      x[i] = (q - zero) * scale;
    }
    return;
  }
  float qmax = float((1 << (spec.bits - 1)) - 1);
  float scale = absMax / qmax;
  if (!(scale > 0.0f))
    return;
  for (size_t i = 0; i < x.size(); ++i) {
    if (keep[i])
      continue;
    x[i] = std::clamp(std::nearbyint(x[i] / scale), -qmax, qmax) * scale;
  }
}
