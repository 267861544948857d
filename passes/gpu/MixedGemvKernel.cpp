//===- MixedGemvKernel.cpp - The tile-group decode GEMV of 2/4/16 weights -===//
//
// y[M x N] = x[M x K] * W^T for M <= 16 and a mixed 2/4/16 weight, whose
// codes are stored tile-group by tile-group (T rows x G columns, row-major
// inside; model/QuantizedTensor.h). One warp decodes one whole tile-group
// at a time, so its precision is uniform across the warp and its bytes are
// one contiguous, coalesced run of the precision's stream:
//
//   grid (N / T, split_k, 1), block (128, 1, 1): block b is row block b
//   (rows [T b, T b + T)); its 4 warps split the block's K-groups of the
//   split into 4 contiguous ranges (warp w: groups [g0 + w*span,
//   g0 + (w+1)*span) with span = ceil(groups / 4));
//   lane l covers row rr = l / (32/T) of the tile-group and columns
//   [sub * CL, sub * CL + CL) of the group, sub = l % (32/T), CL = G*T/32
//   (T = 16: two lanes per row, each half a group; T = 32: one lane per
//   row, a whole group);
//   per tile-group: the precision p from the 2-bit map (uniform: one
//   switch per warp and group), the tile-group's index in p's stream =
//   offsets[b][p] + the count of earlier p groups of the row block
//   (counted once by the warp's lanes up to its first group, then carried
//   through the loop), then per lane: 2-bit CL*2/32 words, 4-bit CL/8
//   words (16-byte loads at G*T >= 1024), FP16 CL values (16-byte loads);
//   acc[m] += scale * sum (code - zero) * x[m][col] (magic-number
//   conversion, fmas), FP16 acc[m] += sum value * x; in 2-bit groups the
//   lanes with sub == 0 add their row's outlier slots, value * x[m][idx]
//   (every lane loads them; the others multiply by 0);
//   the lanes of a row are summed with shuffles, then the 4 warps' sums
//   through shared memory (red[warp][m][rr]) after a barrier; thread t
//   stores the elements e = t, t + 128, ... of the M x T outputs: y[m][n]
//   or partial[split][m][n].
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

using namespace mlir;

