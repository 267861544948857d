//===- GraphBuilder.cpp - A mixq package as an MLIR module ----------------===//
//
// One GraphBuilder per module; buildForward() emits prefill or decode, and
// one member function per block (attention, ffn, norm, classifier) keeps the
// structure of model/Engine.h visible. See GraphBuilder.h for the IR.
//
//===----------------------------------------------------------------------===//
#include "codegen/Llama/GraphBuilder.h"
#include "model/Package.h"

#include "dialect/MixQDialect.h"
#include "dialect/MixQOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mixq;

namespace {

llvm::Error packageError(const PackageReader &package,
                         const llvm::Twine &reason) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 package.path() + ": " + reason);
}

std::string layerName(int64_t layer, llvm::StringRef suffix) {
  return ("layers." + llvm::Twine(layer) + "." + suffix).str();
}

/// The stored shape (rows x cols) every tensor the graph reads must have.
std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>
expectedTensors(const LlamaConfig &s) {
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> out;
  out.push_back({"tok_embeddings.weight", {s.vocabSize, s.dim}});
  for (int64_t l = 0; l < s.nLayers; ++l) {
    out.push_back({layerName(l, "attention_norm.weight"), {1, s.dim}});
    out.push_back({layerName(l, "attention.wq.weight"), {s.dim, s.dim}});
    out.push_back({layerName(l, "attention.wk.weight"), {s.kvDim(), s.dim}});
    out.push_back({layerName(l, "attention.wv.weight"), {s.kvDim(), s.dim}});
    out.push_back({layerName(l, "attention.wo.weight"), {s.dim, s.dim}});
    out.push_back({layerName(l, "ffn_norm.weight"), {1, s.dim}});
    out.push_back({layerName(l, "feed_forward.w1.weight"),
                   {s.hiddenDim, s.dim}});
    out.push_back({layerName(l, "feed_forward.w2.weight"),
                   {s.dim, s.hiddenDim}});
    out.push_back({layerName(l, "feed_forward.w3.weight"),
                   {s.hiddenDim, s.dim}});
  }
  out.push_back({"norm.weight", {1, s.dim}});
  if (!s.tiedEmbeddings)
    out.push_back({"output.weight", {s.vocabSize, s.dim}});
  return out;
}

/// Rejects packages the graph cannot be built for, with a readable reason.
/// (The reader already validated the config and each layout against its
/// tensor's shape.)
llvm::Error checkPackage(const PackageReader &package) {
  for (const auto &[name, shape] : expectedTensors(package.config())) {
    const PackageTensorView *t = package.find(name);
    if (!t)
      return packageError(package, "no tensor '" + name + "'");
    if (t->rows != shape.first || t->cols != shape.second)
      return packageError(package, llvm::formatv("tensor '{0}' is {1}x{2}, the "
                                           "config implies {3}x{4}",
                                           name, t->rows, t->cols, shape.first,
                                           shape.second));
  }
  return llvm::Error::success();
}

class GraphBuilder {
public:
  GraphBuilder(MLIRContext &context, const PackageReader &package)
      : ctx(context), package(package), spec(package.config()), b(&context), loc(UnknownLoc::get(&context)),
        f32(b.getF32Type()) {}

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(b, loc);
    setModuleAttributes(*module);
    b.setInsertionPointToEnd(module->getBody());
    buildForward("prefill", ShapedType::kDynamic);
    b.setInsertionPointToEnd(module->getBody());
    buildForward("decode", 1);
    return module;
  }

