//===- Sampler.h - Choosing the next token from logits ----------*- C++ -*-===//
//
// Temperature 0 is greedy (argmax, lowest id on ties). Otherwise the logits
// are divided by the temperature, turned into probabilities (softmax in
// double) and, when 0 < top_p < 1, restricted to the nucleus: the smallest
// set of most likely tokens whose probability reaches top_p. The draw uses
// std::mt19937_64 (its output sequence is fixed by the standard) and our own
// conversion to [0, 1), so a given seed gives the same tokens everywhere.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_SAMPLER_H
#define MIXQ_MODEL_SAMPLER_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <random>
#include <vector>

namespace mixq {

class Sampler {
public:
  /// temperature <= 0: greedy. topP <= 0 or >= 1: sample from all tokens.
  Sampler(float temperature, float topP, uint64_t seed);

  int sample(llvm::ArrayRef<float> logits);

  /// The index of the largest value (the first one on ties); -1 if empty.
  static int argmax(llvm::ArrayRef<float> values);

private:
  /// A uniform double in [0, 1) from the top 53 bits of one draw.
  double uniform();

  float temperature_;
  float topP_;
  std::mt19937_64 rng_;
  std::vector<double> probs_;
  std::vector<int> candidates_;
};

} // namespace mixq

#endif // MIXQ_MODEL_SAMPLER_H
