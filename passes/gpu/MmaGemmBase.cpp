//===- MmaGemmBase.cpp - The tensor-core GEMM skeleton ---------------===//
//
// The part of the prefill GEMM every weight format shares (MmaGemm.h):
//
//   grid (ceil(N / 128), 1, ceil(M / 64)), block 128 = 4 warps; block
//   (bx, bz) computes rows m0 = 64 bz .. +64 of x and weight rows
//   n0 = 128 bx .. +128; warp w owns weight rows n0 + 32 w .. +32 (four
//   n8 fragments) for all 64 x rows (four m16 fragments): 16 f32
//   accumulator fragments (64 registers) a thread.
//   K goes in tiles of BK columns through S shared-memory slots. Per tile,
//   in the order -mixq-pipeline-dequant schedules (each op is tagged with
//   its phase, `mixq.stage`):
//     copy     cp.async of the x tile (64 x BK f16, rows past M zero-filled
//              through the source size), the format's weight copies (L2
//              evict-first: weights are read once) and raw loads; commit;
//     scales   the format's scale dequantization;
//     wait     cp.async.wait_group, barrier;
//     compute  per k16 step: ldmatrix.x4 of the four x fragments, the
//              format's four B fragments (thread g = lane / 4, t = lane % 4
//              holds codes 2t, 2t+1, 2t+8, 2t+9 of its row g), 16 mma.sync
//              m16n8k16 with f32 accumulation. Integer operands take the
//              same bytes per step (32 per x row: 32 8-bit or 64 4-bit
//              codes; ldmatrix gives thread (g, t) bytes 4t..4t+3 and
//              16+4t.. of rows g and g + 8, the A fragment of
//              m16n8k32.s8 and m16n8k64.s4) into s32 accumulators.
//   Unpipelined (wait_group 0) the loop is already correct; the pass turns
//   it into the S-stage software pipeline of KERNELS.md.
//   The epilogue stores the accumulators with row (< M) and column (< N)
//   guards.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/MmaGemm.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

using namespace mlir;

