//===- PackageWeights.cpp - A package as fp32 weights for the engine ------===//
//
// See PackageWeights.h.
//
//===----------------------------------------------------------------------===//
#include "model/PackageWeights.h"

#include "model/Dequantize.h"
#include "model/Engine.h"
#include "model/MappedFile.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mixq;

std::vector<float> *mixq::llamaWeightSlot(LlamaWeights &w,
                                         llvm::StringRef name) {
  if (name == "tok_embeddings.weight")
    return &w.tokEmbeddings;
  if (name == "norm.weight")
    return &w.finalNorm;
  if (name == "output.weight")
    return &w.output;
  if (!name.consume_front("layers."))
    return nullptr;
  auto [index, rest] = name.split('.');
  unsigned layer;
  if (index.getAsInteger(10, layer) || layer >= w.layers.size())
    return nullptr;
  LayerWeights &l = w.layers[layer];
  static const std::pair<const char *, std::vector<float> LayerWeights::*>
      fields[] = {{"attention_norm.weight", &LayerWeights::attentionNorm},
                  {"attention.wq.weight", &LayerWeights::wq},
                  {"attention.wk.weight", &LayerWeights::wk},
                  {"attention.wv.weight", &LayerWeights::wv},
                  {"attention.wo.weight", &LayerWeights::wo},
                  {"ffn_norm.weight", &LayerWeights::ffnNorm},
                  {"feed_forward.w1.weight", &LayerWeights::w1},
                  {"feed_forward.w2.weight", &LayerWeights::w2},
                  {"feed_forward.w3.weight", &LayerWeights::w3}};
  for (const auto &[field, member] : fields)
    if (rest == field)
      return &(l.*member);
  return nullptr;
}

llvm::Expected<LlamaWeights>
mixq::loadPackageWeights(const PackageReader &package) {
  LlamaWeights w;
  w.config = package.config();
  w.layers.resize(w.config.nLayers);
  for (const PackageTensorView &view : package.tensors()) {
    std::vector<float> *slot = llamaWeightSlot(w, view.name);
    if (!slot)
      return fileError(package.path(),
                       "tensor '" + view.name + "' is not a Llama weight");
    auto values = dequantize(view.copy());
    if (!values)
      return fileError(package.path(), llvm::toString(values.takeError()));
    *slot = std::move(*values);
  }
  if (llvm::Error e = checkWeightShapes(w))
    return fileError(package.path(), llvm::toString(std::move(e)));
  return std::move(w);
}

llvm::Expected<ActivationQuantPlan>
mixq::activationQuantPlan(const PackageReader &package) {
  ActivationQuantPlan plan;
  for (int layer = 0; layer < package.config().nLayers; ++layer)
    for (LinearInput input :
         {LinearInput::AttentionInput, LinearInput::AttentionOutput,
          LinearInput::FfnInput, LinearInput::FfnHidden}) {
      std::optional<ActivationQuantSpec> agreed;
      bool any = false, all = true;
      for (const std::string &name : linearsReading(layer, input)) {
        const PackageTensorView *view = package.find(name);
        bool quantizes = view && view->layout.scheme == Scheme::Quik &&
                         view->layout.act.bits != 16;
        any |= quantizes;
        all &= quantizes;
        if (!quantizes)
          continue;
        ActivationQuantSpec spec;
        spec.bits = view->layout.act.bits;
        spec.asymmetric = view->layout.act.asymmetric;
        for (const auto &stream : view->streams)
          if (stream.name == "col_index")
            for (size_t i = 0; i + 4 <= stream.bytes.size(); i += 4)
              spec.fp16Cols.push_back(
                  llvm::support::endian::read32le(stream.bytes.data() + i));
        if (agreed && (agreed->bits != spec.bits ||
                       agreed->asymmetric != spec.asymmetric ||
                       agreed->fp16Cols != spec.fp16Cols))
          return fileError(package.path(),
                           "'" + name + "' quantizes its input unlike the "
                           "other linears reading the same activations");
        agreed = std::move(spec);
      }
      if (any && !all)
        return fileError(package.path(),
                         llvm::formatv("layer {0}: only some linears reading "
                                       "one input quantize it",
                                       layer));
      if (agreed)
        plan[{layer, input}] = std::move(*agreed);
    }
  return plan;
}

void ActivationQuantizer::transform(int layer, LinearInput input,
                                    llvm::MutableArrayRef<float> values) {
  auto it = plan_.find({layer, input});
  if (it != plan_.end())
    fakeQuantizeActivations(values, it->second);
}
