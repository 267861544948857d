//===- AuxKernels.cpp - Split-K reduction and CSR outlier kernels ---------===//
//
// Two small kernels that run after a decode GEMV on the same stream:
//
//   split reduce  out[m][n] = sum_s part[s][m][n], s in split order (a
//                 deterministic sum; no atomics, no zero-initialized
//                 output): grid (ceil(M*N / 256)), block (256), thread
//                 e = 256 b + t computes element e of the row-major M x N;
//   sparse add    out = acc + x * S^T for the CSR outliers S of a LUT
//                 weight: grid (ceil(N / 4)), block (128), warp w of block b
//                 owns row n = 4 b + w; its lanes stride over the row's
//                 entries [rowptr[n], rowptr[n+1]) (lane l takes entries
//                 rowptr[n] + l, + 32, ...) accumulating value * x[m][col]
//                 for every input row m, then butterfly-sum over the warp;
//                 lane 0 writes acc[m][n] + sum. Each output is written by
//                 exactly one lane: no atomics;
//   QUIK split    (activations not quantized, act = 16) grid (ceil(K / 128)),
//                 block (128): thread k = 128 b + t counts the outlier
//                 columns below k (a scan of col_index, C loads from the
//                 cache) and copies x[m][k] for every m to xo[m][rank] when
//                 k is one, else to xq[m][k - rank];
//   QUIK act      (act = 4 or 8) grid (m), block (128): block i quantizes
//   quantize      row i of the compacted columns, bit for bit as the
//                 reference engine (model/ActivationQuant.h): lo and hi by
//                 block reductions (exact, so in any order), one IEEE
//                 division for the scale and one per element, rounding
//                 with cvt.rni (ties to even), and writes the dequantized
//                 values (q - zero) * scale for the GEMVs and the GEMM;
//                 or, for the integer GEMM, the codes packed as signed
//                 4- or 8-bit integers (q - 2^(b-1) where asymmetric),
//                 32 bits a thread, and the row's scale and code zero.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"
#include "passes/gpu/LayerKernels.h"

using namespace mlir;

namespace mixq::device {

KernelLaunch buildSplitReduceKernel(OpBuilder &b, Location loc,
                                    gpu::GPUModuleOp module,
                                    llvm::StringRef name, int64_t splits,
                                    int64_t m, int64_t n) {
  Type f32 = b.getF32Type();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  unsigned partArg = sig.addOther(MemRefType::get({splits, m, n}, f32));
  unsigned outArg = sig.addOther(MemRefType::get({m, n}, f32));
  const int64_t threads = 256;
  launch.block = {threads, 1, 1};
  launch.grid = {(m * n + threads - 1) / threads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  Value part = launch.func.getArgument(partArg);
  Value out = launch.func.getArgument(outArg);

  IRB r{b, loc};
  Value e = r.add(r.mulI(blockId(r, gpu::Dimension::x), threads),
                  threadIdX(r));
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, e, r.idx(m * n));
  auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifInside.thenBlock());
    Value mi = r.divI(e, n), ni = r.remI(e, n);
    Value sum = r.load(part, {r.idx(0), mi, ni});
    for (int64_t s = 1; s < splits; ++s)
      sum = r.fadd(sum, r.load(part, {r.idx(s), mi, ni}));
    r.store(sum, out, {mi, ni});
  }
  gpu::ReturnOp::create(b, loc);
  return launch;
}