namespace mixq::device {

namespace {

/// Tags the ops added to `block` after `mark` (null: from the start) with
/// `mixq.stage = phase`.
void tagSince(Block *block, Operation *mark, llvm::StringRef phase) {
  auto attr = StringAttr::get(block->getParentOp()->getContext(), phase);
  for (Operation *op = mark ? mark->getNextNode() : &block->front(); op;
       op = op->getNextNode())
    op->setAttr(kStageAttr, attr);
}

} // namespace

Value bitcastRows(IRB &r, Value v, VectorType type) {
  OpBuilder &b = r.b;
  auto rowType = VectorType::get({type.getDimSize(1)}, type.getElementType());
  Value out = arith::ConstantOp::create(b, r.loc, type, b.getZeroAttr(type));
  for (int64_t i = 0; i < type.getDimSize(0); ++i) {
    Value row = vector::ExtractOp::create(b, r.loc, v, ArrayRef<int64_t>{i});
    if (!isa<VectorType>(row.getType()))
      row = vector::BroadcastOp::create(
          b, r.loc, VectorType::get({1}, row.getType()), row);
    row = vector::BitCastOp::create(b, r.loc, rowType, row);
    out = vector::InsertOp::create(b, r.loc, row, out, ArrayRef<int64_t>{i});
  }
  return out;
}

Value widenCodeNibbles(IRB &r, Value half) {
  OpBuilder &b = r.b;
  Value out;
  for (int64_t i = 0; i < 4; ++i) {
    // Nibble i (bits 4i..4i+3) to bits 8i+4..8i+7.
    Value n = arith::AndIOp::create(b, r.loc, half, r.i32(0xF << (4 * i)));
    n = arith::ShLIOp::create(b, r.loc, n, r.i32(4 * i + 4));
    out = out ? arith::OrIOp::create(b, r.loc, out, n) : n;
  }
  return out;
}

int64_t codeCopyBytes(int64_t chunkBytes, int64_t rowBytes) {
  int64_t bytes = 16;
  while (bytes > 4 && (chunkBytes % bytes || rowBytes % bytes))
    bytes /= 2;
  return bytes;
}

Value MmaGemmBase::addr(Value base, Value byteOffset) {
  return arith::AddIOp::create(b, r.loc, base, r.toI64(byteOffset));
}

Value codePairBits(IRB &r, Value cs, Value slot, Value rowLocal, Value tq,
                   int64_t k16, int64_t half, unsigned bits) {
  OpBuilder &b = r.b;
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  Value k = r.add(r.idx(16 * k16 + 8 * half), r.mulI(tq, 2));
  Value bit = r.mulI(k, bits);
  Value word = r.divI(bit, 32);
  Value shift = arith::IndexCastOp::create(b, r.loc, i32, r.remI(bit, 32));
  Value lo = r.load(cs, {slot, rowLocal, word});
  if (32 % (2 * bits) == 0)
    return arith::ShRUIOp::create(b, r.loc, lo, shift);
  // 3-bit pairs may straddle two words (the row's pad word follows the
  // last one).
  Value hi = r.load(cs, {slot, rowLocal, r.addI(word, 1)});
  Value wide = arith::OrIOp::create(
      b, r.loc, arith::ExtUIOp::create(b, r.loc, i64, lo),
      arith::ShLIOp::create(b, r.loc, arith::ExtUIOp::create(b, r.loc, i64, hi),
                            r.i64(32)));
  wide = arith::ShRUIOp::create(b, r.loc, wide,
                                arith::ExtUIOp::create(b, r.loc, i64, shift));
  return arith::TruncIOp::create(b, r.loc, i32, wide);
}

Value lop3DequantPair(IRB &r, Value pairBits, unsigned bits, Value zero2,
                      Value scale2) {
  // lane 0 = code k in bits 0.., lane 1 = code k + 1 in bits 16..; both
  // under the exponent of 1024.0 (f16 0x6400): (a & b) | c twice.
  OpBuilder &b = r.b;
  const int64_t mask = (int64_t(1) << bits) - 1;
  Value up = arith::ShLIOp::create(b, r.loc, pairBits, r.i32(16 - bits));
  Value hiLane = lop3(r, up, r.i32(mask << 16), r.i32(0x64006400), 0xEA);
  Value both = lop3(r, pairBits, r.i32(mask), hiLane, 0xEA);
  auto pair = VectorType::get({2}, b.getF16Type());
  Value h = LLVM::BitcastOp::create(b, r.loc, pair, both);
  h = arith::SubFOp::create(b, r.loc, h, zero2);
  return arith::MulFOp::create(b, r.loc, h, scale2);
}

Value splatHalf(IRB &r, Value v32) {
  Value h = arith::TruncFOp::create(r.b, r.loc, r.b.getF16Type(), v32);
  return vector::BroadcastOp::create(
      r.b, r.loc, VectorType::get({2}, r.b.getF16Type()), h);
}

Value MmaGemmBase::pairBitsAt(Value slot, Value rowLocal, int64_t k16,
                              int64_t half, unsigned bits) {
  return codePairBits(r, cs, slot, rowLocal, tq, k16, half, bits);
}

Value MmaGemmBase::lop3Dequant(Value pairBits, unsigned bits, Value zero2,
                               Value scale2) {
  return lop3DequantPair(r, pairBits, bits, zero2, scale2);
}

Value MmaGemmBase::splatHalf(Value v32) { return device::splatHalf(r, v32); }

Value MmaGemmBase::packB(Value lo, Value hi) {
  auto type = VectorType::get({2, 2}, b.getF16Type());
  Value frag = arith::ConstantOp::create(
      b, r.loc, type,
      DenseElementsAttr::get(type, APFloat(APFloat::IEEEhalf(), 0)));
  frag = vector::InsertOp::create(b, r.loc, lo, frag, ArrayRef<int64_t>{0});
  return vector::InsertOp::create(b, r.loc, hi, frag, ArrayRef<int64_t>{1});
}

void MmaGemmBase::copyCodeTile(Value codeBase, Value slot, Value k0,
                               int64_t tileCodes, int64_t rowCodes,
                               unsigned bits, int64_t copyBytes,
                               bool zeroPastRow) {
  const int64_t BN = kGemmBlockN;
  const int64_t copies = tileCodes * bits / 8 / copyBytes;
  for (int64_t it = 0; it < BN * copies / kGemmThreads; ++it) {
    Value i = r.addI(tid, it * kGemmThreads);
    Value row = r.divI(i, copies), c = r.remI(i, copies);
    Value nRow = r.minI(r.add(n0, row), r.idx(N - 1));
    Value firstCode = r.add(r.mulI(nRow, rowCodes), k0);
    Value src = addr(codeBase, r.add(r.divI(r.mulI(firstCode, bits), 8),
                                     r.mulI(c, copyBytes)));
    Value dst = addr(
        csBase, r.add(r.mulI(r.add(r.mulI(slot, BN), row), codeStride * 4),
                      r.mulI(c, copyBytes)));
    if (!zeroPastRow) {
      cpAsyncEvictFirst(r, dst, src, copyBytes, policy);
      continue;
    }
    // Bytes left in the row: all, some, or none (then the row's start is
    // the address, read for nothing).
    const int64_t rowBytes = rowCodes * bits / 8;
    Value inRow = r.add(r.divI(r.mulI(k0, bits), 8), r.mulI(c, copyBytes));
    Value left = r.sub(r.idx(rowBytes), r.minI(inRow, r.idx(rowBytes)));
    Value n = r.minI(left, r.idx(copyBytes));
    Value none = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, n,
                                       r.idx(0));
    Value rowStart = addr(codeBase, r.divI(r.mulI(r.mulI(nRow, rowCodes),
                                                  bits),
                                           8));
    src = arith::SelectOp::create(b, r.loc, none, rowStart, src);
    cpAsyncEvictFirstZeroFill(
        r, dst, src, copyBytes,
        arith::IndexCastOp::create(b, r.loc, b.getI32Type(), n), policy);
  }
}

