//===- MixedGemmKernel.cpp - The prefill GEMM of mixed 2/4/16 weights ---===//
//
// The mixed 2/4/16 format of the tensor-core GEMM (MmaGemm.h and
// MmaGemmBase.cpp give the block mapping and the pipelined K loop). Codes
// are stored tile-group by tile-group (T = 16 or 32 rows x one K-group of
// G columns, row-major inside) in one stream per precision; the 2-bit map
// `pmap` gives each tile-group's precision and `offsets` the first
// tile-group of each precision per row block.
//
//   BK = 32: a K tile is a 32-column slice of one group, so the precision
//   of a tile-group is constant over a tile and the same for all lanes
//   that decode it: a warp's 32 rows are 1 (T = 32) or 2 (T = 16) whole
//   tile-groups, and the precision switch (scf.index_switch, bra.uni) is
//   per tile-group and k16 step, never per element.
//   Loop-carried: per tile-group of the warp and precision, the count of
//   the row block's earlier groups of that precision (the tile-group's
//   index in its stream is offsets[rb][p] + count).
//   copy     lane l copies row 32 w + l: its 32 codes of the tile are one
//            contiguous run of 8 (2-bit), 16 (4-bit) or 64 (FP16) bytes
//            in its precision's stream, copied as eight 8-byte cp.async
//            with an L2 evict-first policy whose source size is 0 past the
//            run (cs[slot][row][0..16) words, the same place for every
//            precision); the raw scale words, zero and outlier slots
//            (index, value) of the thread's 4 fragment rows;
//   scales   scale (FP16 or min + code * step) and 1024 + zero as f16x2;
//   compute  per tile-group and k16 step one switch on its precision:
//            2/4-bit pairs decoded with lop3 and (pair - zero) * scale, the
//            2-bit row-groups' exclusive outlier slots added in registers
//            where their index is one of the pair's columns; FP16 pairs
//            are one 32-bit shared load.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/MmaGemm.h"

using namespace mlir;

namespace mixq::device {

namespace {

/// One precision of the layout, and the address of its code stream.
struct Precision : MixedStreams::Precision {
  Value base; ///< i64
};

/// What the copy phase loads for one fragment row.
struct RowRaw {
  ScaleSource::Raw scale; ///< null scale: no quantized precision
  Value zero;             ///< i32, or null
  SmallVector<Value> slotIndex, slotValue;
};
struct RowScale {
  Value scale, zero; ///< f16x2 splats
};

constexpr int64_t kMixedBK = 32;
/// Words of a code row in a slot: 32 FP16 values, plus an 8-byte pad.
constexpr int64_t kMixedCodeStride = 16 + 2;

class MixedGemm : public MmaGemmBase {
public:
  MixedGemm(OpBuilder &b, Location loc, const GemmSpec &spec, int64_t stages)
      : MmaGemmBase(b, loc, spec, kMixedBK, stages, kMixedCodeStride),
        T(spec.w.layout.tile), G(spec.w.layout.group),
        P(int64_t(spec.w.layout.bits.size())), tgs(32 / T) {}

private:
  LogicalResult addStreams(KernelSignature &sig, std::string &why) override;
  void setup(gpu::GPUFuncOp func) override;
  SmallVector<Value> extraInits() override;
  SmallVector<Value> copyWeights(Value kt, Value slot, Value k0,
                                 ValueRange state) override;
  void dequantScales() override;
  SmallVector<Value> fragmentsB(Value slot, int64_t ks) override;

  Value precisionAt(Value rb, Value group);
  Value select(Value p, llvm::function_ref<Value(int64_t)> perPrecision);
  Value streamIndex(int64_t tt, Value p);