namespace mixq::device {
FailureOr<KernelLaunch> buildMixedGemvKernel(OpBuilder &b, Location loc,
                                             gpu::GPUModuleOp module,
                                             llvm::StringRef name,
                                             const GemvSpec &spec,
                                             std::string &why) {
  MLIRContext *ctx = b.getContext();
  const WeightInfo &w = spec.w;
  const Layout &l = w.layout;
  const int64_t M = spec.m, N = w.rows, K = w.cols, S = spec.splitK;
  const int64_t T = l.tile, G = l.group, P = int64_t(l.bits.size());
  if (T != 16 && T != 32) {
    why = "the GPU GEMV of mixed weights needs tile-groups of 16 or 32 rows";
    return failure();
  }
  const int64_t lanesPerRow = kWarp / T, CL = G / lanesPerRow;
  if (G % 32 != 0 || CL % 16 != 0 || spec.kSize % G != 0 || N % T != 0) {
    why = "the GPU GEMV of mixed weights needs groups that are a multiple "
          "of 32 columns (each lane's share a multiple of 16) dividing the "
          "K split, and whole row blocks";
    if (G % 32 != 0)
      why += "; " + groupAdvice(G, K, "--mixed-group");
    return failure();
  }

  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  FailureOr<MixedStreams> streams = addMixedStreams(ctx, w, sig, why);
  if (failed(streams))
    return failure();
  const SmallVector<MixedStreams::Precision> &precs = streams->precs;
  const int slotPrecision = streams->slotPrecision;
  const bool slots = slotPrecision >= 0;
  ScaleSource scales;
  scales.scaleBits = l.scaleBits;
  scales.scaleBlock = l.scaleBlock;

  Type f32 = b.getF32Type();
  const int64_t cap = spec.rowCapacity();
  unsigned xArg = sig.addOther(MemRefType::get({cap, K}, spec.xElem));
  SmallVector<int64_t> outShape{cap, N};
  if (S > 1)
    outShape.insert(outShape.begin(), S);
  unsigned outArg = sig.addOther(MemRefType::get(outShape, f32));
  const int64_t threads = kWarp * kWarpsPerBlock;
  launch.block = {threads, 1, 1};
  launch.grid = {N / T, S, 1};
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto redType = MemRefType::get({kWarpsPerBlock * M * T}, f32,
                                 MemRefLayoutAttrInterface(), space);
  launch.func =
      createKernel(b, loc, module, name, sig, launch.block, {redType});
  gpu::GPUFuncOp func = launch.func;
  auto arg = [&](int i) { return i < 0 ? Value() : func.getArgument(i); };
  Value pmap = arg(streams->pmapArg), offsets = arg(streams->offsetsArg);
  scales.scales = arg(streams->scalesArg);
  scales.codes = arg(streams->scaleCodesArg);
  scales.meta = arg(streams->metaArg);
  Value zeros = arg(streams->zerosArg),
        slotIndex = arg(streams->slotIndexArg),
        slotValue = arg(streams->slotValueArg);
  Value x = func.getArgument(xArg), out = func.getArgument(outArg);
  Value red = func.getWorkgroupAttributions()[0];

  IRB r{b, loc};
  Type i32 = b.getI32Type();
  Value tid = threadIdX(r);
  Value lane = r.remI(tid, kWarp), warp = r.divI(tid, kWarp);
  Value rr = r.divI(lane, lanesPerRow), sub = r.remI(lane, lanesPerRow);
  Value rb = blockId(r, gpu::Dimension::x);
  Value split = blockId(r, gpu::Dimension::y);
  Value rowBase = spec.rowBase(r);
  const int64_t groupsPerRow = K / G, groupsPerSplit = spec.kSize / G;
  const int64_t span = (groupsPerSplit + kWarpsPerBlock - 1) / kWarpsPerBlock;
  Value gSplit = r.mulI(split, groupsPerSplit);
  Value gBegin = r.minI(r.add(gSplit, r.mulI(warp, span)),
                        r.addI(gSplit, groupsPerSplit));
  Value gEnd = r.minI(r.addI(gBegin, span), r.addI(gSplit, groupsPerSplit));
  Value tileBase = r.mulI(rb, groupsPerRow);
  auto precisionOf = [&](Value g) {
    return r.loadBitsScalar(pmap, r.mulI(r.add(tileBase, g), 2), 2);
  };

  // The tile-groups of each precision before gBegin in this row block.
  SmallVector<Value> countInit(P, r.i32(0));
  SmallVector<Value> counts =
      r.forReduceN(lane, gBegin, kWarp, countInit, [&](Value g, ValueRange c) {
        Value p = precisionOf(g);
        SmallVector<Value> next;
        for (int64_t q = 0; q < P; ++q) {
          Value is = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, p,
                                           r.i32(q));
          next.push_back(
              r.add(c[q], arith::ExtUIOp::create(b, loc, i32, is)));
        }
        return next;
      });
  for (Value &c : counts)
    c = warpSum(r, c);

