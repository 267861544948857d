//===- LowerCpu.cpp - -mixq-lower-cpu --------------------------------------===//
//
// Lowers the tensor-level Llama module (codegen/Llama/GraphBuilder.h), after
// -mixq-plan and -mixq-split-outliers, to the CPU module of the C ABI in
// runtime/ModuleABI.h: `mixq_prefill` / `mixq_decode` on raw pointers, the
// kernels of passes/cpu/, and the exported queries (ABI version, package
// hash, target, model dims, stream names, scratch size). See Passes.td.
//
// Memory: every intermediate tensor gets a region of the runtime's scratch
// buffer, planned here like ggml's graph allocator: the graph is straight
// line, so a value's region is free after its last use (through views:
// expand/collapse_shape). Regions of tensors with M rows live in an arena
// whose offsets scale with M (an offset is a multiple of M row bytes), so
// one plan serves every prompt length; the others follow it. The KV caches
// are updated in place; the last product writes the logits buffer directly.
//
//===----------------------------------------------------------------------===//
#include "codegen/Host/HostCodegen.h"
#include "passes/LlamaModule.h"
#include "passes/Passes.h"
#include "passes/cpu/CpuKernels.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <cmath>

namespace mixq {
#define GEN_PASS_DEF_MIXQLOWERCPU
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;
using namespace mixq::cpu;

namespace {

int64_t roundUp64(int64_t v) { return (v + 63) / 64 * 64; }

/// Lowers one tensor-level function (@prefill or @decode) into the body of
/// its ABI function.
class FunctionLowering {
public:
  FunctionLowering(func::FuncOp src, func::FuncOp dst, FunctionEnv env,
                   const ModelDims &dims, memref::GlobalOp ropeGlobal,
                   bool decode)
      : src(src), dst(dst), env(env), dims(dims), ropeGlobal(ropeGlobal),
        decode(decode) {}

  LogicalResult run(int64_t &perRowBytes, int64_t &fixedBytes);

private:
  LogicalResult lowerOp(Operation *op, int64_t index);
  Value newBuffer(Value tensor, int64_t index, Type elem = {});
  QMatmulTileOp tiledProduct(scf::ForallOp forall);
  LogicalResult lowerProduct(const ProductSpec &spec, Value input,
                             Value weight, Value result, int64_t index);
  LogicalResult lowerProductOp(Operation *op, int64_t index);
  Value productInput(Operation *op);
  void batchProducts(Block &body);
  Value cacheLayer(Value cachePtr, int64_t layer);
  Value scalar(Value v) {
    auto it = scalars.find(v);
    return it == scalars.end() ? Value() : it->second;
  }
  LogicalResult elementwise(Operation *op, ValueRange ins, Block *body,
                            int64_t index);

  func::FuncOp src, dst;
  FunctionEnv env;
  const ModelDims &dims;
  memref::GlobalOp ropeGlobal;
  Value ropeTable;
  bool decode;
  OpBuilder *builder = nullptr;
  IRB *r = nullptr;

