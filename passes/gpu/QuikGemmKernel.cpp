//===- QuikGemmKernel.cpp - QUIK's prefill GEMM on integer tensor cores ---===//
//
// The QUIK scheme's point: with activations quantized per token (act 4 or
// 8), the product of the quantized columns is an integer GEMM. After the
// split and buildQuikActQuantKernel(codeBits = b), this kernel computes
//
//   out[m][n] = sx[m] sw[n] (sum_k a[m][k] c[n][k] - z[m] sum_k c[n][k])
//
// with a the signed activation codes, z their zero on the same scale
// (0 where symmetric), sx the row's scale, c the weight's signed codes
// and sw its FP16 row scale: exactly (q - zero) x scale times c x sw
// summed, the integer part without rounding.
//
// MmaGemmBase's block mapping and pipelined K loop, with integer operands:
//   b = 4 (4-bit weight and activation codes, sm_80): mma.sync
//            m16n8k64.s4.s4, 64 codes a step; thread (g, t)'s B registers
//            are words 8 ks + t and 8 ks + 4 + t of its row's tile chunk,
//            the codes as the package stores them;
//   b = 8 (8-bit codes on either side, or any QUIK weight on sm_90a, which
//            has no 4-bit MMA): m16n8k32.s8.s8, 32 codes a step; 4-bit
//            weight codes are widened in registers, each nibble moved to
//            the top of its byte (16 c, exact in s8), and sw divided by 16.
// Per tile (BK = 32 16-bit units of x: 64 bytes of activation codes a row,
// 16 units where Q or shared memory asks):
//   copy     the x tile (integer codes, 16-byte cp.async) and the code tile
//            (128 rows, cp.async with evict-first), as the f16 GEMM;
//   compute  ldmatrix.x4 of the A fragments (the same bytes as f16), the
//            B words, 16 integer mma.sync; with asymmetric activations 4
//            more with A = all ones, whose s32 results are sum_k c[n][k]
//            for the thread's output columns (the zero's correction).
// Epilogue: (acc - z[m] rowsum[n]) in s32, converted once, times
// sx[m] sw[n].
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/MmaGemm.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

using namespace mlir;

namespace mixq::device {

namespace {

/// The K tile of the integer GEMM.
struct IntTiles {
  int64_t bk = 0;        ///< 16-bit units of x a tile
  int64_t tileCodes = 0; ///< codes of each row a tile
  int64_t copyBytes = 0, codeStride = 0;
};

class QuikIntGemm : public MmaGemmBase {
public:
  QuikIntGemm(OpBuilder &b, Location loc, const GemmSpec &spec,
              const IntTiles &t, MmaOperands operands)
      : MmaGemmBase(b, loc, spec, t.bk, spec.stages, t.codeStride, operands),
        t(t), wBits(unsigned(spec.w.layout.bits[0])),
        opBits(unsigned(operandBits(operands))) {}

private:
  LogicalResult addStreams(KernelSignature &sig, std::string &why) override;
  void setup(gpu::GPUFuncOp func) override;
  SmallVector<Value> copyWeights(Value kt, Value slot, Value k0,
                                 ValueRange state) override;
  SmallVector<Value> fragmentsB(Value slot, int64_t ks) override;
  int64_t extraAccumulators() const override {
    return l.act.asymmetric ? 4 : 0;
  }
  void extraMmas(ArrayRef<Value> fragsB, MutableArrayRef<Value> accs) override;
  void prepareEpilogue(ArrayRef<Value> extraAccs) override;
  Value epilogueValue(Value acc, Value mRow, int64_t j, int64_t e) override;

  /// The B register of row `rowLocal` holding codes from `code` (the
  /// tile's code index) on: a word of the tile, or a 16-bit half widened.
  Value bRegister(Value slot, Value rowLocal, Value code);