  const int64_t T, G, P, tgs;
  MixedStreams streams;
  SmallVector<Precision> precs;
  int slotPrecision = -1;
  Value pmap, offsets, zeros, slotIndex, slotValue;
  ScaleSource scales;
  /// Per tile-group of the warp: its (clamped) row block.
  SmallVector<Value> rowBlock;
  // Per tile: the precision of each warp tile-group, the counts carried in,
  // the raw and dequantized row values of the 4 fragment rows.
  SmallVector<Value> prec, counts;
  SmallVector<RowRaw> raw;
  SmallVector<RowScale> deq;
};

LogicalResult MixedGemm::addStreams(KernelSignature &sig, std::string &why) {
  FailureOr<MixedStreams> m = addMixedStreams(b.getContext(), spec.w, sig, why);
  if (failed(m))
    return failure();
  streams = *m;
  for (const MixedStreams::Precision &p : m->precs) {
    precs.emplace_back();
    static_cast<MixedStreams::Precision &>(precs.back()) = p;
  }
  slotPrecision = m->slotPrecision;
  return success();
}

void MixedGemm::setup(gpu::GPUFuncOp func) {
  auto arg = [&](int i) { return i < 0 ? Value() : func.getArgument(i); };
  pmap = arg(streams.pmapArg);
  offsets = arg(streams.offsetsArg);
  scales = scaleSourceOf(func, l, streams.scalesArg, streams.scaleCodesArg,
                         streams.metaArg);
  zeros = arg(streams.zerosArg);
  slotIndex = arg(streams.slotIndexArg);
  slotValue = arg(streams.slotValueArg);
  Value anyBase;
  for (Precision &p : precs)
    if (p.codesArg >= 0)
      anyBase = p.base = byteAddress(r, arg(p.codesArg), r.idx(0));
  for (Precision &p : precs)
    if (!p.base)
      p.base = anyBase; // never selected: the layout has no such groups
  for (int64_t tt = 0; tt < tgs; ++tt) {
    Value first = r.add(n0, r.add(r.mulI(warp, 32), r.idx(T * tt)));
    rowBlock.push_back(r.minI(r.divI(first, T), r.idx(N / T - 1)));
  }
}

SmallVector<Value> MixedGemm::extraInits() {
  return SmallVector<Value>(tgs * P, r.idx(0));
}

Value MixedGemm::precisionAt(Value rb, Value group) {
  Value at = r.add(r.mulI(rb, K / G), group);
  Value p = r.loadBitsScalar(pmap, r.mulI(at, 2), 2);
  return arith::IndexCastUIOp::create(b, r.loc, b.getIndexType(), p);
}

Value MixedGemm::select(Value p, llvm::function_ref<Value(int64_t)> of) {
  Value v = of(P - 1);
  for (int64_t q = P - 2; q >= 0; --q) {
    Value is = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, p,
                                     r.idx(q));
    v = arith::SelectOp::create(b, r.loc, is, of(q), v);
  }
  return v;
}

Value MixedGemm::streamIndex(int64_t tt, Value p) {
  Value first = r.loadIndexU(offsets, r.add(r.mulI(rowBlock[tt], P), p));
  return r.add(first, select(p, [&](int64_t q) { return counts[tt * P + q]; }));
}

SmallVector<Value> MixedGemm::copyWeights(Value, Value slot, Value k0,
                                          ValueRange state) {
  const int64_t BN = kGemmBlockN;
  Type i32 = b.getI32Type();
  Value group = r.divI(k0, G), inGroup = r.remI(k0, G);
  counts.assign(state.begin(), state.end());
  prec.clear();
  for (int64_t tt = 0; tt < tgs; ++tt)
    prec.push_back(precisionAt(rowBlock[tt], group));

  // This lane's row: tile-group tt = lane / T, row rr = lane % T of it.
  Value rowC = r.add(r.mulI(warp, 32), lane);
  Value ttC = tgs == 1 ? r.idx(0) : r.divI(lane, T);
  Value rrC = r.remI(lane, T);
  Value pC = tgs == 1 ? prec[0]
                      : arith::SelectOp::create(
                            b, r.loc,
                            arith::CmpIOp::create(b, r.loc,
                                                  arith::CmpIPredicate::eq,
                                                  ttC, r.idx(0)),
                            prec[0], prec[1]);
  Value siC =
      tgs == 1 ? streamIndex(0, pC)
               : arith::SelectOp::create(
                     b, r.loc,
                     arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq,
                                           ttC, r.idx(0)),
                     streamIndex(0, pC), streamIndex(1, pC));
  Value elem = r.add(r.mulI(r.add(r.mulI(siC, T), rrC), G), inGroup);
  Value bitsC = select(pC, [&](int64_t q) { return r.idx(precs[q].bits); });
  Value byteOff = r.divI(r.mul(elem, bitsC), 8);
  Value units = r.divI(bitsC, 2); // 8-byte units of 32 codes
  Value base = precs[0].base;
  for (int64_t q = 1; q < P; ++q)
    base = arith::SelectOp::create(
        b, r.loc,
        arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, pC,
                              r.idx(q)),
        precs[q].base, base);
  Value rowDst = r.mulI(r.add(r.mulI(slot, BN), rowC), codeStride * 4);
  for (int64_t u = 0; u < 8; ++u) {
    Value live = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ult,
                                       r.idx(u), units);
    Value at = r.mulI(r.minI(r.idx(u), r.addI(units, -1)), 8);
    Value src = addr(base, r.add(byteOff, at));
    Value dst = addr(csBase, r.addI(rowDst, 8 * u));
    Value srcBytes =
        arith::SelectOp::create(b, r.loc, live, r.i32(8), r.i32(0));
    cpAsyncEvictFirstZeroFill(r, dst, src, 8, srcBytes, policy);
  }

  // The fragment rows' scales, zeros and outlier slots.
  raw.clear();
  for (int64_t j = 0; j < 4; ++j) {
    int64_t tt = 8 * j / T;
    Value p = prec[tt];
    Value rr = r.remI(r.add(r.idx(8 * j % T), g), T);
    Value local = r.add(r.mulI(streamIndex(tt, p), T), rr);
    RowRaw row;
    if (scales.scales || scales.codes) {
      Value rg = select(p, [&](int64_t q) {
        return precs[q].bits == 16 ? r.idx(0)
                                   : r.addI(local, precs[q].rowGroupBase);
      });
      row.scale = scales.load(r, rg);
    }
    if (zeros) {
      Value bit = select(p, [&](int64_t q) {
        return precs[q].bits == 16
                   ? r.idx(0)
                   : r.addI(r.mulI(local, precs[q].bits),
                            precs[q].zeroBitBase);
      });
      Value mask = select(p, [&](int64_t q) {
        return r.i32(precs[q].bits >= 16 ? 0 : (1 << precs[q].bits) - 1);
      });
      unsigned widest = 0;
      for (const Precision &q : precs)
        if (q.bits != 16)
          widest = std::max(widest, q.bits);
      row.zero = arith::AndIOp::create(
          b, r.loc, r.loadBitsScalar(zeros, bit, widest), mask);
    }
    if (slotPrecision >= 0) {
      Value isSlot = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq,
                                           p, r.idx(slotPrecision));
      Value first = arith::SelectOp::create(b, r.loc, isSlot,
                                            r.mulI(local, l.slots), r.idx(0));
      for (int64_t s = 0; s < l.slots; ++s) {
        Value at = r.addI(first, s);
        row.slotIndex.push_back(arith::SelectOp::create(
            b, r.loc, isSlot, r.loadIndexU(slotIndex, at), r.idx(G)));
        row.slotValue.push_back(r.loadF32(slotValue, at));
      }
    }
    raw.push_back(row);
  }

  // Counts for the next tile: a group ends with this tile.
  Value ends = arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq,
                                     r.addI(inGroup, kMixedBK), r.idx(G));
  SmallVector<Value> next;
  for (int64_t tt = 0; tt < tgs; ++tt)
    for (int64_t q = 0; q < P; ++q) {
      Value is = arith::AndIOp::create(
          b, r.loc, ends,
          arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::eq, prec[tt],
                                r.idx(q)));
      Value inc = arith::IndexCastUIOp::create(
          b, r.loc, b.getIndexType(),
          arith::ExtUIOp::create(b, r.loc, i32, is));
      next.push_back(r.add(counts[tt * P + q], inc));
    }
  return next;
}

