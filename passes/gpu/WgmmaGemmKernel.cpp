//===- WgmmaGemmKernel.cpp - The sm_90a prefill GEMM ----------------------===//
//
// The Hopper GEMM of a uniform 2/3/4/8-bit weight (GpuKernels.h,
// buildWgmmaGemmKernel): out[m][n] = sum_k x16[m][k] W[n][k], computed as
// out^T = W x16^T so that the quantized weight is wgmma's A operand, from
// registers, and the activations are B, from shared memory.
//
//   grid (ceil(N / 128), 1, ceil(M / 64)), block 384 = 3 warpgroups;
//   block (bx, bz): weight rows n0 = 128 bx .. +128, x rows m0 = 64 bz .. +64.
//   K goes in tiles of 64 columns through S shared-memory stages:
//     xs[s]   64 x 64 f16, written by TMA with the 128-byte swizzle
//             (1024-byte aligned); rows past M come in as zeros (the
//             tensor map's rows end at M);
//     cs[s]   128 code rows of the tile (cp.async: 3-bit tiles are 24 bytes
//             a row, which no TMA box of whole 16-byte rows covers, and
//             rows past N are clamped to N - 1 per row, which a box cannot);
//     full[s] init 33: the TMA's arrive.expect_tx(8192) plus one
//             cp.async.mbarrier.arrive.noinc per producer lane;
//     empty[s] init 256: one arrive per consumer thread.
//   Producer (warpgroup 0; its warp 0 only) for tile i, s = i mod S:
//     wait empty[s] (parity ((i / S) & 1) ^ 1: the first round passes),
//     lane 0: arrive.expect_tx(full[s], 8192), TMA x tile (k0, m0) -> xs[s];
//     all lanes: cp.async of the code tile -> cs[s] (L2 evict-first);
//     cp.async.mbarrier.arrive.noinc(full[s]).
//   Consumer warpgroup c (1, 2: weight rows n0 + 64 (c - 1) ..+64), tile i:
//     raw scale words of the thread's two rows (plain loads, before the
//     wait: their latency hides behind it); wait full[s] (parity
//     (i / S) & 1); scales to f16x2 (scale, 1024 + zero);
//     per k16 step the A fragment of warp w's rows 16 w + {g, g + 8},
//     k = 2t, 2t+1, 2t+8, 2t+9 (g = lane / 4, t = lane % 4): a pair of
//     codes out of cs[s] (one shift), two lop3 under the exponent of 1024
//     and (pair - (1024 + zero)) * scale in f16x2 - the mma.sync kernel's
//     decode (MmaGemm.h), straight into wgmma's A layout;
//     wgmma.fence; 4 x wgmma.m64n64k16 (B: xs[s] + 32 bytes per k16 step);
//     commit_group; wait_group 0; arrive empty[s].
//   Accumulators: 32 f32 a thread, D[n][m] with n = 16 w + g + 8 h,
//   m = 8 j + 2 t + e; the epilogue stores them to out[m][n] under m < M
//   and n < N.
//
// QUIK's codes with quantized activations (GemmSpec::quikCodes, act 4 or
// 8, 4-bit weight codes): the same block, roles and barriers over 8-bit
// activation codes (buildQuikActQuantKernel, codeBits 8), whose x tile of
// 64 rows x 128 bytes is 128 codes a row (the tensor map views the codes as
// f16 pairs: the same box and swizzle); per stage 128 weight codes a row.
// Per k32 step (32 bytes, as an f16 k16 step) the A fragment is the codes
// k = 32 ks + {4t, 16 + 4t} .. +3 of rows g, g + 8, each 16-bit half of
// the code words widened to bytes of 16 c; 4 x wgmma.m64n64k32.s32.s8.s8.
// dp4a of each A register with 0x01010101 sums the thread's codes of its
// two rows; the epilogue adds them over the row's 4 lanes and stores
// sx[m] sw[n] / 16 (acc - z[m] rowsum[n]) (QuikGemmKernel.cpp's formula).
// 8-bit weights (two stages of 128-byte rows pass 48 KiB) are left to the
// mma.sync kernel.
//
// Not run on a GPU yet: numerics are unverified (docs/Compiler.md).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/MmaGemm.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

using namespace mlir;

