//===- NonFinite.h - Finding NaN and Inf in weights -------------*- C++ -*-===//
//
// Weights that are NaN or infinite make every later number meaningless (a
// perplexity of nan, garbage text), so the loaders refuse them instead.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_NONFINITE_H
#define MIXQ_MODEL_NONFINITE_H

#include "llvm/ADT/ArrayRef.h"

#include <cmath>
#include <optional>

namespace mixq {

/// The index of the first NaN or infinite value, if any.
inline std::optional<size_t> firstNonFinite(llvm::ArrayRef<float> values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      return i;
  return std::nullopt;
}

} // namespace mixq

#endif // MIXQ_MODEL_NONFINITE_H
