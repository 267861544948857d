//===- LinearObserver.h - Watching the inputs of every linear layer -*- C++ -*-===//
//
// The reference engine calls an observer with the input vector of each group
// of linear layers that share an input, once per token and layer:
//   AttentionInput  rms_norm(x) fed to wq, wk, wv
//   AttentionOutput the attention result fed to wo
//   FfnInput        rms_norm(h) fed to w1 and w3
//   FfnHidden       silu(w1 x) * (w3 x) fed to w2
// Calibration (quant/Calibration.h) accumulates the statistics the schemes
// need from these; the engine pays nothing when no observer is set.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_LINEAROBSERVER_H
#define MIXQ_MODEL_LINEAROBSERVER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mixq {

enum class LinearInput { AttentionInput, AttentionOutput, FfnInput, FfnHidden };

/// The canonical weight names (Checkpoint.h) that read `input` in `layer`.
std::vector<std::string> linearsReading(int layer, LinearInput input);

class LinearObserver {
public:
  virtual ~LinearObserver();
  /// `values` is the input vector of one token (length dim or hidden_dim).
  virtual void observe(int layer, LinearInput input,
                       llvm::ArrayRef<float> values) = 0;
};

/// Rewrites the input of a linear group before the linears read it (the
/// residual stream is not affected); used to simulate QUIK's run-time
/// activation quantization on the reference engine.
class LinearInputTransform {
public:
  virtual ~LinearInputTransform();
  virtual void transform(int layer, LinearInput input,
                         llvm::MutableArrayRef<float> values) = 0;
};

} // namespace mixq

#endif // MIXQ_MODEL_LINEAROBSERVER_H