namespace mixq::device {

namespace {

constexpr int64_t kTileK = 64;      // columns per stage (128 B of f16)
constexpr int64_t kWgThreads = 128; // a warpgroup
constexpr int64_t kConsumers = 2;   // consumer warpgroups
constexpr int64_t kWgmmaN = kGemmBlockM; // x rows per block = wgmma N
constexpr int64_t kXTileBytes = kWgmmaN * kTileK * 2;

class WgmmaGemm {
public:
  WgmmaGemm(OpBuilder &b, Location loc, const GemmSpec &spec)
      : b(b), r{b, loc}, spec(spec), l(spec.w.layout), N(spec.w.rows),
        K(spec.cols()), bits(unsigned(l.bits[0])),
        G(l.group ? l.group : K), quik(spec.quikCodes),
        tileCodes(quik ? 2 * kTileK : kTileK) {}

  FailureOr<KernelLaunch> build(gpu::GPUModuleOp module, StringRef name,
                                std::string &why);

private:
  LogicalResult plan(std::string &why);
  void producer();
  SmallVector<Value> consumerTile(Value kt, ValueRange acc);
  void epilogue(ArrayRef<Value> acc);
  LogicalResult planQuik(std::string &why);
  /// QUIK: the A fragments of k32 step `ks` of slot `s` (codes widened to
  /// bytes) and `rowSums` (rows g, g + 8) plus their codes.
  SmallVector<Value> quikFragment(Value s, int64_t ks,
                                  MutableArrayRef<Value> rowSums);
  Value bar(Value index) {
    return r.toI64(r.add(barBase, r.mulI(index, 8)));
  }
  Value fullBar(Value s) { return bar(s); }
  Value emptyBar(Value s) { return bar(r.addI(s, S)); }

  OpBuilder &b;
  IRB r;
  const GemmSpec &spec;
  const Layout &l;
  const int64_t N, K;
  const unsigned bits;
  const int64_t G;
  /// QUIK codes on s8 wgmma; weight codes a stage (x units are 2 codes).
  const bool quik;
  const int64_t tileCodes;
  int64_t S = 0, codeStride = 0, copyBytes = 0, slots = 1, slotK = 0;

