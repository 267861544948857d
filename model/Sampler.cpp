//===- Sampler.cpp - Choosing the next token from logits ------------------===//
//
// Nucleus sampling without sorting the whole vocabulary: a token with
// probability below (1 - top_p) / (n - 1) can never be in the nucleus (all
// such tokens together hold less than 1 - top_p, so the more likely ones
// already reach top_p), so only the others are sorted.
//
//===----------------------------------------------------------------------===//
#include "model/Sampler.h"

#include <algorithm>
#include <cmath>

using namespace mixq;

Sampler::Sampler(float temperature, float topP, uint64_t seed)
    : temperature_(temperature), topP_(topP), rng_(seed) {}

int Sampler::argmax(llvm::ArrayRef<float> values) {
  if (values.empty())
    return -1;
  int best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best])
      best = int(i);
  return best;
}

double Sampler::uniform() {
  return double(rng_() >> 11) * (1.0 / 9007199254740992.0); // 2^-53
}

int Sampler::sample(llvm::ArrayRef<float> logits) {
  if (temperature_ <= 0 || logits.size() <= 1)
    return argmax(logits);

  // Softmax of logits / T with the maximum subtracted.
  size_t n = logits.size();
  double invT = 1.0 / double(temperature_);
  float maxLogit = logits[argmax(logits)];
  probs_.resize(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    probs_[i] = std::exp((double(logits[i]) - double(maxLogit)) * invT);
    sum += probs_[i];
  }
  for (double &p : probs_)
    p /= sum;

  if (!(topP_ > 0 && topP_ < 1)) {
    double r = uniform(), cumulative = 0;
    for (size_t i = 0; i < n; ++i) {
      cumulative += probs_[i];
      if (r < cumulative)
        return int(i);
    }
    return int(n - 1); // rounding left r above the last cumulative sum
  }

  // Nucleus: candidates sorted by probability (then id, for determinism).
  double cutoff = (1.0 - double(topP_)) / double(n - 1);
  candidates_.clear();
  for (size_t i = 0; i < n; ++i)
    if (probs_[i] >= cutoff)
      candidates_.push_back(int(i));
  std::sort(candidates_.begin(), candidates_.end(), [&](int a, int b) {
    return probs_[a] != probs_[b] ? probs_[a] > probs_[b] : a < b;
  });
  size_t last = candidates_.size() - 1;
  double mass = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    mass += probs_[candidates_[i]];
    if (mass >= double(topP_)) {
      last = i;
      break;
    }
  }
  double r = uniform() * mass, cumulative = 0;
  for (size_t i = 0; i <= last; ++i) {
    cumulative += probs_[candidates_[i]];
    if (r < cumulative)
      return candidates_[i];
  }
  return candidates_[last];
}
