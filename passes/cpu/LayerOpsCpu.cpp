//===- LayerOpsCpu.cpp - x86 lowering of the non-matmul layer ops ---------===//
//
// mixq.embed, rms_norm, rope, attention and sparse_add as scf loops on
// memrefs, with the arithmetic of the reference engine (model/Engine.cpp):
// RMSNorm's mean of squares in f64, RoPE from a (cos, sin) table computed
// in f64 at compile time, softmax over 0..pos with the exponent sum in f64.
// Attention runs one (token, head) pair per parallel task unit: scores and
// their exp 4 positions at a time, then p . V in one pass over the
// positions for heads of up to 4 vectors.
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace mixq::cpu {

namespace {
/// Lanes for a contiguous f32 loop of `len` elements.
int64_t lanesFor(int64_t len) {
  return len % 16 == 0 ? 16 : len % 8 == 0 ? 8 : 1;
}
} // namespace

LogicalResult emitEmbed(IRB &r, FunctionEnv &env, const WeightInfo &w,
                        Value tokens, Value out, Value m) {
  if (w.layout.scheme != Scheme::Dense)
    return emitDequantRows(r, env, w, tokens, out, m);
  auto values = env.table->view(r.b, r.loc, env.streams, w, "values");
  if (failed(values))
    return failure();
  int64_t K = w.cols;
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value tok = r.toIndex(r.load(tokens, mi));
    Value base = r.mulI(tok, K);
    r.forLoop(r.idx(0), r.idx(K), 1, [&](Value k) {
      r.store(r.loadF32(*values, r.add(base, k)), out, {mi, k});
    });
  });
  return success();
}

void emitRmsNorm(IRB &r, Value x, Value gain, Value out, Value m,
                 float epsilon) {
  OpBuilder &b = r.b;
  Type f64 = b.getF64Type(), f32 = b.getF32Type();
  int64_t D = cast<MemRefType>(x.getType()).getDimSize(1);
  auto c64 = [&](double v) -> Value {
    return arith::ConstantFloatOp::create(b, r.loc, b.getF64Type(),
                                          APFloat(v));
  };
  // The sum of squares in f64 on 4 chains of 4 lanes where D allows (one
  // dependent scalar add per element took 0.36 us a row at D = 288: 0.3 ms
  // of a 64-token stories15M prefill), then the row scaled 8 lanes at a
  // time.
  constexpr int64_t kLanes64 = 4, kChains = 4;
  const bool wide = D % (kLanes64 * kChains) == 0;
  const int64_t scaleLanes = D % 8 == 0 ? 8 : 1;
  auto sumOfSquares = [&](Value mi) -> Value {
    if (!wide)
      return r.forReduce(r.idx(0), r.idx(D), 1, c64(0.0), [&](Value k,
                                                               Value a) {
        Value v = arith::ExtFOp::create(b, r.loc, f64, r.load(x, {mi, k}));
        return arith::AddFOp::create(b, r.loc, a,
                                     arith::MulFOp::create(b, r.loc, v, v))
            .getResult();
      });
    auto v64 = VectorType::get({kLanes64}, f64);
    SmallVector<Value> zeros(
        kChains, arith::ConstantOp::create(b, r.loc, DenseElementsAttr::get(
                                                          v64, APFloat(0.0))));
    SmallVector<Value> chains = r.forReduceN(
        r.idx(0), r.idx(D), kLanes64 * kChains, zeros,
        [&](Value k, ValueRange a) {
          SmallVector<Value> next;
          for (int64_t c = 0; c < kChains; ++c) {
            Value v = arith::ExtFOp::create(
                b, r.loc, v64,
                r.vloadF32(x, {mi, r.addI(k, c * kLanes64)}, kLanes64));
            next.push_back(arith::AddFOp::create(
                b, r.loc, a[c], arith::MulFOp::create(b, r.loc, v, v)));
          }
          return next;
        });
    Value all = r.fadd(r.fadd(chains[0], chains[1]),
                       r.fadd(chains[2], chains[3]));
    return vector::ReductionOp::create(b, r.loc, vector::CombiningKind::ADD,
                                       all);
  };
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value mean =
        arith::DivFOp::create(b, r.loc, sumOfSquares(mi), c64(double(D)));
    Value var = arith::AddFOp::create(b, r.loc, mean, c64(double(epsilon)));
    Value scale = arith::DivFOp::create(b, r.loc, c64(1.0),
                                        math::SqrtOp::create(b, r.loc, var));
    if (scaleLanes == 1) {
      r.forLoop(r.idx(0), r.idx(D), 1, [&](Value k) {
        Value v = arith::ExtFOp::create(b, r.loc, f64, r.load(x, {mi, k}));
        Value s = arith::TruncFOp::create(
            b, r.loc, f32, arith::MulFOp::create(b, r.loc, v, scale));
        r.store(r.fmul(s, r.loadF32(gain, k)), out, {mi, k});
      });
      return;
    }
    auto v64 = VectorType::get({scaleLanes}, f64);
    auto v32 = VectorType::get({scaleLanes}, f32);
    Value scales = vector::BroadcastOp::create(b, r.loc, v64, scale);
    r.forLoop(r.idx(0), r.idx(D), scaleLanes, [&](Value k) {
      Value v = arith::ExtFOp::create(b, r.loc, v64,
                                      r.vloadF32(x, {mi, k}, scaleLanes));
      Value s = arith::TruncFOp::create(
          b, r.loc, v32, arith::MulFOp::create(b, r.loc, v, scales));
      vector::StoreOp::create(
          b, r.loc, r.fmul(s, r.vloadF32(gain, {k}, scaleLanes)), out,
          ValueRange{mi, k});
    });
  });
}