void MmaGemmBase::emitXCopies(Value slot, Value k0) {
  const int64_t BM = kGemmBlockM, cap = spec.rowCap, stride = bk + kXPad;
  const int64_t perRow = bk / 8; // 16-byte copies
  for (int64_t it = 0; it < BM * perRow / kGemmThreads; ++it) {
    Value i = r.addI(tid, it * kGemmThreads);
    Value row = r.divI(i, perRow), c = r.remI(i, perRow);
    Value mRow = r.add(m0, row);
    Value valid = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult,
                                        mRow, M);
    Value srcRow = r.minI(mRow, r.idx(cap - 1));
    Value src = addr(
        xBase,
        r.mulI(r.add(r.mulI(srcRow, xUnits), r.add(k0, r.mulI(c, 8))), 2));
    Value dst = addr(
        xsBase,
        r.mulI(r.add(r.mulI(r.add(r.mulI(slot, BM), row), stride),
                     r.mulI(c, 8)),
               2));
    Value srcBytes =
        arith::SelectOp::create(b, r.loc, valid, r.i32(16), r.i32(0));
    cpAsyncZeroFill(r, dst, src, srcBytes);
  }
}

void MmaGemmBase::emitEpilogue(ArrayRef<Value> acc,
                               ArrayRef<Value> extraAccs) {
  prepareEpilogue(extraAccs);
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
          v = epilogueValue(v, mRow, j, e);
          // Column 2t + e of fragment j: weight row n0 + 32 w + 8 j + 2t + e.
          Value col = r.add(r.add(n0, r.mulI(warp, 32)),
                            r.addI(r.mulI(tq, 2), 8 * j + e));
          storeGuardedColumn(r, v, out, mRow, col, N);
        }
    }
}

bool addScaleStreams(const Layout &l,
                     llvm::function_ref<int(llvm::StringRef)> stream,
                     int &scalesArg, int &scaleCodesArg, int &metaArg) {
  if (l.scaleBits == 0)
    return (scalesArg = stream("scales")) >= 0;
  scaleCodesArg = stream("scale_codes");
  metaArg = stream("scale_meta");
  return scaleCodesArg >= 0 && metaArg >= 0;
}

ScaleSource scaleSourceOf(gpu::GPUFuncOp func, const Layout &l,
                          int scalesArg, int scaleCodesArg, int metaArg) {
  auto arg = [&](int i) { return i < 0 ? Value() : func.getArgument(i); };
  ScaleSource s;
  s.scales = arg(scalesArg);
  s.codes = arg(scaleCodesArg);
  s.meta = arg(metaArg);
  s.scaleBits = l.scaleBits;
  s.scaleBlock = l.scaleBlock;
  return s;
}

void storeGuardedColumn(IRB &r, Value v, Value out, Value mRow, Value col,
                        int64_t N) {
  if (N % kGemmBlockN == 0) {
    r.store(v, out, {mRow, col});
    return;
  }
  OpBuilder &b = r.b;
  Value colOk =
      arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult, col, r.idx(N));
  auto ifCol = scf::IfOp::create(b, r.loc, colOk, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifCol.thenBlock());
  r.store(v, out, {mRow, col});
}

