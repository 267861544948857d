//===- MmaGemmKernel.cpp - The prefill GEMM of uniform, LUT, QUIK codes --===//
//
// The weight formats of the tensor-core GEMM (MmaGemm.h, MmaGemmBase.cpp
// for the block mapping and the K loop) whose codes are stored row-major:
// a uniform 2/3/4/8-bit weight, a LUT 3/4-bit weight (SqueezeLLM; its CSR
// outliers are a separate kernel after this one) and the signed codes of a
// QUIK weight over its compacted activations.
//
//   BK = 64, or 32 where S stages of 64 would pass 48 KiB of shared memory;
//   copy     the code tile: 128 rows x BK b-bit codes (contiguous in the
//            package) as 16-, 8- or 4-byte cp.async with an L2
//            evict-first policy into cs[slot][row]; the raw scale words of
//            the thread's 4 fragment rows and the tile's groups (FP16
//            scale, or second-order code, step and min; the zero point);
//   scales   scale = min + code * step, both scale and 1024 + zero as
//            f16x2 splats (uniform and QUIK; LUT weights have no scales);
//   compute  per fragment the pairs (2t, 2t+1) and (2t+8, 2t+9) of its
//            row: one shift out of the row's words (a 64-bit funnel for
//            3-bit pairs), then two lop3 (uniform; QUIK flips the sign bits
//            first: (code ^ h) - h with h = 2^(b-1) decodes like an
//            unsigned code with zero h) and (pair - (1024 + zero)) * scale
//            in f16x2; or two reads of the row's codebook, staged once in
//            shared memory (f16, [128][2^b]) before the loop (LUT).
//
// Also the f32 -> f16 conversion of the activations the GEMM reads.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/MmaGemm.h"

using namespace mlir;

namespace mixq::device {

namespace {

/// A scale group's words as loaded (phase `copy`) and as used (`scales`).
struct RawScale {
  ScaleSource::Raw scale;
  Value zero; ///< i32 zero point, or null (symmetric)
};
struct GroupScale {
  Value scale, zero; ///< vector<2xf16>: scale, 1024 + zero
};

/// Tile choice of the row-major formats.
struct Tiles {
  int64_t bk = 0, codeStride = 0, copyBytes = 0, lutBytes = 0;
  /// Scale groups per tile ("slots") and the k offset between them.
  int64_t slots = 1, slotK = 0;
  int64_t slotOf(int64_t ks) const { return slots == 1 ? 0 : ks * 16 / slotK; }
};

FailureOr<Tiles> chooseTiles(const GemmSpec &spec, int64_t G,
                             std::string &why) {
  const Layout &l = spec.w.layout;
  const int64_t K = spec.cols(), bits = l.bits[0];
  for (int64_t bk : {64, 32}) {
    if (K % bk)
      continue;
    Tiles t;
    t.bk = bk;
    if (l.scheme == Scheme::Lut)
      t.lutBytes = kGemmBlockN * (int64_t(1) << bits) * 2;
    int64_t chunkBytes = bk * bits / 8, rowBytes = K * bits / 8;
    t.copyBytes = codeCopyBytes(chunkBytes, rowBytes);
    // The pad keeps every row copyBytes-aligned and gives 3-bit pairs that
    // straddle the last word a word to read.
    t.codeStride = chunkBytes / 4 + t.copyBytes / 4;
    if (G % bk == 0) {
      t.slots = 1;
    } else if (bk % G == 0) {
      t.slots = bk / G;
      t.slotK = G;
    } else {
      t.slots = bk / 16;
      t.slotK = 16;
    }
    if (gemmSmemBytes(spec.stages, bk, t.codeStride, t.lutBytes) <=
        kStaticSmem)
      return t;
  }
  why = "the tensor-core GEMM needs K (" + std::to_string(K) +
        ") to be a multiple of 32 and " + std::to_string(spec.stages) +
        " stages to fit 48 KiB of shared memory";
  return failure();
}

class RowMajorGemm : public MmaGemmBase {
public:
  RowMajorGemm(OpBuilder &b, Location loc, const GemmSpec &spec,
               const Tiles &t, int64_t G)
      : MmaGemmBase(b, loc, spec, t.bk, spec.stages, t.codeStride), t(t),
        bits(unsigned(spec.w.layout.bits[0])), G(G) {}

private:
  bool isLut() const { return l.scheme == Scheme::Lut; }
  LogicalResult addStreams(KernelSignature &sig, std::string &why) override;
  SmallVector<MemRefType> extraShared() override;
  void setup(gpu::GPUFuncOp func) override;
  SmallVector<Value> copyWeights(Value kt, Value slot, Value k0,
                                 ValueRange state) override;
  void dequantScales() override;
  SmallVector<Value> fragmentsB(Value slot, int64_t ks) override;

  RawScale loadScale(Value row, Value k0, int64_t slot);
  Value lookupPair(Value rowLocal, Value pairBits);