  Value m, pos, scratch, logits, kcachePtr, vcachePtr;
  Value logitsPtr, firstLogit; // prefill: the logits wanted from this row
  arith::ConstantIndexOp fixedBasePerRow; // patched: M * perRow arena size
  LivenessArena perRowArena, fixedArena;
  DenseMap<Value, Value> buffers;  // tensor -> memref
  DenseMap<Value, Value> scalars;  // index values of the source
  DenseMap<Value, WeightInfo> weights;
  DenseMap<Value, Value> cacheRoot; // tensor (cache state) -> cache pointer
  DenseMap<Value, int64_t> lastUse;
  Value logitsValue;
  /// Products batched into one parallel section (batchProducts): each
  /// member's index -> the index of its batch's last member.
  DenseMap<Operation *, int64_t> batchLast;
  std::vector<DeferredParallelFor> pendingBatch;
};

Value FunctionLowering::newBuffer(Value tensor, int64_t index, Type elem) {
  auto type = cast<RankedTensorType>(tensor.getType());
  elem = elem ? elem : type.getElementType();
  int64_t rowElems = 1;
  bool perRow = type.getRank() > 0 && type.isDynamicDim(0);
  for (int64_t d = perRow ? 1 : 0; d < type.getRank(); ++d)
    rowElems *= type.getDimSize(d);
  int64_t bytes = rowElems * (elem.getIntOrFloatBitWidth() / 8);
  int64_t last = lastUse.lookup(tensor);
  auto memType = MemRefType::get(type.getShape(), elem);
  Value shift;
  if (perRow) {
    int64_t off = perRowArena.allocate(bytes, index, last);
    shift = r->mul(m, r->idx(off));
    return memref::ViewOp::create(*builder, r->loc, memType, scratch, shift,
                                  ValueRange{m});
  }
  int64_t off = fixedArena.allocate(bytes, index, last);
  shift = r->add(fixedBasePerRow, r->idx(off));
  return memref::ViewOp::create(*builder, r->loc, memType, scratch, shift,
                                ValueRange{});
}

/// The mixq.qmatmul_tile of an scf.forall that -mixq-tile made of a
/// product: one dimension from 0 to N by a constant tile, the tile's rows
/// starting at the induction variable, its whole result inserted into the
/// shared output at that row; null for any other forall.
QMatmulTileOp FunctionLowering::tiledProduct(scf::ForallOp forall) {
  if (forall.getRank() != 1 || forall.getNumResults() != 1)
    return {};
  std::optional<int64_t> lb = getConstantIntValue(forall.getMixedLowerBound()[0]);
  std::optional<int64_t> step = getConstantIntValue(forall.getMixedStep()[0]);
  if (!lb || *lb != 0 || !step)
    return {};
  QMatmulTileOp tile;
  for (Operation &inner : forall.getBody()->without_terminator()) {
    if (auto t = dyn_cast<QMatmulTileOp>(inner)) {
      if (tile)
        return {};
      tile = t;
    } else if (!isa<arith::ConstantOp, affine::AffineMinOp>(inner)) {
      return {};
    }
  }
  if (!tile || tile.getRowOffset() != forall.getInductionVars()[0])
    return {};
  auto weight = cast<QWeightType>(tile.getWeight().getType());
  std::optional<int64_t> ub = getConstantIntValue(forall.getMixedUpperBound()[0]);
  if (!ub || *ub != weight.getN() || tile.getKSize() != weight.getK() ||
      tile.getInput().getParentRegion() == &forall.getRegion())
    return {};
  auto yields = forall.getTerminator().getYieldingOps();
  if (!llvm::hasSingleElement(yields))
    return {};
  auto insert = dyn_cast<tensor::ParallelInsertSliceOp>(*yields.begin());
  if (!insert || insert.getSource() != tile.getResult())
    return {};
  return tile;
}

Value FunctionLowering::productInput(Operation *op) {
  if (auto q = dyn_cast<QMatmulOp>(op))
    return q.getInput();
  if (auto forall = dyn_cast<scf::ForallOp>(op))
    if (QMatmulTileOp tile = tiledProduct(forall))
      return tile.getInput();
  return {};
}

void FunctionLowering::batchProducts(Block &body) {
  // Runs of products that read the same input, with nothing but
  // tensor.empty, tensor.dim and constants between them (q, k, v; gate
  // and up): their parallel_for calls become one (emitParallelBatch). A
  // product reading another's result has that result as its input, so it
  // starts a new run. The logits product stays alone (prefill takes its
  // last rows only).
  SmallVector<std::pair<Operation *, int64_t>> run;
  Value runInput;
  auto close = [&] {
    if (run.size() > 1)
      for (auto &[op, i] : run)
        batchLast[op] = run.back().second;
    run.clear();
    runInput = Value();
  };
  int64_t index = 0;
  for (Operation &op : body) {
    int64_t i = index++;
    if (isa<tensor::EmptyOp, tensor::DimOp, arith::ConstantOp>(op))
      continue; // no code of their own
    Value input = productInput(&op);
    bool logits = op.getNumResults() == 1 && op.getResult(0) == logitsValue;
    if (!input || logits) {
      close();
      continue;
    }
    if (input != runInput)
      close();
    run.push_back({&op, i});
    runInput = input;
  }
  close();
}

LogicalResult FunctionLowering::lowerProduct(const ProductSpec &spec,
                                             Value input, Value weight,
                                             Value result, int64_t index) {
  const WeightInfo &w = weights[weight];
  Value out = result == logitsValue ? logits : newBuffer(result, index);
  buffers[result] = out;
  Value x = buffers[input], rows = m;
  // A prefill's classifier runs on rows firstLogit.. only (the ABI leaves
  // the rest unspecified): the input's and the logits' rows from there on.
  auto view = x.getDefiningOp<memref::ViewOp>();
  Value tmp;
  if (int64_t perRow = qmatmulScratchBytesPerRow(w)) {
    // A batched product runs with its batch's last member: its scratch
    // lives until then.
    int64_t until = batchLast.lookup(spec.op);
    int64_t off = perRowArena.allocate(perRow, index, std::max(index, until));
    tmp = memref::ViewOp::create(
        *builder, r->loc, MemRefType::get({ShapedType::kDynamic},
                                          builder->getI8Type()),
        scratch, r->mul(m, r->idx(off)),
        ValueRange{r->mul(m, r->idx(roundUp64(perRow)))});
  }
  if (out == logits && firstLogit && view && view.getSizes().size() == 1) {
    auto type = cast<MemRefType>(x.getType());
    int64_t rowBytes =
        type.getDimSize(1) * (type.getElementTypeBitWidth() / 8);
    rows = r->sub(m, firstLogit);
    Value shift =
        r->add(view.getByteShift(), r->mul(firstLogit, r->idx(rowBytes)));
    x = memref::ViewOp::create(*builder, r->loc, type, scratch, shift,
                               ValueRange{rows});
    auto outType = cast<MemRefType>(out.getType());
    Value at = LLVM::GEPOp::create(
        *builder, r->loc, logitsPtr.getType(), builder->getF32Type(),
        logitsPtr,
        ArrayRef<LLVM::GEPArg>{r->toI64(r->mul(
            firstLogit, r->idx(outType.getDimSize(1))))});
    out = memrefFromPointer(*builder, r->loc, at, outType, ValueRange{rows});
    // The usual request is the last token's logits alone: then the
    // decode step's GEMV (the same task) runs, not the GEMM at M = 1
    // (stories15M's int8 head: 0.5-0.8 ms as a GEMM, 0.24 as the GEMV).
    Value one = arith::CmpIOp::create(*builder, r->loc,
                                      arith::CmpIPredicate::eq, rows,
                                      r->idx(1));
    auto branch = scf::IfOp::create(*builder, r->loc, one,
                                    /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(*builder);
    builder->setInsertionPointToStart(&branch.getThenRegion().front());
    Value x1 = memref::ViewOp::create(
        *builder, r->loc,
        MemRefType::get({1, type.getDimSize(1)}, type.getElementType()),
        scratch, shift, ValueRange{});
    Value out1 = memrefFromPointer(
        *builder, r->loc, at,
        MemRefType::get({1, outType.getDimSize(1)}, outType.getElementType()),
        {});
    if (failed(emitQMatmul(*r, env, spec, w, x1, out1, r->idx(1), tmp)))
      return failure();
    builder->setInsertionPointToStart(&branch.getElseRegion().front());
    return emitQMatmul(*r, env, spec, w, x, out, rows, tmp);
  }
  return emitQMatmul(*r, env, spec, w, x, out, rows, tmp);
}

Value FunctionLowering::cacheLayer(Value cachePtr, int64_t layer) {
  int64_t hd = dims.headDim();
  int64_t layerElems = dims.seq * dims.kvHeads * hd;
  auto ptrType = LLVM::LLVMPointerType::get(builder->getContext());
  Value at = LLVM::GEPOp::create(*builder, r->loc, ptrType, builder->getF32Type(),
                                 cachePtr,
                                 ArrayRef<LLVM::GEPArg>{int32_t(layer * layerElems)});
  return memrefFromPointer(
      *builder, r->loc, at,
      MemRefType::get({dims.seq, dims.kvHeads, hd}, builder->getF32Type()), {});
}

LogicalResult FunctionLowering::elementwise(Operation *op, ValueRange ins,
                                            Block *body, int64_t index) {
  Value result = op->getResult(0);
  auto type = cast<RankedTensorType>(result.getType());
  SmallVector<Value> inBufs;
  for (Value v : ins) {
    Value buf = buffers.lookup(v);
    if (!buf || cast<RankedTensorType>(v.getType()).getShape() != type.getShape())
      return op->emitOpError("-mixq-lower-cpu: element-wise operand without a "
                             "buffer of the result's shape");
    inBufs.push_back(buf);
  }
  Value out = newBuffer(result, index);
  buffers[result] = out;
  int64_t rowElems = 1;
  for (int64_t d = 1; d < type.getRank(); ++d)
    rowElems *= type.getDimSize(d);
  if (type.getRank() != 2)
    return op->emitOpError("-mixq-lower-cpu: element-wise ops must be 2-D");
  // Rows of whole vectors take the body on vectors: SwiGLU's exp, a call to
  // libm per element as scalars (4608 per stories15M decode step, run by
  // one thread between parallel sections), becomes the polynomial
  // approximation on 16 lanes (see runOnOperation).
  int64_t lanes = rowElems % 16 == 0 ? 16 : rowElems % 8 == 0 ? 8 : 1;
  auto vectorizable = [&](Operation &inner) {
    if (inner.getNumRegions() != 0 || inner.getNumResults() != 1 ||
        !inner.getResult(0).getType().isIntOrFloat())
      return false;
    if (auto c = dyn_cast<arith::ConstantOp>(inner))
      return isa<FloatAttr, IntegerAttr>(c.getValue());
    return inner.hasTrait<OpTrait::Elementwise>();
  };
  if (lanes > 1 && type.getElementType().isF32() &&
      (!body ? vectorizable(*op)
             : llvm::all_of(body->without_terminator(), vectorizable))) {
    auto vecOf = [&](Type t) { return VectorType::get({lanes}, t); };
    r->forLoop(r->idx(0), m, 1, [&](Value mi) {
      r->forLoop(r->idx(0), r->idx(rowElems), lanes, [&](Value k) {
        IRMapping map; // values of the body, as vectors
        auto vectorOf = [&](Value v) -> Value {
          if (Value mapped = map.lookupOrNull(v))
            return mapped;
          Value s = scalar(v) ? scalar(v) : v; // defined outside the body
          return vector::BroadcastOp::create(*builder, r->loc,
                                             vecOf(s.getType()), s);
        };
        SmallVector<Value> loaded;
        for (Value b : inBufs)
          loaded.push_back(vector::LoadOp::create(*builder, r->loc,
                                                  vecOf(builder->getF32Type()),
                                                  b, ValueRange{mi, k}));
        auto cloneOnVectors = [&](Operation &inner,
                                  ValueRange operands) -> Value {
          if (auto c = dyn_cast<arith::ConstantOp>(inner))
            return arith::ConstantOp::create(
                       *builder, r->loc,
                       DenseElementsAttr::get(vecOf(c.getType()), c.getValue()))
                .getResult();
          OperationState state(inner.getLoc(), inner.getName());
          state.addOperands(operands);
          state.addTypes(vecOf(inner.getResult(0).getType()));
          state.addAttributes(inner.getAttrs());
          return builder->create(state)->getResult(0);
        };
        Value res;
        if (body) {
          for (auto [arg, v] : llvm::zip(body->getArguments(), loaded))
            map.map(arg, v);
          for (Operation &inner : body->without_terminator()) {
            SmallVector<Value> operands;
            for (Value v : inner.getOperands())
              operands.push_back(vectorOf(v));
            map.map(inner.getResult(0), cloneOnVectors(inner, operands));
          }
          res = vectorOf(body->getTerminator()->getOperand(0));
        } else {
          res = cloneOnVectors(*op, loaded);
        }
        vector::StoreOp::create(*builder, r->loc, res, out, ValueRange{mi, k});
      });
    });
    return success();
  }
  r->forLoop(r->idx(0), m, 1, [&](Value mi) {
    r->forLoop(r->idx(0), r->idx(rowElems), 1, [&](Value k) {
      IRMapping map;
      for (auto [from, to] : scalars)
        map.map(from, to);
      SmallVector<Value> loaded;
      for (Value b : inBufs)
        loaded.push_back(r->load(b, {mi, k}));
      Value res;
      if (body) {
        for (auto [arg, v] : llvm::zip(body->getArguments(), loaded))
          map.map(arg, v);
        for (Operation &inner : body->without_terminator())
          builder->clone(inner, map);
        res = map.lookup(body->getTerminator()->getOperand(0));
      } else {
        OperationState state(op->getLoc(), op->getName());
        state.addOperands(loaded);
        state.addTypes(type.getElementType());
        state.addAttributes(op->getAttrs());
        res = builder->create(state)->getResult(0);
      }
      r->store(res, out, {mi, k});
    });
  });
  return success();
}

LogicalResult FunctionLowering::lowerProductOp(Operation *op,
                                               int64_t index) {
  if (auto q = dyn_cast<QMatmulOp>(op)) {
    ProductSpec spec{op, q.getPlanAttr(), q.getExcludeOutliers(),
                     q.getPlanAttr() ? q.getPlanAttr().getTileN() : 16};
    return lowerProduct(spec, q.getInput(), q.getWeight(), q.getResult(),
                        index);
  }
  auto forall = cast<scf::ForallOp>(op);
  QMatmulTileOp tile = tiledProduct(forall);
  if (!tile)
    return op->emitOpError("-mixq-lower-cpu: only the scf.forall of a "
                           "product tiled by -mixq-tile over its N tiles "
                           "is supported (split_k = 1)");
  std::optional<int64_t> step = getConstantIntValue(forall.getMixedStep()[0]);
  ProductSpec spec{op, tile.getPlan(), tile.getExcludeOutliers(), *step};
  return lowerProduct(spec, tile.getInput(), tile.getWeight(),
                      forall.getResult(0), index);
}

LogicalResult FunctionLowering::lowerOp(Operation *op, int64_t index) {
  OpBuilder &b = *builder;
  Location loc = op->getLoc();
  r->loc = loc;

  if (auto w = dyn_cast<WeightOp>(op)) {
    auto type = cast<QWeightType>(w.getType());
    weights[w.getResult()] = WeightInfo{w.getName().str(),
                                        type.getLayout().toLayout(), type.getN(),
                                        type.getK()};
    return success();
  }
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (c.getType().isIntOrIndexOrFloat()) {
      scalars[c.getResult()] = b.clone(*op)->getResult(0);
      return success();
    }
    return op->emitOpError("-mixq-lower-cpu: unexpected tensor constant");
  }
  if (auto d = dyn_cast<tensor::DimOp>(op)) {
    scalars[d.getResult()] = m;
    return success();
  }
  if (isa<tensor::EmptyOp>(op))
    return success();
  if (auto gen = dyn_cast<tensor::GenerateOp>(op)) {
    Value out = newBuffer(gen.getResult(), index);
    buffers[gen.getResult()] = out;
    Block &body = gen.getBody().front();
    r->forLoop(r->idx(0), m, 1, [&](Value i) {
      IRMapping map;
      map.map(body.getArgument(0), i);
      for (auto [from, to] : scalars)
        map.map(from, to);
      for (Operation &inner : body.without_terminator())
        b.clone(inner, map);
      r->store(map.lookup(body.getTerminator()->getOperand(0)), out, i);
    });
    return success();
  }
  if (auto e = dyn_cast<EmbedOp>(op)) {
    Value out = newBuffer(e.getResult(), index);
    buffers[e.getResult()] = out;
    const WeightInfo &w = weights[e.getTable()];
    if (failed(emitEmbed(*r, env, w, buffers[e.getTokens()], out, m)))
      return op->emitOpError()
             << "-mixq-lower-cpu: the embedding table '" << w.name
             << "' has a layout the CPU kernels cannot read by row ("
             << formatLayout(w.layout) << ", rows of " << w.cols
             << " columns; they read quantized rows in groups of a multiple "
                "of 16 columns)";
    return success();
  }
  if (auto dq = dyn_cast<DequantOp>(op)) {
    const WeightInfo &w = weights[dq.getWeight()];
    if (w.layout.scheme != Scheme::Dense)
      return op->emitOpError() << "-mixq-lower-cpu: only dense weights can be "
                                  "read whole; '"
                               << w.name << "' is "
                               << schemeName(w.layout.scheme);
    auto flat = env.table->view(b, loc, env.streams, w, "values");
    if (failed(flat))
      return op->emitOpError("missing 'values' stream");
    auto flatType = cast<MemRefType>(flat->getType());
    auto type = MemRefType::get({w.rows, w.cols}, flatType.getElementType());
    buffers[dq.getResult()] = memref::ExpandShapeOp::create(
        b, loc, type, *flat, SmallVector<ReassociationIndices>{{0, 1}});
    return success();
  }
  if (auto c = dyn_cast<tensor::CollapseShapeOp>(op)) {
    Value src = buffers.lookup(c.getSrc());
    if (!src)
      return op->emitOpError("-mixq-lower-cpu: collapse of an unknown value");
    buffers[c.getResult()] = memref::CollapseShapeOp::create(
        b, loc, src, c.getReassociationIndices());
    return success();
  }
  if (auto e = dyn_cast<tensor::ExpandShapeOp>(op)) {
    Value src = buffers.lookup(e.getSrc());
    if (!src)
      return op->emitOpError("-mixq-lower-cpu: expand of an unknown value");
    auto type = MemRefType::get(e.getResultType().getShape(),
                                cast<MemRefType>(src.getType()).getElementType());
    SmallVector<OpFoldResult> shape;
    for (OpFoldResult s : e.getMixedOutputShape()) {
      if (auto v = dyn_cast<Value>(s))
        shape.push_back(scalar(v) ? OpFoldResult(scalar(v)) : OpFoldResult(m));
      else
        shape.push_back(s);
    }
    buffers[e.getResult()] = memref::ExpandShapeOp::create(
        b, loc, type, src, e.getReassociationIndices(), shape);
    return success();
  }
  if (auto n = dyn_cast<RMSNormOp>(op)) {
    Value out = newBuffer(n.getResult(), index);
    buffers[n.getResult()] = out;
    emitRmsNorm(*r, buffers[n.getInput()], buffers[n.getGamma()], out, m,
                n.getEpsilon().convertToFloat());
    return success();
  }
  if (isa<QMatmulOp, scf::ForallOp>(op)) {
    // A batch member leaves its parallel_for to the batch's last member.
    auto last = batchLast.find(op);
    env.batch = last == batchLast.end() ? nullptr : &pendingBatch;
    LogicalResult lowered = lowerProductOp(op, index);
    env.batch = nullptr;
    if (succeeded(lowered) && last != batchLast.end() &&
        last->second == index) {
      emitParallelBatch(*r, env, pendingBatch);
      pendingBatch.clear();
    }
    return lowered;
  }
  if (auto rope = dyn_cast<RopeOp>(op)) {
    if (rope.getTheta().convertToFloat() != dims.theta)
      return op->emitOpError("-mixq-lower-cpu: RoPE theta differs from the "
                             "model's rope_theta");
    Value out = newBuffer(rope.getResult(), index);
    buffers[rope.getResult()] = out;
    emitRope(*r, buffers[rope.getInput()], buffers[rope.getPositions()], out, m,
             ropeTable, rope.getStyle() == RopePairing::Adjacent);
    return success();
  }
  if (auto ins = dyn_cast<tensor::InsertSliceOp>(op)) {
    Value cache = cacheRoot.lookup(ins.getDest());
    Value src = buffers.lookup(ins.getSource());
    std::optional<int64_t> l = kvCacheLayer(ins.getStaticOffsets());
    if (!cache || !src || !l)
      return op->emitOpError("-mixq-lower-cpu: only the KV-cache updates of "
                             "the Llama graph are supported");
    Value layer = cacheLayer(cache, *l);
    r->forLoop(r->idx(0), m, 1, [&](Value mi) {
      Value row = r->add(pos, mi);
      r->forLoop(r->idx(0), r->idx(dims.kvHeads), 1, [&](Value h) {
        r->forLoop(r->idx(0), r->idx(dims.headDim()), 1, [&](Value d) {
          r->store(r->load(src, {mi, h, d}), layer, {row, h, d});
        });
      });
    });
    cacheRoot[ins.getResult()] = cache;
    return success();
  }
  if (auto ex = dyn_cast<tensor::ExtractSliceOp>(op)) {
    Value cache = cacheRoot.lookup(ex.getSource());
    std::optional<int64_t> l = kvCacheLayer(ex.getStaticOffsets());
    if (!cache || !l)
      return op->emitOpError("-mixq-lower-cpu: only per-layer KV-cache slices "
                             "are supported");
    buffers[ex.getResult()] = cacheLayer(cache, *l);
    return success();
  }
  if (auto at = dyn_cast<AttentionOp>(op)) {
    Value out = newBuffer(at.getResult(), index);
    buffers[at.getResult()] = out;
    float scale = at.getScale() ? at.getScale()->convertToFloat()
                                : float(1.0 / std::sqrt(double(dims.headDim())));
    emitAttention(*r, env, buffers[at.getQuery()], buffers[at.getKeyCache()],
                  buffers[at.getValueCache()], pos, out, m, scale);
    return success();
  }
  if (auto sp = dyn_cast<SparseAddOp>(op)) {
    if (!sp.getAcc().hasOneUse())
      return op->emitOpError("-mixq-lower-cpu: the accumulator of sparse_add "
                             "must have no other use");
    Value acc = buffers[sp.getAcc()];
    buffers[sp.getResult()] = acc;
    lastUse[sp.getResult()] = std::max(lastUse[sp.getResult()], index);
    return emitSparseAdd(*r, env, weights[sp.getWeight()],
                         buffers[sp.getInput()], acc, m);
  }
  if (isa<arith::AddFOp, arith::MulFOp, arith::SubFOp>(op))
    return elementwise(op, op->getOperands(), nullptr, index);
  if (auto g = dyn_cast<linalg::GenericOp>(op)) {
    for (AffineMap map : g.getIndexingMapsArray())
      if (!map.isIdentity())
        return op->emitOpError("-mixq-lower-cpu: only element-wise generics");
    return elementwise(op, g.getDpsInputs(), g.getBody(), index);
  }
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    Value out = buffers.lookup(ret.getOperand(0));
    if (out != logits)
      return op->emitOpError("-mixq-lower-cpu: the logits must come from the "
                             "classifier's product");
    return success();
  }
  return op->emitOpError("-mixq-lower-cpu: cannot lower this op");
}

LogicalResult FunctionLowering::run(int64_t &perRowBytes, int64_t &fixedBytes) {
  OpBuilder b(dst.getContext());
  builder = &b;
  Block *entry = dst.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRB irb{b, src.getLoc()};
  r = &irb;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  // ABI arguments: rt, streams, kcache, vcache, tokens|token, [n], pos,
  // [first_logit], logits, scratch.
  env.runtime = entry->getArgument(0);
  env.streams = entry->getArgument(1);
  kcachePtr = entry->getArgument(2);
  vcachePtr = entry->getArgument(3);
  unsigned a = 4;
  Value tokensArg = entry->getArgument(a++);
  Value nArg = decode ? Value() : entry->getArgument(a++);
  Value posArg = entry->getArgument(a++);
  Value firstArg = decode ? Value() : entry->getArgument(a++);
  logitsPtr = entry->getArgument(a++);
  Value scratchPtr = entry->getArgument(a++);

  // Argument checks: BAD_ARGUMENT (1) before anything is touched.
  Value posIdx = irb.toIndex(posArg);
  Value count = decode ? irb.idx(1) : irb.toIndex(nArg);
  Value tokens;
  if (decode) {
    tokens = memref::AllocaOp::create(b, irb.loc, MemRefType::get({1}, i32));
    irb.store(tokensArg, tokens, irb.idx(0));
  } else {
    tokens = memrefFromPointer(b, irb.loc, tokensArg,
                               MemRefType::get({ShapedType::kDynamic}, i32),
                               ValueRange{count});
  }
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, irb.loc, p, x, y);
  };
  Value ok = arith::AndIOp::create(
      b, irb.loc, cmp(arith::CmpIPredicate::sge, posArg, irb.i64(0)),
      cmp(arith::CmpIPredicate::sge, decode ? irb.i64(1) : nArg, irb.i64(1)));
  Value endPos = arith::AddIOp::create(b, irb.loc, posArg,
                                       decode ? irb.i64(1) : nArg);
  ok = arith::AndIOp::create(b, irb.loc, ok,
                             cmp(arith::CmpIPredicate::sle, endPos,
                                 irb.i64(dims.seq)));
  if (!decode) // 0 <= first_logit < n
    ok = arith::AndIOp::create(
        b, irb.loc, ok,
        arith::AndIOp::create(
            b, irb.loc, cmp(arith::CmpIPredicate::sge, firstArg, irb.i64(0)),
            cmp(arith::CmpIPredicate::slt, firstArg, nArg)));
  Value okIdx = arith::SelectOp::create(b, irb.loc, ok, count, irb.idx(0));
  Value tokOk = irb.forReduce(
      irb.idx(0), okIdx, 1,
      arith::ConstantIntOp::create(b, irb.loc, b.getI1Type(), 1),
      [&](Value i, Value acc) {
        Value t = irb.load(tokens, i);
        Value good = arith::AndIOp::create(
            b, irb.loc, cmp(arith::CmpIPredicate::sge, t, irb.i32(0)),
            cmp(arith::CmpIPredicate::slt, t, irb.i32(dims.vocab)));
        return arith::AndIOp::create(b, irb.loc, acc, good).getResult();
      });
  ok = arith::AndIOp::create(b, irb.loc, ok, tokOk);
  Block *body = b.createBlock(&dst.getBody());
  Block *bad = b.createBlock(&dst.getBody());
  b.setInsertionPointToEnd(entry);
  cf::CondBranchOp::create(b, irb.loc, ok, body, bad);
  b.setInsertionPointToStart(bad);
  func::ReturnOp::create(b, irb.loc, ValueRange{irb.i32(1)});
  b.setInsertionPointToStart(body);

  // The function's values.
  ropeTable = memref::GetGlobalOp::create(b, irb.loc, ropeGlobal.getType(),
                                          ropeGlobal.getSymName());
  m = decode ? irb.idx(1) : count;
  pos = posIdx;
  firstLogit = decode ? Value() : irb.toIndex(firstArg);
  fixedBasePerRow = arith::ConstantIndexOp::create(b, irb.loc, 0);
  Value scratchSize = irb.add(irb.mul(m, irb.idx(0)), irb.idx(0)); // patched
  auto sizeOp = scratchSize.getDefiningOp<arith::AddIOp>();
  scratch = memrefFromPointer(b, irb.loc, scratchPtr,
                              MemRefType::get({ShapedType::kDynamic},
                                              b.getI8Type()),
                              ValueRange{scratchSize});
  Block &srcBody = src.getBody().front();
  auto ret = cast<func::ReturnOp>(srcBody.getTerminator());
  logitsValue = ret.getOperand(0);
  logits = memrefFromPointer(
      b, irb.loc, logitsPtr,
      MemRefType::get(cast<RankedTensorType>(logitsValue.getType()).getShape(),
                      f32),
      decode ? ValueRange{} : ValueRange{m});
  // Arguments of the tensor function.
  buffers[srcBody.getArgument(0)] = tokens;
  scalars[srcBody.getArgument(1)] = pos;
  cacheRoot[srcBody.getArgument(2)] = kcachePtr;
  cacheRoot[srcBody.getArgument(3)] = vcachePtr;

  // Liveness: the last op index that reads a buffer, through views.
  DenseMap<Value, Value> root;
  int64_t index = 0;
  for (Operation &op : srcBody) {
    // Operands of nested ops (the tiles of a product) count as the op's.
    op.walk([&](Operation *user) {
      for (Value operand : user->getOperands()) {
        Value base = root.lookup(operand) ? root.lookup(operand) : operand;
        lastUse[base] = index;
      }
    });
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, SparseAddOp>(op)) {
      Value base = root.lookup(op.getOperand(0)) ? root.lookup(op.getOperand(0))
                                                 : op.getOperand(0);
      root[op.getResult(0)] = base;
    }
    ++index;
  }
  // A view's lifetime extends its root's: map each view's uses onto it.
  for (auto [view, base] : root)
    lastUse[base] = std::max(lastUse[base], lastUse.lookup(view));
  batchProducts(srcBody);
  index = 0;
  for (Operation &op : srcBody.without_terminator()) {
    if (failed(lowerOp(&op, index++)))
      return failure();
  }
  if (failed(lowerOp(ret, index)))
    return failure();
  func::ReturnOp::create(b, irb.loc, ValueRange{irb.i32(0)});

  perRowBytes = perRowArena.peak;
  fixedBytes = fixedArena.peak;
  // Patch the fixed arena's base (after the per-row arena) and the size.
  OpBuilder patch(fixedBasePerRow);
  Value base = arith::MulIOp::create(patch, irb.loc, m,
                                     arith::ConstantIndexOp::create(
                                         patch, irb.loc, perRowBytes));
  fixedBasePerRow.replaceAllUsesWith(base);
  fixedBasePerRow.erase();
  auto mulOp = sizeOp.getLhs().getDefiningOp<arith::MulIOp>();
  mulOp.getRhs().getDefiningOp<arith::ConstantIndexOp>()->setAttr(
      "value", b.getIndexAttr(perRowBytes));
  sizeOp.getRhs().getDefiningOp<arith::ConstantIndexOp>()->setAttr(
      "value", b.getIndexAttr(fixedBytes));
  return success();
}

