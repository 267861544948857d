//===- SchemeQuik.cpp - QUIK: FP16 outlier columns + GPTQ on the rest -----===//
//
// QUIK (Ashkboos et al., 2023) for one N x K weight:
//
// 1. Outlier input columns: C = quikColumnCount(options, K) columns with the
//    largest calibration max |x| (quikOutlierColumns), the same for every
//    weight reading this input, stored as FP16 (N x C) and taken by the
//    kernel from FP16 activations.
// 2. Bits: options.downBits for down_proj (names ending in
//    "feed_forward.w2.weight", whose input has the largest outliers) and
//    options.quikBits otherwise.
// 3. Weights: symmetric, one F16 scale per output row over the NON-outlier
//    columns of the original W: scale = absmax / M with M = 2^(b-1) - 1,
//    codes q = clamp(rint(w / scale), -M, M) (the restricted symmetric range:
//    -2^(b-1) is never used, so the grid is symmetric about 0 as the integer
//    MMA with a per-row epilogue expects). The dequantized value is
//    q * scale with the scale as stored (F16).
// 4. GPTQ (options.damp, gptqBlock) with the sweep order: the non-outlier
//    columns first (by decreasing diag H with options.actOrder, else in
//    order), then the C outlier columns. The column quantizer rounds the
//    non-outlier columns on the row grid and stores the outlier columns
//    exactly as F16 (after GPTQ's feedback from the quantized columns, so
//    they absorb part of the error).
// 5. Layout: quik, bits, fp16_cols = C, act = <options.actBits, per token,
//    asym|sym> (act 16 = activations stay FP16); packQuik.
//
//===----------------------------------------------------------------------===//
#include "model/BitPack.h"
#include "quant/Gptq.h"
#include "quant/Pack.h"
#include "quant/Quantizer.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "QUIK quantization of '" + name +
                                     "': " + message);
}

class QuikColumnQuantizer : public GptqColumnQuantizer {
public:
  QuikColumnQuantizer(int64_t n, int64_t k, int64_t bits,
                      const std::vector<float> &scale,
                      const std::vector<int64_t> &fp16Slot, int64_t c)
      : n(n), k(k), maxCode((1 << (bits - 1)) - 1), scale(scale),
        fp16Slot(fp16Slot), c(c), codes(size_t(n) * k, 0),
        fp16(size_t(n) * c, 0.0f) {}

  void quantizeColumn(int64_t col, llvm::ArrayRef<float> values,
                      llvm::MutableArrayRef<float> out) override {
    int64_t slot = fp16Slot[col];
    for (int64_t r = 0; r < n; ++r) {
      if (slot >= 0) {
        float v = roundToF16(values[r]);
        fp16[size_t(r) * c + slot] = v;
        out[r] = v;
        continue;
      }
      float s = scale[r];
      int32_t q = 0;
      if (s > 0) {
        double t = std::nearbyint(double(values[r] / s));
        if (std::isnan(t))
          t = 0;
        q = int32_t(std::clamp<double>(t, -maxCode, maxCode));
      }
      codes[size_t(r) * k + col] = int8_t(q);
      out[r] = float(q) * s;
    }
  }

  int64_t n, k, maxCode;
  const std::vector<float> &scale;
  const std::vector<int64_t> &fp16Slot;
  int64_t c;
  std::vector<int8_t> codes;
  std::vector<float> fp16;
};

} // namespace

llvm::Expected<QuantizedTensor>
mixq::quantizeQuikScheme(llvm::StringRef name, llvm::ArrayRef<float> w,
                         int64_t n, int64_t k, const InputStats &stats,
                         const QuantizerOptions &options) {
  if (n <= 0 || k <= 0 || w.size() != uint64_t(n) * k)
    return fail(name, formatv("{0} values for a {1}x{2} weight", w.size(), n,
                              k));
  if (stats.size != k || stats.gram.size() != uint64_t(k) * k ||
      stats.absMax.size() != uint64_t(k))
    return fail(name, formatv("calibration statistics of width {0} for "
                              "K = {1}",
                              stats.size, k));
  int64_t bits = name.ends_with("feed_forward.w2.weight") ? options.downBits
                                                          : options.quikBits;
  int64_t C = quikColumnCount(options, k);
  std::vector<int64_t> columns = quikOutlierColumns(stats, C);
  std::vector<int64_t> fp16Slot(k, -1);
  for (int64_t i = 0; i < C; ++i)
    fp16Slot[columns[i]] = i;

  Layout layout;
  layout.scheme = Scheme::Quik;
  layout.bits = {bits};
  layout.fp16Cols = C;
  layout.act.bits = options.actBits;
  layout.act.asymmetric = options.actBits == 16 ? ActQuant().asymmetric
                                                : options.actAsym;
  if (auto e = verifyLayoutForShape(layout, n, k))
    return fail(name, llvm::toString(std::move(e)));

  // Per-row scales over the non-outlier columns, stored as F16.
  int64_t maxCode = (int64_t(1) << (bits - 1)) - 1;
  std::vector<float> scale(n, 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    float absMax = 0;
    for (int64_t col = 0; col < k; ++col)
      if (fp16Slot[col] < 0)
        absMax = std::max(absMax, std::fabs(w[size_t(r) * k + col]));
    scale[r] = roundToF16(absMax / float(maxCode));
  }

  // Sweep order: the quantized columns (act-order or natural), then the
  // FP16 columns.
  std::vector<double> h = stats.hessian();
  std::vector<int64_t> order;
  order.reserve(k);
  for (int64_t col = 0; col < k; ++col)
    if (fp16Slot[col] < 0)
      order.push_back(col);
  if (options.actOrder)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return h[size_t(a) * k + a] > h[size_t(b) * k + b];
    });
  order.insert(order.end(), columns.begin(), columns.end());

  GptqOptions gopt;
  gopt.percdamp = options.damp;
  gopt.blockSize = options.gptqBlock;
  gopt.order = order;
  auto factor = factorGptq(h, k, gopt);
  if (!factor)
    return fail(name, llvm::toString(factor.takeError()));
  QuikColumnQuantizer quantizer(n, k, bits, scale, fp16Slot, C);
  auto run = runGptq(w, n, k, *factor, quantizer, gopt);
  if (!run)
    return fail(name, llvm::toString(run.takeError()));
  return packQuik(name, layout, n, k, quantizer.codes, scale, columns,
                  quantizer.fp16);
}