void MixedGemm::dequantScales() {
  Type f32 = b.getF32Type();
  deq.clear();
  for (int64_t j = 0; j < 4; ++j) {
    const RowRaw &rw = raw[j];
    Value p = prec[8 * j / T];
    RowScale s;
    Value scale =
        rw.scale.scale ? scales.dequant(r, rw.scale) : r.f32(1.0);
    Value zero =
        rw.zero ? r.fadd(arith::UIToFPOp::create(b, r.loc, f32, rw.zero),
                         r.f32(1024.0))
                : select(p, [&](int64_t q) {
                    return r.f32(precs[q].bits >= 16
                                     ? 1024.0
                                     : 1024.0 + double(1 << (precs[q].bits - 1)));
                  });
    s.scale = splatHalf(scale);
    s.zero = splatHalf(zero);
    deq.push_back(s);
  }
}

SmallVector<Value> MixedGemm::fragmentsB(Value slot, int64_t ks) {
  auto pairType = VectorType::get({2}, b.getF16Type());
  Value zeroPair = arith::ConstantOp::create(
      b, r.loc, pairType,
      DenseElementsAttr::get(pairType, APFloat(APFloat::IEEEhalf(), 0)));
  Value inGroup = r.remI(r.mulI(kt, kMixedBK), G);
  SmallVector<Value> halves(8);
  const int64_t perTg = 4 / tgs;
  for (int64_t tt = 0; tt < tgs; ++tt) {
    SmallVector<Type> types(2 * perTg, pairType);
    SmallVector<int64_t> cases;
    for (int64_t q = 0; q < P; ++q)
      cases.push_back(q);
    auto sw = scf::IndexSwitchOp::create(b, r.loc, types, prec[tt], cases,
                                         cases.size());
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&sw.getDefaultRegion().emplaceBlock());
      scf::YieldOp::create(b, r.loc,
                           SmallVector<Value>(2 * perTg, zeroPair));
    }
    for (int64_t q = 0; q < P; ++q) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&sw.getCaseRegions()[q].emplaceBlock());
      SmallVector<Value> ys;
      for (int64_t jj = 0; jj < perTg; ++jj) {
        int64_t j = tt * perTg + jj;
        for (int64_t half = 0; half < 2; ++half) {
          const Precision &pr = precs[q];
          if (pr.codesArg < 0) {
            ys.push_back(zeroPair);
            continue;
          }
          Value k = r.add(r.idx(16 * ks + 8 * half), r.mulI(tq, 2));
          if (pr.bits == 16) {
            Value word = r.load(cs, {slot, rowsLocal[j], r.divI(k, 2)});
            ys.push_back(LLVM::BitcastOp::create(b, r.loc, pairType, word));
            continue;
          }
          Value bitsV = pairBitsAt(slot, rowsLocal[j], ks, half, pr.bits);
          Value w = lop3Dequant(bitsV, pr.bits, deq[j].zero, deq[j].scale);
          if (int(q) == slotPrecision) {
            // Exclusive outliers: value at the slot's column of the group.
            Value col = r.add(inGroup, k);
            SmallVector<Value> add(2, r.f32(0.0));
            for (int64_t e = 0; e < 2; ++e)
              for (size_t s = 0; s < raw[j].slotIndex.size(); ++s) {
                Value hit = arith::CmpIOp::create(
                    b, r.loc, arith::CmpIPredicate::eq, raw[j].slotIndex[s],
                    r.addI(col, e));
                add[e] = arith::SelectOp::create(
                    b, r.loc, hit, r.fadd(add[e], raw[j].slotValue[s]),
                    add[e]);
              }
            Value corr = vector::FromElementsOp::create(
                b, r.loc, pairType,
                ValueRange{arith::TruncFOp::create(b, r.loc, b.getF16Type(),
                                                   add[0]),
                           arith::TruncFOp::create(b, r.loc, b.getF16Type(),
                                                   add[1])});
            w = arith::AddFOp::create(b, r.loc, w, corr);
          }
          ys.push_back(w);
        }
      }
      scf::YieldOp::create(b, r.loc, ys);
    }
    for (int64_t jj = 0; jj < perTg; ++jj)
      for (int64_t half = 0; half < 2; ++half)
        halves[2 * (tt * perTg + jj) + half] = sw.getResult(2 * jj + half);
  }
  SmallVector<Value> frags;
  for (int64_t j = 0; j < 4; ++j)
    frags.push_back(packB(halves[2 * j], halves[2 * j + 1]));
  return frags;
}

} // namespace