void emitRope(IRB &r, Value x, Value positions, Value out, Value m,
              Value table, bool adjacent) {
  OpBuilder &b = r.b;
  auto type = cast<MemRefType>(x.getType());
  int64_t H = type.getDimSize(1), HD = type.getDimSize(2), half = HD / 2;
  // One pair: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), as scalars or as
  // vectors of 8 pairs (the same operations, so the same bits).
  auto rotate = [&](Value x0, Value x1, Value c, Value s) {
    Value a = arith::SubFOp::create(b, r.loc, r.fmul(x0, c), r.fmul(x1, s));
    return std::make_pair(a, r.fadd(r.fmul(x0, s), r.fmul(x1, c)));
  };
  // 8 pairs at a time where a head's half allows: the table's (cos, sin)
  // and, with adjacent pairs, x itself are de-interleaved by shuffles.
  constexpr int64_t P = 8;
  const bool wide = half % P == 0;
  auto v8 = VectorType::get({P}, b.getF32Type());
  Value flatTable;
  if (wide)
    flatTable = memref::CollapseShapeOp::create(
        b, r.loc, table, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  auto shuffle = [&](Value lo, Value hi, ArrayRef<int64_t> mask) {
    return vector::ShuffleOp::create(b, r.loc, lo, hi, mask).getResult();
  };
  const SmallVector<int64_t> even{0, 2, 4, 6, 8, 10, 12, 14},
      odd{1, 3, 5, 7, 9, 11, 13, 15}, low{0, 8, 1, 9, 2, 10, 3, 11},
      high{4, 12, 5, 13, 6, 14, 7, 15};
  auto load8 = [&](Value mem, ValueRange at) -> Value {
    return vector::LoadOp::create(b, r.loc, v8, mem, at);
  };
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value pos = r.toIndex(r.load(positions, mi));
    r.forLoop(r.idx(0), r.idx(H), 1, [&](Value h) {
      if (wide) {
        r.forLoop(r.idx(0), r.idx(half), P, [&](Value i) {
          Value t = r.mulI(i, 2);
          Value t0 = load8(flatTable, {pos, t});
          Value t1 = load8(flatTable, {pos, r.addI(t, P)});
          Value c = shuffle(t0, t1, even), sn = shuffle(t0, t1, odd);
          if (adjacent) {
            Value lo = load8(x, {mi, h, t});
            Value hi = load8(x, {mi, h, r.addI(t, P)});
            auto [a, bb] =
                rotate(shuffle(lo, hi, even), shuffle(lo, hi, odd), c, sn);
            vector::StoreOp::create(b, r.loc, shuffle(a, bb, low), out,
                                    ValueRange{mi, h, t});
            vector::StoreOp::create(b, r.loc, shuffle(a, bb, high), out,
                                    ValueRange{mi, h, r.addI(t, P)});
            return;
          }
          Value ib = r.addI(i, half);
          auto [a, bb] =
              rotate(load8(x, {mi, h, i}), load8(x, {mi, h, ib}), c, sn);
          vector::StoreOp::create(b, r.loc, a, out, ValueRange{mi, h, i});
          vector::StoreOp::create(b, r.loc, bb, out, ValueRange{mi, h, ib});
        });
        return;
      }
      r.forLoop(r.idx(0), r.idx(half), 1, [&](Value i) {
        Value ia = adjacent ? r.mulI(i, 2) : i;
        Value ib = adjacent ? r.addI(r.mulI(i, 2), 1) : r.addI(i, half);
        auto [a, bb] = rotate(r.load(x, {mi, h, ia}), r.load(x, {mi, h, ib}),
                              r.load(table, {pos, i, r.idx(0)}),
                              r.load(table, {pos, i, r.idx(1)}));
        r.store(a, out, {mi, h, ia});
        r.store(bb, out, {mi, h, ib});
      });
    });
  });
}

