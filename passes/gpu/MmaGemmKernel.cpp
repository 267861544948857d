//===- MmaGemmKernel.cpp - The prefill GEMM on tensor cores -----------===//
//
// out[M x N] = x16[M x K] * W^T for a uniform 2/3/4/8-bit or a LUT 3/4-bit
// weight (SqueezeLLM; its CSR outliers are a separate kernel after this
// one) or the signed codes of a QUIK weight over its compacted activations
// (one FP16 scale per row; a code's sign bit is flipped so that it decodes
// like an unsigned code with zero 2^(b-1)), on sm_80 mma.sync (also run as
// is on sm_90a):
//
//   grid (ceil(N / 128), 1, ceil(M / 64)), block 128 = 4 warps; block
//   (bx, bz) computes rows m0 = 64 bz .. +64 of x and weight rows
//   n0 = 128 bx .. +128; warp w owns weight rows n0 + 32 w .. +32 (four
//   n8 fragments) for all 64 x rows (four m16 fragments): 16 f32
//   accumulator fragments (64 registers) a thread.
//   K goes in tiles of BK (64, or 32 where 64 would not fit S stages in
//   48 KiB of shared memory). Per tile, in the order -mixq-pipeline-dequant
//   schedules (each op is tagged with its phase, `mixq.stage`):
//     copy     cp.async of the x tile (64 x BK f16, rows past M zero-filled
//              through the source size) and of the code tile (128 rows x
//              BK b-bit codes, with an L2 evict-first policy: weights are
//              read once) into shared-memory slot (tile mod S); commit;
//              the raw scale words of the thread's 4 rows and the tile's
//              groups (FP16 scale, or second-order code, step and min; the
//              zero point) loaded into registers;
//     scales   those dequantized: scale = min + code * step, both scale
//              and 1024 + zero as f16x2;
//     wait     cp.async.wait_group, barrier;
//     compute  per k16 step: ldmatrix.x4 of the four x fragments; per n8
//              fragment, thread (g = lane / 4, t = lane % 4) decodes codes
//              2t, 2t+1, 2t+8, 2t+9 of its row g from shared memory as two
//              f16x2 pairs: lop3 puts each pair under the exponent of
//              1024.0 (0x6400), then (pair - (1024 + zero)) * scale in
//              f16x2; 16 mma.sync m16n8k16 with f32 accumulation.
//   LUT weights have no scales: the block's 128 per-row codebooks are
//   staged once in shared memory (f16, [128][2^b]) before the loop, and a
//   code pair is two table reads packed as f16x2.
//   Unpipelined (wait_group 0) the loop is already correct; the pass turns
//   it into the S-stage software pipeline of KERNELS.md.
//   The epilogue stores the accumulators with row (< M) and column (< N)
//   guards.
//
// Also the f32 -> f16 conversion of the activations the GEMM reads.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

using namespace mlir;

namespace mixq::device {

namespace {

constexpr int64_t kGemmWarps = 4;
constexpr int64_t kGemmThreads = kWarp * kGemmWarps;
/// Static shared memory a block may use without an opt-in.
constexpr int64_t kStaticSmem = 48 * 1024;
/// f16 of padding per x row in shared memory: rows 16 bytes apart modulo
/// 128, so ldmatrix's 8 row reads hit distinct banks.
constexpr int64_t kXPad = 8;

/// Tile sizes and shared-memory layout of one GEMM kernel.
struct GemmTiles {
  int64_t bk = 0;         ///< K per stage
  int64_t xStride = 0;    ///< f16 per x row in shared memory
  int64_t chunkWords = 0; ///< code words of one weight row per stage
  int64_t codeStride = 0; ///< i32 words per code row in shared memory
  int64_t copyBytes = 0;  ///< bytes per weight cp.async (16, 8 or 4)
  /// Scale groups per tile ("slots") and the k offset of each's first k16.
  int64_t slots = 1, slotK = 0;
  int64_t slotOf(int64_t ks) const { return slots == 1 ? 0 : ks * 16 / slotK; }