FailureOr<KernelLaunch> buildQuikSplitKernel(OpBuilder &b, Location loc,
                                             gpu::GPUModuleOp module,
                                             llvm::StringRef name,
                                             const WeightInfo &w, int64_t m,
                                             Type xElem, std::string &why,
                                             int64_t rowCap) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  const int64_t cap = std::max(rowCap, m);
  const int64_t K = w.cols, C = w.layout.fp16Cols, Q = K - C;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  FailureOr<unsigned> indexArg = sig.addStream(ctx, w, "col_index");
  if (failed(indexArg)) {
    why = "the weight has no 'col_index' stream";
    return failure();
  }
  unsigned xArg = sig.addOther(MemRefType::get({cap, K}, xElem));
  unsigned xqArg = sig.addOther(MemRefType::get({cap, Q}, f32));
  unsigned xoArg = sig.addOther(MemRefType::get({cap, C}, f32));
  const int64_t threads = kWarp * kWarpsPerBlock;
  launch.block = {threads, 1, 1};
  launch.grid = {(K + threads - 1) / threads, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  gpu::GPUFuncOp func = launch.func;
  Value index = func.getArgument(*indexArg), x = func.getArgument(xArg),
        xq = func.getArgument(xqArg), xo = func.getArgument(xoArg);

  IRB r{b, loc};
  Value rowBase = chunkRowBase(r, m, rowCap);
  Value k = r.add(r.mulI(blockId(r, gpu::Dimension::x), threads),
                  threadIdX(r));
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, k, r.idx(K));
  auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifInside.thenBlock());
  Value k32 = arith::IndexCastOp::create(b, loc, i32, k);
  // rank = #(col_index < k), hit = k is an outlier column.
  SmallVector<Value> found = r.forReduceN(
      r.idx(0), r.idx(C), 1, ValueRange{r.idx(0), r.i32(0)},
      [&](Value c, ValueRange a) -> SmallVector<Value> {
        Value col = r.load(index, c);
        Value below = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                            col, k32);
        Value equal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            col, k32);
        Value rank = arith::SelectOp::create(b, loc, below, r.addI(a[0], 1),
                                             a[0]);
        Value hit = arith::OrIOp::create(
            b, loc, a[1], arith::ExtUIOp::create(b, loc, i32, equal));
        return {rank, hit};
      });
  Value isOutlier = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                          found[1], r.i32(0));
  auto ifOutlier = scf::IfOp::create(b, loc, isOutlier, /*withElse=*/true);
  b.setInsertionPointToStart(ifOutlier.thenBlock());
  for (int64_t mi = 0; mi < m; ++mi)
    r.store(r.loadF32(x, {r.addI(rowBase, mi), k}), xo,
            {r.addI(rowBase, mi), found[0]});
  b.setInsertionPointToStart(ifOutlier.elseBlock());
  Value j = r.sub(k, found[0]);
  for (int64_t mi = 0; mi < m; ++mi)
    r.store(r.loadF32(x, {r.addI(rowBase, mi), k}), xq,
            {r.addI(rowBase, mi), j});
  b.setInsertionPointToEnd(&func.getBody().back());
  gpu::ReturnOp::create(b, loc);
  return launch;
}

