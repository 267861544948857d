//===- PackageWeights.h - A package as fp32 weights for the engine -*- C++ -*-===//
//
// Simulated evaluation: every tensor of a package dequantized to fp32 and
// placed in LlamaWeights, so the reference engine runs exactly the weights
// the compiled kernels see; plus, for QUIK layouts, the activation
// quantization each linear group's input gets at run time.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_PACKAGEWEIGHTS_H
#define MIXQ_MODEL_PACKAGEWEIGHTS_H

#include "model/ActivationQuant.h"
#include "model/Checkpoint.h"
#include "model/LinearObserver.h"
#include "model/Package.h"

#include <map>

namespace mixq {

/// The vector of `weights` that canonical tensor `name` fills (layers must
/// already be sized), or null for a name that is not a Llama weight.
std::vector<float> *llamaWeightSlot(LlamaWeights &weights,
                                    llvm::StringRef name);

/// Dequantizes every tensor; fails (naming the package and tensor) when one
/// is missing, misshapen or does not dequantize.
llvm::Expected<LlamaWeights> loadPackageWeights(const PackageReader &package);

/// The activation quantization of each (layer, input) whose linears have
/// QUIK layouts that quantize activations; every linear reading one input
/// must agree (same bits, symmetry and FP16 columns), else an error.
using ActivationQuantPlan =
    std::map<std::pair<int, LinearInput>, ActivationQuantSpec>;
llvm::Expected<ActivationQuantPlan>
activationQuantPlan(const PackageReader &package);

/// A LinearInputTransform applying a plan.
class ActivationQuantizer : public LinearInputTransform {
public:
  explicit ActivationQuantizer(ActivationQuantPlan plan)
      : plan_(std::move(plan)) {}
  void transform(int layer, LinearInput input,
                 llvm::MutableArrayRef<float> values) override;
  bool empty() const { return plan_.empty(); }

private:
  ActivationQuantPlan plan_;
};

} // namespace mixq

#endif // MIXQ_MODEL_PACKAGEWEIGHTS_H
