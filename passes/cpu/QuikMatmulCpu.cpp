//===- QuikMatmulCpu.cpp - x86 kernel of QUIK's mixq.qmatmul ---------------===//
//
// A QUIK product (model/QuantizedTensor.h): the K - C quantized input
// columns against signed b-bit codes with one FP16 scale per output row, and
// the C FP16 outlier columns against the unquantized inputs.
//
// 1. Per input row (token), in the calling thread: the quantized columns are
//    compacted (col_index removed) into scratch, the FP16 columns'
//    activations gathered after them (quikOutlierWord), and, when the layout's
//    `act` has fewer than 16 bits, quantized exactly as
//    model/ActivationQuant.cpp does (per token, asymmetric min/max or
//    symmetric abs-max, round half to even) and stored as the centred
//    integers q - zero with the token's scale.
// 2. Parallel over output rows: integer dot products of the sign-extended
//    codes with those integers, scaled once by the row's and the token's
//    scales; plus the FP16 columns' f32 dot against the gathered
//    activations, 16 lanes at a time. With 4- or 8-bit codes, whole
//    blocks of columns take the target's byte dot product on the
//    activations as u8 codes (asymmetric: q; symmetric: q + 128) against
//    the s8 codes, sum(w * (u - zp)) = sum(w * u) - zp * sum(w), sum(w)
//    from a second dot against ones:
//      - AVX-512 VNNI: vpdpbusd on 64 columns;
//      - AVX-VNNI: the VEX vpdpbusd on 32 columns;
//      - AVX2: vpmaddubsw then vpmaddwd against ones on 32 columns; 4-bit
//        codes as unsigned code + 8 (the sign bit flipped) against signed
//        u - 128 (pairs sum to at most 2 * 15 * 128: no saturation), the
//        codes' sum by vpsadbw and each token's sum of u once per task, so
//        sum w (u - zp) = dot + (128 - zp) sum w - 8 sum u + 1024 V: 15
//        instructions per 32 columns (10 vector) where sign-extended codes
//        and a second vpmaddubsw against ones took 19 (14; 7B-shaped quik-4
//        decode products 14-17% less time, znver3, 4 alternating runs);
//        8-bit codes are widened to i16 and go through vpmaddwd.
//    4-bit codes are split into low and high nibbles without shuffles and
//    the activations of each block are stored in that plane order (even
//    columns, then odd). The rest of the columns use i32 multiply-adds.
//    Every sum is exact in i32 (|sum| < K * 255 * 128 < 2^31).
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace mixq::cpu {
namespace {

/// The instructions that take QUIK's blocked integer dot products.
enum class IntDot {
  Scalar,  ///< i32 multiply-adds only
  Vnni512, ///< AVX-512 VNNI vpdpbusd on 64 bytes
  AvxVnni, ///< AVX-VNNI vpdpbusd on 32 bytes (VEX)
  Avx2,    ///< vpmaddubsw / vpmaddwd on 32 bytes
};

/// Columns per block of the blocked dot product.
int64_t blockColumns(IntDot isa) { return isa == IntDot::Vnni512 ? 64 : 32; }

/// The best blocked dot product for `bits`-bit codes on the target.
IntDot chooseIntDot(const FunctionEnv &env, unsigned bits) {
  if (bits != 4 && bits != 8)
    return IntDot::Scalar;
  if (env.vnni)
    return IntDot::Vnni512;
  if (env.avxVnni)
    return IntDot::AvxVnni;
  if (env.avx2)
    return IntDot::Avx2;
  return IntDot::Scalar;
}

/// Whether the blocked dot takes unsigned codes against signed activations
/// (AVX2, 4-bit codes; see emitBlockedDot), and so needs each token's
/// activation sum (emitActivationSums).
bool unsignedCodeDot(IntDot isa, unsigned bits) {
  return isa == IntDot::Avx2 && bits == 4;
}

/// Per token mi < m: the sum of its V blocked activation bytes (u8, from
/// column U of xu) into a new i32 stack buffer of m entries.
Value emitActivationSums(IRB &r, Value xu, Value m, int64_t V, int64_t U) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  Type i32 = b.getI32Type();
  auto bytesType = VectorType::get({32}, b.getI8Type());
  auto sadType = VectorType::get({4}, b.getI64Type());
  Value sums = memref::AllocaOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, i32), ValueRange{m});
  Value zeroBytes = arith::ConstantOp::create(b, loc,
                                              b.getZeroAttr(bytesType));
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value acc = r.forReduce(
        r.idx(0), r.idx(V), 32,
        arith::ConstantOp::create(b, loc, b.getZeroAttr(sadType)),
        [&](Value k, Value a) -> Value {
          Value u = vector::LoadOp::create(b, loc, bytesType, xu,
                                           ValueRange{mi, r.addI(k, U)});
          Value sad =
              LLVM::CallIntrinsicOp::create(
                  b, loc, sadType, b.getStringAttr("llvm.x86.avx2.psad.bw"),
                  ValueRange{u, zeroBytes})
                  .getResult(0);
          return arith::AddIOp::create(b, loc, a, sad);
        });
    Value total = vector::ReductionOp::create(b, loc,
                                              vector::CombiningKind::ADD, acc);
    r.store(arith::TruncIOp::create(b, loc, i32, total), sums, mi);
  });
  return sums;
}