struct LowerCpuPass : public mixq::impl::MixQLowerCpuBase<LowerCpuPass> {
  using MixQLowerCpuBase::MixQLowerCpuBase;
  void runOnOperation() override;
};

} // namespace

namespace {

void LowerCpuPass::runOnOperation() {
  ModuleOp module = getOperation();
  ModelDims dims;
  if (failed(readModelDims(module, dims, "-mixq-lower-cpu")))
    return signalPassFailure();
  auto shaAttr = module->getAttrOfType<StringAttr>("mixq.package_sha256");
  if (!shaAttr) {
    module.emitError("-mixq-lower-cpu needs the 'mixq.package_sha256' "
                     "attribute of a module built by `mixq compile`");
    return signalPassFailure();
  }
  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  auto decodeFn = module.lookupSymbol<func::FuncOp>("decode");
  if (!prefill || !decodeFn) {
    module.emitError("-mixq-lower-cpu needs the @prefill and @decode "
                     "functions of the Llama graph");
    return signalPassFailure();
  }
  MLIRContext *ctx = &getContext();
  OpBuilder b(ctx);
  Location loc = module.getLoc();
  b.setInsertionPointToStart(module.getBody());
  memref::GlobalOp rope = buildRopeTable(b, loc, dims, /*alignment=*/64);

  StreamTable table;
  // One registry for both functions: a task is shared by every layer (and
  // by prefill and decode) whose call has the same body.
  TaskRegistry tasks;
  int64_t bytes[2][2] = {{0, 0}, {0, 0}};
  for (bool isDecode : {false, true}) {
    func::FuncOp src = isDecode ? decodeFn : prefill;
    func::FuncOp dst = createEntryPoint(b, src.getLoc(), module, isDecode);
    FunctionEnv env;
    env.table = &table;
    env.module = module;
    env.tasks = &tasks;
    // `features` lists the host's features, then the user's; the last
    // mention of each wins (featureIsOn).
    env.vnni = featureIsOn(features, "avx512vnni") &&
               featureIsOn(features, "avx512bw");
    env.avxVnni = featureIsOn(features, "avxvnni");
    env.avx2 = featureIsOn(features, "avx2");
    env.avx512 = featureIsOn(features, "avx512f");
    env.vbmi = featureIsOn(features, "avx512vbmi");
    FunctionLowering lowering(src, dst, env, dims, rope, isDecode);
    if (failed(lowering.run(bytes[isDecode][0], bytes[isDecode][1])))
      return signalPassFailure();
  }
  prefill.erase();
  decodeFn.erase();
  // "x86-64:<cpu>", then the vector extensions the kernels select on that
  // the features turn on, which the CPU name need not imply (--cpu-features
  // =+avx512f): the runtime refuses a module whose extensions this CPU
  // lacks rather than die of SIGILL (runtime/TargetCheck.h).
  std::string target = "x86-64:" + cpu;
  SmallVector<std::string> vectorFeatures;
  for (StringRef f : {"avx2", "fma", "f16c", "avx512f", "avx512bw",
                      "avx512vl", "avx512vbmi", "avx512vnni", "avxvnni"})
    if (featureIsOn(features, f))
      vectorFeatures.push_back(("+" + f).str());
  if (!vectorFeatures.empty())
    target += ":" + llvm::join(vectorFeatures, ",");
  // mixq_scratch_bytes(max_tokens) = max(prefill(max_tokens), decode).
  int64_t prefillPerRow = bytes[0][0], prefillFixed = bytes[0][1],
          decodeBytes = bytes[1][0] + bytes[1][1];
  buildModuleExports(
      b, loc, module, dims, shaAttr.getValue(), target, table.names(),
      [&](IRB &r, Value n) -> Value {
        Value pre = arith::AddIOp::create(
            r.b, r.loc, arith::MulIOp::create(r.b, r.loc, n, r.i64(prefillPerRow)),
            r.i64(prefillFixed));
        return arith::MaxSIOp::create(r.b, r.loc, pre, r.i64(decodeBytes));
      });
  SmallVector<Attribute> names;
  for (const std::string &n : table.names())
    names.push_back(b.getStringAttr(n));
  module->setAttr("mixq.streams", b.getArrayAttr(names));

  // exp (SwiGLU, softmax) as MLIR's Cephes-style polynomial on any number of
  // lanes instead of a libm call per element; walked once, nothing else
  // rewritten or folded.
  RewritePatternSet patterns(ctx);
  populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
    return name == math::ExpOp::getOperationName();
  });
  walkAndApplyPatterns(module, std::move(patterns));
}

} // namespace