  int64_t lutBytes = 0;   ///< the block's LUTs (LUT weights)
  int64_t bytes(int64_t stages) const {
    return lutBytes + stages * (kGemmBlockM * xStride * 2 +
                                kGemmBlockN * codeStride * 4);
  }
};

FailureOr<GemmTiles> chooseTiles(const GemmSpec &spec, std::string &why) {
  const Layout &l = spec.w.layout;
  const int64_t K = spec.cols(), bits = l.bits[0];
  const int64_t G = l.group && !spec.quikCodes ? l.group : K;
  for (int64_t bk : {64, 32}) {
    if (K % bk)
      continue;
    GemmTiles t;
    t.bk = bk;
    if (l.scheme == Scheme::Lut)
      t.lutBytes = kGemmBlockN * (int64_t(1) << bits) * 2;
    t.xStride = bk + kXPad;
    int64_t chunkBytes = bk * bits / 8, rowBytes = K * bits / 8;
    t.chunkWords = chunkBytes / 4;
    t.copyBytes = 16;
    while (chunkBytes % t.copyBytes || rowBytes % t.copyBytes)
      t.copyBytes /= 2;
    // The pad keeps every row copyBytes-aligned and gives 3-bit pairs that
    // straddle the last word a word to read.
    t.codeStride = t.chunkWords + t.copyBytes / 4;
    if (G % bk == 0) {
      t.slots = 1;
    } else if (bk % G == 0) {
      t.slots = bk / G;
      t.slotK = G;
    } else {
      t.slots = bk / 16;
      t.slotK = 16;
    }
    if (t.bytes(spec.stages) <= kStaticSmem)
      return t;
  }
  why = "the tensor-core GEMM needs K (" + std::to_string(K) +
        ") to be a multiple of 32 and " + std::to_string(spec.stages) +
        " stages to fit 48 KiB of shared memory";
  return failure();
}

/// Tags the ops added to `block` after `mark` (null: from the start) with
/// `mixq.stage = phase`.
void tagSince(Block *block, Operation *mark, llvm::StringRef phase) {
  auto attr = StringAttr::get(block->getParentOp()->getContext(), phase);
  for (Operation *op = mark ? mark->getNextNode() : &block->front(); op;
       op = op->getNextNode())
    op->setAttr(kStageAttr, attr);
}

/// A scale group's words as loaded (phase `copy`) and as used (`scales`).
struct RawScale {
  Value scale;     ///< f32 (FP16 scales) or i32 second-order code
  Value step, min; ///< f32, second-order only
  Value zero;      ///< i32 zero point, or null (symmetric)
};
struct GroupScale {
  Value scale, zero; ///< vector<2xf16>: scale, 1024 + zero
};

class GemmBuilder {
public:
  GemmBuilder(OpBuilder &b, Location loc, const GemmSpec &spec,
              const GemmTiles &t)
      : b(b), r{b, loc}, spec(spec), t(t), l(spec.w.layout),
        bits(l.bits[0]), N(spec.w.rows), K(spec.cols()),
        G(l.group && !spec.quikCodes ? l.group : spec.cols()) {}

  FailureOr<KernelLaunch> build(gpu::GPUModuleOp module, llvm::StringRef name,
                                std::string &why);

private:
  int stream(KernelSignature &sig, llvm::StringRef name, std::string &why) {
    FailureOr<unsigned> i = sig.addStream(b.getContext(), spec.w, name);
    if (failed(i)) {
      why = "the layout has no stream '" + name.str() + "'";
      return -1;
    }
    return int(*i);
  }
  Value addr(Value base, Value byteOffset) {
    return arith::AddIOp::create(b, r.loc, base, r.toI64(byteOffset));
  }
  void emitCopies(Value slot, Value k0);
  RawScale loadScale(Value row, Value k0, int64_t slot);
  GroupScale dequantScale(const RawScale &raw);
  Value decodePair(Value slot, Value rowLocal, int64_t k16, int64_t half,
                   const GroupScale &s);
  Value lookupPair(Value rowLocal, Value pairBits);
  void stageTables();
  void emitEpilogue(ArrayRef<Value> acc);
  bool isLut() const { return l.scheme == Scheme::Lut; }

  OpBuilder &b;
  IRB r;
  const GemmSpec &spec;
  const GemmTiles &t;
  const Layout &l;
  const int64_t bits, N, K, G;