/// sum over columns [0, V) of code * (u - zp) for one row and token, a
/// block of columns at a time (see the file comment). `sumU`: the token's
/// sum of u over those columns, where unsignedCodeDot.
Value emitBlockedDot(IRB &r, IntDot isa, Value codes, Value xu, Value xf,
                     Value rowBase, Value mi, unsigned bits, int64_t V,
                     int64_t U, int64_t Kq, Value sumU) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  Type i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type();
  int64_t B = blockColumns(isa);
  auto accType = VectorType::get({isa == IntDot::Vnni512 ? 16 : 8}, i32);
  auto bytesType = VectorType::get({B}, i8);
  auto v16i16 = VectorType::get({16}, i16);
  auto splat = [&](VectorType t, int64_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(
                    t, b.getIntegerAttr(t.getElementType(), v)));
  };
  auto intrinsic = [&](Type result, StringRef name, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(b, loc, result, b.getStringAttr(name),
                                         args)
        .getResult(0);
  };
  // One block: (sum of u * w, sum of w) added to (acc, accW). LLVM 22's
  // vpdpbusd takes (i32 acc, u8 bytes, s8 bytes).
  Value ones16 = splat(v16i16, 1);
  auto step = [&](Value acc, Value accW, Value u,
                  Value w) -> std::pair<Value, Value> {
    if (isa == IntDot::Vnni512 || isa == IntDot::AvxVnni) {
      StringRef name = isa == IntDot::Vnni512 ? "llvm.x86.avx512.vpdpbusd.512"
                                              : "llvm.x86.avx512.vpdpbusd.256";
      return {intrinsic(accType, name, ValueRange{acc, u, w}),
              intrinsic(accType, name, ValueRange{accW, splat(bytesType, 1), w})};
    }
    auto madd = [&](Value a16, Value b16) {
      return intrinsic(accType, "llvm.x86.avx2.pmadd.wd", ValueRange{a16, b16});
    };
    if (unsignedCodeDot(isa, bits)) {
      // w is w + 8 (unsigned), u is u - 128 (signed): |pair| <= 2 * 15 *
      // 128, so vpmaddubsw cannot saturate. sum(w + 8) by vpsadbw: each
      // 64-bit lane sums 8 codes (at most 120), so its upper 32 bits are
      // zero and the i32 lanes accumulate the sums.
      Value su = arith::XOrIOp::create(b, loc, u, splat(bytesType, -128));
      Value pairs = intrinsic(v16i16, "llvm.x86.avx2.pmadd.ub.sw",
                              ValueRange{w, su});
      Value sad = intrinsic(VectorType::get({4}, b.getI64Type()),
                            "llvm.x86.avx2.psad.bw",
                            ValueRange{w, splat(bytesType, 0)});
      return {arith::AddIOp::create(b, loc, acc, madd(pairs, ones16)),
              arith::AddIOp::create(
                  b, loc, accW,
                  vector::BitCastOp::create(b, loc, accType, sad))};
    }
    if (bits == 4) {
      // |u * w + u' * w'| <= 2 * 255 * 8: vpmaddubsw cannot saturate.
      auto pairs = [&](Value ub) {
        return intrinsic(v16i16, "llvm.x86.avx2.pmadd.ub.sw", ValueRange{ub, w});
      };
      return {arith::AddIOp::create(b, loc, acc, madd(pairs(u), ones16)),
              arith::AddIOp::create(
                  b, loc, accW, madd(pairs(splat(bytesType, 1)), ones16))};
    }
    // 8-bit codes could saturate vpmaddubsw: widen to i16, vpmaddwd.
    auto half = [&](Value v, int64_t h, bool isSigned) -> Value {
      Value part = vector::ExtractStridedSliceOp::create(
          b, loc, v, ArrayRef<int64_t>{h * 16}, ArrayRef<int64_t>{16},
          ArrayRef<int64_t>{1});
      if (isSigned)
        return arith::ExtSIOp::create(b, loc, v16i16, part);
      return arith::ExtUIOp::create(b, loc, v16i16, part);
    };
    for (int64_t h = 0; h < 2; ++h) {
      Value wh = half(w, h, true);
      acc = arith::AddIOp::create(b, loc, acc, madd(half(u, h, false), wh));
      accW = arith::AddIOp::create(b, loc, accW, madd(wh, ones16));
    }
    return {acc, accW};
  };

  // One block of B columns from column k: (acc, accW) advanced.
  auto block = [&](Value k, Value acc, Value accW) -> std::pair<Value, Value> {
    Value elem = r.add(rowBase, k);
    Value w;
    if (bits == 8) {
      w = vector::LoadOp::create(b, loc, bytesType, codes, ValueRange{elem});
    } else {
      auto halfType = VectorType::get({B / 2}, i8);
      Value raw = vector::LoadOp::create(b, loc, halfType, codes,
                                         ValueRange{r.divI(elem, 2)});
      Value lo, hi;
      if (unsignedCodeDot(isa, bits)) {
        // w + 8 in each nibble: the code with its sign bit flipped.
        raw = arith::XOrIOp::create(b, loc, raw, splat(halfType, -120));
        lo = arith::AndIOp::create(b, loc, raw, splat(halfType, 15));
        hi = arith::ShRUIOp::create(b, loc, raw, splat(halfType, 4));
      } else {
        // Sign-extend a nibble in a byte: (v ^ 8) - 8.
        auto signExtend = [&](Value v) -> Value {
          v = arith::AndIOp::create(b, loc, v, splat(halfType, 15));
          v = arith::XOrIOp::create(b, loc, v, splat(halfType, 8));
          return arith::SubIOp::create(b, loc, v, splat(halfType, 8));
        };
        lo = signExtend(raw);
        hi = signExtend(
            arith::ShRUIOp::create(b, loc, raw, splat(halfType, 4)));
      }
      SmallVector<int64_t> concat;
      for (int64_t i = 0; i < B; ++i)
        concat.push_back(i);
      w = vector::ShuffleOp::create(b, loc, lo, hi, concat);
    }
    Value u = vector::LoadOp::create(b, loc, bytesType, xu,
                                     ValueRange{mi, r.addI(k, U)});
    return step(acc, accW, u, w);
  };
  // Two blocks a trip (the loop's address and branch work per block
  // halved: AVX2 4-bit 13.5 instructions per 32 columns against 15;
  // quik-4 decode products 2.6-3.5% less time, 4 alternating runs), then
  // the odd block.
  constexpr int64_t kBlocksPerTrip = 2;
  int64_t whole = V / (B * kBlocksPerTrip) * (B * kBlocksPerTrip);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
  auto loop = scf::ForOp::create(b, loc, r.idx(0), r.idx(whole),
                                 r.idx(B * kBlocksPerTrip),
                                 ValueRange{zero, zero});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k = loop.getInductionVar();
    Value acc = loop.getRegionIterArgs()[0], accW = loop.getRegionIterArgs()[1];
    for (int64_t t = 0; t < kBlocksPerTrip; ++t)
      std::tie(acc, accW) = block(r.addI(k, t * B), acc, accW);
    scf::YieldOp::create(b, loc, ValueRange{acc, accW});
  }
  Value accAll = loop.getResult(0), accWAll = loop.getResult(1);
  for (int64_t k = whole; k < V; k += B)
    std::tie(accAll, accWAll) = block(r.idx(k), accAll, accWAll);
  auto reduce = [&](Value v) -> Value {
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, v);
  };
  Value zp = arith::FPToSIOp::create(b, loc, i32,
                                     r.load(xf, {mi, r.idx(Kq + 1)}));
  if (unsignedCodeDot(isa, bits)) {
    // dot = sum (w + 8)(u - 128) = sum w u - 128 sum w + 8 sum u - 1024 V,
    // so sum w (u - zp) = dot + (128 - zp) sum w - 8 sum u + 1024 V, with
    // sum w = sum (w + 8) - 8 V.
    auto c = [&](int64_t v) { return r.i32(int32_t(v)); };
    Value sumW = arith::SubIOp::create(b, loc, reduce(accWAll), c(8 * V));
    Value t = arith::AddIOp::create(
        b, loc, reduce(accAll),
        arith::MulIOp::create(b, loc,
                              arith::SubIOp::create(b, loc, c(128), zp), sumW));
    t = arith::SubIOp::create(b, loc, t,
                              arith::MulIOp::create(b, loc, c(8), sumU));
    return arith::AddIOp::create(b, loc, t, c(1024 * V));
  }
  return arith::SubIOp::create(
      b, loc, reduce(accAll),
      arith::MulIOp::create(b, loc, zp, reduce(accWAll)));
}

} // namespace