private:
  void setModuleAttributes(ModuleOp module);
  void buildForward(llvm::StringRef name, int64_t m);
  void bindWeights();
  Value attentionBlock(int64_t layer, Value x);
  Value ffnBlock(int64_t layer, Value x);
  Value classifier(Value x);
  Value positionsOf(Value start);
  Value norm(Value x, llvm::StringRef gammaName);
  Value linear(Value x, llvm::StringRef weightName);
  Value splitHeads(Value x, int64_t heads);
  Value insertIntoCache(Value cache, Value rows, int64_t layer);
  Value layerCache(Value cache, int64_t layer);
  Value siluTimes(Value gate, Value up);

  RankedTensorType act(int64_t n) const {
    return RankedTensorType::get({rowsM, n}, f32);
  }
  RankedTensorType cacheType() const {
    return RankedTensorType::get({spec.nLayers, spec.maxSeqLen, spec.nKvHeads,
                                  spec.headDim()},
                                 f32);
  }
  OpFoldResult index(int64_t v) { return b.getIndexAttr(v); }

  MLIRContext &ctx;
  const PackageReader &package;
  const LlamaConfig &spec;
  OpBuilder b;
  Location loc;
  Type f32;

  // State of the function being built.
  int64_t rowsM = 0;          ///< static M, or ShapedType::kDynamic
  OpFoldResult mSize;         ///< M as a size (attribute or tensor.dim)
  Value start, kcache, vcache;
  Value positions;            ///< tensor<Mxi32>: start + iota
  llvm::StringMap<Value> weights;
};

void GraphBuilder::setModuleAttributes(ModuleOp module) {
  module->setAttr("mixq.package_sha256", b.getStringAttr(package.contentSha256()));
  NamedAttribute model[] = {
      b.getNamedAttr("dim", b.getI64IntegerAttr(spec.dim)),
      b.getNamedAttr("hidden_dim", b.getI64IntegerAttr(spec.hiddenDim)),
      b.getNamedAttr("n_layers", b.getI64IntegerAttr(spec.nLayers)),
      b.getNamedAttr("n_heads", b.getI64IntegerAttr(spec.nHeads)),
      b.getNamedAttr("n_kv_heads", b.getI64IntegerAttr(spec.nKvHeads)),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(spec.vocabSize)),
      b.getNamedAttr("max_seq_len", b.getI64IntegerAttr(spec.maxSeqLen)),
      b.getNamedAttr("rms_eps", b.getF32FloatAttr(spec.rmsEps)),
      b.getNamedAttr("rope_theta", b.getF32FloatAttr(spec.ropeTheta)),
      b.getNamedAttr("tied_embeddings", b.getBoolAttr(spec.tiedEmbeddings)),
  };
  module->setAttr("mixq.model", b.getDictionaryAttr(model));
}

void GraphBuilder::buildForward(llvm::StringRef name, int64_t m) {
  rowsM = m;
  auto tokensType = RankedTensorType::get({m}, b.getI32Type());
  Type cache = cacheType();
  auto fnType = b.getFunctionType({tokensType, b.getIndexType(), cache, cache},
                                  {act(spec.vocabSize), cache, cache});
  auto fn = func::FuncOp::create(b, loc, name, fnType);
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0);
  start = entry->getArgument(1);
  kcache = entry->getArgument(2);
  vcache = entry->getArgument(3);

  bindWeights();

  if (ShapedType::isDynamic(m))
    mSize = tensor::DimOp::create(b, loc, tokens, 0).getResult();
  else
    mSize = index(m);
  positions = positionsOf(start);

  Value x = EmbedOp::create(b, loc, act(spec.dim), tokens,
                            weights["tok_embeddings.weight"]);
  for (int64_t l = 0; l < spec.nLayers; ++l) {
    x = attentionBlock(l, x);
    x = ffnBlock(l, x);
  }
  Value logits = classifier(x);
  func::ReturnOp::create(b, loc, ValueRange{logits, kcache, vcache});
}

/// One mixq.weight per package tensor: those the graph reads in model order,
/// then any others in package order.
void GraphBuilder::bindWeights() {
  weights.clear();
  auto bind = [&](const PackageTensorView &t) {
    if (weights.count(t.name))
      return;
    auto type = QWeightType::get(&ctx, {t.rows, t.cols},
                                 LayoutAttr::get(&ctx, t.layout));
    weights[t.name] = WeightOp::create(b, loc, type, t.name);
  };
  for (const auto &expected : expectedTensors(spec))
    bind(*package.find(expected.first));
  for (const PackageTensorView &t : package.tensors())
    bind(t);
}