  // Kernel values.
  Value codes, scales, scaleCodes, meta, zeros, lut, x, out, M;
  Value xs, cs, table, xBase, codeBase, xsBase, csBase, policy;
  Value tid, lane, warp, g, tq, m0, n0;
  SmallVector<Value> rowsLocal, rowsGlobal;
};

void GemmBuilder::emitCopies(Value slot, Value k0) {
  const int64_t BM = kGemmBlockM, BN = kGemmBlockN, cap = spec.rowCap;
  // x: BM rows of BK f16, 16 bytes a copy.
  const int64_t perRow = t.bk / 8;
  for (int64_t it = 0; it < BM * perRow / kGemmThreads; ++it) {
    Value i = r.addI(tid, it * kGemmThreads);
    Value row = r.divI(i, perRow), c = r.remI(i, perRow);
    Value mRow = r.add(m0, row);
    Value valid = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult,
                                        mRow, M);
    Value srcRow = r.minI(mRow, r.idx(cap - 1));
    Value src = addr(xBase, r.mulI(r.add(r.mulI(srcRow, K),
                                         r.add(k0, r.mulI(c, 8))),
                                   2));
    Value dst = addr(xsBase, r.mulI(r.add(r.mulI(r.add(r.mulI(slot, BM), row),
                                                 t.xStride),
                                          r.mulI(c, 8)),
                                    2));
    Value srcBytes =
        arith::SelectOp::create(b, r.loc, valid, r.i32(16), r.i32(0));
    cpAsyncZeroFill(r, dst, src, srcBytes);
  }
  // Codes: BN rows of BK * bits / 8 bytes, copyBytes a copy.
  const int64_t copies = t.chunkWords * 4 / t.copyBytes;
  for (int64_t it = 0; it < BN * copies / kGemmThreads; ++it) {
    Value i = r.addI(tid, it * kGemmThreads);
    Value row = r.divI(i, copies), c = r.remI(i, copies);
    Value nRow = r.minI(r.add(n0, row), r.idx(N - 1));
    Value firstCode = r.add(r.mulI(nRow, K), k0);
    Value src = addr(codeBase, r.add(r.divI(r.mulI(firstCode, bits), 8),
                                     r.mulI(c, t.copyBytes)));
    Value dst = addr(
        csBase,
        r.add(r.mulI(r.add(r.mulI(slot, BN), row), t.codeStride * 4),
              r.mulI(c, t.copyBytes)));
    cpAsyncEvictFirst(r, dst, src, t.copyBytes, policy);
  }
  cpAsyncCommit(r);
}

RawScale GemmBuilder::loadScale(Value row, Value k0, int64_t slot) {
  Value k = r.addI(k0, slot * t.slotK);
  Value gi = r.add(r.mulI(row, K / G), r.divI(k, G));
  RawScale raw;
  if (l.scaleBits == 0) {
    raw.scale = r.loadF32(scales, gi);
  } else {
    Value block = r.divI(gi, l.scaleBlock);
    raw.step = r.loadF32(meta, r.mulI(block, 2));
    raw.min = r.loadF32(meta, r.addI(r.mulI(block, 2), 1));
    raw.scale = r.loadBitsScalar(scaleCodes, r.mulI(gi, l.scaleBits),
                                 unsigned(l.scaleBits));
  }
  if (zeros)
    raw.zero = r.loadBitsScalar(zeros, r.mulI(gi, bits), unsigned(bits));
  return raw;
}

GroupScale GemmBuilder::dequantScale(const RawScale &raw) {
  Type f16 = b.getF16Type(), f32 = b.getF32Type();
  auto pair = VectorType::get({2}, f16);
  auto splat = [&](Value v32) -> Value {
    Value h = arith::TruncFOp::create(b, r.loc, f16, v32);
    return vector::BroadcastOp::create(b, r.loc, pair, h);
  };
  Value scale = raw.scale;
  if (l.scaleBits != 0)
    scale = r.fadd(raw.min,
                   r.fmul(arith::UIToFPOp::create(b, r.loc, f32, raw.scale),
                          raw.step));
  Value zero = raw.zero
                   ? r.fadd(arith::UIToFPOp::create(b, r.loc, f32, raw.zero),
                            r.f32(1024.0))
                   : r.f32(1024.0 + double(int64_t(1) << (bits - 1)));
  return {splat(scale), splat(zero)};
}

Value GemmBuilder::decodePair(Value slot, Value rowLocal, int64_t k16,
                              int64_t half, const GroupScale &s) {
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  // Codes k and k + 1 of the row, k = 16 k16 + 8 half + 2 t.
  Value k = r.add(r.idx(16 * k16 + 8 * half), r.mulI(tq, 2));
  Value bit = r.mulI(k, bits);
  Value word = r.divI(bit, 32);
  Value shift = arith::IndexCastOp::create(b, r.loc, i32, r.remI(bit, 32));
  Value lo = r.load(cs, {slot, rowLocal, word});
  Value pairBits;
  if (32 % (2 * bits) == 0) {
    pairBits = arith::ShRUIOp::create(b, r.loc, lo, shift);
  } else {
    // 3-bit pairs may straddle two words.
    Value hi = r.load(cs, {slot, rowLocal, r.addI(word, 1)});
    Value wide = arith::OrIOp::create(
        b, r.loc, arith::ExtUIOp::create(b, r.loc, i64, lo),
        arith::ShLIOp::create(b, r.loc,
                              arith::ExtUIOp::create(b, r.loc, i64, hi),
                              r.i64(32)));
    wide = arith::ShRUIOp::create(
        b, r.loc, wide, arith::ExtUIOp::create(b, r.loc, i64, shift));
    pairBits = arith::TruncIOp::create(b, r.loc, i32, wide);
  }
  if (isLut())
    return lookupPair(rowLocal, pairBits);
  if (spec.quikCodes) {
    // Two's complement to offset binary: value = (code ^ h) - h, h = 2^(b-1).
    const int64_t h = int64_t(1) << (bits - 1);
    pairBits = arith::XOrIOp::create(b, r.loc, pairBits,
                                     r.i32(h | (h << bits)));
  }
  // lane 0 = code k in bits 0.., lane 1 = code k + 1 in bits 16..; both
  // under the exponent of 1024.0 (f16 0x6400): (a & b) | c twice.
  const int64_t mask = (int64_t(1) << bits) - 1;
  Value up = arith::ShLIOp::create(b, r.loc, pairBits, r.i32(16 - bits));
  Value hiLane = lop3(r, up, r.i32(mask << 16), r.i32(0x64006400), 0xEA);
  Value both = lop3(r, pairBits, r.i32(mask), hiLane, 0xEA);
  auto pair = VectorType::get({2}, b.getF16Type());
  Value h = LLVM::BitcastOp::create(b, r.loc, pair, both);
  h = arith::SubFOp::create(b, r.loc, h, s.zero);
  return arith::MulFOp::create(b, r.loc, h, s.scale);
}

Value GemmBuilder::lookupPair(Value rowLocal, Value pairBits) {
  const int64_t mask = (int64_t(1) << bits) - 1;
  SmallVector<Value> pair;
  for (int64_t i = 0; i < 2; ++i) {
    Value c = pairBits;
    if (i)
      c = arith::ShRUIOp::create(b, r.loc, c, r.i32(bits));
    c = arith::AndIOp::create(b, r.loc, c, r.i32(mask));
    Value at = arith::IndexCastUIOp::create(b, r.loc, b.getIndexType(), c);
    pair.push_back(r.load(table, {rowLocal, at}));
  }
  return vector::FromElementsOp::create(
      b, r.loc, VectorType::get({2}, b.getF16Type()), pair);
}

void GemmBuilder::stageTables() {
  const int64_t E = int64_t(1) << bits;
  r.forLoop(tid, r.idx(kGemmBlockN * E), kGemmThreads, [&](Value i) {
    Value row = r.divI(i, E), entry = r.remI(i, E);
    Value n = r.minI(r.add(n0, row), r.idx(N - 1));
    Value v = r.loadF32(lut, r.add(r.mulI(n, E), entry));
    r.store(arith::TruncFOp::create(b, r.loc, b.getF16Type(), v), table,
            {row, entry});
  });
  gpu::BarrierOp::create(b, r.loc);
}

void GemmBuilder::emitEpilogue(ArrayRef<Value> acc) {
  for (int64_t mt = 0; mt < 4; ++mt)
    for (int64_t hr = 0; hr < 2; ++hr) {
      Value mRow = r.add(m0, r.add(r.idx(16 * mt + 8 * hr), g));
      Value rowOk = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult,
                                          mRow, M);
      auto ifRow = scf::IfOp::create(b, r.loc, rowOk, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifRow.thenBlock());
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t e = 0; e < 2; ++e) {
          Value v = vector::ExtractOp::create(b, r.loc, acc[mt * 4 + j],
                                              ArrayRef<int64_t>{hr, e});
          // Column 2t + e of fragment j: weight row n0 + 32 w + 8 j + 2t + e.
          Value col = r.add(r.add(n0, r.mulI(warp, 32)),
                            r.addI(r.mulI(tq, 2), 8 * j + e));
          if (N % kGemmBlockN == 0) {
            r.store(v, out, {mRow, col});
            continue;
          }
          Value colOk = arith::CmpIOp::create(
              b, r.loc, arith::CmpIPredicate::ult, col, r.idx(N));
          auto ifCol = scf::IfOp::create(b, r.loc, colOk, false);
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPointToStart(ifCol.thenBlock());
          r.store(v, out, {mRow, col});
        }
    }
}