FailureOr<KernelLaunch> buildQuikActQuantKernel(OpBuilder &b, Location loc,
                                                gpu::GPUModuleOp module,
                                                llvm::StringRef name,
                                                const WeightInfo &w, int64_t m,
                                                Type xElem, std::string &why,
                                                int64_t rowCap,
                                                int64_t codeBits) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  const Layout &l = w.layout;
  if (l.scheme != Scheme::Quik || (l.act.bits != 4 && l.act.bits != 8)) {
    why = "activation quantization needs a QUIK weight with act = 4 or 8";
    return failure();
  }
  const int64_t cap = std::max(rowCap, m);
  const int64_t Q = w.cols - l.fp16Cols;
  if (codeBits && (codeBits < l.act.bits || (codeBits != 4 && codeBits != 8))) {
    why = "integer activation codes need 4 or 8 bits (at least act's)";
    return failure();
  }
  // Codes a row: whole K tiles of the integer GEMM, zeros past Q.
  const int64_t P = codeBits ? quikCodeColumns(Q, codeBits) : Q;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  unsigned xArg = sig.addOther(MemRefType::get({cap, Q}, xElem));
  unsigned outArg =
      sig.addOther(codeBits ? MemRefType::get({cap, P * codeBits / 32}, i32)
                            : MemRefType::get({cap, Q}, f32));
  unsigned paramsArg =
      codeBits ? sig.addOther(MemRefType::get({cap, 2}, f32)) : 0;
  launch.block = {kRowThreads, 1, 1};
  launch.grid = {m, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block,
                             {sharedBuffer(ctx, kRowThreads, f32)});
  gpu::GPUFuncOp func = launch.func;
  Value x = func.getArgument(xArg), out = func.getArgument(outArg);
  Value red = func.getWorkgroupAttributions()[0];

  IRB r{b, loc};
  Value tid = threadIdX(r);
  Value row =
      r.add(chunkRowBase(r, m, rowCap), blockId(r, gpu::Dimension::x));
  auto minF = [&](Value a, Value c) -> Value {
    return arith::MinimumFOp::create(b, loc, a, c);
  };
  auto maxF = [&](Value a, Value c) -> Value {
    return arith::MaximumFOp::create(b, loc, a, c);
  };
  // lo = min(min x, 0), hi = max(max x, 0): exact, so the same in any
  // order as the reference's left-to-right scan.
  SmallVector<Value> local = r.forReduceN(
      tid, r.idx(Q), kRowThreads, ValueRange{r.f32(0.0), r.f32(0.0)},
      [&](Value j, ValueRange a) -> SmallVector<Value> {
        Value v = r.loadF32(x, {row, j});
        return {minF(a[0], v), maxF(a[1], v)};
      });
  Value lo = blockReduce(r, red, tid, local[0], minF);
  Value hi = blockReduce(r, red, tid, local[1], maxF);
  Value scale, zero, qlo, qhi;
  if (l.act.asymmetric) {
    double levels = double((1 << l.act.bits) - 1);
    scale = arith::DivFOp::create(b, loc, arith::SubFOp::create(b, loc, hi, lo),
                                  r.f32(levels));
    zero = roundToNearestEven(
        r, arith::DivFOp::create(b, loc, arith::NegFOp::create(b, loc, lo),
                                 scale));
    qlo = r.f32(0.0);
    qhi = r.f32(levels);
  } else {
    double qmax = double((1 << (l.act.bits - 1)) - 1);
    Value amax = maxF(hi, arith::NegFOp::create(b, loc, lo));
    scale = arith::DivFOp::create(b, loc, amax, r.f32(qmax));
    zero = r.f32(0.0);
    qlo = r.f32(-qmax);
    qhi = r.f32(qmax);
  }
  // A row of zeros (or one with no finite scale) stays as it is.
  Value valid = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, scale,
                                      r.f32(0.0));
  auto quantize = [&](Value v) -> Value {
    Value t = arith::DivFOp::create(b, loc, v, scale);
    Value q = r.fadd(roundToNearestEven(r, t), zero);
    return minF(maxF(q, qlo), qhi);
  };
  if (!codeBits) {
    r.forLoop(tid, r.idx(Q), kRowThreads, [&](Value j) {
      Value v = r.loadF32(x, {row, j});
      Value dq = r.fmul(arith::SubFOp::create(b, loc, quantize(v), zero),
                        scale);
      r.store(arith::SelectOp::create(b, loc, valid, dq, v), out, {row, j});
    });
    gpu::ReturnOp::create(b, loc);
    return launch;
  }
  // Signed codes: asymmetric q in [0, 2^b - 1] less 2^(b-1); symmetric q
  // as it is. The zero moves with them; a row without a valid scale gets
  // codes 0 and zero 0 (its products are 0 x scale).
  const double offset = l.act.asymmetric ? double(1 << (l.act.bits - 1)) : 0;
  const int64_t perWord = 32 / codeBits, mask = (int64_t(1) << codeBits) - 1;
  r.forLoop(tid, r.idx(P / perWord), kRowThreads, [&](Value wi) {
    Value word = r.i32(0);
    for (int64_t e = 0; e < perWord; ++e) {
      Value j = r.add(r.mulI(wi, perWord), r.idx(e));
      Value v = r.loadF32(x, {row, r.minI(j, r.idx(Q - 1))});
      Value q = arith::SubFOp::create(b, loc, quantize(v), r.f32(offset));
      Value c = arith::FPToSIOp::create(b, loc, i32, q);
      c = arith::AndIOp::create(b, loc, c, r.i32(mask));
      if (P > Q)
        c = arith::SelectOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j,
                                  r.idx(Q)),
            c, r.i32(0));
      if (e)
        c = arith::ShLIOp::create(b, loc, c, r.i32(e * codeBits));
      word = arith::OrIOp::create(b, loc, word, c);
    }
    r.store(arith::SelectOp::create(b, loc, valid, word, r.i32(0)), out,
            {row, wi});
  });
  Value params = func.getArgument(paramsArg);
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                      r.idx(0));
  auto ifFirst = scf::IfOp::create(b, loc, first, /*withElse=*/false);
  b.setInsertionPointToStart(ifFirst.thenBlock());
  r.store(scale, params, {row, r.idx(0)});
  Value codeZero = arith::SubFOp::create(b, loc, zero, r.f32(offset));
  r.store(arith::SelectOp::create(b, loc, valid, codeZero, r.f32(0.0)), params,
          {row, r.idx(1)});
  b.setInsertionPointAfter(ifFirst);
  gpu::ReturnOp::create(b, loc);
  return launch;
}