  int codesArg = -1, scalesArg = -1, scaleCodesArg = -1, metaArg = -1,
      zerosArg = -1;
  unsigned paramsArg = 0;
  Value codes, zeros, tmap, out, M, xs, cs, codeBase, xsBase, csBase, barBase;
  Value rowScales, params; ///< QUIK: FP16 row scales, x rows' scale and zero
  ScaleSource scales;
  Value tid, lane, warp, g, tq, n0, m0, cw;
  SmallVector<Value> rowsLocal, rowsGlobal; // the thread's rows g, g + 8
};

LogicalResult WgmmaGemm::planQuik(std::string &why) {
  if (l.scheme != Scheme::Quik || l.scaleBits != 0 ||
      (l.act.bits != 4 && l.act.bits != 8)) {
    why = "the wgmma GEMM takes QUIK codes with activations quantized to 4 "
          "or 8 bits";
    return failure();
  }
  if (bits != 4) {
    why = "the integer wgmma GEMM takes 4-bit weight codes (two stages of "
          "8-bit ones pass 48 KiB)";
    return failure();
  }
  if (K % tileCodes) {
    why = "the integer wgmma GEMM needs the " + std::to_string(K) +
          " quantized columns in whole tiles of 128";
    return failure();
  }
  return success();
}

LogicalResult WgmmaGemm::plan(std::string &why) {
  if (quik) {
    if (failed(planQuik(why)))
      return failure();
  } else if (l.scheme != Scheme::Uniform) {
    why = "the wgmma GEMM takes uniform weights";
    return failure();
  }
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    why = "the wgmma GEMM takes 2, 3, 4 or 8-bit codes";
    return failure();
  }
  if (!quik && (K % kTileK || G % 16 || K % G)) {
    why = "the wgmma GEMM needs K (" + std::to_string(K) +
          ") a multiple of 64 and groups of a multiple of 16 that divide it";
    return failure();
  }
  if (spec.rowCap < 1 || spec.stages < 2) {
    why = "the wgmma GEMM needs at least 2 stages and 1 row";
    return failure();
  }
  const int64_t chunkBytes = tileCodes * bits / 8, rowBytes = K * bits / 8;
  copyBytes = 16;
  while (chunkBytes % copyBytes || rowBytes % copyBytes)
    copyBytes /= 2;
  // 3-bit pairs may straddle into the word after the chunk: one pad copy.
  codeStride = (chunkBytes + (bits == 3 ? copyBytes : 0)) / 4;
  if (G % kTileK == 0) {
    slots = 1;
  } else if (kTileK % G == 0) {
    slots = kTileK / G;
    slotK = G;
  } else {
    slots = kTileK / 16;
    slotK = 16;
  }
  const int64_t stageBytes = kXTileBytes + kGemmBlockN * codeStride * 4 + 16;
  // xs first (1024-aligned), cs and the barriers after it.
  S = std::min<int64_t>(spec.stages, (kStaticSmem - 1024) / stageBytes);
  if (S < 2) {
    why = "two stages of the wgmma GEMM do not fit 48 KiB of shared memory";
    return failure();
  }
  return success();
}

void WgmmaGemm::producer() {
  // Warp 0 of warpgroup 0; the other three producer warps have nothing to
  // do and leave.
  Value isWarp0 = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq,
                                        warp, r.idx(0));
  auto ifWarp = scf::IfOp::create(b, r.loc, isWarp0, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifWarp.thenBlock());
  Value policy = evictFirstPolicy(r);
  Value lane0 = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, lane,
                                      r.idx(0));
  const int64_t copies = tileCodes * bits / 8 / copyBytes;
  const int64_t perLane = kGemmBlockN * copies / kWarp;
  r.forLoop(r.idx(0), r.idx(K / tileCodes), 1, [&](Value kt) {
    Value s = r.remI(kt, S);
    Value round = r.divI(kt, S);
    Value parity = arith::XOrIOp::create(b, r.loc, r.remI(round, 2), r.idx(1));
    // k0 counts codes; the tensor map's columns are 16-bit units.
    Value k0 = r.mulI(kt, tileCodes);
    mbarrierWaitParity(r, emptyBar(s), parity);
    {
      auto ifLane = scf::IfOp::create(b, r.loc, lane0, /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(ifLane.thenBlock());
      mbarrierArriveExpectTx(r, fullBar(s), kXTileBytes);
      Value dst = r.toI64(r.add(xsBase, r.mulI(s, kXTileBytes)));
      tmaLoad2d(r, dst, tmap, r.mulI(kt, kTileK), m0, fullBar(s));
    }
    for (int64_t it = 0; it < perLane; ++it) {
      Value i = r.add(lane, r.idx(it * kWarp));
      Value row = r.divI(i, copies), c = r.remI(i, copies);
      Value nRow = r.minI(r.add(n0, row), r.idx(N - 1));
      Value firstCode = r.add(r.mulI(nRow, K), k0);
      Value src = arith::AddIOp::create(
          b, r.loc, codeBase,
          r.toI64(r.add(r.divI(r.mulI(firstCode, bits), 8),
                        r.mulI(c, copyBytes))));
      Value dst = r.toI64(r.add(
          csBase,
          r.add(r.mulI(r.add(r.mulI(s, kGemmBlockN), row), codeStride * 4),
                r.mulI(c, copyBytes))));
      cpAsyncEvictFirst(r, dst, src, copyBytes, policy);
    }
    cpAsyncMbarrierArrive(r, fullBar(s));
  });
}

SmallVector<Value> WgmmaGemm::quikFragment(Value s, int64_t ks,
                                           MutableArrayRef<Value> rowSums) {
  SmallVector<Value> a;
  for (int64_t half = 0; half < 2; ++half)
    for (int64_t h = 0; h < 2; ++h) {
      // Codes 32 ks + 16 half + 4t .. +3: 16 bits of a code word.
      Value bit = r.mulI(r.add(r.idx(32 * ks + 16 * half), r.mulI(tq, 4)),
                         bits);
      Value word = r.load(cs, {s, rowsLocal[h], r.divI(bit, 32)});
      Value shift = arith::IndexCastOp::create(b, r.loc, b.getI32Type(),
                                               r.remI(bit, 32));
      Value reg = widenCodeNibbles(
          r, arith::ShRUIOp::create(b, r.loc, word, shift));
      rowSums[h] = inlinePtx(r, b.getI32Type(),
                             ValueRange{reg, r.i32(0x01010101), rowSums[h]},
                             "dp4a.s32.s32 $0, $1, $2, $3;", "=r,r,r,r",
                             /*sideEffects=*/false);
      a.push_back(reg);
    }
  return a;
}