FailureOr<KernelLaunch> GemmBuilder::build(gpu::GPUModuleOp module,
                                           llvm::StringRef name,
                                           std::string &why) {
  MLIRContext *ctx = b.getContext();
  const int64_t BM = kGemmBlockM, BN = kGemmBlockN, S = spec.stages;
  const int64_t cap = spec.rowCap;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  int codesArg = stream(sig, "codes", why);
  int scalesArg = -1, scaleCodesArg = -1, metaArg = -1, zerosArg = -1;
  int lutArg = -1;
  if (isLut()) {
    lutArg = stream(sig, "lut", why);
    if (codesArg < 0 || lutArg < 0)
      return failure();
  } else if (l.scaleBits == 0) {
    scalesArg = stream(sig, "scales", why);
  } else {
    scaleCodesArg = stream(sig, "scale_codes", why);
    metaArg = stream(sig, "scale_meta", why);
  }
  if (l.asymmetric && !isLut() && !spec.quikCodes)
    zerosArg = stream(sig, "zeros", why);
  if (!isLut() && (codesArg < 0 || (l.scaleBits == 0 && scalesArg < 0) ||
                   (l.scaleBits && (scaleCodesArg < 0 || metaArg < 0)) ||
                   (l.asymmetric && zerosArg < 0)))
    return failure();
  Type f16 = b.getF16Type(), f32 = b.getF32Type(), i32 = b.getI32Type();
  unsigned xArg = sig.addOther(MemRefType::get({cap, K}, f16));
  unsigned outArg = sig.addOther(MemRefType::get({cap, N}, f32));
  unsigned mArg = sig.addOther(b.getIndexType());
  launch.block = {kGemmThreads, 1, 1};
  launch.grid = {(N + BN - 1) / BN, 1, (cap + BM - 1) / BM};
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto xsType = MemRefType::get({S, BM, t.xStride}, f16,
                                MemRefLayoutAttrInterface(), space);
  auto csType = MemRefType::get({S, BN, t.codeStride}, i32,
                                MemRefLayoutAttrInterface(), space);
  SmallVector<MemRefType> shared{xsType, csType};
  if (isLut())
    shared.push_back(MemRefType::get({BN, int64_t(1) << bits}, f16,
                                     MemRefLayoutAttrInterface(), space));
  launch.func = createKernel(b, r.loc, module, name, sig, launch.block, shared);
  gpu::GPUFuncOp func = launch.func;
  ValueRange args = func.getArguments();
  codes = args[codesArg];
  if (scalesArg >= 0)
    scales = args[scalesArg];
  if (scaleCodesArg >= 0) {
    scaleCodes = args[scaleCodesArg];
    meta = args[metaArg];
  }
  if (zerosArg >= 0)
    zeros = args[zerosArg];
  if (lutArg >= 0) {
    lut = args[lutArg];
    table = func.getWorkgroupAttributions()[2];
  }
  x = args[xArg];
  out = args[outArg];
  M = args[mArg];
  xs = func.getWorkgroupAttributions()[0];
  cs = func.getWorkgroupAttributions()[1];

  tid = threadIdX(r);
  lane = r.remI(tid, kWarp);
  warp = r.divI(tid, kWarp);
  g = r.divI(lane, 4);
  tq = r.remI(lane, 4);
  n0 = r.mulI(blockId(r, gpu::Dimension::x), BN);
  m0 = r.mulI(blockId(r, gpu::Dimension::z), BM);
  xBase = byteAddress(r, x, r.idx(0));
  codeBase = byteAddress(r, codes, r.idx(0));
  xsBase = byteAddress(r, xs, r.idx(0));
  csBase = byteAddress(r, cs, r.idx(0));
  policy = evictFirstPolicy(r);
  for (int64_t j = 0; j < 4; ++j) {
    Value local = r.add(r.mulI(warp, 32), r.add(r.idx(8 * j), g));
    rowsLocal.push_back(local);
    rowsGlobal.push_back(r.minI(r.add(n0, local), r.idx(N - 1)));
  }
  if (isLut())
    stageTables();

  auto accType = VectorType::get({2, 2}, f32);
  Value zeroAcc = arith::ConstantOp::create(
      b, r.loc, accType, DenseElementsAttr::get(accType, 0.0f));
  SmallVector<Value> inits(16, zeroAcc);
  const int64_t tiles = K / t.bk;
  auto fragA = VectorType::get({4, 2}, f16);
  auto fragB = VectorType::get({2, 2}, f16);
  Value zeroB = arith::ConstantOp::create(
      b, r.loc, fragB,
      DenseElementsAttr::get(fragB, APFloat(APFloat::IEEEhalf(), 0)));

  SmallVector<Value> acc = r.forReduceN(
      r.idx(0), r.idx(tiles), 1, inits, [&](Value kt, ValueRange carried) {
        Block *body = b.getInsertionBlock();
        auto mark = [&] { return body->empty() ? nullptr : &body->back(); };
        // copy
        Operation *before = mark();
        Value slot = r.remI(kt, S), k0 = r.mulI(kt, t.bk);
        emitCopies(slot, k0);
        SmallVector<RawScale> raw;
        for (int64_t j = 0; j < 4 && !isLut(); ++j)
          for (int64_t s = 0; s < t.slots; ++s)
            raw.push_back(loadScale(rowsGlobal[j], k0, s));
        tagSince(body, before, kStageCopy);
        // scales
        before = mark();
        SmallVector<GroupScale> deq;
        for (const RawScale &rs : raw)
          deq.push_back(dequantScale(rs));
        tagSince(body, before, kStageScales);
        // wait
        before = mark();
        cpAsyncWait(r, 0);
        gpu::BarrierOp::create(b, r.loc);
        tagSince(body, before, kStageWait);
        // compute
        before = mark();
        Value cslot = r.remI(kt, S);
        SmallVector<Value> next(carried);
        for (int64_t ks = 0; ks < t.bk / 16; ++ks) {
          SmallVector<Value> a;
          for (int64_t mt = 0; mt < 4; ++mt) {
            Value row = r.add(r.idx(16 * mt), r.remI(lane, 16));
            Value col = r.add(r.idx(16 * ks), r.mulI(r.divI(lane, 16), 8));
            a.push_back(nvgpu::LdMatrixOp::create(
                b, r.loc, fragA, xs, ValueRange{cslot, row, col},
                /*transpose=*/false, /*numTiles=*/4));
          }
          for (int64_t j = 0; j < 4; ++j) {
            GroupScale s;
            if (!isLut())
              s = deq[j * t.slots + t.slotOf(ks)];
            Value frag = zeroB;
            for (int64_t half = 0; half < 2; ++half)
              frag = vector::InsertOp::create(
                  b, r.loc, decodePair(cslot, rowsLocal[j], ks, half, s), frag,
                  ArrayRef<int64_t>{half});
            for (int64_t mt = 0; mt < 4; ++mt)
              next[mt * 4 + j] = nvgpu::MmaSyncOp::create(
                  b, r.loc, a[mt], frag, next[mt * 4 + j],
                  ArrayRef<int64_t>{16, 8, 16});
          }
        }
        tagSince(body, before, kStageCompute);
        return next;
      });
  auto loop = cast<scf::ForOp>(acc.front().getDefiningOp());
  loop->setAttr(kPipelineAttr, b.getI64IntegerAttr(S));
  emitEpilogue(acc);
  gpu::ReturnOp::create(b, r.loc);
  return launch;
}

} // namespace