/// tensor<Mxi32>: position start + i of token i.
Value GraphBuilder::positionsOf(Value startPos) {
  auto type = RankedTensorType::get({rowsM}, b.getI32Type());
  SmallVector<Value> dynamic;
  if (ShapedType::isDynamic(rowsM))
    dynamic.push_back(cast<Value>(mSize));
  return tensor::GenerateOp::create(
      b, loc, type, dynamic,
      [&](OpBuilder &nb, Location l, ValueRange ivs) {
        Value pos = arith::AddIOp::create(nb, l, startPos, ivs[0]);
        Value i32 = arith::IndexCastOp::create(nb, l, nb.getI32Type(), pos);
        tensor::YieldOp::create(nb, l, i32);
      });
}

/// rms_norm(x) * gamma, gamma the 1 x D weight `gammaName` as tensor<D>.
Value GraphBuilder::norm(Value x, llvm::StringRef gammaName) {
  Value w = weights[gammaName];
  auto wType = cast<QWeightType>(w.getType());
  auto dense = RankedTensorType::get(wType.getShape(), f32);
  Value gamma2d = DequantOp::create(b, loc, dense, w);
  Value gamma = tensor::CollapseShapeOp::create(
      b, loc, gamma2d, ArrayRef<ReassociationIndices>{{0, 1}});
  return RMSNormOp::create(b, loc, x.getType(), x, gamma,
                           b.getF32FloatAttr(spec.rmsEps));
}

/// x (M x K) times the transpose of the N x K weight `weightName`.
Value GraphBuilder::linear(Value x, llvm::StringRef weightName) {
  Value w = weights[weightName];
  auto wType = cast<QWeightType>(w.getType());
  return QMatmulOp::create(b, loc, act(wType.getN()), x, w);
}

/// M x (heads * HD) -> M x heads x HD.
Value GraphBuilder::splitHeads(Value x, int64_t heads) {
  int64_t hd = spec.headDim();
  auto type = RankedTensorType::get({rowsM, heads, hd}, f32);
  return tensor::ExpandShapeOp::create(
      b, loc, type, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{mSize, index(heads), index(hd)});
}

/// Writes rows (M x KVH x HD) at cache[layer, start : start + M].
Value GraphBuilder::insertIntoCache(Value cache, Value rows, int64_t layer) {
  SmallVector<OpFoldResult> offsets{index(layer), start, index(0), index(0)};
  SmallVector<OpFoldResult> sizes{index(1), mSize, index(spec.nKvHeads),
                                  index(spec.headDim())};
  SmallVector<OpFoldResult> strides(4, index(1));
  return tensor::InsertSliceOp::create(b, loc, rows, cache, offsets, sizes,
                                       strides);
}

/// cache[layer] as S x KVH x HD.
Value GraphBuilder::layerCache(Value cache, int64_t layer) {
  auto type = RankedTensorType::get(
      {spec.maxSeqLen, spec.nKvHeads, spec.headDim()}, f32);
  SmallVector<OpFoldResult> offsets{index(layer), index(0), index(0),
                                    index(0)};
  SmallVector<OpFoldResult> sizes{index(1), index(spec.maxSeqLen),
                                  index(spec.nKvHeads), index(spec.headDim())};
  SmallVector<OpFoldResult> strides(4, index(1));
  return tensor::ExtractSliceOp::create(b, loc, type, cache, offsets, sizes,
                                        strides);
}