SmallVector<Value> WgmmaGemm::consumerTile(Value kt, ValueRange acc) {
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Value s = r.remI(kt, S);
  Value parity = r.remI(r.divI(kt, S), 2);
  if (quik) {
    // acc: 32 accumulators, then the two row sums.
    mbarrierWaitParity(r, fullBar(s), parity);
    SmallVector<Value> sums(acc.take_back(2));
    SmallVector<SmallVector<Value>> frags;
    for (int64_t ks = 0; ks < kTileK / 16; ++ks)
      frags.push_back(quikFragment(s, ks, sums));
    Value xTile = r.toI64(r.add(xsBase, r.mulI(s, kXTileBytes)));
    Value desc = wgmmaDescriptor128B(r, xTile, /*sbo=*/1024);
    SmallVector<Value> next(acc.drop_back(2));
    wgmmaFence(r);
    for (int64_t ks = 0; ks < kTileK / 16; ++ks) {
      Value d = arith::AddIOp::create(b, r.loc, desc, r.i64(ks * 32 / 16));
      next = wgmmaRegA(r, kWgmmaN, next, frags[ks], d, /*s8=*/true);
    }
    wgmmaCommit(r);
    wgmmaWait(r, 0);
    mbarrierArrive(r, emptyBar(s));
    next.append(sums);
    return next;
  }
  Value k0 = r.mulI(kt, kTileK);
  // Raw scale words (and zeros) of rows g, g + 8 for each group slot.
  struct Raw {
    ScaleSource::Raw scale;
    Value zero;
  };
  SmallVector<Raw> raw;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t sl = 0; sl < slots; ++sl) {
      Value k = r.addI(k0, sl * slotK);
      Value gi = r.add(r.mulI(rowsGlobal[h], K / G), r.divI(k, G));
      Raw one;
      one.scale = scales.load(r, gi);
      if (zeros)
        one.zero = r.loadBitsScalar(zeros, r.mulI(gi, bits), bits);
      raw.push_back(one);
    }
  mbarrierWaitParity(r, fullBar(s), parity);
  SmallVector<Value> scale2, zero2;
  for (const Raw &one : raw) {
    Value zero = one.zero
                     ? r.fadd(arith::UIToFPOp::create(b, r.loc, f32, one.zero),
                              r.f32(1024.0))
                     : r.f32(1024.0 + double(int64_t(1) << (bits - 1)));
    scale2.push_back(splatHalf(r, scales.dequant(r, one.scale)));
    zero2.push_back(splatHalf(r, zero));
  }
  auto slotOf = [&](int64_t ks) { return slots == 1 ? 0 : ks * 16 / slotK; };
  // A fragments of the four k16 steps: {row g, k lo}, {row g+8, k lo},
  // {row g, k hi}, {row g+8, k hi}.
  SmallVector<SmallVector<Value>> frags;
  for (int64_t ks = 0; ks < kTileK / 16; ++ks) {
    SmallVector<Value> a;
    for (int64_t half = 0; half < 2; ++half)
      for (int64_t h = 0; h < 2; ++h) {
        Value pair = codePairBits(r, cs, s, rowsLocal[h], tq, ks, half, bits);
        int64_t at = h * slots + slotOf(ks);
        Value v = lop3DequantPair(r, pair, bits, zero2[at], scale2[at]);
        a.push_back(LLVM::BitcastOp::create(b, r.loc, i32, v));
      }
    frags.push_back(a);
  }
  Value xTile = r.toI64(r.add(xsBase, r.mulI(s, kXTileBytes)));
  Value desc = wgmmaDescriptor128B(r, xTile, /*sbo=*/1024);
  SmallVector<Value> next(acc.begin(), acc.end());
  wgmmaFence(r);
  for (int64_t ks = 0; ks < kTileK / 16; ++ks) {
    // 16 columns of f16 = 32 bytes further along each swizzled row.
    Value d = arith::AddIOp::create(b, r.loc, desc, r.i64(ks * 32 / 16));
    next = wgmmaRegA(r, kWgmmaN, next, frags[ks], d);
  }
  wgmmaCommit(r);
  wgmmaWait(r, 0);
  mbarrierArrive(r, emptyBar(s));
  return next;
}