FailureOr<KernelLaunch> buildMmaGemmKernel(OpBuilder &b, Location loc,
                                           gpu::GPUModuleOp module,
                                           llvm::StringRef name,
                                           const GemmSpec &spec,
                                           std::string &why) {
  const Layout &l = spec.w.layout;
  if (l.scheme != Scheme::Uniform && l.scheme != Scheme::Lut &&
      !(l.scheme == Scheme::Quik && spec.quikCodes)) {
    why = "the tensor-core GEMM takes uniform and LUT weights and QUIK "
          "codes (not '" + schemeName(l.scheme).str() + "')";
    return failure();
  }
  if (spec.quikCodes && (l.scheme != Scheme::Quik || l.scaleBits != 0)) {
    why = "GemmSpec::quikCodes needs a QUIK weight with FP16 row scales";
    return failure();
  }
  if (l.outliers == OutlierKind::Csr && !spec.excludeOutliers) {
    why = "CSR outliers must be split off first (-mixq-split-outliers)";
    return failure();
  }
  const int64_t bits = l.bits[0], K = spec.cols();
  const int64_t G = l.scheme == Scheme::Uniform && l.group ? l.group : K;
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    why = "the tensor-core GEMM takes 2, 3, 4 or 8-bit codes";
    return failure();
  }
  if (G % 16 || K % G) {
    why = "the tensor-core GEMM needs groups of a multiple of 16 columns";
    return failure();
  }
  if (spec.stages < 2 || spec.rowCap < 1) {
    why = "the tensor-core GEMM needs at least 2 stages and 1 row";
    return failure();
  }
  FailureOr<GemmTiles> tiles = chooseTiles(spec, why);
  if (failed(tiles))
    return failure();
  GemmBuilder builder(b, loc, spec, *tiles);
  return builder.build(module, name, why);
}