FailureOr<KernelLaunch>
buildMixedMmaGemmKernel(OpBuilder &b, Location loc, gpu::GPUModuleOp module,
                        llvm::StringRef name, const GemmSpec &spec,
                        std::string &why) {
  const Layout &l = spec.w.layout;
  const int64_t N = spec.w.rows, K = spec.w.cols, T = l.tile, G = l.group;
  if ((T != 16 && T != 32) || G <= 0 || G % kMixedBK || K % G || N % T) {
    why = "the tensor-core GEMM of mixed weights needs tile-groups of 16 or "
          "32 rows, groups of a multiple of 32 columns dividing K, and whole "
          "row blocks";
    return failure();
  }
  for (int64_t bits : l.bits)
    if (bits != 2 && bits != 4 && bits != 8 && bits != 16) {
      why = "the tensor-core GEMM of mixed weights takes 2, 4, 8 and 16-bit "
            "precisions";
      return failure();
    }
  if (l.bits.size() > 4 || spec.rowCap < 1) {
    why = "the tensor-core GEMM of mixed weights takes at most 4 precisions";
    return failure();
  }
  // As many stages as the plan asks for and 48 KiB hold.
  int64_t stages = spec.stages;
  while (stages > 2 &&
         gemmSmemBytes(stages, kMixedBK, kMixedCodeStride) > kStaticSmem)
    --stages;
  MixedGemm gemm(b, loc, spec, stages);
  return gemm.build(module, name, why);
}

} // namespace mixq::device
