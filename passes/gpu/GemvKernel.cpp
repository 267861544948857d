//===- GemvKernel.cpp - The row-streaming decode GEMV ---------------------===//
//
// y[M x N] = x[M x K] * W^T for M <= 16 and dense, uniform or LUT weights
// (and the two parts of a QUIK weight: its codes over the compacted
// activations, its FP16 columns accumulated onto that), one kernel per
// product:
//
//   grid  (ceil(N / 16), split_k, 1), block (128, 1, 1): 4 warps;
//   warp w of block b owns rows n = 16 b + 4 w + i (i < 4; rows past N
//   read row N - 1 and store nothing);
//   lane l takes the chunks j = l, l + 32, ... of the block's K range
//   [split * kSize, (split + 1) * kSize): per chunk it loads the 4 rows'
//   codes (ChunkDecoder::load: 16-byte loads, so a warp reads 512
//   consecutive bytes of a row per step), then per run of 8 codes the 8
//   activations of each of the M input rows (16-byte loads) and
//   accumulates (code - zero) * x in f32 with fmas, the scale applied once
//   per chunk: acc[m][i] += scale * sum (code - zero) * x;
//   the 4 M accumulators of each lane are summed over the warp with
//   butterfly shuffles (shfl.sync.bfly) and lane 0 stores them: y[m][n],
//   or partial[split][m][n] when K is split (AuxKernels.cpp adds them up).
//
// Prefill (GemvSpec::rowCap > M): the same kernel over M-row chunks of a
// larger activation buffer, chunk blockIdx.z (rows [M z, M z + M)).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

using namespace mlir;

namespace mixq::device {

FailureOr<KernelLaunch> buildGemvKernel(OpBuilder &b, Location loc,
                                        gpu::GPUModuleOp module,
                                        llvm::StringRef name,
                                        const GemvSpec &spec,
                                        std::string &why) {
  MLIRContext *ctx = b.getContext();
  KernelLaunch launch;
  KernelSignature &sig = launch.signature;
  FailureOr<std::unique_ptr<ChunkDecoder>> made =
      makeDecoder(ctx, spec, sig, why);
  if (failed(made))
    return failure();
  ChunkDecoder &dec = **made;
  const int64_t M = spec.m, N = spec.w.rows, K = spec.cols();
  const int64_t S = spec.splitK, R = kRowsPerWarp;
  const int64_t blockRows = kWarpsPerBlock * R;
  Type f32 = b.getF32Type();
  const int64_t cap = spec.rowCapacity();
  unsigned xArg = sig.addOther(MemRefType::get({cap, K}, spec.xElem));
  int accArg = spec.accumulate
                   ? int(sig.addOther(MemRefType::get({cap, N}, f32)))
                   : -1;
  SmallVector<int64_t> outShape{cap, N};
  if (S > 1)
    outShape.insert(outShape.begin(), S);
  unsigned outArg = sig.addOther(MemRefType::get(outShape, f32));
  launch.block = {kWarp * kWarpsPerBlock, 1, 1};
  launch.grid = {(N + blockRows - 1) / blockRows, S, 1};

  launch.func = createKernel(b, loc, module, name, sig, launch.block,
                             dec.workgroup(ctx));
  gpu::GPUFuncOp func = launch.func;
  dec.bind(func.getArguments());
  Value x = func.getArgument(xArg), out = func.getArgument(outArg);
  Value accIn = accArg >= 0 ? func.getArgument(accArg) : Value();

  IRB r{b, loc};
  Value tid = threadIdX(r);
  Value lane = r.remI(tid, kWarp), warp = r.divI(tid, kWarp);
  Value firstRow = r.mulI(blockId(r, gpu::Dimension::x), blockRows);
  Value split = blockId(r, gpu::Dimension::y);
  Value rowBase = spec.rowBase(r);
  dec.begin(r, firstRow, func.getWorkgroupAttributions());

  SmallVector<Value> rows, slots, valid;
  for (int64_t i = 0; i < R; ++i) {
    Value slot = r.addI(r.mulI(warp, R), i);
    Value row = r.add(firstRow, slot);
    slots.push_back(slot);
    valid.push_back(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, r.idx(N)));
    rows.push_back(r.minI(row, r.idx(N - 1)));
  }
  Value kBase = r.mulI(split, spec.kSize);
  const int64_t C = dec.chunk(), chunks = spec.kSize / C;
  const int64_t run = std::min<int64_t>(8, C);

  // acc[m * R + i]: input row m, weight row i.
  SmallVector<Value> inits(M * R, r.f32(0.0));
  SmallVector<Value> acc = r.forReduceN(
      lane, r.idx(chunks), kWarp, inits, [&](Value j, ValueRange a) {
        SmallVector<Value> next(a);
        Value k0 = r.add(kBase, r.mulI(j, C));
        SmallVector<Chunk> chunk;
        for (int64_t i = 0; i < R; ++i)
          chunk.push_back(dec.load(r, rows[i], slots[i], k0));
        bool scaled = bool(chunk.front().scale);
        // Per (m, i): the chunk's dot product, scaled once at the end.
        SmallVector<Value> part(M * R);
        for (int64_t s = 0; s < C; s += run) {
          SmallVector<SmallVector<Value>> xs;
          for (int64_t m = 0; m < M; ++m)
            xs.push_back(
                loadFloats(r, x, r.addI(rowBase, m), r.addI(k0, s), run));
          for (int64_t i = 0; i < R; ++i) {
            SmallVector<Value> w = dec.values(r, chunk[i], s, run);
            for (int64_t m = 0; m < M; ++m) {
              Value &p = part[m * R + i];
              Value start = p ? p : (scaled ? r.f32(0.0) : next[m * R + i]);
              p = dotAcc(r, w, xs[m], start);
            }
          }
        }
        for (int64_t m = 0; m < M; ++m)
          for (int64_t i = 0; i < R; ++i)
            next[m * R + i] =
                scaled ? fma(r, part[m * R + i], chunk[i].scale,
                             next[m * R + i])
                       : part[m * R + i];
        return next;
      });

  for (Value &v : acc)
    v = warpSum(r, v);
  Value lane0 =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, r.idx(0));
  auto ifLane0 = scf::IfOp::create(b, loc, lane0, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLane0.thenBlock());
    for (int64_t i = 0; i < R; ++i) {
      auto ifRow = scf::IfOp::create(b, loc, valid[i], /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(ifRow.thenBlock());
      Value row = r.add(firstRow, slots[i]);
      for (int64_t m = 0; m < M; ++m) {
        SmallVector<Value> at{r.addI(rowBase, m), row};
        Value v = acc[m * R + i];
        if (accIn)
          v = r.fadd(r.load(accIn, at), v);
        if (S > 1)
          at.insert(at.begin(), split);
        r.store(v, out, at);
      }
    }
  }
  gpu::ReturnOp::create(b, loc);
  return launch;
}

} // namespace mixq::device