LogicalResult emitQuikMatmul(IRB &r, FunctionEnv &env,
                             const ProductSpec &product, const WeightInfo &w,
                             Value x, Value y, Value m, Value scratch) {
  Operation *op = product.op;
  OpBuilder &b = r.b;
  Location loc = r.loc;
  const Layout &l = w.layout;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t K = w.cols, N = w.rows, C = l.fp16Cols, Kq = K - C;
  unsigned bits = unsigned(l.bits[0]);
  bool intDot = l.act.bits < 16;
  int64_t lanes = Kq % 16 == 0 ? 16 : Kq % 8 == 0 ? 8 : 1;
  int64_t rowBytes = qmatmulScratchBytesPerRow(w);
  int64_t rowWords = rowBytes / 4;
  // The blocked dot covers whole blocks of columns; U is the u8 codes' byte
  // offset in a token's scratch row.
  IntDot isa = intDot ? chooseIntDot(env, bits) : IntDot::Scalar;
  // Blocks read whole bytes from each row's first code, so every row must
  // start on a byte boundary: with 4-bit codes and an odd number of
  // quantized columns (an odd fp16_cols count) every other row starts
  // mid-byte, and the blocked dot read its codes a nibble off (NMSE ~1);
  // such layouts take the per-lane path, which reads codes by bit offset.
  if ((Kq * int64_t(bits)) % 8 != 0)
    isa = IntDot::Scalar;
  bool blocked = isa != IntDot::Scalar;
  int64_t B = blockColumns(isa);
  int64_t V = blocked ? Kq / B * B : 0;
  const int64_t U = (Kq + 4) * 4;
  // The FP16 columns' activations of a token: f32 words [O, O + C).
  const int64_t O = quikOutlierWord(w);
  auto xType = cast<MemRefType>(x.getType());
  bool dynamicM = !xType.hasStaticShape();
  SmallVector<Value> dyn;
  if (dynamicM)
    dyn.push_back(m);

  // Scratch views: [M][rowWords] as f32 (compacted x, then the scale at
  // Kq) and as i32 (the centred integer activations).
  auto viewAs = [&](Type elem) -> Value {
    int64_t cols = elem.getIntOrFloatBitWidth() == 8 ? rowBytes : rowWords;
    auto type = MemRefType::get({xType.getDimSize(0), cols}, elem);
    return memref::ViewOp::create(b, loc, type, scratch, r.idx(0),
                                  dynamicM ? ValueRange{m} : ValueRange{});
  };
  Value xf = viewAs(f32), xi = viewAs(i32), xu = viewAs(b.getI8Type());

  FailureOr<Value> colIndex = failure();
  if (C > 0) {
    colIndex = env.table->view(b, loc, env.streams, w, "col_index");
    if (failed(colIndex))
      return op->emitOpError("QUIK weight without its col_index stream");
  }

  // 1. Compact and quantize each input row.
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value zeroF = r.f32(0.0);
    SmallVector<Value> init{r.idx(0), r.idx(0), zeroF, zeroF, zeroF};
    auto loop = scf::ForOp::create(b, loc, r.idx(0), r.idx(K), r.idx(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k = loop.getInductionVar();
      auto it = loop.getRegionIterArgs();
      Value j = it[0], c = it[1];
      Value isOutlier = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
      if (C > 0) {
        Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              c, r.idx(C));
        Value col = r.loadIndexU(*colIndex, r.minI(c, r.idx(C - 1)));
        Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                           col, k);
        isOutlier = arith::AndIOp::create(b, loc, inRange, same);
      }
      auto branch = scf::IfOp::create(
          b, loc, TypeRange{b.getIndexType(), b.getIndexType(), f32, f32, f32},
          isOutlier, true);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(branch.thenBlock());
        // The FP16 column's activation, compact from word O on.
        r.store(r.load(x, {mi, k}), xf, {mi, r.add(r.idx(O), c)});
        scf::YieldOp::create(b, loc,
                             ValueRange{j, r.addI(c, 1), it[2], it[3], it[4]});
        b.setInsertionPointToStart(branch.elseBlock());
        Value xv = r.load(x, {mi, k});
        r.store(xv, xf, {mi, j});
        Value lo = arith::MinimumFOp::create(b, loc, it[2], xv);
        Value hi = arith::MaximumFOp::create(b, loc, it[3], xv);
        Value amax = arith::MaximumFOp::create(
            b, loc, it[4], math::AbsFOp::create(b, loc, xv));
        scf::YieldOp::create(b, loc, ValueRange{r.addI(j, 1), c, lo, hi, amax});
      }
      scf::YieldOp::create(b, loc, branch.getResults());
    }
    if (!intDot)
      return;
    Value lo = loop.getResult(2), hi = loop.getResult(3),
          amax = loop.getResult(4);
    Value scale, zero, qlo, qhi;
    if (l.act.asymmetric) {
      double levels = double((1 << l.act.bits) - 1);
      scale = arith::DivFOp::create(b, loc,
                                    arith::SubFOp::create(b, loc, hi, lo),
                                    r.f32(levels));
      qlo = r.f32(0.0);
      qhi = r.f32(levels);
    } else {
      double qmax = double((1 << (l.act.bits - 1)) - 1);
      scale = arith::DivFOp::create(b, loc, amax, r.f32(qmax));
      qlo = r.f32(-qmax);
      qhi = r.f32(qmax);
    }
    Value valid = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                        scale, r.f32(0.0));
    Value safe = arith::SelectOp::create(b, loc, valid, scale, r.f32(1.0));
    zero = l.act.asymmetric
               ? math::RoundEvenOp::create(
                     b, loc, arith::DivFOp::create(
                                 b, loc, arith::NegFOp::create(b, loc, lo), safe))
                     .getResult()
               : r.f32(0.0);
    if (l.act.asymmetric)
      zero = arith::SelectOp::create(b, loc, valid, zero, r.f32(0.0));
    r.forLoop(r.idx(0), r.idx(Kq), 1, [&](Value j) {
      Value q = math::RoundEvenOp::create(
          b, loc, arith::DivFOp::create(b, loc, r.load(xf, {mi, j}), safe));
      q = r.fadd(q, zero);
      q = arith::MaximumFOp::create(b, loc, q, qlo);
      q = arith::MinimumFOp::create(b, loc, q, qhi);
      if (blocked) {
        // u8 code: q itself (asymmetric) or q + 128 (symmetric), at its
        // plane-order position inside a block of B columns.
        Value u = l.act.asymmetric ? q : r.fadd(q, r.f32(128.0));
        Value u8 = arith::TruncIOp::create(
            b, loc, b.getI8Type(), arith::FPToSIOp::create(b, loc, i32, u));
        Value pos = j;
        if (bits == 4) {
          Value inBlock = r.remI(j, B);
          Value planePos = r.add(r.sub(j, inBlock),
                                 r.add(r.mulI(r.remI(inBlock, 2), B / 2),
                                       r.divI(inBlock, 2)));
          Value inVector = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, j, r.idx(V));
          pos = arith::SelectOp::create(b, loc, inVector, planePos, j);
        }
        r.store(u8, xu, {mi, r.addI(pos, U)});
      }
      q = arith::SubFOp::create(b, loc, q, zero);
      r.store(arith::FPToSIOp::create(b, loc, i32, q), xi, {mi, j});
    });
    r.store(arith::SelectOp::create(b, loc, valid, scale, r.f32(0.0)), xf,
            {mi, r.idx(Kq)});
    r.store(l.act.asymmetric ? zero : r.f32(128.0), xf, {mi, r.idx(Kq + 1)});
  });

  // 2. The parallel product over blocks of output rows (the tiles).
  const int64_t rowsPerTask = product.rowsPerTask;
  bool missing = false;
  emitParallelFor(
      r, env, r.idx((N + rowsPerTask - 1) / rowsPerTask),
      ValueRange{y, xf, xi, xu}, dyn, "mixq_quik",
      [&](IRB &r, TaskArgs &args, ValueRange caps, ValueRange sizes,
          Value begin, Value end) {
        Value ty = caps[0], txf = caps[1], txi = caps[2], txu = caps[3];
        Value tm = sizes.empty() ? r.idx(1) : sizes[0];
        auto view = [&](llvm::StringRef s) -> Value {
          auto v = args.stream(r, w, s);
          if (failed(v)) {
            missing = true;
            return Value();
          }
          return *v;
        };
        Value codes = view("codes"), scales = view("scales");
        Value fp16 = C > 0 ? view("fp16_cols") : Value();
        if (missing)
          return;
        Value lo = r.mulI(begin, rowsPerTask);
        Value hi = r.minI(r.mulI(end, rowsPerTask), r.idx(N));
        Type accElem = intDot ? i32 : f32;
        auto accType = VectorType::get({lanes}, accElem);
        Value sumsU = V > 0 && unsignedCodeDot(isa, bits)
                          ? emitActivationSums(r, txu, tm, V, U)
                          : Value();
        r.forLoop(lo, hi, 1, [&](Value n) {
          Value sw = r.loadF32(scales, n);
          Value rowBase = r.mulI(n, Kq);
          r.forLoop(r.idx(0), tm, 1, [&](Value mi) {
            Value zeroAcc = arith::ConstantOp::create(b, loc,
                                                      b.getZeroAttr(accType));
            Value blockDot;
            if (V > 0)
              blockDot = emitBlockedDot(r, isa, codes, txu, txf, rowBase, mi,
                                       bits, V, U, Kq,
                                       sumsU ? r.load(sumsU, mi) : Value());
            Value acc = r.forReduce(
                r.idx(V), r.idx(Kq), lanes, zeroAcc, [&](Value j, Value a) -> Value {
                  Value elem = r.add(rowBase, j);
                  Value u;
                  if (lanes == 1) {
                    Value s = r.loadBitsScalar(codes, r.mulI(elem, bits), bits);
                    u = vector::BroadcastOp::create(
                        b, loc, VectorType::get({1}, i32), s);
                  } else {
                    u = unpackCodes(r, codes, r.divI(r.mulI(elem, bits), 8),
                                    bits, lanes);
                  }
                  // Sign-extend the b-bit two's-complement codes.
                  Value sh = arith::ConstantOp::create(
                      b, loc,
                      DenseElementsAttr::get(VectorType::get({lanes}, i32),
                                             b.getI32IntegerAttr(32 - bits)));
                  Value code = arith::ShRSIOp::create(
                      b, loc, arith::ShLIOp::create(b, loc, u, sh), sh);
                  if (intDot) {
                    Value xv = vector::LoadOp::create(b, loc, accType, txi,
                                                      ValueRange{mi, j});
                    return arith::AddIOp::create(
                               b, loc, a, arith::MulIOp::create(b, loc, code, xv))
                        .getResult();
                  }
                  Value cf = arith::SIToFPOp::create(b, loc, accType, code);
                  Value xv = vector::LoadOp::create(b, loc, accType, txf,
                                                    ValueRange{mi, j});
                  return vector::FMAOp::create(b, loc, cf, xv, a).getResult();
                });
            Value dot = vector::ReductionOp::create(
                b, loc, vector::CombiningKind::ADD, acc, Value(),
                arith::FastMathFlags::reassoc);
            if (blockDot)
              dot = arith::AddIOp::create(b, loc, dot, blockDot);
            Value res;
            if (intDot) {
              Value sx = r.load(txf, {mi, r.idx(Kq)});
              res = r.fmul(arith::SIToFPOp::create(b, loc, f32, dot),
                           r.fmul(sw, sx));
            } else {
              res = r.fmul(dot, sw);
            }
            // The FP16 columns against the token's compacted outlier
            // activations, 16 at a time (a scalar loop over col_index was
            // 40% of a 4096-column row's instructions with 256 columns).
            int64_t C16 = C / 16 * 16;
            if (C16 > 0) {
              Value fp = r.forReduce(
                  r.idx(0), r.idx(C16), 16, r.splatF32(0.0, 16),
                  [&](Value c, Value a) {
                    Value v = r.vloadF32(fp16, r.add(r.mulI(n, C), c), 16);
                    Value xv = r.vloadF32(txf, {mi, r.add(r.idx(O), c)}, 16);
                    return vector::FMAOp::create(b, loc, v, xv, a).getResult();
                  });
              res = r.fadd(res, vector::ReductionOp::create(
                                    b, loc, vector::CombiningKind::ADD, fp,
                                    Value(), arith::FastMathFlags::reassoc));
            }
            if (C16 < C)
              res = r.forReduce(r.idx(C16), r.idx(C), 1, res,
                                [&](Value c, Value a) {
                                  Value v = r.loadF32(fp16, r.add(r.mulI(n, C), c));
                                  return r.fadd(
                                      a, r.fmul(v, r.load(txf, {mi, r.add(r.idx(O), c)})));
                                });
            r.store(res, ty, {mi, n});
          });
        });
      });
  if (missing)
    return op->emitOpError() << "'" << w.name << "': a QUIK stream is missing";
  return success();
}

} // namespace mixq::cpu
