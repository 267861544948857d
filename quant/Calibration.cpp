//===- Calibration.cpp - Activation statistics of every linear layer ------===//
//
// See Calibration.h. The Gram matrix is accumulated from blocks of up to 64
// buffered vectors: the upper triangle of Bᵀ B in float (exact enough for 64
// products), added to the double total, mirrored at the end.
//
//===----------------------------------------------------------------------===//
#include "quant/Calibration.h"

#include <algorithm>
#include <cmath>

using namespace mixq;

std::vector<double> InputStats::secondMoment() const {
  std::vector<double> m(size, 0.0);
  if (tokens == 0)
    return m;
  for (int64_t k = 0; k < size; ++k)
    m[k] = gram[k * size + k] / double(tokens);
  return m;
}

std::vector<double> InputStats::hessian() const {
  std::vector<double> h(gram.size(), 0.0);
  if (tokens == 0)
    return h;
  double scale = 2.0 / double(tokens);
  for (size_t i = 0; i < gram.size(); ++i)
    h[i] = gram[i] * scale;
  return h;
}

Calibrator::Calibrator(const LlamaConfig &config) {
  for (int layer = 0; layer < config.nLayers; ++layer)
    for (LinearInput input :
         {LinearInput::AttentionInput, LinearInput::AttentionOutput,
          LinearInput::FfnInput, LinearInput::FfnHidden}) {
      int64_t size = input == LinearInput::FfnHidden ? config.hiddenDim
                     : input == LinearInput::AttentionOutput
                         ? config.nHeads * config.headDim()
                         : config.dim;
      Accumulator &acc = accumulators_[{layer, int(input)}];
      acc.stats.size = size;
      acc.stats.gram.assign(size * size, 0.0);
      acc.stats.absMax.assign(size, 0.0f);
      acc.pending.resize(kBlock * size);
      for (const std::string &name : linearsReading(layer, input))
        byWeight_[name] = {layer, int(input)};
    }
}

Calibrator::~Calibrator() = default;

void Calibrator::observe(int layer, LinearInput input,
                         llvm::ArrayRef<float> values) {
  auto it = accumulators_.find({layer, int(input)});
  if (it == accumulators_.end() ||
      int64_t(values.size()) != it->second.stats.size)
    return; // not a layer of this model: nothing to record
  Accumulator &acc = it->second;
  std::copy(values.begin(), values.end(),
            acc.pending.begin() + acc.pendingCount * acc.stats.size);
  for (int64_t k = 0; k < acc.stats.size; ++k)
    acc.stats.absMax[k] = std::max(acc.stats.absMax[k], std::fabs(values[k]));
  if (++acc.pendingCount == kBlock)
    flush(acc);
}

void Calibrator::flush(Accumulator &acc) {
  int64_t size = acc.stats.size, count = acc.pendingCount;
  if (count == 0)
    return;
  std::vector<float> row(size);
  for (int64_t i = 0; i < size; ++i) {
    std::fill(row.begin() + i, row.end(), 0.0f);
    for (int64_t t = 0; t < count; ++t) {
      const float *x = acc.pending.data() + t * size;
      float xi = x[i];
      if (xi == 0.0f)
        continue;
      for (int64_t j = i; j < size; ++j)
        row[j] += xi * x[j];
    }
    double *g = acc.stats.gram.data() + i * size;
    for (int64_t j = i; j < size; ++j)
      g[j] += row[j];
  }
  acc.stats.tokens += count;
  acc.pendingCount = 0;
}

void Calibrator::finish() {
  for (auto &[key, acc] : accumulators_) {
    flush(acc);
    int64_t size = acc.stats.size;
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < i; ++j)
        acc.stats.gram[i * size + j] = acc.stats.gram[j * size + i];
  }
}

const InputStats *Calibrator::statsFor(llvm::StringRef weightName) const {
  auto it = byWeight_.find(weightName.str());
  if (it == byWeight_.end())
    return nullptr;
  return &accumulators_.at(it->second).stats;
}

int64_t mixq::runCalibration(
    llvm::ArrayRef<int> text, int bos, const CalibrationOptions &options,
    llvm::function_ref<void(int, int)> forward,
    llvm::function_ref<void()> reset,
    llvm::function_ref<void(int64_t, int64_t)> progress) {
  int64_t window = std::max<int64_t>(options.ctx - 1, 1);
  int64_t total = std::min<int64_t>(options.tokens, int64_t(text.size()));
  int64_t fed = 0;
  for (int64_t start = 0; fed < total; start += window) {
    int64_t length = std::min<int64_t>(window, total - fed);
    reset();
    forward(bos, 0);
    for (int64_t i = 0; i < length; ++i)
      forward(text[start + i], int(i + 1));
    fed += length;
    progress(fed, total);
  }
  return fed;
}
