//===- SchemeUniform.cpp - rtn and gptq: uniform int2/3/4/8 ---------------===//
//
// RTN, or GPTQ with the input's Hessian, into a uniform group-wise layout.
// Also the fallback for weights without calibration (embeddings, head).
//
//===----------------------------------------------------------------------===//
#include "quant/Gptq.h"
#include "quant/Quantizer.h"
#include "quant/Rtn.h"

using namespace mixq;

llvm::Expected<QuantizedTensor>
mixq::quantizeUniformScheme(llvm::StringRef name, llvm::ArrayRef<float> w,
                            int64_t n, int64_t k, const InputStats *stats,
                            const QuantizerOptions &options) {
  int64_t group = fittingGroup(options.group, k);
  Layout layout = uniformLayout(options.bits, group, options.asym,
                                options.scaleBits, options.scaleBlock);
  if (options.scheme == "rtn" || !stats) {
    auto result = quantizeRtn(name, w, n, k, layout, /*wantDequantized=*/false);
    if (!result)
      return result.takeError();
    return std::move(result->tensor);
  }
  GptqOptions gptq;
  gptq.percdamp = options.damp;
  gptq.actOrder = options.actOrder;
  gptq.blockSize = options.gptqBlock;
  auto result = quantizeGptq(name, w, n, k, stats->hessian(), layout, gptq);
  if (!result)
    return result.takeError();
  return std::move(result->tensor);
}