void WgmmaGemm::epilogue(ArrayRef<Value> acc) {
  // QUIK: the rows' code sums over their 4 lanes; the weight rows' scales
  // / 16 (the codes were widened to 16 c).
  Value sum[2], sw[2];
  for (int64_t h = 0; h < 2 && quik; ++h) {
    sum[h] = warpSum(r, acc[kWgmmaN / 2 + h], 4);
    sw[h] = r.fmul(r.loadF32(rowScales, {rowsGlobal[h]}), r.f32(1.0 / 16));
  }
  for (int64_t j = 0; j < kWgmmaN / 8; ++j)
    for (int64_t e = 0; e < 2; ++e) {
      Value mRow = r.add(m0, r.add(r.idx(8 * j + e), r.mulI(tq, 2)));
      Value rowOk = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult,
                                          mRow, M);
      auto ifRow = scf::IfOp::create(b, r.loc, rowOk, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifRow.thenBlock());
      Value sx, zero;
      if (quik) {
        sx = r.loadF32(params, {mRow, r.idx(0)});
        zero = arith::FPToSIOp::create(b, r.loc, b.getI32Type(),
                                       r.loadF32(params, {mRow, r.idx(1)}));
      }
      for (int64_t h = 0; h < 2; ++h) {
        Value v = acc[4 * j + 2 * h + e];
        if (quik) {
          // sx sw (acc - zero rowsum), the integer part exact.
          v = arith::SubIOp::create(
              b, r.loc, v, arith::MulIOp::create(b, r.loc, zero, sum[h]));
          v = arith::SIToFPOp::create(b, r.loc, b.getF32Type(), v);
          v = r.fmul(v, r.fmul(sx, sw[h]));
        }
        storeGuardedColumn(r, v, out, mRow, r.add(n0, rowsLocal[h]), N);
      }
    }
}