  const IntTiles t;
  const unsigned wBits, opBits;
  int codesArg = -1, scalesArg = -1;
  unsigned paramsArg = 0;
  Value codeBase, scales, params;
  /// Epilogue state: per (fragment j, element e) the column's sw and
  /// rowsum; per x row its scale and zero.
  SmallVector<Value> colScale, rowSum;
  DenseMap<Value, std::pair<Value, Value>> rowParams;
};

LogicalResult QuikIntGemm::addStreams(KernelSignature &sig,
                                      std::string &why) {
  codesArg = sig.addStreamOrWhy(b.getContext(), spec.w, "codes", why);
  scalesArg = sig.addStreamOrWhy(b.getContext(), spec.w, "scales", why);
  if (codesArg < 0 || scalesArg < 0)
    return failure();
  paramsArg =
      sig.addOther(MemRefType::get({spec.rowCap, 2}, b.getF32Type()));
  return success();
}

void QuikIntGemm::setup(gpu::GPUFuncOp func) {
  Value codes = func.getArgument(codesArg);
  scales = func.getArgument(scalesArg);
  params = func.getArgument(paramsArg);
  codeBase = byteAddress(r, codes, r.idx(0));
}

SmallVector<Value> QuikIntGemm::copyWeights(Value, Value slot, Value k0,
                                            ValueRange) {
  // k0 counts 16-bit units of x: 16 / b codes each.
  copyCodeTile(codeBase, slot, r.mulI(k0, 16 / opBits), t.tileCodes, K,
               wBits, t.copyBytes, /*zeroPastRow=*/spec.xCols > K);
  return {};
}

Value QuikIntGemm::bRegister(Value slot, Value rowLocal, Value code) {
  Value bit = r.mulI(code, wBits);
  Value word = r.load(cs, {slot, rowLocal, r.divI(bit, 32)});
  if (wBits == opBits)
    return word;
  // 4 4-bit codes (16 bits) for a register of 4 8-bit ones.
  Value shift = arith::IndexCastOp::create(b, r.loc, b.getI32Type(),
                                           r.remI(bit, 32));
  Value half = arith::ShRUIOp::create(b, r.loc, word, shift);
  return widenCodeNibbles(r, half);
}

SmallVector<Value> QuikIntGemm::fragmentsB(Value slot, int64_t ks) {
  // Step ks covers codes kmma ks .. +kmma of the tile; thread t's b0 holds
  // the 32 / b codes from kmma ks + (32 / b) t, b1 those kmma / 2 later.
  const int64_t kmma = 256 / opBits, perReg = 32 / opBits;
  Type elem = b.getIntegerType(opBits);
  auto regs = VectorType::get({2}, b.getI32Type());
  auto frag = VectorType::get({2, perReg}, elem);

  SmallVector<Value> frags;
  for (int64_t j = 0; j < 4; ++j) {
    Value first = r.add(r.idx(kmma * ks), r.mulI(tq, perReg));
    Value b0 = bRegister(slot, rowsLocal[j], first);
    Value b1 = bRegister(slot, rowsLocal[j], r.addI(first, kmma / 2));
    Value pair = vector::FromElementsOp::create(b, r.loc, regs,
                                                ValueRange{b0, b1});
    frags.push_back(bitcastRows(r, pair, frag));
  }
  return frags;
}

void QuikIntGemm::extraMmas(ArrayRef<Value> fragsB,
                            MutableArrayRef<Value> accs) {
  // A = all ones: every row of the result is sum_k c[n][k].
  auto onesType =
      VectorType::get({4, 32 / int64_t(opBits)}, b.getIntegerType(opBits));
  Value ones = arith::ConstantOp::create(
      b, r.loc, onesType,
      DenseElementsAttr::get(onesType, APInt(opBits, 1)));
  for (int64_t j = 0; j < 4; ++j)
    accs[j] = nvgpu::MmaSyncOp::create(
        b, r.loc, ones, fragsB[j], accs[j],
        ArrayRef<int64_t>{16, 8, 256 / int64_t(opBits)});
}

void QuikIntGemm::prepareEpilogue(ArrayRef<Value> extraAccs) {
  // Widened 4-bit weights carry 16 c: sw / 16 (exact).
  const double widen = wBits == opBits ? 1.0 : 1.0 / 16.0;
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t e = 0; e < 2; ++e) {
      Value col = r.add(r.add(n0, r.mulI(warp, 32)),
                        r.addI(r.mulI(tq, 2), 8 * j + e));
      Value sw = r.loadF32(scales, {r.minI(col, r.idx(N - 1))});
      colScale.push_back(widen == 1.0 ? sw : r.fmul(sw, r.f32(widen)));
      if (!extraAccs.empty())
        rowSum.push_back(vector::ExtractOp::create(
            b, r.loc, extraAccs[j], ArrayRef<int64_t>{0, e}));
    }
}

Value QuikIntGemm::epilogueValue(Value acc, Value mRow, int64_t j,
                                 int64_t e) {
  auto it = rowParams.find(mRow);
  if (it == rowParams.end()) {
    Value sx = r.loadF32(params, {mRow, r.idx(0)});
    Value zero = arith::FPToSIOp::create(b, r.loc, b.getI32Type(),
                                         r.loadF32(params, {mRow, r.idx(1)}));
    it = rowParams.try_emplace(mRow, sx, zero).first;
  }
  auto [sx, zero] = it->second;
  if (!rowSum.empty())
    acc = arith::SubIOp::create(
        b, r.loc, acc,
        arith::MulIOp::create(b, r.loc, zero, rowSum[j * 2 + e]));
  Value v = arith::SIToFPOp::create(b, r.loc, b.getF32Type(), acc);
  return r.fmul(v, r.fmul(sx, colScale[j * 2 + e]));
}

FailureOr<IntTiles> chooseIntTiles(const GemmSpec &spec, int64_t opBits,
                                   std::string &why) {
  const int64_t Q = spec.cols(), wBits = spec.w.layout.bits[0];
  if (Q * wBits % 32) {
    why = "the integer GEMM needs code rows of whole 32-bit words (" +
          std::to_string(Q) + " " + std::to_string(wBits) + "-bit codes)";
    return failure();
  }
  for (int64_t bk : {32, 16}) {
    IntTiles t;
    t.bk = bk;
    t.tileCodes = bk * 16 / opBits;
    if (spec.xCols % t.tileCodes)
      continue;
    int64_t chunkBytes = t.tileCodes * wBits / 8;
    t.copyBytes = codeCopyBytes(chunkBytes, Q * wBits / 8);
    // The pad word(s) spread the 8 rows a B read touches over the banks.
    t.codeStride = chunkBytes / 4 + t.copyBytes / 4;
    if (gemmSmemBytes(spec.stages, bk, t.codeStride) <= kStaticSmem)
      return t;
  }
  why = "the integer GEMM needs " + std::to_string(spec.stages) +
        " stages to fit 48 KiB";
  return failure();
}

} // namespace