FailureOr<KernelLaunch> buildSparseAddKernel(OpBuilder &b, Location loc,
                                             gpu::GPUModuleOp module,
                                             llvm::StringRef name,
                                             const WeightInfo &w, int64_t m,
                                             Type xElem, std::string &why,
                                             int64_t rowCap) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  const int64_t N = w.rows, K = w.cols, cap = std::max(rowCap, m);
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  FailureOr<unsigned> rowptrArg = sig.addStream(ctx, w, "csr_rowptr");
  FailureOr<unsigned> colArg = sig.addStream(ctx, w, "csr_col");
  FailureOr<unsigned> valueArg = sig.addStream(ctx, w, "csr_value");
  if (failed(rowptrArg) || failed(colArg) || failed(valueArg)) {
    why = "the weight has no CSR outlier streams";
    return failure();
  }
  unsigned xArg = sig.addOther(MemRefType::get({cap, K}, xElem));
  unsigned accArg = sig.addOther(MemRefType::get({cap, N}, f32));
  unsigned outArg = sig.addOther(MemRefType::get({cap, N}, f32));
  launch.block = {kWarp * kWarpsPerBlock, 1, 1};
  launch.grid = {(N + kWarpsPerBlock - 1) / kWarpsPerBlock, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  gpu::GPUFuncOp func = launch.func;
  Value rowptr = func.getArgument(*rowptrArg), col = func.getArgument(*colArg),
        value = func.getArgument(*valueArg), x = func.getArgument(xArg),
        acc = func.getArgument(accArg), out = func.getArgument(outArg);

  IRB r{b, loc};
  Value rowBase = chunkRowBase(r, m, rowCap);
  Value tid = threadIdX(r);
  Value lane = r.remI(tid, kWarp), warp = r.divI(tid, kWarp);
  Value row = r.add(r.mulI(blockId(r, gpu::Dimension::x), kWarpsPerBlock),
                    warp);
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, r.idx(N));
  // Warp-uniform: every lane of a warp has the same row.
  auto ifRow = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifRow.thenBlock());
    Value begin = r.loadIndexU(rowptr, row);
    Value end = r.loadIndexU(rowptr, r.addI(row, 1));
    SmallVector<Value> inits(m, r.f32(0.0));
    SmallVector<Value> sums = r.forReduceN(
        r.add(begin, lane), end, kWarp, inits, [&](Value e, ValueRange a) {
          Value c = r.loadIndexU(col, e);
          Value v = r.loadF32(value, e);
          SmallVector<Value> next;
          for (int64_t mi = 0; mi < m; ++mi)
            next.push_back(
                fma(r, v, r.loadF32(x, {r.addI(rowBase, mi), c}), a[mi]));
          return next;
        });
    for (Value &s : sums)
      s = warpSum(r, s);
    Value lane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                        r.idx(0));
    auto ifLane0 = scf::IfOp::create(b, loc, lane0, /*withElse=*/false);
    b.setInsertionPointToStart(ifLane0.thenBlock());
    for (int64_t mi = 0; mi < m; ++mi) {
      Value at = r.addI(rowBase, mi);
      r.store(r.fadd(r.load(acc, {at, row}), sums[mi]), out, {at, row});
    }
  }
  gpu::ReturnOp::create(b, loc);
  return launch;
}

} // namespace mixq::device