KernelLaunch buildToHalfKernel(OpBuilder &b, Location loc,
                               gpu::GPUModuleOp module, llvm::StringRef name,
                               int64_t rows, int64_t k) {
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  unsigned xArg = sig.addOther(MemRefType::get({rows, k}, b.getF32Type()));
  unsigned hArg = sig.addOther(MemRefType::get({rows, k}, b.getF16Type()));
  unsigned mArg = sig.addOther(b.getIndexType());
  launch.block = {256, 1, 1};
  launch.grid = {(rows * k + 1023) / 1024, 1, 1};
  launch.func = createKernel(b, loc, module, name, sig, launch.block);
  IRB r{b, loc};
  ValueRange args = launch.func.getArguments();
  Value i = r.mulI(r.add(r.mulI(blockId(r, gpu::Dimension::x), 256),
                         threadIdX(r)),
                   4);
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i,
                                        r.mulI(args[mArg], k));
  auto ifIn = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  b.setInsertionPointToStart(ifIn.thenBlock());
  Value row = r.divI(i, k), col = r.remI(i, k);
  Value v = vector::LoadOp::create(b, loc, VectorType::get({4}, b.getF32Type()),
                                   args[xArg], ValueRange{row, col},
                                   /*nontemporal=*/false, llvm::MaybeAlign(16));
  Value h = arith::TruncFOp::create(
      b, loc, VectorType::get({4}, b.getF16Type()), v);
  vector::StoreOp::create(b, loc, h, args[hArg], ValueRange{row, col},
                          /*nontemporal=*/false, llvm::MaybeAlign(8));
  b.setInsertionPointAfter(ifIn);
  gpu::ReturnOp::create(b, loc);
  return launch;
}

} // namespace mixq::device