SmallVector<int64_t, 2> quikOperandBits(const Layout &l, bool sm80) {
  if (sm80 && l.bits.size() == 1 && l.bits[0] == 4 && l.act.bits == 4)
    return {4, 8};
  return {8};
}

int64_t quikCodeColumns(int64_t q, int64_t operandBits) {
  const int64_t tile = 512 / operandBits;
  return (q + tile - 1) / tile * tile;
}

FailureOr<KernelLaunch> buildQuikIntGemmKernel(OpBuilder &b, Location loc,
                                               gpu::GPUModuleOp module,
                                               llvm::StringRef name,
                                               const GemmSpec &spec,
                                               int64_t operandBits,
                                               std::string &why) {
  const Layout &l = spec.w.layout;
  if (l.scheme != Scheme::Quik || !spec.quikCodes || l.scaleBits != 0 ||
      l.bits.size() != 1) {
    why = "the integer GEMM takes the codes of a QUIK weight (FP16 row "
          "scales)";
    return failure();
  }
  const int64_t wBits = l.bits[0];
  if (l.act.bits != 4 && l.act.bits != 8) {
    why = "the integer GEMM needs activations quantized to 4 or 8 bits";
    return failure();
  }
  if ((operandBits != 4 && operandBits != 8) || (wBits != 4 && wBits != 8) ||
      wBits > operandBits || l.act.bits > operandBits) {
    why = "the integer GEMM multiplies 4-bit by 4-bit or 8-bit by 8-bit "
          "codes (weight " + std::to_string(wBits) + "-bit, activations " +
          std::to_string(l.act.bits) + "-bit, operands " +
          std::to_string(operandBits) + "-bit)";
    return failure();
  }
  if (spec.stages < 2 || spec.rowCap < 1) {
    why = "the integer GEMM needs at least 2 stages and 1 row";
    return failure();
  }
  // x: the activation codes padded to whole tiles.
  GemmSpec padded = spec;
  padded.xCols = quikCodeColumns(spec.cols(), operandBits);
  FailureOr<IntTiles> tiles = chooseIntTiles(padded, operandBits, why);
  if (failed(tiles))
    return failure();
  QuikIntGemm gemm(b, loc, padded, *tiles,
                   operandBits == 4 ? MmaOperands::S4 : MmaOperands::S8);
  return gemm.build(module, name, why);
}

} // namespace mixq::device
