//===- LayerKernels.cpp - GPU kernels of the Llama layer ops --------------===//
//
// Embedding rows, RMSNorm, RoPE, the KV-cache store, attention and the
// element-wise kernels of the whole-graph GPU lowering; see LayerKernels.h
// for the thread mappings and docs/Compiler.md for how they are launched.
// Simple kernels: one block per row or one thread per element, reductions
// through shared memory, no tensor cores.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/LayerKernels.h"

#include <cmath>

using namespace mlir;

namespace mixq::device {

MemRefType sharedBuffer(MLIRContext *ctx, int64_t n, Type elem) {
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  return MemRefType::get({n}, elem, MemRefLayoutAttrInterface(), space);
}

namespace {

Value cmp(IRB &r, arith::CmpIPredicate p, Value a, Value c) {
  return arith::CmpIOp::create(r.b, r.loc, p, a, c);
}

/// Runs `body` when `cond` holds.
void ifThen(IRB &r, Value cond, llvm::function_ref<void()> body) {
  auto op = scf::IfOp::create(r.b, r.loc, cond, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(r.b);
  r.b.setInsertionPointToStart(op.thenBlock());
  body();
}

Value f64Const(IRB &r, double v) {
  return arith::ConstantFloatOp::create(r.b, r.loc, r.b.getF64Type(),
                                        APFloat(v));
}

/// The global thread index of a 1-D launch with `threads` per block.
Value globalThread(IRB &r, int64_t threads) {
  return r.add(r.mulI(blockId(r, gpu::Dimension::x), threads), threadIdX(r));
}

} // namespace

Value blockReduce(IRB &r, Value red, Value tid, Value mine,
                  llvm::function_ref<Value(Value, Value)> combine) {
  r.store(mine, red, tid);
  gpu::BarrierOp::create(r.b, r.loc);
  ifThen(r, cmp(r, arith::CmpIPredicate::eq, tid, r.idx(0)), [&] {
    Value total = r.forReduce(r.idx(1), r.idx(kRowThreads), 1,
                              r.load(red, r.idx(0)),
                              [&](Value i, Value a) {
                                return combine(a, r.load(red, i));
                              });
    r.store(total, red, r.idx(0));
  });
  gpu::BarrierOp::create(r.b, r.loc);
  Value v = r.load(red, r.idx(0));
  // The next use of `red` must not overwrite red[0] before all have read it.
  gpu::BarrierOp::create(r.b, r.loc);
  return v;
}

Value expF32(IRB &r, Value x) {
  Value t = r.fmul(x, r.f32(1.4426950408889634));
  return inlinePtx(r, r.b.getF32Type(), {t}, "ex2.approx.ftz.f32 $0, $1;",
                   "=f,f", /*sideEffects=*/false);
}

FailureOr<KernelLaunch> buildEmbedKernel(OpBuilder &b, Location loc,
                                         gpu::GPUModuleOp module,
                                         llvm::StringRef name,
                                         const WeightInfo &table, int64_t cap,
                                         bool scalarToken, std::string &why) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  const int64_t V = table.rows, K = table.cols;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  std::unique_ptr<ChunkDecoder> dec;
  int valuesArg = -1;
  if (table.layout.scheme == Scheme::Dense) {
    FailureOr<unsigned> v = sig.addStream(ctx, table, "values");
    if (failed(v)) {
      why = "the table has no 'values' stream";
      return failure();
    }
    valuesArg = int(*v);
  } else {
    GemvSpec spec;
    spec.w = table;
    spec.m = 1;
    spec.xElem = f32;
    spec.kSize = K;
    FailureOr<std::unique_ptr<ChunkDecoder>> made =
        makeDecoder(ctx, spec, sig, why);
    if (failed(made)) {
      why = "the embedding table cannot be read by rows on the GPU: " + why;
      return failure();
    }
    dec = std::move(*made);
    if (K % dec->chunk() != 0) {
      why = "the table's rows are not whole chunks of " +
            std::to_string(dec->chunk()) + " codes";
      return failure();
    }
  }
  unsigned tokArg =
      sig.addOther(scalarToken ? Type(i32) : MemRefType::get({cap}, i32));
  unsigned outArg = sig.addOther(MemRefType::get({cap, K}, f32));
  launch.block = {kRowThreads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block,
                             dec ? dec->workgroup(ctx)
                                 : SmallVector<MemRefType>{});
  gpu::GPUFuncOp func = launch.func;
  IRB r{b, loc};
  Value tid = threadIdX(r), row = blockId(r, gpu::Dimension::x);
  Value tok = scalarToken ? func.getArgument(tokArg)
                          : r.load(func.getArgument(tokArg), row);
  // A bad id reads a valid row (the runtime checks ids before the call).
  tok = arith::MaxSIOp::create(b, loc, tok, r.i32(0));
  tok = arith::MinSIOp::create(b, loc, tok, r.i32(V - 1));
  Value tokIdx = arith::IndexCastOp::create(b, loc, b.getIndexType(), tok);
  Value out = func.getArgument(outArg);
  if (!dec) {
    Value values = func.getArgument(valuesArg);
    Value base = r.mulI(tokIdx, K);
    r.forLoop(tid, r.idx(K), kRowThreads, [&](Value k) {
      r.store(r.loadF32(values, r.add(base, k)), out, {row, k});
    });
  } else {
    dec->bind(func.getArguments());
    dec->begin(r, tokIdx, func.getWorkgroupAttributions());
    const int64_t C = dec->chunk();
    r.forLoop(tid, r.idx(K / C), kRowThreads, [&](Value j) {
      Value k0 = r.mulI(j, C);
      Chunk c = dec->load(r, tokIdx, r.idx(0), k0);
      SmallVector<Value> vals = dec->values(r, c, 0, C);
      for (int64_t i = 0; i < C; ++i) {
        Value v = c.scale ? r.fmul(vals[i], c.scale) : vals[i];
        r.store(v, out, {row, r.addI(k0, i)});
      }
    });
  }
  gpu::ReturnOp::create(b, loc);
  return launch;
}

KernelLaunch buildRmsNormKernel(OpBuilder &b, Location loc,
                                gpu::GPUModuleOp module, llvm::StringRef name,
                                int64_t cap, int64_t dim, MemRefType gainType,
                                float epsilon) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  unsigned xArg = sig.addOther(MemRefType::get({cap, dim}, f32));
  unsigned gainArg = sig.addOther(gainType);
  unsigned outArg = sig.addOther(MemRefType::get({cap, dim}, f32));
  launch.block = {kRowThreads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block,
                             {sharedBuffer(ctx, kRowThreads, f64)});
  gpu::GPUFuncOp func = launch.func;
  Value x = func.getArgument(xArg), gain = func.getArgument(gainArg),
        out = func.getArgument(outArg);
  Value red = func.getWorkgroupAttributions()[0];
  IRB r{b, loc};
  Value tid = threadIdX(r), row = blockId(r, gpu::Dimension::x);
  Value part = r.forReduce(tid, r.idx(dim), kRowThreads, f64Const(r, 0.0),
                           [&](Value k, Value a) {
                             Value v = arith::ExtFOp::create(
                                 b, loc, f64, r.load(x, {row, k}));
                             return arith::AddFOp::create(
                                        b, loc, a,
                                        arith::MulFOp::create(b, loc, v, v))
                                 .getResult();
                           });
  Value sum = blockReduce(r, red, tid, part, [&](Value a, Value c) {
    return arith::AddFOp::create(b, loc, a, c).getResult();
  });
  Value mean = arith::DivFOp::create(b, loc, sum, f64Const(r, double(dim)));
  Value var = arith::AddFOp::create(b, loc, mean, f64Const(r, double(epsilon)));
  // sqrt.rn.f64 (correctly rounded, as std::sqrt); math.sqrt would call
  // libdevice and convert-gpu-to-nvvm rejects llvm.intr.sqrt.
  Value root = inlinePtx(r, f64, {var}, "sqrt.rn.f64 $0, $1;", "=d,d",
                         /*sideEffects=*/false);
  Value scale = arith::DivFOp::create(b, loc, f64Const(r, 1.0), root);
  r.forLoop(tid, r.idx(dim), kRowThreads, [&](Value k) {
    Value v = arith::ExtFOp::create(b, loc, f64, r.load(x, {row, k}));
    Value s = arith::TruncFOp::create(b, loc, f32,
                                      arith::MulFOp::create(b, loc, v, scale));
    r.store(r.fmul(s, r.loadF32(gain, k)), out, {row, k});
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

KernelLaunch buildRopeKernel(OpBuilder &b, Location loc,
                             gpu::GPUModuleOp module, llvm::StringRef name,
                             int64_t cap, int64_t heads, int64_t headDim,
                             bool adjacent, memref::GlobalOp table) {
  Type f32 = b.getF32Type();
  const int64_t half = headDim / 2;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  auto type = MemRefType::get({cap, heads, headDim}, f32);
  unsigned xArg = sig.addOther(type);
  unsigned outArg = sig.addOther(type);
  unsigned mArg = sig.addOther(b.getIndexType());
  unsigned posArg = sig.addOther(b.getIndexType());
  launch.block = {kRowThreads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  gpu::GPUFuncOp func = launch.func;
  Value x = func.getArgument(xArg), out = func.getArgument(outArg);
  IRB r{b, loc};
  Value e = globalThread(r, kRowThreads);
  Value total = r.mulI(func.getArgument(mArg), heads * half);
  ifThen(r, cmp(r, arith::CmpIPredicate::ult, e, total), [&] {
    Value row = r.divI(e, heads * half);
    Value h = r.remI(r.divI(e, half), heads);
    Value i = r.remI(e, half);
    Value pos = r.add(func.getArgument(posArg), row);
    Value ia = adjacent ? r.mulI(i, 2) : i;
    Value ib = adjacent ? r.addI(r.mulI(i, 2), 1) : r.addI(i, half);
    Value tab = memref::GetGlobalOp::create(b, loc, table.getType(),
                                            table.getSymName());
    Value x0 = r.load(x, {row, h, ia}), x1 = r.load(x, {row, h, ib});
    Value c = r.load(tab, {pos, i, r.idx(0)});
    Value s = r.load(tab, {pos, i, r.idx(1)});
    Value a = arith::SubFOp::create(b, loc, r.fmul(x0, c), r.fmul(x1, s));
    Value bb = r.fadd(r.fmul(x0, s), r.fmul(x1, c));
    r.store(a, out, {row, h, ia});
    r.store(bb, out, {row, h, ib});
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

KernelLaunch buildKvStoreKernel(OpBuilder &b, Location loc,
                                gpu::GPUModuleOp module, llvm::StringRef name,
                                int64_t cap, int64_t seq, int64_t kvHeads,
                                int64_t headDim) {
  Type f32 = b.getF32Type();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  unsigned srcArg =
      sig.addOther(MemRefType::get({cap, kvHeads, headDim}, f32));
  unsigned cacheArg =
      sig.addOther(MemRefType::get({seq, kvHeads, headDim}, f32));
  unsigned mArg = sig.addOther(b.getIndexType());
  unsigned posArg = sig.addOther(b.getIndexType());
  launch.block = {kElementThreads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  gpu::GPUFuncOp func = launch.func;
  IRB r{b, loc};
  const int64_t rowElems = kvHeads * headDim;
  Value e = globalThread(r, kElementThreads);
  Value total = r.mulI(func.getArgument(mArg), rowElems);
  ifThen(r, cmp(r, arith::CmpIPredicate::ult, e, total), [&] {
    Value row = r.divI(e, rowElems);
    Value h = r.remI(r.divI(e, headDim), kvHeads);
    Value d = r.remI(e, headDim);
    Value v = r.load(func.getArgument(srcArg), {row, h, d});
    r.store(v, func.getArgument(cacheArg),
            {r.add(func.getArgument(posArg), row), h, d});
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

FailureOr<KernelLaunch>
buildAttentionKernel(OpBuilder &b, Location loc, gpu::GPUModuleOp module,
                     llvm::StringRef name, int64_t cap, int64_t heads,
                     int64_t headDim, int64_t seq, int64_t kvHeads, float scale,
                     std::string &why) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  if (seq * 4 > 40 * 1024) {
    why = "max_seq_len " + std::to_string(seq) +
          " needs more than 40 KiB of shared scores in the attention kernel";
    return failure();
  }
  const int64_t group = heads / kvHeads;
  const int64_t warps = kRowThreads / kWarp;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  auto qType = MemRefType::get({cap, heads, headDim}, f32);
  auto cType = MemRefType::get({seq, kvHeads, headDim}, f32);
  unsigned qArg = sig.addOther(qType);
  unsigned kArg = sig.addOther(cType);
  unsigned vArg = sig.addOther(cType);
  unsigned outArg = sig.addOther(qType);
  unsigned posArg = sig.addOther(b.getIndexType());
  launch.block = {kRowThreads, 1, 1};
  launch.func = createKernel(
      b, loc, module, name, sig, launch.block,
      {sharedBuffer(ctx, seq, f32), sharedBuffer(ctx, headDim, f32),
       sharedBuffer(ctx, kRowThreads, f32),
       sharedBuffer(ctx, kRowThreads, f64)});
  gpu::GPUFuncOp func = launch.func;
  Value q = func.getArgument(qArg), kc = func.getArgument(kArg),
        vc = func.getArgument(vArg), out = func.getArgument(outArg);
  auto wg = func.getWorkgroupAttributions();
  Value scores = wg[0], qs = wg[1], red32 = wg[2], red64 = wg[3];
  IRB r{b, loc};
  Value tid = threadIdX(r), unit = blockId(r, gpu::Dimension::x);
  Value lane = r.remI(tid, kWarp), warp = r.divI(tid, kWarp);
  Value row = r.divI(unit, heads), h = r.remI(unit, heads);
  Value kvh = r.divI(h, group);
  Value last = r.addI(r.add(func.getArgument(posArg), row), 1);

  // q row into shared memory.
  r.forLoop(tid, r.idx(headDim), kRowThreads,
            [&](Value d) { r.store(r.load(q, {row, h, d}), qs, d); });
  gpu::BarrierOp::create(b, loc);
  // Scores: warp w takes positions w, w + 4, ...; its lanes split the head
  // dimension (coalesced key rows) and sum with shuffles.
  r.forLoop(warp, last, warps, [&](Value t) {
    Value part = r.forReduce(lane, r.idx(headDim), kWarp, r.f32(0.0),
                             [&](Value d, Value a) {
                               return fma(r, r.load(qs, d),
                                          r.load(kc, {t, kvh, d}), a);
                             });
    Value dot = warpSum(r, part);
    ifThen(r, cmp(r, arith::CmpIPredicate::eq, lane, r.idx(0)), [&] {
      r.store(r.fmul(dot, r.f32(scale)), scores, t);
    });
  });
  gpu::BarrierOp::create(b, loc);
  // Softmax: max in f32, exponentials in f32, their sum in f64.
  Value localMax = r.forReduce(tid, last, kRowThreads, r.f32(-INFINITY),
                               [&](Value t, Value a) {
                                 return arith::MaximumFOp::create(
                                            b, loc, a, r.load(scores, t))
                                     .getResult();
                               });
  Value mx = blockReduce(r, red32, tid, localMax, [&](Value a, Value c) {
    return arith::MaximumFOp::create(b, loc, a, c).getResult();
  });
  Value localSum = r.forReduce(
      tid, last, kRowThreads, f64Const(r, 0.0), [&](Value t, Value a) {
        Value ex =
            expF32(r, arith::SubFOp::create(b, loc, r.load(scores, t), mx));
        r.store(ex, scores, t);
        return arith::AddFOp::create(b, loc, a,
                                     arith::ExtFOp::create(b, loc, f64, ex))
            .getResult();
      });
  Value sum = blockReduce(r, red64, tid, localSum, [&](Value a, Value c) {
    return arith::AddFOp::create(b, loc, a, c).getResult();
  });
  Value inv = arith::TruncFOp::create(
      b, loc, f32, arith::DivFOp::create(b, loc, f64Const(r, 1.0), sum));
  // out[d] = sum_t p[t] v[t][d]: thread d, coalesced over the value row.
  r.forLoop(tid, r.idx(headDim), kRowThreads, [&](Value d) {
    Value acc = r.forReduce(r.idx(0), last, 1, r.f32(0.0),
                            [&](Value t, Value a) {
                              Value p = r.fmul(r.load(scores, t), inv);
                              return fma(r, p, r.load(vc, {t, kvh, d}), a);
                            });
    r.store(acc, out, {row, h, d});
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

KernelLaunch buildElementwiseKernel(
    OpBuilder &b, Location loc, gpu::GPUModuleOp module, llvm::StringRef name,
    int64_t cap, int64_t cols, unsigned numInputs,
    llvm::function_ref<Value(IRB &, ValueRange)> body) {
  Type f32 = b.getF32Type();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  auto type = MemRefType::get({cap, cols}, f32);
  for (unsigned i = 0; i <= numInputs; ++i)
    sig.addOther(type);
  unsigned mArg = sig.addOther(b.getIndexType());
  launch.block = {kElementThreads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  gpu::GPUFuncOp func = launch.func;
  IRB r{b, loc};
  Value e = globalThread(r, kElementThreads);
  Value total = r.mulI(func.getArgument(mArg), cols);
  ifThen(r, cmp(r, arith::CmpIPredicate::ult, e, total), [&] {
    Value row = r.divI(e, cols), col = r.remI(e, cols);
    SmallVector<Value> ins;
    for (unsigned i = 0; i < numInputs; ++i)
      ins.push_back(r.load(func.getArgument(i), {row, col}));
    r.store(body(r, ins), func.getArgument(numInputs), {row, col});
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

} // namespace mixq::device