void emitAttention(IRB &r, FunctionEnv &env, Value q, Value kc, Value vc,
                   Value start, Value out, Value m, float scale) {
  auto qType = cast<MemRefType>(q.getType());
  auto cType = cast<MemRefType>(kc.getType());
  int64_t H = qType.getDimSize(1), HD = qType.getDimSize(2);
  int64_t S = cType.getDimSize(0), KVH = cType.getDimSize(1);
  int64_t group = H / KVH;
  int64_t lanes = lanesFor(HD);
  Value units = r.mul(m, r.idx(H));
  SmallVector<Value> dyn{m, start};
  emitParallelFor(
      r, env, units, ValueRange{q, kc, vc, out}, dyn, "mixq_attention",
      [&](IRB &r, TaskArgs &, ValueRange caps, ValueRange sizes, Value begin,
          Value end) {
        OpBuilder &b = r.b;
        Type f32 = b.getF32Type();
        FloatType f64 = b.getF64Type();
        auto vt = VectorType::get({lanes}, f32);
        Value tq = caps[0], tk = caps[1], tv = caps[2], to = caps[3];
        Value tstart = sizes[1];
        Value scores = memref::AllocaOp::create(b, r.loc,
                                                MemRefType::get({S}, f32),
                                                b.getI64IntegerAttr(64));
        Value zeroV =
            arith::ConstantOp::create(b, r.loc, b.getZeroAttr(vt));
        const bool block4 = lanes >= 8;
        r.forLoop(begin, end, 1, [&](Value u) {
          Value mi = r.divI(u, H), h = r.remI(u, H);
          Value kvh = r.divI(h, group);
          Value last = r.addI(r.add(tstart, mi), 1); // positions 0..pos
          Value ninf = r.f32(-INFINITY);
          // One position's score (q . k_t * scale), stored; the running max.
          auto scoreOne = [&](Value t, Value mx) -> Value {
            Value acc = r.forReduce(
                r.idx(0), r.idx(HD), lanes, zeroV, [&](Value d, Value a) {
                  Value qv = vector::LoadOp::create(b, r.loc, vt, tq,
                                                    ValueRange{mi, h, d});
                  Value kv = vector::LoadOp::create(b, r.loc, vt, tk,
                                                    ValueRange{t, kvh, d});
                  return vector::FMAOp::create(b, r.loc, qv, kv, a)
                      .getResult();
                });
            Value s = r.fmul(vector::ReductionOp::create(
                                 b, r.loc, vector::CombiningKind::ADD, acc,
                                 Value(), arith::FastMathFlags::reassoc),
                             r.f32(scale));
            r.store(s, scores, t);
            return arith::MaximumFOp::create(b, r.loc, mx, s).getResult();
          };
          // Blocks of 4 positions: 4 independent dot products sharing each
          // q load, reduced together (reduceAdd4) into one vector of scores.
          Value mx = ninf, last4 = r.idx(0);
          if (block4) {
            last4 = r.mulI(r.divI(last, 4), 4);
            Value mx4 = r.forReduce(
                r.idx(0), last4, 4, r.splatF32(-INFINITY, 4),
                [&](Value t0, Value m4) {
                  SmallVector<Value> inits(4, zeroV);
                  SmallVector<Value> dots = r.forReduceN(
                      r.idx(0), r.idx(HD), lanes, inits,
                      [&](Value d, ValueRange a) {
                        Value qv = vector::LoadOp::create(
                            b, r.loc, vt, tq, ValueRange{mi, h, d});
                        SmallVector<Value> next;
                        for (int64_t j = 0; j < 4; ++j) {
                          Value kv = vector::LoadOp::create(
                              b, r.loc, vt, tk,
                              ValueRange{r.addI(t0, j), kvh, d});
                          next.push_back(
                              vector::FMAOp::create(b, r.loc, qv, kv, a[j]));
                        }
                        return next;
                      });
                  Value s = r.fmul(reduceAdd4(r, dots), r.splatF32(scale, 4));
                  vector::StoreOp::create(b, r.loc, s, scores, ValueRange{t0});
                  return arith::MaximumFOp::create(b, r.loc, m4, s)
                      .getResult();
                });
            mx = vector::ReductionOp::create(
                b, r.loc, vector::CombiningKind::MAXIMUMF, mx4);
          }
          Value maxScore = r.forReduce(last4, last, 1, mx, scoreOne);
          // exp(s - max) in place, summed in f64: W positions at a time.
          auto expSum = [&](Value lo, Value hi, int64_t W) -> Value {
            auto vw = VectorType::get({W}, f32);
            auto vw64 = VectorType::get({W}, f64);
            Value acc = r.forReduce(
                lo, hi, W, arith::ConstantOp::create(b, r.loc,
                                                     b.getZeroAttr(vw64)),
                [&](Value t0, Value a) {
                  Value sv = vector::LoadOp::create(b, r.loc, vw, scores,
                                                    ValueRange{t0});
                  Value e = math::ExpOp::create(
                      b, r.loc,
                      arith::SubFOp::create(
                          b, r.loc, sv,
                          vector::BroadcastOp::create(b, r.loc, vw,
                                                      maxScore)));
                  vector::StoreOp::create(b, r.loc, e, scores,
                                          ValueRange{t0});
                  return r.fadd(a, arith::ExtFOp::create(b, r.loc, vw64, e));
                });
            return vector::ReductionOp::create(
                b, r.loc, vector::CombiningKind::ADD, acc);
          };
          Value sum = r.fadd(expSum(r.idx(0), last4, 4),
                             expSum(last4, last, 1));
          Value one64 = arith::ConstantFloatOp::create(b, r.loc, f64,
                                                       APFloat(1.0));
          Value inv = arith::TruncFOp::create(
              b, r.loc, f32, arith::DivFOp::create(b, r.loc, one64, sum));
          // p_t * v_t summed over positions: with up to 4 vectors per head
          // row, all of them in one pass over the positions (each weight
          // p_t computed once); wider heads chunk by chunk.
          int64_t chunks = HD / lanes;
          int64_t perPass = chunks <= 4 ? chunks : 1;
          for (int64_t c0 = 0; c0 < chunks; c0 += perPass) {
            SmallVector<Value> inits(perPass, zeroV);
            SmallVector<Value> acc = r.forReduceN(
                r.idx(0), last, 1, inits, [&](Value t, ValueRange a) {
                  Value p = r.fmul(r.load(scores, t), inv);
                  Value pv = vector::BroadcastOp::create(b, r.loc, vt, p);
                  SmallVector<Value> next;
                  for (int64_t c = 0; c < perPass; ++c) {
                    Value vv = vector::LoadOp::create(
                        b, r.loc, vt, tv,
                        ValueRange{t, kvh, r.idx((c0 + c) * lanes)});
                    next.push_back(
                        vector::FMAOp::create(b, r.loc, pv, vv, a[c]));
                  }
                  return next;
                });
            for (int64_t c = 0; c < perPass; ++c)
              vector::StoreOp::create(
                  b, r.loc, acc[c], to,
                  ValueRange{mi, h, r.idx((c0 + c) * lanes)});
          }
        });
      });
}

LogicalResult emitSparseAdd(IRB &r, FunctionEnv &env, const WeightInfo &w,
                            Value x, Value y, Value m) {
  auto rowptr = env.table->view(r.b, r.loc, env.streams, w, "csr_rowptr");
  if (failed(rowptr))
    return success(); // nnz = 0: the CSR streams are empty
  auto cols = env.table->view(r.b, r.loc, env.streams, w, "csr_col");
  auto vals = env.table->view(r.b, r.loc, env.streams, w, "csr_value");
  if (failed(cols) || failed(vals))
    return success();
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    r.forLoop(r.idx(0), r.idx(w.rows), 1, [&](Value n) {
      Value lo = r.loadIndexU(*rowptr, n);
      Value hi = r.loadIndexU(*rowptr, r.addI(n, 1));
      Value sum = r.forReduce(lo, hi, 1, r.load(y, {mi, n}),
                              [&](Value e, Value a) {
                                Value col = r.loadIndexU(*cols, e);
                                return r.fadd(a, r.fmul(r.loadF32(*vals, e),
                                                        r.load(x, {mi, col})));
                              });
      r.store(sum, y, {mi, n});
    });
  });
  return success();
}

} // namespace mixq::cpu
