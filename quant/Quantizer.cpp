//===- Quantizer.cpp - Options, dispatch and shared scheme helpers --------===//
//
// Validates QuantizerOptions, records them as package metadata, sends each
// linear weight to its scheme, and picks QUIK's FP16 columns.
//
//===----------------------------------------------------------------------===//
#include "quant/Quantizer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <numeric>

using namespace mixq;

namespace {
llvm::Error optionError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}
} // namespace

llvm::Error QuantizerOptions::validate() const {
  static const char *const schemes[] = {"rtn", "gptq", "mixed", "squeeze",
                                        "quik"};
  if (!llvm::is_contained(schemes, scheme))
    return optionError("unknown scheme '" + scheme +
                       "'; expected rtn, gptq, mixed, squeeze or quik");
  if (scheme == "rtn" || scheme == "gptq") {
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return optionError(llvm::formatv("--bits must be 2, 3, 4 or 8, got {0}",
                                       bits));
    if (group < 0)
      return optionError("--group must be 0 (per row) or positive");
    if (scaleBits != 0 && (scaleBits < 2 || scaleBits > 8 || scaleBlock < 1))
      return optionError("--scale-bits takes 2..8 with --scale-block >= 1");
  }
  if (!(damp > 0.0 && damp < 1.0))
    return optionError("--damp must be in (0, 1)");
  if (scheme == "mixed") {
    if (bpw == 0.0) {
      if (fractions.size() != 2 || fractions[0] < 0 || fractions[1] < 0 ||
          fractions[0] + fractions[1] > 1.0)
        return optionError("--fractions takes two shares (4-bit, FP16) that "
                           "add up to at most 1");
    } else if (!(bpw > 2.0 && bpw < 16.0)) {
      return optionError(llvm::formatv("--bpw must be above 2 (the 2-bit "
                                       "floor) and below 16, got {0}",
                                       bpw));
    }
    if (mixedGroup <= 0 || tile <= 0 || tile % 16 != 0)
      return optionError("mixed needs a positive --mixed-group and a --tile "
                         "that is a multiple of 16");
    if (slots < 0 || slots > mixedGroup)
      return optionError("--slots must be between 0 and the group size");
  }
  if (scheme == "squeeze") {
    if (lutBits != 3 && lutBits != 4)
      return optionError("--lut-bits must be 3 or 4");
    if (fenceFraction < 0 || sensitiveFraction < 0 ||
        fenceFraction + sensitiveFraction > 0.5)
      return optionError("--fence and --sensitive are fractions that add up "
                         "to at most 0.5");
  }
  if (tableBits != 8 && tableBits != 16)
    return optionError("--table-bits must be 8 or 16");
  if (scheme == "quik") {
    if (quikBits != 4 && quikBits != 8)
      return optionError("--quik-bits must be 4 or 8");
    if (downBits != 4 && downBits != 8)
      return optionError("--down-bits must be 4 or 8");
    if (actBits != 4 && actBits != 8 && actBits != 16)
      return optionError("--act-bits must be 4, 8 or 16");
    if (fp16Cols < -1)
      return optionError("--fp16-cols must be -1 (auto) or >= 0");
  }
  return llvm::Error::success();
}

llvm::json::Object QuantizerOptions::toJSON() const {
  llvm::json::Object o{{"scheme", scheme},
                       {"quantize_embeddings", quantizeEmbeddings},
                       {"quantize_head", quantizeHead},
                       {"table_bits", tableBits}};
  if (scheme == "rtn" || scheme == "gptq") {
    o["bits"] = bits;
    o["group"] = group;
    o["asym"] = asym;
    o["scale_bits"] = scaleBits;
    o["scale_block"] = scaleBlock;
  }
  if (scheme != "rtn") {
    o["damp"] = damp;
    o["act_order"] = actOrder;
    o["gptq_block"] = gptqBlock;
  }
  if (scheme == "mixed") {
    o["bpw_target"] = bpw;
    o["fractions"] = llvm::json::Array(fractions);
    o["group"] = mixedGroup;
    o["tile"] = tile;
    o["slots"] = slots;
    o["scale_bits"] = mixedScaleBits;
    o["scale_block"] = mixedScaleBlock;
  }
  if (scheme == "squeeze") {
    o["lut_bits"] = lutBits;
    o["fence_fraction"] = fenceFraction;
    o["sensitive_fraction"] = sensitiveFraction;
  }
  if (scheme == "quik") {
    o["fp16_cols"] = fp16Cols;
    o["bits"] = quikBits;
    o["down_bits"] = downBits;
    o["act_bits"] = actBits;
    o["act_asym"] = actAsym;
  }
  return o;
}

llvm::Expected<QuantizedTensor>
mixq::quantizeLinear(llvm::StringRef name, llvm::ArrayRef<float> w, int64_t n,
                     int64_t k, const InputStats *stats,
                     const QuantizerOptions &options) {
  if (int64_t(w.size()) != n * k)
    return optionError(llvm::formatv("{0}: {1} values for a {2}x{3} weight",
                                     name, w.size(), n, k));
  if (options.scheme == "rtn" || options.scheme == "gptq" || !stats)
    return quantizeUniformScheme(name, w, n, k, stats, options);
  if (stats->size != k)
    return optionError(llvm::formatv("{0}: calibration statistics of width "
                                     "{1} for K = {2}",
                                     name, stats->size, k));
  if (options.scheme == "mixed")
    return quantizeMixedScheme(name, w, n, k, *stats, options);
  if (options.scheme == "squeeze")
    return quantizeSqueezeScheme(name, w, n, k, *stats, options);
  return quantizeQuikScheme(name, w, n, k, *stats, options);
}

std::vector<int64_t> mixq::quikOutlierColumns(const InputStats &stats,
                                              int64_t count) {
  std::vector<int64_t> columns(stats.size);
  std::iota(columns.begin(), columns.end(), 0);
  count = std::clamp<int64_t>(count, 0, stats.size);
  // Largest max |x| first; ties by column so the choice is deterministic.
  std::stable_sort(columns.begin(), columns.end(), [&](int64_t a, int64_t b) {
    return stats.absMax[a] > stats.absMax[b];
  });
  columns.resize(count);
  std::sort(columns.begin(), columns.end());
  return columns;
}

int64_t mixq::fittingGroup(int64_t group, int64_t k) {
  if (group <= 0 || k <= 0)
    return 0;
  int64_t g = std::min(group, k);
  if (k % g == 0)
    return g;
  // The CPU kernels (and the GPU's) read a group 16 columns at a time: where
  // K is a multiple of 16 the fallback is one too (K = 1376 with group 128
  // gets 32, not 86), else any divisor will do (no kernel takes that K).
  const int64_t lanes = 16;
  if (g >= lanes && k % lanes == 0) {
    g -= g % lanes;
    while (k % g != 0)
      g -= lanes;
    return g;
  }
  while (k % g != 0)
    --g;
  return g;
}

int64_t mixq::quikColumnCount(const QuantizerOptions &options, int64_t k) {
  if (options.fp16Cols >= 0)
    return std::min(options.fp16Cols, k);
  int64_t scaled = (256 * k / 4096 + 4) / 8 * 8;
  return std::min(std::max<int64_t>(scaled, 8), k);
}