/// x + wo · attention(rope(wq·n), rope(wk·n), wv·n), n = rms_norm(x).
Value GraphBuilder::attentionBlock(int64_t layer, Value x) {
  Value n = norm(x, layerName(layer, "attention_norm.weight"));
  Value q = linear(n, layerName(layer, "attention.wq.weight"));
  Value k = linear(n, layerName(layer, "attention.wk.weight"));
  Value v = linear(n, layerName(layer, "attention.wv.weight"));
  q = splitHeads(q, spec.nHeads);
  k = splitHeads(k, spec.nKvHeads);
  v = splitHeads(v, spec.nKvHeads);

  auto style = RopePairingAttr::get(&ctx, spec.ropeStyle == RopeStyle::Half ? RopePairing::Half
                                                        : RopePairing::Adjacent);
  FloatAttr theta = b.getF32FloatAttr(spec.ropeTheta);
  q = RopeOp::create(b, loc, q.getType(), q, positions, theta, style);
  k = RopeOp::create(b, loc, k.getType(), k, positions, theta, style);

  kcache = insertIntoCache(kcache, k, layer);
  vcache = insertIntoCache(vcache, v, layer);
  Value att = AttentionOp::create(b, loc, q.getType(), q,
                                  layerCache(kcache, layer),
                                  layerCache(vcache, layer), start,
                                  /*scale=*/FloatAttr());
  Value merged = tensor::CollapseShapeOp::create(
      b, loc, att, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  Value o = linear(merged, layerName(layer, "attention.wo.weight"));
  return arith::AddFOp::create(b, loc, x, o);
}

/// silu(gate) * up elementwise, silu(g) = g / (1 + exp(-g)).
Value GraphBuilder::siluTimes(Value gate, Value up) {
  auto type = cast<RankedTensorType>(gate.getType());
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{mSize, index(type.getDimSize(1))}, f32);
  AffineMap id = b.getMultiDimIdentityMap(2);
  SmallVector<utils::IteratorType> iterators(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{gate, up}, ValueRange{init},
             ArrayRef<AffineMap>{id, id, id}, iterators,
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value g = args[0], u = args[1];
               Value neg = arith::NegFOp::create(nb, l, g);
               Value e = math::ExpOp::create(nb, l, neg);
               Value one = arith::ConstantOp::create(
                   nb, l, nb.getF32FloatAttr(1.0f));
               Value den = arith::AddFOp::create(nb, l, one, e);
               Value silu = arith::DivFOp::create(nb, l, g, den);
               Value prod = arith::MulFOp::create(nb, l, silu, u);
               linalg::YieldOp::create(nb, l, prod);
             })
      .getResult(0);
}

/// h + w2 · (silu(w1·m) * (w3·m)), m = rms_norm(h).
Value GraphBuilder::ffnBlock(int64_t layer, Value h) {
  Value m = norm(h, layerName(layer, "ffn_norm.weight"));
  Value gate = linear(m, layerName(layer, "feed_forward.w1.weight"));
  Value up = linear(m, layerName(layer, "feed_forward.w3.weight"));
  Value down = linear(siluTimes(gate, up),
                      layerName(layer, "feed_forward.w2.weight"));
  return arith::AddFOp::create(b, loc, h, down);
}

/// logits = classifier · rms_norm(x).
Value GraphBuilder::classifier(Value x) {
  Value n = norm(x, "norm.weight");
  return linear(n, spec.tiedEmbeddings ? "tok_embeddings.weight"
                                       : "output.weight");
}

} // namespace

void mixq::registerLlamaGraphDialects(DialectRegistry &registry) {
  registry.insert<MixQDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect>();
}

llvm::Expected<OwningOpRef<ModuleOp>>
mixq::buildLlamaModule(MLIRContext &context, const PackageReader &package) {
  if (llvm::Error e = checkPackage(package))
    return std::move(e);

  DialectRegistry registry;
  registerLlamaGraphDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  OwningOpRef<ModuleOp> module = GraphBuilder(context, package).build();

  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
      if (!diagnostics.empty())
        diagnostics += "; ";
      diagnostics += d.str();
      return success();
    });
    if (failed(verify(*module)))
      return packageError(package, "the generated module does not verify: " +
                                    diagnostics);
  }
  return std::move(module);
}
