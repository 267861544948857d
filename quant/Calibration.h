//===- Calibration.h - Activation statistics of every linear layer -*- C++ -*-===//
//
// Calibration runs the fp32 reference engine over text and records, for the
// input of every group of linear layers (LinearObserver.h):
//   - the Gram matrix XᵀX (K x K, double), from which GPTQ takes its Hessian
//     H = 2 XᵀX / tokens and the schemes their sensitivities diag(H);
//   - the per-column max |x| (QUIK's outlier columns).
// Tokens are buffered and folded in with a blocked rank-B update, so a
// stories15M calibration over 8192 tokens costs seconds.
//
// Memory: one K x K double matrix per input group per layer: 0.4 MB x 4 per
// stories15M layer, but 1.1 GB for a 11008-wide FFN input; models of 7B scale
// need layer-by-layer calibration (not implemented yet).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_CALIBRATION_H
#define MIXQ_QUANT_CALIBRATION_H

#include "model/LinearObserver.h"
#include "model/LlamaConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <vector>

namespace mixq {

/// Statistics of the input vectors of one linear group.
struct InputStats {
  int64_t size = 0;          ///< K
  uint64_t tokens = 0;       ///< vectors seen
  std::vector<double> gram;  ///< XᵀX, K x K row-major (full, symmetric)
  std::vector<float> absMax; ///< max |x_k| over all tokens

  /// E[x_k²] = diag(XᵀX) / tokens (the Fisher-style sensitivity).
  std::vector<double> secondMoment() const;
  /// GPTQ's Hessian 2 XᵀX / tokens, K x K.
  std::vector<double> hessian() const;
};

/// A LinearObserver that accumulates InputStats. Not thread-safe: the engine
/// calls observe() from one thread.
class Calibrator : public LinearObserver {
public:
  explicit Calibrator(const LlamaConfig &config);
  ~Calibrator() override;

  void observe(int layer, LinearInput input,
               llvm::ArrayRef<float> values) override;
  /// Folds any buffered vectors in; call before reading statistics.
  void finish();

  /// The statistics of the input of canonical weight `name`, or null.
  const InputStats *statsFor(llvm::StringRef weightName) const;

private:
  struct Accumulator {
    InputStats stats;
    std::vector<float> pending; ///< up to kBlock vectors, row-major
    int64_t pendingCount = 0;
  };
  void flush(Accumulator &acc);
  static constexpr int64_t kBlock = 64;
  std::map<std::pair<int, int>, Accumulator> accumulators_;
  std::map<std::string, std::pair<int, int>> byWeight_;
};

struct CalibrationOptions {
  /// Tokens scored; 8192 by default: > 10x the widest stories15M input
  /// (768), so every Gram matrix is well conditioned, at seconds of cost.
  int64_t tokens = 8192;
  /// Window length (BOS + ctx - 1 text tokens), as in `mixq ppl`.
  int64_t ctx = 256;
};

/// Feeds `text` (tokens without BOS) through `forward(token, pos)` in
/// consecutive windows of BOS + ctx-1 tokens, calling `reset()` before each
/// window, until options.tokens have been fed or the text ends. Returns the
/// number of tokens fed. `progress(done, total)` is called per window.
int64_t runCalibration(llvm::ArrayRef<int> text, int bos,
                       const CalibrationOptions &options,
                       llvm::function_ref<void(int token, int pos)> forward,
                       llvm::function_ref<void()> reset,
                       llvm::function_ref<void(int64_t, int64_t)> progress);

} // namespace mixq

#endif // MIXQ_QUANT_CALIBRATION_H