  // Columns of this lane inside a group, and its row of the tile-group.
  Value colInGroup = r.mulI(sub, CL);
  Value isFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, sub, r.idx(0));
  SmallVector<Value> inits(M, r.f32(0.0));
  inits.append(counts);
  SmallVector<Value> loop = r.forReduceN(
      gBegin, gEnd, 1, inits, [&](Value g, ValueRange a) {
        SmallVector<Value> acc(a.take_front(M));
        SmallVector<Value> cnt(a.drop_front(M));
        Value p = precisionOf(g);
        Value pIndex = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), p);
        Value col0 = r.add(r.mulI(g, G), colInGroup);
        SmallVector<int64_t> cases;
        for (int64_t q = 0; q < P; ++q)
          cases.push_back(q);
        SmallVector<Type> accTypes(M, f32);
        auto sw = scf::IndexSwitchOp::create(b, loc, accTypes, pIndex, cases,
                                             cases.size());
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&sw.getDefaultRegion().emplaceBlock());
          scf::YieldOp::create(b, loc, acc);
        }
        for (int64_t q = 0; q < P; ++q) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(&sw.getCaseRegions()[q].emplaceBlock());
          const MixedStreams::Precision &prec = precs[q];
          if (prec.codesArg < 0) { // never selected: no tile-groups
            scf::YieldOp::create(b, loc, acc);
            continue;
          }
          Value codes = func.getArgument(prec.codesArg);
          Value si = r.add(r.loadIndexU(offsets, r.addI(r.mulI(rb, P), q)),
                           r.toIndex(cnt[q]));
          // First element of this lane's run in the precision's stream.
          Value elem = r.add(r.add(r.mulI(si, T * G), r.mulI(rr, G)),
                             colInGroup);
          SmallVector<Value> next(acc);
          if (prec.bits == 16) {
            for (int64_t s = 0; s < CL; s += 8) {
              SmallVector<Value> wv = loadFloats(r, codes, {}, r.addI(elem, s), 8);
              for (int64_t m = 0; m < M; ++m) {
                SmallVector<Value> xs =
                    loadFloats(r, x, r.addI(rowBase, m), r.addI(col0, s), 8);
                next[m] = dotAcc(r, wv, xs, next[m]);
              }
            }
            scf::YieldOp::create(b, loc, next);
            continue;
          }
          unsigned bits = prec.bits;
          Value local = r.add(r.mulI(si, T), rr); // row-group in precision
          Value scale = scales.at(r, r.addI(local, prec.rowGroupBase));
          Value zeroMagic =
              zeros ? zeroMagicOf(r, r.loadBitsScalar(
                                         zeros,
                                         r.addI(r.mulI(local, bits),
                                                prec.zeroBitBase),
                                         bits))
                    : zeroMagicConst(r, int64_t(1) << (bits - 1));
          SmallVector<Value> words = loadWords(
              r, codes, r.divI(r.mulI(elem, bits), 32), CL * bits / 32);
          SmallVector<Value> part(M, r.f32(0.0));
          for (int64_t s = 0; s < CL; s += 8) {
            SmallVector<Value> wv;
            for (int64_t i = s; i < s + 8; ++i)
              wv.push_back(codeMinusZero(
                  r, extractCode(r, words, i * int64_t(bits), bits),
                  zeroMagic));
            for (int64_t m = 0; m < M; ++m) {
              SmallVector<Value> xs =
                  loadFloats(r, x, r.addI(rowBase, m), r.addI(col0, s), 8);
              part[m] = dotAcc(r, wv, xs, part[m]);
            }
          }
          for (int64_t m = 0; m < M; ++m)
            next[m] = fma(r, part[m], scale, next[m]);
          if (slots && int(q) == slotPrecision) {
            Value firstSlot = r.mulI(local, l.slots);
            Value one = r.f32(1.0), zero = r.f32(0.0);
            Value own = arith::SelectOp::create(b, loc, isFirst, one, zero);
            for (int64_t s = 0; s < l.slots; ++s) {
              Value at = r.addI(firstSlot, s);
              Value idx = r.loadIndexU(slotIndex, at);
              Value v = r.fmul(r.loadF32(slotValue, at), own);
              Value colAt = r.add(r.mulI(g, G), idx);
              for (int64_t m = 0; m < M; ++m)
                next[m] = fma(r, v, r.loadF32(x, {r.addI(rowBase, m), colAt}),
                              next[m]);
            }
          }
          scf::YieldOp::create(b, loc, next);
        }
        SmallVector<Value> yields(sw.getResults());
        for (int64_t q = 0; q < P; ++q) {
          Value is = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, p,
                                           r.i32(q));
          yields.push_back(
              r.add(cnt[q], arith::ExtUIOp::create(b, loc, i32, is)));
        }
        return yields;
      });

  // Sum the lanes of each row, then the warps through shared memory.
  SmallVector<Value> acc(loop.begin(), loop.begin() + M);
  for (Value &v : acc)
    v = warpSum(r, v, lanesPerRow);
  auto ifFirst = scf::IfOp::create(b, loc, isFirst, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFirst.thenBlock());
    for (int64_t m = 0; m < M; ++m)
      r.store(acc[m], red, r.add(r.mulI(r.addI(r.mulI(warp, M), m), T), rr));
  }
  gpu::BarrierOp::create(b, loc);
  r.forLoop(tid, r.idx(M * T), threads, [&](Value e) {
    Value sum = r.load(red, e);
    for (int64_t wi = 1; wi < kWarpsPerBlock; ++wi)
      sum = r.fadd(sum, r.load(red, r.addI(e, wi * M * T)));
    Value m = r.add(rowBase, r.divI(e, T));
    Value row = r.add(r.mulI(rb, T), r.remI(e, T));
    SmallVector<Value> at{m, row};
    if (S > 1)
      at.insert(at.begin(), split);
    r.store(sum, out, at);
  });
  gpu::ReturnOp::create(b, loc);
  return launch;
}

} // namespace mixq::device