FailureOr<KernelLaunch> WgmmaGemm::build(gpu::GPUModuleOp module,
                                         StringRef name, std::string &why) {
  if (failed(plan(why)))
    return failure();
  MLIRContext *ctx = b.getContext();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  auto stream = [&](StringRef s) {
    return sig.addStreamOrWhy(ctx, spec.w, s, why);
  };
  if ((codesArg = stream("codes")) < 0)
    return failure();
  if (!addScaleStreams(l, stream, scalesArg, scaleCodesArg, metaArg))
    return failure();
  if (!quik && l.asymmetric && (zerosArg = stream("zeros")) < 0)
    return failure();
  const int64_t cap = spec.rowCap;
  if (quik)
    paramsArg = sig.addOther(MemRefType::get({cap, 2}, b.getF32Type()));
  unsigned mapArg = sig.addOther(LLVM::LLVMPointerType::get(ctx));
  unsigned outArg = sig.addOther(MemRefType::get({cap, N}, b.getF32Type()));
  unsigned mArg = sig.addOther(b.getIndexType());
  launch.block = {kWgThreads * (1 + kConsumers), 1, 1};
  launch.grid = {(N + kGemmBlockN - 1) / kGemmBlockN, 1,
                 (cap + kGemmBlockM - 1) / kGemmBlockM};
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  SmallVector<MemRefType> shared{
      MemRefType::get({S, kWgmmaN, kTileK}, b.getF16Type(),
                      MemRefLayoutAttrInterface(), space),
      MemRefType::get({S, kGemmBlockN, codeStride}, b.getI32Type(),
                      MemRefLayoutAttrInterface(), space),
      MemRefType::get({2 * S}, b.getI64Type(), MemRefLayoutAttrInterface(),
                      space)};
  launch.func = createKernel(b, r.loc, module, name, sig, launch.block, shared);
  gpu::GPUFuncOp func = launch.func;
  // The 128-byte swizzle repeats every 1024 bytes: xs must start on one.
  func.setWorkgroupAttributionAttr(0, "llvm.align", b.getI64IntegerAttr(1024));
  auto arg = [&](int i) { return i < 0 ? Value() : func.getArgument(i); };
  codes = arg(codesArg);
  scales = scaleSourceOf(func, l, scalesArg, scaleCodesArg, metaArg);
  rowScales = arg(scalesArg);
  if (quik)
    params = func.getArgument(paramsArg);
  zeros = arg(zerosArg);
  tmap = LLVM::PtrToIntOp::create(b, r.loc, b.getI64Type(),
                                  func.getArgument(mapArg));
  out = func.getArgument(outArg);
  M = func.getArgument(mArg);
  xs = func.getWorkgroupAttributions()[0];
  cs = func.getWorkgroupAttributions()[1];
  Value bars = func.getWorkgroupAttributions()[2];

  tid = threadIdX(r);
  lane = r.remI(tid, kWarp);
  warp = r.remI(r.divI(tid, kWarp), 4); // warp within its warpgroup
  g = r.divI(lane, 4);
  tq = r.remI(lane, 4);
  Value wg = r.divI(tid, kWgThreads);
  n0 = r.mulI(blockId(r, gpu::Dimension::x), kGemmBlockN);
  m0 = r.mulI(blockId(r, gpu::Dimension::z), kGemmBlockM);
  codeBase = byteAddress(r, codes, r.idx(0));
  xsBase = memref::ExtractAlignedPointerAsIndexOp::create(b, r.loc, xs);
  csBase = memref::ExtractAlignedPointerAsIndexOp::create(b, r.loc, cs);
  barBase = memref::ExtractAlignedPointerAsIndexOp::create(b, r.loc, bars);

  // Thread 0 sets up the barriers; everyone waits for them.
  {
    Value t0 = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, tid,
                                     r.idx(0));
    auto ifT0 = scf::IfOp::create(b, r.loc, t0, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifT0.thenBlock());
    for (int64_t s = 0; s < S; ++s) {
      mbarrierInit(r, fullBar(r.idx(s)), 1 + kWarp);
      mbarrierInit(r, emptyBar(r.idx(s)), kConsumers * kWgThreads);
    }
    mbarrierInitFence(r);
  }
  gpu::BarrierOp::create(b, r.loc);

  Value isProducer = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq,
                                           wg, r.idx(0));
  auto role = scf::IfOp::create(b, r.loc, isProducer, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(role.thenBlock());
    producer();
  }
  b.setInsertionPointToStart(role.elseBlock());
  cw = r.sub(wg, r.idx(1));
  for (int64_t h = 0; h < 2; ++h) {
    Value local = r.add(r.mulI(cw, 64),
                        r.add(r.mulI(warp, 16), r.addI(g, 8 * h)));
    rowsLocal.push_back(local);
    rowsGlobal.push_back(r.minI(r.add(n0, local), r.idx(N - 1)));
  }
  // QUIK: s32 accumulators and the two row sums after them.
  SmallVector<Value> inits(kWgmmaN / 2 + (quik ? 2 : 0),
                           quik ? r.i32(0) : r.f32(0.0));
  SmallVector<Value> acc = r.forReduceN(
      r.idx(0), r.idx(K / tileCodes), 1, inits,
      [&](Value kt, ValueRange carried) { return consumerTile(kt, carried); });
  epilogue(acc);
  b.setInsertionPointAfter(role);
  gpu::ReturnOp::create(b, r.loc);
  return launch;
}

} // namespace

FailureOr<KernelLaunch> buildWgmmaGemmKernel(OpBuilder &b, Location loc,
                                             gpu::GPUModuleOp module,
                                             StringRef name,
                                             const GemmSpec &spec,
                                             std::string &why) {
  WgmmaGemm gemm(b, loc, spec);
  return gemm.build(module, name, why);
}

Value createActivationTensorMap(OpBuilder &b, Location loc, Value x16) {
  auto type = cast<MemRefType>(x16.getType());
  MLIRContext *ctx = b.getContext();
  auto space = IntegerAttr::get(IntegerType::get(ctx, 64), 3);
  auto box = MemRefType::get({kWgmmaN, kTileK}, type.getElementType(),
                             MemRefLayoutAttrInterface(), space);
  auto mapType = nvgpu::TensorMapDescriptorType::get(
      ctx, box, nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
      nvgpu::TensorMapL2PromoKind::L2PROMO_NONE,
      nvgpu::TensorMapOOBKind::OOB_ZERO,
      nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
  Value unranked = memref::CastOp::create(
      b, loc, UnrankedMemRefType::get(type.getElementType(), 0), x16);
  Value rows = arith::ConstantIndexOp::create(b, loc, kWgmmaN);
  Value cols = arith::ConstantIndexOp::create(b, loc, kTileK);
  Value map = nvgpu::TmaCreateDescriptorOp::create(b, loc, mapType, unranked,
                                                   ValueRange{rows, cols});
  return UnrealizedConversionCastOp::create(
             b, loc, LLVM::LLVMPointerType::get(ctx), map)
      .getResult(0);
}

} // namespace mixq::device