FailureOr<KernelLaunch> MmaGemmBase::build(gpu::GPUModuleOp module,
                                           llvm::StringRef name,
                                           std::string &why) {
  MLIRContext *ctx = b.getContext();
  const int64_t BM = kGemmBlockM, BN = kGemmBlockN, cap = spec.rowCap;
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  if (failed(addStreams(sig, why)))
    return failure();
  Type f16 = b.getF16Type(), f32 = b.getF32Type(), i32 = b.getI32Type();
  const bool integer = operands != MmaOperands::F16;
  const int64_t opBits = operandBits(operands);
  // Integer codes: x rows of 32-bit words.
  unsigned xArg = sig.addOther(
      integer ? MemRefType::get({cap, xUnits / 2}, i32)
              : MemRefType::get({cap, K}, f16));
  unsigned outArg = sig.addOther(MemRefType::get({cap, N}, f32));
  unsigned mArg = sig.addOther(b.getIndexType());
  launch.block = {kGemmThreads, 1, 1};
  launch.grid = {(N + BN - 1) / BN, 1, (cap + BM - 1) / BM};
  auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  SmallVector<MemRefType> shared{
      MemRefType::get({S, BM, bk + kXPad}, f16, MemRefLayoutAttrInterface(),
                      space),
      MemRefType::get({S, BN, codeStride}, i32, MemRefLayoutAttrInterface(),
                      space)};
  shared.append(extraShared());
  launch.func = createKernel(b, r.loc, module, name, sig, launch.block, shared);
  gpu::GPUFuncOp func = launch.func;
  x = func.getArgument(xArg);
  out = func.getArgument(outArg);
  M = func.getArgument(mArg);
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
  xsBase = byteAddress(r, xs, r.idx(0));
  csBase = byteAddress(r, cs, r.idx(0));
  policy = evictFirstPolicy(r);
  for (int64_t j = 0; j < 4; ++j) {
    Value local = r.add(r.mulI(warp, 32), r.add(r.idx(8 * j), g));
    rowsLocal.push_back(local);
    rowsGlobal.push_back(r.minI(r.add(n0, local), r.idx(N - 1)));
  }
  setup(func);

  auto accType = VectorType::get({2, 2}, integer ? i32 : f32);
  Value zeroAcc = arith::ConstantOp::create(
      b, r.loc, accType,
      integer ? DenseElementsAttr::get(accType, int32_t(0))
              : DenseElementsAttr::get(accType, 0.0f));
  const int64_t E = extraAccumulators(), carriedAccs = 16 + E;
  SmallVector<Value> inits(carriedAccs, zeroAcc);
  SmallVector<Value> extra = extraInits();
  inits.append(extra);
  auto fragA = VectorType::get({4, 2}, f16);
  // The same 16 bytes a thread (four registers) as the integer A fragment.
  auto fragAInt = VectorType::get({4, 32 / opBits},
                                  b.getIntegerType(unsigned(opBits)));
  const int64_t mmaK = 16 * 16 / opBits;

  SmallVector<Value> results = r.forReduceN(
      r.idx(0), r.idx(xUnits / bk), 1, inits,
      [&](Value tile, ValueRange carried) {
        kt = tile;
        Block *body = b.getInsertionBlock();
        auto mark = [&] { return body->empty() ? nullptr : &body->back(); };
        // copy
        Operation *before = mark();
        Value slot = r.remI(kt, S), k0 = r.mulI(kt, bk);
        emitXCopies(slot, k0);
        SmallVector<Value> state =
            copyWeights(kt, slot, k0, carried.drop_front(carriedAccs));
        cpAsyncCommit(r);
        tagSince(body, before, kStageCopy);
        // scales
        before = mark();
        dequantScales();
        tagSince(body, before, kStageScales);
        // wait
        before = mark();
        cpAsyncWait(r, 0);
        gpu::BarrierOp::create(b, r.loc);
        tagSince(body, before, kStageWait);
        // compute
        before = mark();
        Value cslot = r.remI(kt, S);
        SmallVector<Value> next(carried.take_front(carriedAccs));
        for (int64_t ks = 0; ks < bk / 16; ++ks) {
          SmallVector<Value> a;
          for (int64_t mt = 0; mt < 4; ++mt) {
            Value row = r.add(r.idx(16 * mt), r.remI(lane, 16));
            Value col = r.add(r.idx(16 * ks), r.mulI(r.divI(lane, 16), 8));
            Value frag = nvgpu::LdMatrixOp::create(
                b, r.loc, fragA, xs, ValueRange{cslot, row, col},
                /*transpose=*/false, /*numTiles=*/4);
            if (integer)
              frag = bitcastRows(r, frag, fragAInt);
            a.push_back(frag);
          }
          SmallVector<Value> frags = fragmentsB(cslot, ks);
          for (int64_t j = 0; j < 4; ++j)
            for (int64_t mt = 0; mt < 4; ++mt)
              next[mt * 4 + j] = nvgpu::MmaSyncOp::create(
                  b, r.loc, a[mt], frags[j], next[mt * 4 + j],
                  ArrayRef<int64_t>{16, 8, mmaK});
          if (E)
            extraMmas(frags, MutableArrayRef<Value>(next).slice(16, E));
        }
        tagSince(body, before, kStageCompute);
        next.append(state);
        return next;
      });
  auto loop = cast<scf::ForOp>(results.front().getDefiningOp());
  loop->setAttr(kPipelineAttr, b.getI64IntegerAttr(S));
  emitEpilogue(ArrayRef<Value>(results).take_front(16),
               ArrayRef<Value>(results).slice(16, E));
  gpu::ReturnOp::create(b, r.loc);
  return launch;
}

} // namespace mixq::device
