//===- QuikMatmulCpu.cpp - x86 kernel of QUIK's mixq.qmatmul ---------------===//
//
// A QUIK product (model/QuantizedTensor.h): the K - C quantized input
// columns against signed b-bit codes with one FP16 scale per output row, and
// the C FP16 outlier columns against the unquantized inputs.
//
// 1. Per input row (token), in the calling thread: the quantized columns are
//    compacted (col_index removed) into scratch, and, when the layout's
//    `act` has fewer than 16 bits, quantized exactly as
//    model/ActivationQuant.cpp does (per token, asymmetric min/max or
//    symmetric abs-max, round half to even) and stored as the centred
//    integers q - zero with the token's scale.
// 2. Parallel over output rows: integer dot products of the sign-extended
//    codes with those integers in i32 vector lanes (exact: |sum| < 2^31 for
//    every supported K), scaled once by the row's and the token's scales;
//    plus the FP16 columns' f32 dot.
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace mixq::cpu {

LogicalResult emitQuikMatmul(IRB &r, FunctionEnv &env, QMatmulOp op,
                             const WeightInfo &w, Value x, Value y, Value m,
                             Value scratch) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  const Layout &l = w.layout;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t K = w.cols, N = w.rows, C = l.fp16Cols, Kq = K - C;
  unsigned bits = unsigned(l.bits[0]);
  bool intDot = l.act.bits < 16;
  int64_t lanes = Kq % 16 == 0 ? 16 : Kq % 8 == 0 ? 8 : 1;
  int64_t rowWords = qmatmulScratchBytesPerRow(w) / 4;
  auto xType = cast<MemRefType>(x.getType());
  bool dynamicM = !xType.hasStaticShape();
  SmallVector<Value> dyn;
  if (dynamicM)
    dyn.push_back(m);

  // Scratch views: [M][rowWords] as f32 (compacted x, then the scale at
  // Kq) and as i32 (the centred integer activations).
  auto viewAs = [&](Type elem) -> Value {
    auto type = MemRefType::get({xType.getDimSize(0), rowWords}, elem);
    return memref::ViewOp::create(b, loc, type, scratch, r.idx(0),
                                  dynamicM ? ValueRange{m} : ValueRange{});
  };
  Value xf = viewAs(f32), xi = viewAs(i32);

  FailureOr<Value> colIndex = failure();
  if (C > 0) {
    colIndex = env.table->view(b, loc, env.streams, w, "col_index");
    if (failed(colIndex))
      return op.emitOpError("QUIK weight without its col_index stream");
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
      q = arith::SubFOp::create(b, loc, q, zero);
      r.store(arith::FPToSIOp::create(b, loc, i32, q), xi, {mi, j});
    });
    r.store(arith::SelectOp::create(b, loc, valid, scale, r.f32(0.0)), xf,
            {mi, r.idx(Kq)});
  });

  // 2. The parallel product over blocks of 16 output rows.
  const int64_t rowsPerTask = 16;
  bool missing = false;
  emitParallelFor(
      r, env, r.idx((N + rowsPerTask - 1) / rowsPerTask),
      ValueRange{env.streams, x, y, xf, xi}, dyn, "mixq_quik",
      [&](IRB &r, ValueRange caps, ValueRange sizes, Value begin, Value end) {
        Value tbl = caps[0], tx = caps[1], ty = caps[2], txf = caps[3],
              txi = caps[4];
        Value tm = sizes.empty() ? r.idx(1) : sizes[0];
        auto view = [&](llvm::StringRef s) -> Value {
          auto v = env.table->view(b, loc, tbl, w, s);
          if (failed(v)) {
            missing = true;
            return Value();
          }
          return *v;
        };
        Value codes = view("codes"), scales = view("scales");
        Value fp16 = C > 0 ? view("fp16_cols") : Value();
        Value cols = C > 0 ? view("col_index") : Value();
        if (missing)
          return;
        Value lo = r.mulI(begin, rowsPerTask);
        Value hi = r.minI(r.mulI(end, rowsPerTask), r.idx(N));
        Type accElem = intDot ? i32 : f32;
        auto accType = VectorType::get({lanes}, accElem);
        r.forLoop(lo, hi, 1, [&](Value n) {
          Value sw = r.loadF32(scales, n);
          Value rowBase = r.mulI(n, Kq);
          r.forLoop(r.idx(0), tm, 1, [&](Value mi) {
            Value zeroAcc = arith::ConstantOp::create(b, loc,
                                                      b.getZeroAttr(accType));
            Value acc = r.forReduce(
                r.idx(0), r.idx(Kq), lanes, zeroAcc, [&](Value j, Value a) -> Value {
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
            Value res;
            if (intDot) {
              Value sx = r.load(txf, {mi, r.idx(Kq)});
              res = r.fmul(arith::SIToFPOp::create(b, loc, f32, dot),
                           r.fmul(sw, sx));
            } else {
              res = r.fmul(dot, sw);
            }
            if (C > 0)
              res = r.forReduce(r.idx(0), r.idx(C), 1, res,
                                [&](Value c, Value a) {
                                  Value col = r.loadIndexU(cols, c);
                                  Value v = r.loadF32(fp16, r.add(r.mulI(n, C), c));
                                  return r.fadd(a, r.fmul(v, r.load(tx, {mi, col})));
                                });
            r.store(res, ty, {mi, n});
          });
        });
      });
  if (missing)
    return op.emitOpError() << "'" << w.name << "': a QUIK stream is missing";
  return success();
}

} // namespace mixq::cpu