  const Tiles t;
  const unsigned bits;
  const int64_t G;
  int codesArg = -1, scalesArg = -1, scaleCodesArg = -1, metaArg = -1,
      zerosArg = -1, lutArg = -1;
  Value codes, zeros, lut, table, codeBase;
  ScaleSource scales;
  SmallVector<RawScale> raw;
  SmallVector<GroupScale> deq;
};

LogicalResult RowMajorGemm::addStreams(KernelSignature &sig,
                                       std::string &why) {
  auto stream = [&](llvm::StringRef s) {
    return sig.addStreamOrWhy(b.getContext(), spec.w, s, why);
  };
  codesArg = stream("codes");
  if (codesArg < 0)
    return failure();
  if (isLut()) {
    lutArg = stream("lut");
    return success(lutArg >= 0);
  }
  if (!addScaleStreams(l, stream, scalesArg, scaleCodesArg, metaArg))
    return failure();
  if (l.asymmetric && !spec.quikCodes && (zerosArg = stream("zeros")) < 0)
    return failure();
  return success();
}

SmallVector<MemRefType> RowMajorGemm::extraShared() {
  if (!isLut())
    return {};
  auto space = gpu::AddressSpaceAttr::get(b.getContext(),
                                          gpu::AddressSpace::Workgroup);
  return {MemRefType::get({kGemmBlockN, int64_t(1) << bits}, b.getF16Type(),
                          MemRefLayoutAttrInterface(), space)};
}

void RowMajorGemm::setup(gpu::GPUFuncOp func) {
  auto arg = [&](int i) { return i < 0 ? Value() : func.getArgument(i); };
  codes = arg(codesArg);
  scales = scaleSourceOf(func, l, scalesArg, scaleCodesArg, metaArg);
  zeros = arg(zerosArg);
  lut = arg(lutArg);
  codeBase = byteAddress(r, codes, r.idx(0));
  if (!isLut())
    return;
  // The block's codebooks, once: [128][2^b] f16.
  table = func.getWorkgroupAttributions()[2];
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

SmallVector<Value> RowMajorGemm::copyWeights(Value, Value slot, Value k0,
                                             ValueRange) {
  copyCodeTile(codeBase, slot, k0, bk, K, bits, t.copyBytes);
  raw.clear();
  for (int64_t j = 0; j < 4 && !isLut(); ++j)
    for (int64_t s = 0; s < t.slots; ++s)
      raw.push_back(loadScale(rowsGlobal[j], k0, s));
  return {};
}

RawScale RowMajorGemm::loadScale(Value row, Value k0, int64_t slot) {
  Value k = r.addI(k0, slot * t.slotK);
  Value gi = r.add(r.mulI(row, K / G), r.divI(k, G));
  RawScale rs;
  rs.scale = scales.load(r, gi);
  if (zeros)
    rs.zero = r.loadBitsScalar(zeros, r.mulI(gi, bits), bits);
  return rs;
}

void RowMajorGemm::dequantScales() {
  Type f32 = b.getF32Type();
  deq.clear();
  for (const RawScale &rs : raw) {
    Value scale = scales.dequant(r, rs.scale);
    Value zero =
        rs.zero ? r.fadd(arith::UIToFPOp::create(b, r.loc, f32, rs.zero),
                         r.f32(1024.0))
                : r.f32(1024.0 + double(int64_t(1) << (bits - 1)));
    deq.push_back({splatHalf(scale), splatHalf(zero)});
  }
}

Value RowMajorGemm::lookupPair(Value rowLocal, Value pairBits) {
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

SmallVector<Value> RowMajorGemm::fragmentsB(Value slot, int64_t ks) {
  SmallVector<Value> frags;
  for (int64_t j = 0; j < 4; ++j) {
    Value halves[2];
    for (int64_t half = 0; half < 2; ++half) {
      Value bitsV = pairBitsAt(slot, rowsLocal[j], ks, half, bits);
      if (isLut()) {
        halves[half] = lookupPair(rowsLocal[j], bitsV);
        continue;
      }
      if (spec.quikCodes) {
        // Two's complement to offset binary: (code ^ h) - h, h = 2^(b-1).
        const int64_t h = int64_t(1) << (bits - 1);
        bitsV = arith::XOrIOp::create(b, r.loc, bitsV, r.i32(h | (h << bits)));
      }
      const GroupScale &s = deq[j * t.slots + t.slotOf(ks)];
      halves[half] = lop3Dequant(bitsV, bits, s.zero, s.scale);
    }
    frags.push_back(packB(halves[0], halves[1]));
  }
  return frags;
}

} // namespace

FailureOr<KernelLaunch> buildMmaGemmKernel(OpBuilder &b, Location loc,
                                           gpu::GPUModuleOp module,
                                           llvm::StringRef name,
                                           const GemmSpec &spec,
                                           std::string &why) {
  const Layout &l = spec.w.layout;
  if (l.scheme == Scheme::Mixed)
    return buildMixedMmaGemmKernel(b, loc, module, name, spec, why);
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
  FailureOr<Tiles> tiles = chooseTiles(spec, G, why);
  if (failed(tiles))
    return failure();
  RowMajorGemm gemm(b, loc, spec, *tiles, G);
  return gemm.build(module, name, why);
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
