//===- Decoders.cpp - Chunk decoders of dense, uniform and LUT weights ----===//
//
// One ChunkDecoder per scheme the row-streaming GEMV handles. A chunk is
// `chunk()` consecutive codes of one weight row inside one scale group,
// loaded by one lane with 16-byte (or 8-byte) vector loads where the code
// width allows:
//
//   dense FP16   8 values (one 16-byte load), FP32 4 values (16 bytes);
//   uniform      2-bit: 64 codes (16 bytes) when the group and the K split
//                are multiples of 64, else 32 (8 bytes); 3-bit: 32 codes
//                (three 4-byte loads: 12-byte chunks are only 4-byte
//                aligned); 4-bit: 32 codes (16 bytes); 8-bit: 16 (16 bytes);
//                (code - zero) by the magic-number trick, one scale per
//                chunk from the group;
//   lut          3/4-bit codes as uniform, looked up in the row's table,
//                which begin() stages in shared memory as f32
//                ([16 rows][2^b], one table per row of the block).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

using namespace mlir;

namespace mixq::device {
namespace {

/// Rows of one thread block of the row-streaming GEMV.
constexpr int64_t kBlockRows = kWarpsPerBlock * kRowsPerWarp;

/// QUIK's quantized columns: b-bit two's-complement codes, one FP16 scale
/// per row; (code ^ 2^(b-1)) - 2^(b-1) is the signed value, so the
/// magic-number conversion takes the flipped code and zero 2^(b-1).
class QuikDecoder : public ChunkDecoder {
public:
  QuikDecoder(unsigned codesArg, unsigned scalesArg, unsigned bits,
              int64_t cols)
      : codesArg(codesArg), scalesArg(scalesArg), bits(bits), Q(cols) {}
  int64_t chunk() const override { return bits == 8 ? 16 : 32; }
  void bind(ValueRange args) override {
    codes = args[codesArg];
    scales = args[scalesArg];
  }
  Chunk load(IRB &r, Value row, Value slot, Value k0) override;
  SmallVector<Value> values(IRB &r, const Chunk &c, int64_t first,
                            int64_t count) override {
    SmallVector<Value> out;
    Value sign = r.i32(int64_t(1) << (bits - 1));
    for (int64_t i = first; i < first + count; ++i) {
      Value code = extractCode(r, c.words, i * int64_t(bits), bits);
      code = arith::XOrIOp::create(r.b, r.loc, code, sign);
      out.push_back(codeMinusZero(r, code, c.zeroMagic));
    }
    return out;
  }

private:
  unsigned codesArg, scalesArg;
  Value codes, scales;
  unsigned bits;
  int64_t Q;
};

class DenseDecoder : public ChunkDecoder {
public:
  DenseDecoder(unsigned arg, int64_t k, bool half)
      : arg(arg), K(k), half(half) {}
  int64_t chunk() const override { return half ? 8 : 4; }
  void bind(ValueRange args) override { values_ = args[arg]; }
  Chunk load(IRB &r, Value row, Value slot, Value k0) override {
    Chunk c;
    c.row = row;
    c.slot = slot;
    Value at = r.add(r.mulI(row, K), k0);
    Type elem = half ? Type(r.b.getF16Type()) : Type(r.b.getF32Type());
    auto vt = VectorType::get({chunk()}, elem);
    Value v = vector::LoadOp::create(r.b, r.loc, vt, values_, ValueRange{at},
                                     /*nontemporal=*/false,
                                     llvm::MaybeAlign(16));
    if (half)
      v = arith::ExtFOp::create(
          r.b, r.loc, VectorType::get({chunk()}, r.b.getF32Type()), v);
    for (int64_t i = 0; i < chunk(); ++i)
      c.words.push_back(
          vector::ExtractOp::create(r.b, r.loc, v, ArrayRef<int64_t>{i}));
    return c;
  }
  SmallVector<Value> values(IRB &, const Chunk &c, int64_t first,
                            int64_t count) override {
    return SmallVector<Value>(c.words.begin() + first,
                              c.words.begin() + first + count);
  }

private:
  unsigned arg;
  Value values_;
  int64_t K;
  bool half;
};

/// Codes per chunk of a `bits`-bit code stream.
int64_t codeChunk(unsigned bits, int64_t group, int64_t kSize) {
  switch (bits) {
  case 2:
    return group % 64 == 0 && kSize % 64 == 0 ? 64 : 32;
  case 8:
    return 16;
  default:
    return 32;
  }
}

/// Loads the chunk's words of a packed b-bit code stream.
SmallVector<Value> loadCodeWords(IRB &r, Value codes, Value row, Value k0,
                                 int64_t K, unsigned bits, int64_t chunk) {
  Value word = r.divI(r.mulI(r.add(r.mulI(row, K), k0), bits), 32);
  return loadWords(r, codes, word, chunk * bits / 32);
}

Chunk QuikDecoder::load(IRB &r, Value row, Value slot, Value k0) {
  Chunk c;
  c.row = row;
  c.slot = slot;
  c.words = loadCodeWords(r, codes, row, k0, Q, bits, chunk());
  c.scale = r.loadF32(scales, row);
  c.zeroMagic = zeroMagicConst(r, int64_t(1) << (bits - 1));
  return c;
}

class UniformDecoder : public ChunkDecoder {
public:
  UniformDecoder(unsigned codesArg, int scalesArg, int scaleCodesArg,
                 int metaArg, int zerosArg, const Layout &l, int64_t k,
                 int64_t kSize)
      : codesArg(codesArg), scalesArg(scalesArg), scaleCodesArg(scaleCodesArg),
        metaArg(metaArg), zerosArg(zerosArg), bits(unsigned(l.bits[0])),
        K(k), G(l.group ? l.group : k) {
    C = codeChunk(bits, G, kSize);
    scales.scaleBits = l.scaleBits;
    scales.scaleBlock = l.scaleBlock;
  }
  int64_t chunk() const override { return C; }
  void bind(ValueRange args) override {
    codes = args[codesArg];
    if (scalesArg >= 0)
      scales.scales = args[scalesArg];
    if (scaleCodesArg >= 0) {
      scales.codes = args[scaleCodesArg];
      scales.meta = args[metaArg];
    }
    if (zerosArg >= 0)
      zeros = args[zerosArg];
  }
  Chunk load(IRB &r, Value row, Value slot, Value k0) override {
    Chunk c;
    c.row = row;
    c.slot = slot;
    c.words = loadCodeWords(r, codes, row, k0, K, bits, C);
    Value gi = r.add(r.mulI(row, K / G), r.divI(k0, G));
    c.scale = scales.at(r, gi);
    c.zeroMagic = zeros ? zeroMagicOf(r, r.loadBitsScalar(
                                             zeros, r.mulI(gi, bits), bits))
                        : zeroMagicConst(r, int64_t(1) << (bits - 1));
    return c;
  }
  SmallVector<Value> values(IRB &r, const Chunk &c, int64_t first,
                            int64_t count) override {
    SmallVector<Value> out;
    for (int64_t i = first; i < first + count; ++i)
      out.push_back(codeMinusZero(
          r, extractCode(r, c.words, i * int64_t(bits), bits), c.zeroMagic));
    return out;
  }

private:
  unsigned codesArg;
  int scalesArg, scaleCodesArg, metaArg, zerosArg;
  Value codes, zeros;
  ScaleSource scales;
  unsigned bits;
  int64_t K, G, C;
};

class LutDecoder : public ChunkDecoder {
public:
  LutDecoder(unsigned codesArg, unsigned lutArg, unsigned bits, int64_t n,
             int64_t k)
      : codesArg(codesArg), lutArg(lutArg), bits(bits), N(n), K(k) {}
  int64_t chunk() const override { return 32; }
  int64_t entries() const { return int64_t(1) << bits; }
  SmallVector<MemRefType> workgroup(MLIRContext *ctx) override {
    auto space = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
    return {MemRefType::get({kBlockRows * entries()}, Float32Type::get(ctx),
                            MemRefLayoutAttrInterface(), space)};
  }
  void bind(ValueRange args) override {
    codes = args[codesArg];
    lut = args[lutArg];
  }
  void begin(IRB &r, Value firstRow, ValueRange shared) override {
    table = shared[0];
    int64_t E = entries();
    Value tid = threadIdX(r);
    r.forLoop(tid, r.idx(kBlockRows * E), kWarp * kWarpsPerBlock,
              [&](Value t) {
                Value row = r.minI(r.add(firstRow, r.divI(t, E)),
                                   r.idx(N - 1));
                Value v = r.loadF32(lut, r.add(r.mulI(row, E), r.remI(t, E)));
                r.store(v, table, t);
              });
    gpu::BarrierOp::create(r.b, r.loc);
  }
  Chunk load(IRB &r, Value row, Value slot, Value k0) override {
    Chunk c;
    c.row = row;
    c.slot = slot;
    c.words = loadCodeWords(r, codes, row, k0, K, bits, chunk());
    return c;
  }
  SmallVector<Value> values(IRB &r, const Chunk &c, int64_t first,
                            int64_t count) override {
    SmallVector<Value> out;
    Value base = r.mulI(c.slot, entries());
    for (int64_t i = first; i < first + count; ++i) {
      Value code = extractCode(r, c.words, i * int64_t(bits), bits);
      Value at = r.add(base, arith::IndexCastUIOp::create(
                                 r.b, r.loc, r.b.getIndexType(), code));
      out.push_back(r.load(table, at));
    }
    return out;
  }

private:
  unsigned codesArg, lutArg;
  Value codes, lut, table;
  unsigned bits;
  int64_t N, K;
};

} // namespace

FailureOr<std::unique_ptr<ChunkDecoder>>
makeDecoder(MLIRContext *ctx, const GemvSpec &spec, KernelSignature &sig,
            std::string &why) {
  const WeightInfo &w = spec.w;
  const Layout &l = w.layout;
  int64_t K = spec.cols();
  auto stream = [&](llvm::StringRef name) {
    return sig.addStreamOrWhy(ctx, w, name, why);
  };
  std::unique_ptr<ChunkDecoder> dec;
  if (spec.part == GemvSpec::Part::QuikFp16Cols) {
    int v = stream("fp16_cols");
    if (v < 0)
      return failure();
    dec = std::make_unique<DenseDecoder>(unsigned(v), K, /*half=*/true);
  } else if (spec.part == GemvSpec::Part::QuikCodes) {
    int codes = stream("codes"), scales = stream("scales");
    if (codes < 0 || scales < 0)
      return failure();
    dec = std::make_unique<QuikDecoder>(unsigned(codes), unsigned(scales),
                                        unsigned(l.bits[0]), K);
  }
  if (!dec) switch (l.scheme) {
  case Scheme::Dense: {
    int v = stream("values");
    if (v < 0)
      return failure();
    dec = std::make_unique<DenseDecoder>(unsigned(v), K, l.bits[0] == 16);
    break;
  }
  case Scheme::Uniform: {
    int64_t G = l.group ? l.group : K;
    if (G % 32 != 0) {
      why = "the GPU GEMV needs groups that are a multiple of 32 columns; " +
            groupAdvice(G, K, "--group");
      return failure();
    }
    int codes = stream("codes");
    int scales = -1, scaleCodes = -1, meta = -1, zeros = -1;
    if (l.scaleBits == 0) {
      scales = stream("scales");
    } else {
      scaleCodes = stream("scale_codes");
      meta = stream("scale_meta");
    }
    if (l.asymmetric)
      zeros = stream("zeros");
    if (codes < 0 || (l.scaleBits == 0 && scales < 0) ||
        (l.scaleBits && (scaleCodes < 0 || meta < 0)) ||
        (l.asymmetric && zeros < 0))
      return failure();
    dec = std::make_unique<UniformDecoder>(unsigned(codes), scales,
                                           scaleCodes, meta, zeros, l, K,
                                           spec.kSize);
    break;
  }
  case Scheme::Lut: {
    if (l.outliers == OutlierKind::Csr && !spec.excludeOutliers) {
      why = "CSR outliers must be split off first (-mixq-split-outliers)";
      return failure();
    }
    int codes = stream("codes"), lut = stream("lut");
    if (codes < 0 || lut < 0)
      return failure();
    dec = std::make_unique<LutDecoder>(unsigned(codes), unsigned(lut),
                                       unsigned(l.bits[0]), w.rows, K);
    break;
  }
  case Scheme::Mixed:
  case Scheme::Quik: // its parts are handled above
    why = "no chunk decoder for the '" + schemeName(l.scheme).str() +
          "' scheme";
    return failure();
  }
  int64_t C = dec->chunk();
  if (K % C != 0 || spec.kSize % C != 0) {
    why = "the GPU GEMV needs the row length (" + std::to_string(K) +
          ") and the K split to be multiples of " +
          std::to_string(C) + " columns";
    return failure();
  }
  return dec;
}

} // namespace mixq::device
