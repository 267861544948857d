//===- QMatmulCpu.cpp - x86 kernels of mixq.qmatmul ------------------------===//
//
// One parallel task per planned product over blocks of output rows. Rows
// are walked group by group; per group a scheme decoder yields the raw
// weights 16 at a time in vector registers (codes unpacked with a byte
// shuffle, per-lane shifts and a mask; 2- and 4-bit codes also as 16-byte
// bit planes against plane-ordered activations; LUT entries through vpermps
// or a gather; FP16 values converted) plus the group's scale and zero,
// applied once per group (second-order scales are dequantized there too):
//
//   gemv (M = 1):  acc[row] += scale * sum_k (raw_k - zero) * x_k, lane-wise
//                  in one vector accumulator per row, one reduction per row;
//                  blocks of 4 rows share each activation load (mixed and
//                  8-bit weights; with AVX-512 also K > 8192), and with AVX2
//                  mixed weights walk whole tiles (see gemvRowBlock).
//   gemm (M > 1):  blocks of 8 rows are dequantized once into a stack
//                  buffer, then multiplied with blocks of input rows in a
//                  register block of accumulators (gemmRegisterBlock),
//                  K-chunk by K-chunk.
//
// With AVX-512 the decode GEMV of 2-, 3- and 4-bit codes (uniform, mixed,
// LUT) looks its weights up instead: a 16-lane table per group holds the
// dequantized value of every code, vpermps maps code indices (16-byte plane
// blocks widened, or with VBMI one 8-byte read and one vpmultishiftqb per
// 16 codes) to weights, one FMA each; see "The lookup path" below. With
// AVX2 the same for 2-bit codes (in-lane vpermilps: 4 entries fit a
// 128-bit lane) and LUT codes (8 lanes a vpermps).
//
// Mixed weights list each tile's column groups by precision once (from the
// precision map), then run one loop per precision over its list, so no
// branch depends on the map; 2-bit row-groups add their FP16 outlier
// slots (a walk by whole tiles, 16 rows at a time: TileRows). A quantized
// precision's loop unpacks the scales and zeros of the block's run of 16
// rows as vectors and prefetches the block's codes of a later tile-group.
// QUIK has its own kernel (QuikMatmulCpu.cpp).
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

namespace mixq::cpu {
namespace {

constexpr int64_t L = kLanes;

VectorType vec(Type elem, int64_t lanes = L) {
  return VectorType::get({lanes}, elem);
}

/// The 16 b-bit codes (2 <= b <= 4) of the 2b bytes at `byteOff` as
/// vector<16xi32>: codes 0-7 lie in the 32-bit word at byteOff, codes 8-15
/// in the one ending at the chunk's last byte (byteOff + 2b - 4; code 8
/// starts at its bit 32 - 8b). Each word is broadcast to 8 lanes and
/// shifted by a per-lane amount (vpsrlvd, AVX2), then masked: 2 loads, 2
/// broadcasts, 2 shifts and 2 ands per 16 codes, where the byte-wise path
/// below widens and shuffles (AVX2 has no cross-lane byte shuffle, so that
/// took dozens of instructions for 3-bit codes). Reads stay in the chunk.
Value unpackByShifts(IRB &r, Value bytes, Value byteOff, unsigned bits,
                     bool mask = true) {
  OpBuilder &b = r.b;
  Type i32 = b.getI32Type();
  auto word = [&](Value at) {
    Value raw = vector::LoadOp::create(b, r.loc, vec(b.getI8Type(), 4), bytes,
                                       ValueRange{at});
    return vector::BitCastOp::create(b, r.loc, vec(i32, 1), raw).getResult();
  };
  Value low = word(byteOff);
  Value high = word(r.addI(byteOff, 2 * int64_t(bits) - 4));
  SmallVector<int64_t> pick;
  SmallVector<int32_t> shifts;
  for (int64_t i = 0; i < 16; ++i) {
    pick.push_back(i < 8 ? 0 : 1);
    shifts.push_back(int32_t(i < 8 ? i * bits : 32 - 8 * bits + (i - 8) * bits));
  }
  Value v = vector::ShuffleOp::create(b, r.loc, low, high, pick);
  Value sh = arith::ConstantOp::create(
      b, r.loc, DenseElementsAttr::get(vec(i32), ArrayRef<int32_t>(shifts)));
  v = arith::ShRUIOp::create(b, r.loc, v, sh);
  if (!mask)
    return v;
  return arith::AndIOp::create(b, r.loc, v, r.splatI32((1 << bits) - 1, L));
}
} // namespace

/// The `lanes` b-bit codes starting at byte `byteOff` (the first code
/// starts at bit 0 of that byte) as vector<lanes x i32>.

Value unpackCodes(IRB &r, Value bytes, Value byteOff, unsigned bits,
                  int64_t lanes) {
  OpBuilder &b = r.b;
  int64_t nb = lanes * bits / 8;
  if (lanes == 16 && bits >= 2 && bits <= 4)
    return unpackByShifts(r, bytes, byteOff, bits);
  Value raw = vector::LoadOp::create(b, r.loc, vec(b.getI8Type(), nb), bytes,
                                     ValueRange{byteOff});
  Value wide = arith::ExtUIOp::create(b, r.loc, vec(b.getI32Type(), nb), raw);
  if (bits == 8)
    return wide;
  SmallVector<int64_t> loIdx, hiIdx;
  SmallVector<int32_t> shifts;
  bool needHi = false;
  for (int64_t i = 0; i < lanes; ++i) {
    int64_t bit = i * bits;
    loIdx.push_back(bit / 8);
    hiIdx.push_back(std::min<int64_t>(bit / 8 + 1, nb));
    shifts.push_back(int32_t(bit % 8));
    needHi |= bit % 8 + bits > 8;
  }
  Value v = vector::ShuffleOp::create(b, r.loc, wide, wide, loIdx);
  if (needHi) {
    Value zeros = arith::ConstantOp::create(
        b, r.loc, b.getZeroAttr(vec(b.getI32Type(), nb)));
    Value hi = vector::ShuffleOp::create(b, r.loc, wide, zeros, hiIdx);
    hi = arith::ShLIOp::create(b, r.loc, hi, r.splatI32(8, lanes));
    v = arith::OrIOp::create(b, r.loc, v, hi);
  }
  auto shiftType = vec(b.getI32Type(), lanes);
  Value sh = arith::ConstantOp::create(
      b, r.loc, DenseElementsAttr::get(shiftType, ArrayRef<int32_t>(shifts)));
  v = arith::ShRUIOp::create(b, r.loc, v, sh);
  return arith::AndIOp::create(b, r.loc, v, r.splatI32((1 << bits) - 1, lanes));
}

namespace {

Value codesToF32(IRB &r, Value codes) {
  int64_t lanes = cast<VectorType>(codes.getType()).getDimSize(0);
  return arith::UIToFPOp::create(r.b, r.loc, vec(r.b.getF32Type(), lanes),
                                 codes);
}

/// The 128 / bits codes of the 16 bytes at `byteOff` (bits = 2 or 4) as
/// 8 / bits f32 vectors of 16 lanes: plane s holds the field at bit s * bits
/// of every byte, i.e. codes s, s + P, s + 2P, ... (P = 8 / bits) of the
/// block. The bytes are widened to 32-bit lanes once, as they are loaded
/// (vpmovzxbd from memory), then each plane is one shift and one mask:
/// byte-wide shifts and masks before widening made AVX2 widen from a
/// register across 128-bit lanes, per plane (1.3 cycles each on znver3),
/// and 4-bit codes took the chunk path instead. The activations are
/// permuted once per task to match (planeOrderX).
SmallVector<Value> unpackPlanes(IRB &r, Value bytes, Value byteOff,
                                unsigned bits) {
  OpBuilder &b = r.b;
  Value raw = vector::LoadOp::create(b, r.loc, vec(b.getI8Type()), bytes,
                                     ValueRange{byteOff});
  Value wide = arith::ExtUIOp::create(b, r.loc, vec(b.getI32Type()), raw);
  SmallVector<Value> planes;
  for (unsigned s = 0; s < 8 / bits; ++s) {
    Value v = wide;
    if (s)
      v = arith::ShRUIOp::create(b, r.loc, v, r.splatI32(int64_t(s * bits), L));
    if ((s + 1) * bits < 8)
      v = arith::AndIOp::create(b, r.loc, v,
                                r.splatI32((int64_t(1) << bits) - 1, L));
    planes.push_back(codesToF32(r, v));
  }
  return planes;
}

/// Codes per 16-byte plane block.
int64_t planeBlock(unsigned bits) { return 128 / bits; }

/// Whether groups of G `bits`-bit codes come as whole plane blocks.
bool hasPlanes(unsigned bits, int64_t G) {
  return (bits == 2 || bits == 4) && G % planeBlock(bits) == 0;
}

/// The byte offset of the chunk at element `base + k` of a `bits`-bit code
/// stream. `base` (a group's first element) and `k` (the offset in the
/// group) are multiples of 16 elements, so each is a whole number of
/// bytes; kept apart, the loop-variant part k * bits / 8 advances by a
/// constant that loop strength reduction folds into the addressing.
Value chunkByte(IRB &r, Value base, Value k, unsigned bits) {
  return r.add(r.divI(r.mulI(base, bits), 8), r.divI(r.mulI(k, bits), 8));
}

// The lookup path (AVX-512; AVX2, see tableLookup): a group's 2-, 3- or
// 4-bit codes index a 16-lane table of its dequantized weights with
// vpermps, which reads only the low 4 bits of each index (3 on AVX2). Tables repeat every 2^bits lanes, so the
// bits of an index above its code need no mask; the table applies the zero
// and the scale, so per 16 weights the work is the indices, one vpermps and
// one FMA (no conversion, subtraction or per-group scale multiply).

/// What the target lets the decoders use for the lookup path.
struct LookupIsa {
  bool permute = false;    ///< AVX-512F: vpermps tables
  bool multishift = false; ///< AVX-512 VBMI: vpmultishiftqb indices
  bool permute8 = false;   ///< AVX2 without AVX-512: vpermps on 8 lanes
};

/// lane i = table[indices[i] mod 16] (`bits`-bit indices; table lane e
/// holds entry e mod 2^bits). AVX-512: one vpermps on 16 lanes. AVX2
/// (isa.permute8): one 8-lane vpermps per half of the indices on the
/// table's low half (entries 0-7), and for 4-bit indices a second on its
/// high half (entries 8-15), blended on index bit 3 (moved to the sign bit
/// for vblendvps); where a gather from memory took the place of both.
Value tableLookup(IRB &r, Value table, Value indices, LookupIsa isa,
                  unsigned bits) {
  OpBuilder &b = r.b;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  if (!isa.permute8)
    return LLVM::CallIntrinsicOp::create(
               b, r.loc, vec(f32),
               b.getStringAttr("llvm.x86.avx512.permvar.sf.512"),
               ValueRange{table, indices})
        .getResult(0);
  auto half = [&](Value v, int64_t h) {
    SmallVector<int64_t> lanes;
    for (int64_t i = 0; i < 8; ++i)
      lanes.push_back(h * 8 + i);
    return vector::ShuffleOp::create(b, r.loc, v, v, lanes).getResult();
  };
  std::function<Value(Value, Value)> permute = [&](Value t, Value idx) {
    return LLVM::CallIntrinsicOp::create(b, r.loc, vec(f32, 8),
                                         b.getStringAttr("llvm.x86.avx2.permps"),
                                         ValueRange{t, idx})
        .getResult(0);
  };
  // 2-bit tables fit a 128-bit lane, [e0 e1 e2 e3] twice in the low half:
  // the in-lane vpermilps looks them up at half the cost of the
  // lane-crossing vpermps (znver3: 0.5 against 1.3 cycles per instruction,
  // 12 independent chains).
  if (bits == 2)
    permute = [&](Value t, Value idx) {
      return LLVM::CallIntrinsicOp::create(
                 b, r.loc, vec(f32, 8),
                 b.getStringAttr("llvm.x86.avx.vpermilvar.ps.256"),
                 ValueRange{t, idx})
          .getResult(0);
    };
  Value low = half(table, 0), high = bits > 3 ? half(table, 1) : Value();
  SmallVector<Value> out;
  for (int64_t h = 0; h < 2; ++h) {
    Value idx = half(indices, h);
    Value w = permute(low, idx);
    if (high) {
      Value upper = arith::CmpIOp::create(
          b, r.loc, arith::CmpIPredicate::ne,
          arith::AndIOp::create(b, r.loc, idx, r.splatI32(8, 8)),
          arith::ConstantOp::create(b, r.loc, b.getZeroAttr(vec(i32, 8))));
      w = arith::SelectOp::create(b, r.loc, upper, permute(high, idx), w);
    }
    out.push_back(w);
  }
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < 16; ++i)
    all.push_back(i);
  return vector::ShuffleOp::create(b, r.loc, out[0], out[1], all);
}

/// A uniform group's table: lane i = ((i mod 2^bits) - zero) * scale, the
/// value the reference dequantizer gives code i mod 2^bits; (i mod 2^bits)
/// * scale where `zero` is null (the caller applies it apart).
Value uniformTable(IRB &r, unsigned bits, Value zero, Value scale) {
  OpBuilder &b = r.b;
  SmallVector<float> lanes;
  for (int64_t i = 0; i < L; ++i)
    lanes.push_back(float(i % (int64_t(1) << bits)));
  auto type = vec(b.getF32Type());
  Value t = arith::ConstantOp::create(
      b, r.loc, DenseElementsAttr::get(type, ArrayRef<float>(lanes)));
  if (zero)
    t = arith::SubFOp::create(
        b, r.loc, t, vector::BroadcastOp::create(b, r.loc, type, zero));
  return arith::MulFOp::create(
      b, r.loc, t, vector::BroadcastOp::create(b, r.loc, type, scale));
}

/// The 16 `bits`-bit codes (bits <= 4) of the chunk starting at byte
/// `byteOff` of `bytes` as lookup indices: one unaligned 8-byte read,
/// broadcast to the 8 quadwords, and one vpmultishiftqb (AVX-512 VBMI) that
/// copies the byte at code 2j's bit offset to byte 0 of lane 2j and the one
/// at code 2j + 1's to byte 0 of lane 2j + 1 (quadword j). The read ends at
/// the chunk's last byte, so it never passes the end of the stream; for
/// 2- and 3-bit codes it starts 8 - 2 * bits bytes before the chunk, which
/// in a package is always readable (the header or another stream precedes
/// every stream). It goes through a plain pointer, not the memref.
Value multishiftIndices(IRB &r, Value bytes, Value byteOff, unsigned bits) {
  OpBuilder &b = r.b;
  int64_t back = 8 - 2 * int64_t(bits);
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value at = r.toI64(byteOff);
  if (back)
    at = arith::SubIOp::create(b, r.loc, at, r.i64(back));
  Value addr = LLVM::GEPOp::create(b, r.loc, ptrType, b.getI8Type(),
                                   pointerOf(b, r.loc, bytes), ValueRange{at});
  Value word = LLVM::LoadOp::create(b, r.loc, b.getI64Type(), addr,
                                    /*alignment=*/1);
  Value quads = vector::BroadcastOp::create(b, r.loc, vec(b.getI64Type(), 8),
                                            word);
  auto bytesType = vec(b.getI8Type(), 64);
  Value data = vector::BitCastOp::create(b, r.loc, bytesType, quads);
  SmallVector<int8_t> control;
  for (int64_t j = 0; j < 8; ++j)
    for (int64_t t = 0; t < 8; ++t)
      control.push_back(int8_t(back * 8 + 2 * bits * j + (t < 4 ? 0 : bits)));
  Value shifts = arith::ConstantOp::create(
      b, r.loc, DenseElementsAttr::get(bytesType, ArrayRef<int8_t>(control)));
  Value picked =
      LLVM::CallIntrinsicOp::create(
          b, r.loc, bytesType,
          b.getStringAttr("llvm.x86.avx512.pmultishift.qb.512"),
          ValueRange{shifts, data})
          .getResult(0);
  return vector::BitCastOp::create(b, r.loc, vec(b.getI32Type()), picked);
}

/// The 16 bytes at `byteOff` (a plane block of 2- or 4-bit codes, see
/// unpackPlanes) as lookup indices: one widening to 32-bit lanes, then
/// plane s is the lanes shifted right by s * bits.
SmallVector<Value> planeIndices(IRB &r, Value bytes, Value byteOff,
                                unsigned bits) {
  OpBuilder &b = r.b;
  Value raw = vector::LoadOp::create(b, r.loc, vec(b.getI8Type()), bytes,
                                     ValueRange{byteOff});
  Value wide = arith::ExtUIOp::create(b, r.loc, vec(b.getI32Type()), raw);
  SmallVector<Value> planes{wide};
  for (unsigned s = 1; s < 8 / bits; ++s)
    planes.push_back(arith::ShRUIOp::create(
        b, r.loc, wide, r.splatI32(int64_t(s * bits), L)));
  return planes;
}



/// What a decoder yields for one (row, group): w_k = (raw_k - zero) * scale
/// (zero may be null), plus optional exact corrections at columns of the
/// group (FP16 outlier slots), folded through `outliers`.
struct GroupView {
  Value scale, zero;
  /// The zero is applied apart from the group (per row, by the caller of
  /// the decoder's walk), so the GEMV leaves it out.
  bool zeroApart = false;
  std::function<Value(IRB &, Value k)> chunk;
  /// 2- and 4-bit codes also come a block of 16 bytes at a time, as
  /// 8 / bits "planes" (see unpackPlanes); 0 when the decoder has none.
  unsigned planeBits = 0;
  std::function<SmallVector<Value>(IRB &, Value k)> planes;
  std::function<Value(IRB &, Value init,
                      llvm::function_ref<Value(IRB &, Value acc, Value col,
                                               Value value)>)>
      outliers;
  /// The lookup path, where the decoder has one: `table(zeroApart)`
  /// (vector<16xf32>) maps an index to its weight with the scale applied,
  /// and the zero unless `zeroApart` (the GEMV applies it per row);
  /// `indices(k)` gives columns k..k+15 as indices, `planeIndices(k)` the
  /// planes of the 16-byte block at k (the order of `planes`). Indices may carry higher
  /// bits (a lookup uses the low `lookupBits`); tableLookup with
  /// `lookupIsa`.
  std::function<Value(IRB &, bool zeroApart)> table;
  LookupIsa lookupIsa;
  unsigned lookupBits = 0;
  std::function<Value(IRB &, Value k)> indices;
  std::function<SmallVector<Value>(IRB &, Value k)> planeIndices;
};
/// Lookup indices of the 16 codes at group offset k (unmasked: a lookup
/// reads only the low bits): vpmultishiftqb with VBMI, else per-lane
/// shifts.
std::function<Value(IRB &, Value)> chunkIndices(LookupIsa isa, Value codes,
                                                Value base, unsigned bits) {
  return [isa, codes, base, bits](IRB &r, Value k) {
    Value at = chunkByte(r, base, k, bits);
    return isa.multishift
               ? multishiftIndices(r, codes, at, bits)
               : unpackByShifts(r, codes, at, bits, /*mask=*/false);
  };
}

/// The sum of a vector's lanes, in any order (a tree of shuffles and adds).
Value reduceAdd(IRB &r, Value v) {
  return vector::ReductionOp::create(
      r.b, r.loc, vector::CombiningKind::ADD, v, Value(),
      arith::FastMathFlags::reassoc);
}

/// Whether addLookup gives `bits`-bit codes a table.
bool hasLookupTable(LookupIsa isa, unsigned bits) {
  // AVX2: 2-bit codes only (znver3, uniform GEMV, alternating runs):
  // 2-bit gained, 5.0-5.1 -> 5.8-5.9 GB/s; 3-bit lost a little, 8.5-9.3
  // unpacked against 8.2-8.8 looked up; a 4-bit table takes two lookups and
  // a blend per 8 lanes and lost by half (10.5 against 5.3-5.5).
  return (isa.permute || (isa.permute8 && bits == 2)) && bits <= 4;
}

/// Gives `v` (a group of `bits`-bit codes from element `base` of `codes`,
/// its scale and zero set) the lookup path the target allows: plane
/// indices where it has planes, multishift indices for any chunk.
void addLookup(IRB &r, GroupView &v, LookupIsa isa, Value codes, Value base,
               unsigned bits) {
  if (!hasLookupTable(isa, bits))
    return;
  v.table = [bits, zero = v.zero, scale = v.scale](IRB &r, bool zeroApart) {
    return uniformTable(r, bits, zeroApart ? Value() : zero, scale);
  };
  v.lookupIsa = isa;
  v.lookupBits = bits;
  if (v.planeBits)
    v.planeIndices = [codes, base, bits](IRB &r, Value k) {
      return planeIndices(r, codes, chunkByte(r, base, k, bits), bits);
    };
  if (isa.multishift || isa.permute8)
    v.indices = chunkIndices(isa, codes, base, bits);
}

/// Takes the views of one group of each row of a block (in row order) and
/// returns the next value of the accumulator.
using Consumer = llvm::function_ref<Value(IRB &, ArrayRef<GroupView>)>;
/// Takes a group's index g (its columns are [g * G, (g + 1) * G)), the
/// views of the rows' group g and the accumulator; returns its next value.
using GroupUse =
    llvm::function_ref<Value(IRB &, Value g, ArrayRef<GroupView>, Value acc)>;

/// Most rows a decoder handles at once (the decode GEMV's row block).
constexpr int64_t kMaxRows = 4;

class Decoder {
public:
  virtual ~Decoder() = default;
  /// Called before the groups of a block of consecutive rows.
  virtual void beginRows(IRB &, ValueRange /*rows*/) {}
  /// Where the decoder can: row n's zero term over its `groups` groups,
  /// -sum_g scale_g * zero_g * xSums[g] (one f32), 16 groups a vector; the
  /// decode GEMV then applies no zero per group (its unpacked codes and
  /// lookup tables leave it out). Null where it cannot (its views' zeros
  /// are applied group by group, or by their tables).
  virtual Value rowZeroTerm(IRB &, Value /*n*/, Value /*xSums*/,
                            int64_t /*groups*/) {
    return Value();
  }
  /// acc = use(g, views of the rows' group g, acc) for each of the
  /// `groups` groups g of the consecutive `rows` (at most kMaxRows, all in
  /// one tile of a mixed weight), in an order of the decoder's choosing;
  /// returns the final acc.
  virtual Value forEachGroup(IRB &r, ValueRange rows, int64_t groups,
                             Value init, GroupUse use) = 0;
  /// Rows per tile when the decoder can walk a whole tile group by group
  /// (forEachTileGroup); 0 when it cannot.
  virtual int64_t tileRows() const { return 0; }
  /// Views of one row (its index in the tile, dynamic) of the current group.
  using RowView = llvm::function_ref<GroupView(IRB &, Value rowInTile)>;
  /// What a walk by tiles applies per row of the current tile-group apart
  /// from the views, 16 rows at a time (run: a multiple of 16):
  /// - `slotAt(run, s)`: slot s of rows [run, run + 16) as their columns in
  ///   the group (16 index scalars, read one by one: the activations they
  ///   pick are scalar loads anyway) and values (vector<16xf32>); the views
  ///   then have no `outliers`;
  /// - `scaledZeros(run)`: scale x zero of those rows (vector<16xf32>),
  ///   where the views leave their zero out (GroupView::zeroApart).
  struct TileRows {
    int64_t slots = 0; // per row; 0: the tile-group has none
    std::function<std::pair<SmallVector<Value>, Value>(IRB &, int64_t run,
                                                       int64_t s)>
        slotAt;
    std::function<Value(IRB &, int64_t run)> scaledZeros;
  };
  using TileTermsUse =
      llvm::function_ref<void(IRB &, Value g, const TileRows &)>;
  using TileRowsUse = llvm::function_ref<void(IRB &, Value g, RowView)>;
  /// For each group g of the tile starting at row `row0` that has per-row
  /// terms: terms(g, the tile-group's per-row terms); then for each group g
  /// of the tile: rows(g, view of any row of the tile's group g); each in
  /// an order of the decoder's choosing. With `zerosApart` (the caller has
  /// the groups' activation sums) quantized views leave their zero to
  /// `scaledZeros`.
  virtual void forEachTileGroup(IRB &, Value /*row0*/, int64_t /*groups*/,
                                bool /*zerosApart*/, TileTermsUse,
                                TileRowsUse) {}
};

/// A decoder whose groups all decode alike: one loop over g in order.
class GroupwiseDecoder : public Decoder {
public:
  /// The views of group g of `rows`, given to `use`; returns its result.
  virtual Value group(IRB &r, ValueRange rows, Value g, Consumer use) = 0;

  Value forEachGroup(IRB &r, ValueRange rows, int64_t groups, Value init,
                     GroupUse use) override {
    return r.forReduce(r.idx(0), r.idx(groups), 1, init,
                       [&](Value g, Value acc) {
                         return group(r, rows, g,
                                      [&](IRB &r, ArrayRef<GroupView> views) {
                                        return use(r, g, views, acc);
                                      });
                       });
  }
};

class DenseDecoder : public GroupwiseDecoder {
public:
  DenseDecoder(Value values, int64_t k, int64_t g) : values(values), K(k), G(g) {}
  Value group(IRB &r, ValueRange rows, Value g, Consumer use) override {
    SmallVector<GroupView> views;
    for (Value n : rows) {
      GroupView v;
      v.scale = r.f32(1.0);
      Value base = r.add(r.mulI(n, K), r.mulI(g, G));
      v.chunk = [this, base](IRB &r, Value k) {
        return r.vloadF32(values, r.add(base, k), L);
      };
      views.push_back(v);
    }
    return use(r, views);
  }

private:
  Value values;
  int64_t K, G;
};

class UniformDecoder : public GroupwiseDecoder {
public:
  UniformDecoder(Value codes, ScaleSource scales, Value zeros, unsigned bits,
                 int64_t k, int64_t g, LookupIsa isa)
      : codes(codes), scales(scales), zeros(zeros), bits(bits), K(k), G(g),
        isa(isa) {}
  Value group(IRB &r, ValueRange rows, Value g, Consumer use) override {
    SmallVector<GroupView> views;
    for (Value n : rows)
      views.push_back(view(r, n, g));
    return use(r, views);
  }

  /// FP16 scales and zeros that start on byte boundaries (groups x bits a
  /// multiple of 8) as vectors of 16 groups, the last groups % 16 one by
  /// one. Per group the unpack path otherwise extracted the zero with a
  /// dozen scalar instructions and folded it into the group's sum, 25 of
  /// 81 instructions per 128 4-bit codes (znver3, perf annotate); a lookup
  /// table applied it with a broadcast and a subtraction per row and group.
  Value rowZeroTerm(IRB &r, Value n, Value xSums, int64_t groups) override {
    if (scales.scaleBits != 0 ||
        (zeros && (groups * bits) % 8 != 0))
      return Value();
    OpBuilder &b = r.b;
    Value first = r.mulI(n, groups);
    int64_t whole = groups / L * L;
    Value sum = r.f32(0.0);
    if (whole) {
      Value acc = r.forReduce(
        r.idx(0), r.idx(whole), L, r.splatF32(0.0, L), [&](Value g, Value a) {
          Value gi = r.add(first, g);
          Value z = zeros ? codesToF32(r, unpackCodes(
                                              r, zeros,
                                              r.divI(r.mulI(gi, bits), 8),
                                              bits, L))
                          : r.splatF32(double(1 << (bits - 1)), L);
          Value sz = arith::MulFOp::create(
              b, r.loc, r.vloadF32(scales.scales, gi, L), z);
          return vector::FMAOp::create(b, r.loc, sz, r.vloadF32(xSums, g, L),
                                       a);
        });
      sum = reduceAdd(r, acc);
    }
    sum = r.forReduce(
        r.idx(whole), r.idx(groups), 1, sum,
        [&](Value g, Value a) {
          Value gi = r.add(first, g);
          return r.fadd(a, r.fmul(r.fmul(scales.at(r, gi), zeroAt(r, gi)),
                                  r.load(xSums, g)));
        });
    return arith::NegFOp::create(b, r.loc, sum);
  }

private:
  /// The zero of group gi (f32).
  Value zeroAt(IRB &r, Value gi) {
    return zeros ? arith::UIToFPOp::create(
                       r.b, r.loc, r.b.getF32Type(),
                       r.loadBitsScalar(zeros, r.mulI(gi, bits), bits))
                       .getResult()
                 : r.f32(double(1 << (bits - 1)));
  }

  GroupView view(IRB &r, Value n, Value g) {
    GroupView v;
    Value gi = r.add(r.mulI(n, K / G), g);
    v.scale = scales.at(r, gi);
    v.zero = zeroAt(r, gi);
    Value base = r.add(r.mulI(n, K), r.mulI(g, G));
    v.chunk = [this, base](IRB &r, Value k) {
      return codesToF32(
          r, unpackCodes(r, codes, chunkByte(r, base, k, bits), bits));
    };
    if (hasPlanes(bits, G)) {
      v.planeBits = bits;
      v.planes = [this, base](IRB &r, Value k) {
        return unpackPlanes(r, codes, chunkByte(r, base, k, bits), bits);
      };
    }
    addLookup(r, v, isa, codes, base, bits);
    return v;
  }

  Value codes;
  ScaleSource scales;
  Value zeros;
  unsigned bits;
  int64_t K, G;
  LookupIsa isa;
};

class LutDecoder : public GroupwiseDecoder {
public:
  /// `row` is a kMaxRows x 16 float stack buffer; with `isa.permute` (AVX-512)
  /// or `isa.permute8` (AVX2) each row's table is held in registers and
  /// looked up with vpermps (tableLookup), otherwise gathered from the
  /// buffer.
  LutDecoder(Value codes, Value lut, Value row, unsigned bits, int64_t k,
             int64_t g, LookupIsa isa)
      : codes(codes), lut(lut), row(row), bits(bits), K(k), G(g),
        isa(isa) {}
  void beginRows(IRB &r, ValueRange rows) override {
    int64_t entries = int64_t(1) << bits;
    tables.clear();
    for (size_t i = 0; i < rows.size(); ++i) {
      Value n = rows[i], at = r.idx(int64_t(i));
      // All 16 lanes: entry e mod 2^bits, the period lookup indices need.
      r.forLoop(r.idx(0), r.idx(L), 1, [&](Value e) {
        r.store(r.loadF32(lut, r.add(r.mulI(n, entries), r.remI(e, entries))),
                row, {at, e});
      });
      if (isa.permute || isa.permute8)
        tables.push_back(vector::LoadOp::create(
            r.b, r.loc, vec(r.b.getF32Type()), row, ValueRange{at, r.idx(0)}));
    }
  }
  Value group(IRB &r, ValueRange rows, Value g, Consumer use) override {
    SmallVector<GroupView> views;
    for (auto [i, n] : llvm::enumerate(rows))
      views.push_back(view(r, int64_t(i), n, g));
    return use(r, views);
  }

private:
  GroupView view(IRB &r, int64_t i, Value n, Value g) {
    GroupView v;
    v.scale = r.f32(1.0);
    Value base = r.add(r.mulI(n, K), r.mulI(g, G));
    Value table = isa.permute || isa.permute8 ? tables[i] : Value();
    v.chunk = [this, base, table, i](IRB &r, Value k) -> Value {
      Value idx =
          unpackCodes(r, codes, chunkByte(r, base, k, bits), bits);
      OpBuilder &b = r.b;
      if (table)
        return tableLookup(r, table, idx, isa, bits);
      Value mask = arith::ConstantOp::create(
          b, r.loc, DenseElementsAttr::get(vec(b.getI1Type()), true));
      return vector::GatherOp::create(b, r.loc, vec(b.getF32Type()), row,
                                      ValueRange{r.idx(i), r.idx(0)}, idx,
                                      mask, r.splatF32(0.0, L));
    };
    if ((isa.multishift || isa.permute8) && bits <= 4) {
      v.table = [table](IRB &, bool) { return table; };
      v.lookupIsa = isa;
      v.lookupBits = bits;
      v.indices = chunkIndices(isa, codes, base, bits);
    }
    return v;
  }

  Value codes, lut, row;
  SmallVector<Value> tables;
  unsigned bits;
  int64_t K, G;
  LookupIsa isa;
};

/// Mixed 2/4/16-bit tile-groups (model/QuantizedTensor.h has the streams).
class MixedDecoder : public Decoder {
public:
  /// A precision's streams; for the quantized ones, where their row-groups
  /// start in the shared scale and zero streams (index values: task
  /// arguments, so that layers with other allocations share the kernel).
  struct Precision {
    unsigned bits;
    Value codes;
    Value rowGroupBase, zeroBitBase;
  };
  /// `runBuf`: a groups x 2 x max(16, tile) f32 stack buffer for the
  /// scales and zeros of runs of 16 rows (runScalesAndZeros);
  /// `listBuf`: a stack buffer of listBufSize(precisions, groups) i32.
  MixedDecoder(const Layout &l, Value pmap, Value offsets,
               std::vector<Precision> precisions, ScaleSource scales,
               Value zeros, Value slotIndex, Value slotValue, Value runBuf,
               Value listBuf, LookupIsa isa)
      : l(l), pmap(pmap), offsets(offsets),
        precisions(std::move(precisions)), scales(scales), zeros(zeros),
        slotIndex(slotIndex), slotValue(slotValue), runBuf(runBuf),
        listBuf(listBuf), isa(isa) {}

  /// i32 words of the list buffer: per precision the list of a tile's
  /// column groups, the counts, and the tile they are for.
  static int64_t listBufSize(int64_t precisions, int64_t groups) {
    return precisions * groups + precisions + 1;
  }
  /// Marks the list buffer as holding no tile's lists (once per task).
  static void clearLists(IRB &r, Value listBuf, int64_t precisions,
                         int64_t groups) {
    r.store(r.i32(-1), listBuf, r.idx(precisions * groups + precisions));
  }

  /// Precision by precision, a loop over the tile's column groups of that
  /// precision (listed once per tile, listTile): each loop body decodes
  /// one precision, with no switch on the precision map, and the
  /// tile-group's index in its stream is the list position plus the row
  /// block's offset. Groups are accumulated in that order, not in column
  /// order (a reordering of the sum, as the GPU's split-K is).
  Value forEachGroup(IRB &r, ValueRange rows, int64_t groups, Value init,
                     GroupUse use) override {
    int64_t T = l.tile;
    // The block's rows lie in one run of 16 rows of the tile (blocks of
    // at most kMaxRows start at multiples of their size).
    Value rr0 = r.remI(rows.front(), T);
    return forEachListed(
        r, r.divI(rows.front(), T), groups, init,
        [&](IRB &r, const Precision &prec, Value g, Value si, Value acc) {
          Value lane0;
          if (prec.bits != 16) {
            prefetchAhead(r, prec, si, rr0, int64_t(rows.size()));
            if (vectorScales()) {
              Value run = r.mulI(r.divI(rr0, L), L);
              runScalesAndZeros(r, prec, r.add(r.mulI(si, T), run), r.idx(0),
                                r.idx(0));
              lane0 = r.sub(rr0, run);
            }
          }
          SmallVector<GroupView> views;
          for (auto [i, n] : llvm::enumerate(rows))
            views.push_back(view(r, prec, si, r.remI(n, T), r.idx(0),
                                 lane0 ? r.addI(lane0, int64_t(i)) : Value()));
          return use(r, g, views, acc);
        });
  }

  int64_t tileRows() const override {
    return vectorScales() ? l.tile : 0;
  }

  /// The whole tile in two passes over its listed tile-groups. The first
  /// unpacks each tile-group's scales and zeros for all its rows at once
  /// (runs of 16 into runBuf[g]) and hands `terms` the per-row terms (the
  /// outlier slots of 2-bit tile-groups, the scaled zeros) as vectors of
  /// 16 rows (tileRows); the second prefetches each tile-group's codes once
  /// and hands `rows` its row views. The first pass's iterations are short
  /// and independent, so the core overlaps their load chains (list entry,
  /// streams, the slots' gathered activations); interleaved with the row
  /// loops they waited, each behind 16 rows of FMAs. Handing the rows pass
  /// two tile-groups at a time (each row's accumulators loaded and stored
  /// once for both: 54.5 instructions per 128 2-bit codes against 58) made
  /// the 7B-shaped mixed products 10% slower, with or without a separate
  /// chain for the second tile-group (znver3, 2 alternating runs).
  void forEachTileGroup(IRB &r, Value row0, int64_t groups, bool zerosApart,
                        TileTermsUse terms, TileRowsUse rows) override {
    int64_t T = l.tile;
    Value rb = r.divI(row0, T);
    forEachListed(
        r, rb, groups, Value(),
        [&](IRB &r, const Precision &prec, Value g, Value si, Value) {
          for (int64_t run = 0; run < T; run += L)
            runScalesAndZeros(r, prec, r.addI(r.mulI(si, T), run), g,
                              r.idx(run));
          TileRows tr = tileRows(prec, g, si, zerosApart);
          if (tr.slots || tr.scaledZeros)
            terms(r, g, tr);
          return Value();
        },
        /*quantizedOnly=*/true);
    forEachListed(
        r, rb, groups, Value(),
        [&](IRB &r, const Precision &prec, Value g, Value si, Value) {
          bool quantized = prec.bits != 16;
          if (quantized)
            prefetchAhead(r, prec, si, r.idx(0), T);
          bool apart = zerosApart && quantized;
          rows(r, g, [&](IRB &r, Value rr) {
            return view(r, prec, si, rr, g, quantized ? rr : Value(),
                        /*rowSlots=*/false, /*zeroApart=*/apart);
          });
          return Value();
        });
  }

private:
  /// For each column group g the lists hold for tile row block rb (listed
  /// first if they are not), precision by precision in list order:
  /// acc = fn(precision, g, si, acc), si being the tile-group's index in
  /// the precision's streams. `acc` may be null (nothing carried). With
  /// `quantizedOnly` the FP16 precision's groups are skipped.
  Value forEachListed(IRB &r, Value rb, int64_t groups, Value acc,
                      llvm::function_ref<Value(IRB &, const Precision &,
                                               Value g, Value si, Value acc)>
                          fn,
                      bool quantizedOnly = false) {
    int64_t P = int64_t(precisions.size());
    listTile(r, rb, groups);
    for (int64_t q = 0; q < P; ++q) {
      const Precision &prec = precisions[q];
      if (quantizedOnly && prec.bits == 16)
        continue;
      Value count = r.loadIndexU(listBuf, r.idx(P * groups + q));
      Value first = r.loadIndexU(offsets, r.addI(r.mulI(rb, P), q));
      auto step = [&](Value j, Value a) {
        Value g = r.loadIndexU(listBuf, r.addI(j, q * groups));
        return fn(r, prec, g, r.add(first, j), a);
      };
      if (acc)
        acc = r.forReduce(r.idx(0), count, 1, acc, step);
      else
        r.forLoop(r.idx(0), count, 1, [&](Value j) { step(j, Value()); });
    }
    return acc;
  }

  /// Unless the list buffer holds tile row block rb's lists already (the
  /// blocks of a tile run one after another): lists rb's column groups by
  /// precision, in column order, with their counts. A precision-map entry
  /// past the layout's precisions (a package the loader would refuse) is
  /// taken as the last precision, so that the lists stay in the buffer.
  void listTile(IRB &r, Value rb, int64_t groups) {
    OpBuilder &b = r.b;
    int64_t P = int64_t(precisions.size());
    Value tag = r.idx(P * groups + P);
    Value stale =
        arith::CmpIOp::create(b, r.loc, arith::CmpIPredicate::ne,
                              r.loadIndexU(listBuf, tag), rb);
    auto ifOp = scf::IfOp::create(b, r.loc, stale, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    SmallVector<Value> zeros(size_t(P), r.idx(0));
    SmallVector<Value> counts = r.forReduceN(
        r.idx(0), r.idx(groups), 1, zeros, [&](Value g, ValueRange c) {
          Value t = r.add(r.mulI(rb, groups), g);
          Value p = r.minI(r.toIndex(r.loadBitsScalar(pmap, r.mulI(t, 2), 2)),
                           r.idx(P - 1));
          SmallVector<Value> next(c);
          Value at = c[0];
          for (int64_t q = 1; q < P; ++q)
            at = arith::SelectOp::create(b, r.loc, isPrecision(r, p, q), c[q],
                                         at);
          r.store(asI32(r, g), listBuf, r.add(r.mulI(p, groups), at));
          for (int64_t q = 0; q < P; ++q)
            next[q] = arith::SelectOp::create(b, r.loc, isPrecision(r, p, q),
                                              r.addI(c[q], 1), c[q]);
          return next;
        });
    for (int64_t q = 0; q < P; ++q)
      r.store(asI32(r, counts[q]), listBuf, r.idx(P * groups + q));
    r.store(asI32(r, rb), listBuf, tag);
  }
  static Value asI32(IRB &r, Value index) {
    return arith::IndexCastOp::create(r.b, r.loc, r.b.getI32Type(), index);
  }
  static Value isPrecision(IRB &r, Value p, int64_t q) {
    return arith::CmpIOp::create(r.b, r.loc, arith::CmpIPredicate::eq, p,
                                 r.idx(q));
  }

  /// Tile-groups a row block's codes are prefetched ahead of their use.
  /// A block reads 4 of a tile-group's 16+ rows and then moves on to the
  /// next tile-group, a pattern the hardware prefetchers follow poorly.
  /// Prefetching the block's rows in the same precision's stream, measured
  /// with `mixq bench` (AMD EPYC, 2 threads, GB/s of the 3 GEMV shapes):
  /// 2-bit-only weights 11.7-12.9 at 1 ahead, 12.7-13.1 at 2, 13.3-14.1
  /// at 4, 13.9-14.7 at 8, 14.1-14.9 at 16; the benchmark's mix (28% 4-bit,
  /// 2% FP16) 11.8-12.8 at 1 and 15.4-16.7 from 2 to 16.
  static constexpr int64_t kPrefetchTileGroups = 8;

  /// Prefetches the codes of rows [rr0, rr0 + rows) of the tile-group
  /// kPrefetchTileGroups after `si` in quantized precision `prec`'s stream
  /// (past the stream's end it prefetches whatever follows, harmlessly).
  void prefetchAhead(IRB &r, const Precision &prec, Value si, Value rr0,
                     int64_t rows) {
    int64_t G = l.group, T = l.tile;
    Value first = r.add(r.mulI(r.addI(si, kPrefetchTileGroups), T * G),
                        r.mulI(rr0, G));
    Value byte = chunkByte(r, first, r.idx(0), prec.bits);
    for (int64_t o = 0; o < rows * G * prec.bits / 8; o += 64)
      memref::PrefetchOp::create(r.b, r.loc, prec.codes,
                                 ValueRange{r.addI(byte, o)},
                                 /*isWrite=*/false, /*localityHint=*/3,
                                 /*isDataCache=*/true);
  }

  /// Whether 16 consecutive row-groups' scales come as one vector: FP16
  /// scales, or second-order ones whose block holds whole runs of 16.
  bool vectorScales() const {
    return scales.scaleBits == 0 || scales.scaleBlock % L == 0;
  }

  /// Stores the scales (runBuf[slot][0]) and zeros (runBuf[slot][1]) of the
  /// 16 row-groups from `local` on (row-group indices within quantized
  /// precision `prec`), with the scalar path's arithmetic but 16 codes
  /// unpacked at once, where the scalar path extracts each field with a
  /// dozen instructions. `local` and every precision's row-group base are
  /// multiples of 16 (tiles are), so the runs start on byte boundaries and
  /// a second-order run lies within one scale block.
  void runScalesAndZeros(IRB &r, const Precision &prec, Value local,
                         Value slot, Value at) {
    OpBuilder &b = r.b;
    Type f32 = b.getF32Type();
    Value i0 = r.add(local, prec.rowGroupBase);
    Value sv;
    if (scales.scaleBits == 0) {
      sv = r.vloadF32(scales.scales, i0, L);
    } else {
      int64_t sb = scales.scaleBits;
      Value codes = unpackCodes(r, scales.codes, r.divI(r.mulI(i0, sb), 8),
                                unsigned(sb), L);
      Value block = r.divI(i0, scales.scaleBlock);
      Value step = r.loadF32(scales.meta, r.mulI(block, 2));
      Value min = r.loadF32(scales.meta, r.addI(r.mulI(block, 2), 1));
      sv = arith::AddFOp::create(
          b, r.loc, vector::BroadcastOp::create(b, r.loc, vec(f32), min),
          arith::MulFOp::create(
              b, r.loc, codesToF32(r, codes),
              vector::BroadcastOp::create(b, r.loc, vec(f32), step)));
    }
    unsigned bits = prec.bits;
    Value zv =
        zeros ? codesToF32(r, unpackCodes(r, zeros,
                                          r.divI(r.add(r.mulI(local, bits),
                                                       prec.zeroBitBase),
                                                 8),
                                          bits, L))
              : r.splatF32(double(1 << (bits - 1)), L);
    vector::StoreOp::create(b, r.loc, sv, runBuf,
                            ValueRange{slot, r.idx(0), at});
    vector::StoreOp::create(b, r.loc, zv, runBuf,
                            ValueRange{slot, r.idx(1), at});
  }

  /// The per-row terms of tile-group si of precision `prec`, column group
  /// g (forEachTileGroup has its scales and zeros in runBuf[g]). Scaled
  /// zeros where `zerosApart`: the views' tables or unpacked codes then
  /// leave the zero out. Outlier slots of 2-bit row-groups: slot s of row-group i is
  /// element i * S + s of the slot streams, so a run of 16 rows' slots is
  /// one load of 16 * S elements, de-interleaved by a shuffle when S > 1.
  TileRows tileRows(const Precision &prec, Value g, Value si,
                    bool zerosApart) const {
    TileRows ts;
    if (zerosApart && prec.bits != 16) {
      Value buf = runBuf;
      ts.scaledZeros = [buf, g](IRB &r, int64_t run) -> Value {
        Value s = vector::LoadOp::create(r.b, r.loc, vec(r.b.getF32Type()),
                                         buf,
                                         ValueRange{g, r.idx(0), r.idx(run)});
        Value z = vector::LoadOp::create(r.b, r.loc, vec(r.b.getF32Type()),
                                         buf,
                                         ValueRange{g, r.idx(1), r.idx(run)});
        return arith::MulFOp::create(r.b, r.loc, s, z);
      };
    }
    if (prec.bits != 2 || !slotIndex)
      return ts;
    ts.slots = l.slots;
    int64_t S = l.slots, T = l.tile;
    Value idxs = slotIndex, vals = slotValue;
    ts.slotAt = [=](IRB &r, int64_t run, int64_t s) {
      OpBuilder &b = r.b;
      Value first = r.mulI(r.addI(r.mulI(si, T), run), S);
      SmallVector<Value> cols;
      for (int64_t i = 0; i < L; ++i)
        cols.push_back(r.loadIndexU(idxs, r.addI(first, i * S + s)));
      Type elem = cast<MemRefType>(vals.getType()).getElementType();
      Value values = vector::LoadOp::create(b, r.loc, vec(elem, L * S), vals,
                                            ValueRange{first});
      if (S > 1) {
        SmallVector<int64_t> lanes;
        for (int64_t i = 0; i < L; ++i)
          lanes.push_back(i * S + s);
        values = vector::ShuffleOp::create(b, r.loc, values, values, lanes);
      }
      if (!cast<VectorType>(values.getType()).getElementType().isF32())
        values = arith::ExtFOp::create(b, r.loc, vec(b.getF32Type()), values);
      return std::make_pair(cols, values);
    };
    return ts;
  }

  /// Row rr of the tile-group at index si of precision `prec`'s streams;
  /// its scale and zero from runBuf[slot]'s lane `lane` when that is set; its
  /// outlier slots as `outliers` unless `rowSlots` is false; its zero left
  /// to the caller with `zeroApart`.
  GroupView view(IRB &r, const Precision &prec, Value si, Value rr,
                 Value slot, Value lane, bool rowSlots = true,
                 bool zeroApart = false) {
    OpBuilder &b = r.b;
    int64_t G = l.group, T = l.tile;
    Value base = r.add(r.mulI(si, T * G), r.mulI(rr, G));
    GroupView v;
    v.zeroApart = zeroApart;
    if (prec.bits == 16) {
      v.scale = r.f32(1.0);
      Value codes = prec.codes;
      v.chunk = [codes, base](IRB &r, Value k) {
        return r.vloadF32(codes, r.add(base, k), L);
      };
    } else {
      unsigned bits = prec.bits;
      Value local = r.add(r.mulI(si, T), rr); // row-group in this precision
      if (lane) {
        v.scale = r.load(runBuf, {slot, r.idx(0), lane});
        v.zero = r.load(runBuf, {slot, r.idx(1), lane});
      } else {
        v.scale = scales.at(r, r.add(local, prec.rowGroupBase));
        v.zero = zeros ? arith::UIToFPOp::create(
                             b, r.loc, b.getF32Type(),
                             r.loadBitsScalar(zeros,
                                              r.add(r.mulI(local, bits),
                                                    prec.zeroBitBase),
                                              bits))
                             .getResult()
                       : r.f32(double(1 << (bits - 1)));
      }
      Value codes = prec.codes;
      v.chunk = [codes, base, bits](IRB &r, Value k) {
        return codesToF32(
            r, unpackCodes(r, codes, chunkByte(r, base, k, bits), bits));
      };
      if (hasPlanes(bits, G)) {
        v.planeBits = bits;
        v.planes = [codes, base, bits](IRB &r, Value k) {
          return unpackPlanes(r, codes, chunkByte(r, base, k, bits),
                              bits);
        };
      }
      addLookup(r, v, isa, codes, base, bits);
      if (bits == 2 && slotIndex && rowSlots) {
        int64_t S = l.slots;
        Value first = r.mulI(local, S);
        Value idxs = slotIndex, vals = slotValue;
        v.outliers = [first, S, idxs, vals](
                         IRB &r, Value init,
                         llvm::function_ref<Value(IRB &, Value, Value, Value)>
                             f) {
          return r.forReduce(r.idx(0), r.idx(S), 1, init,
                             [&](Value s, Value acc) {
                               Value i = r.add(first, s);
                               return f(r, acc, r.loadIndexU(idxs, i),
                                        r.loadF32(vals, i));
                             });
        };
      }
    }
    return v;
  }

  const Layout &l;
  Value pmap, offsets;
  std::vector<Precision> precisions;
  ScaleSource scales;
  Value zeros, slotIndex, slotValue, runBuf, listBuf;
  LookupIsa isa;
};

/// Stores w = (raw - zero) * scale of the group's G columns at dst[0..G),
/// outlier slots included.
void storeGroup(IRB &r, const GroupView &v, int64_t G,
                llvm::function_ref<void(Value k, Value w)> storeVec,
                llvm::function_ref<void(Value col, Value add)> addAt) {
  Type f32 = r.b.getF32Type();
  Value scale = vector::BroadcastOp::create(r.b, r.loc, vec(f32), v.scale);
  Value zero =
      v.zero
          ? vector::BroadcastOp::create(r.b, r.loc, vec(f32), v.zero).getResult()
          : Value();
  r.forLoop(r.idx(0), r.idx(G), L, [&](Value k) {
    Value w = v.chunk(r, k);
    if (zero)
      w = arith::SubFOp::create(r.b, r.loc, w, zero);
    storeVec(k, arith::MulFOp::create(r.b, r.loc, w, scale));
  });
  if (v.outliers)
    v.outliers(r, r.f32(0.0), [&](IRB &r, Value acc, Value col, Value val) {
      addAt(col, val);
      return acc;
    });
}

/// Dequantizes the K columns of each of `rows` into dst[dstRows[i], :]
/// (f32), outlier slots included: the weights of a GEMM block, or embedding
/// rows of a quantized table.
void dequantizeRows(IRB &r, Decoder &dec, ValueRange rows, int64_t K,
                    int64_t G, Value dst, ValueRange dstRows) {
  dec.beginRows(r, rows);
  dec.forEachGroup(
      r, rows, K / G, r.f32(0.0),
      [&](IRB &r, Value g, ArrayRef<GroupView> views, Value acc) {
        Value gk = r.mulI(g, G);
        for (size_t i = 0; i < views.size(); ++i) {
          Value row = dstRows[i];
          storeGroup(
              r, views[i], G,
              [&](Value k, Value w) {
                vector::StoreOp::create(r.b, r.loc, w, dst,
                                        ValueRange{row, r.add(gk, k)});
              },
              [&](Value col, Value add) {
                Value at = r.add(gk, col);
                r.store(r.fadd(r.load(dst, {row, at}), add), dst, {row, at});
              });
        }
        return acc;
      });
}

/// r.forReduceN over a group's columns [0, G) in steps of `step`, unrolled
/// when it is at most 4 steps: the chunk offsets are then constants that
/// fold into the loads' addressing, instead of index arithmetic per chunk.
SmallVector<Value>
groupReduce(IRB &r, int64_t G, int64_t step, ValueRange inits,
            llvm::function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  if (G / step > 4)
    return r.forReduceN(r.idx(0), r.idx(G), step, inits, body);
  SmallVector<Value> values(inits);
  for (int64_t k = 0; k < G; k += step)
    values = body(r.idx(k), values);
  return values;
}

/// The row loop shared by all decoders. x: [M x K], y: [M x N] f32.
/// x (one row of K) permuted to the plane order of `bits`-bit codes:
/// xp[blk*B + s*16 + j] = x[blk*B + j*P + s] (B = 128/bits, P = 8/bits).
Value planeOrderX(IRB &r, Value x, int64_t K, unsigned bits) {
  int64_t B = planeBlock(bits), P = 8 / bits;
  Value xp = memref::AllocaOp::create(
      r.b, r.loc, MemRefType::get({K}, r.b.getF32Type()),
      r.b.getI64IntegerAttr(64));
  r.forLoop(r.idx(0), r.idx(K), 1, [&](Value i) {
    Value blk = r.mulI(r.divI(i, B), B), in = r.remI(i, B);
    Value src = r.add(blk, r.add(r.mulI(r.remI(in, 16), P), r.divI(in, 16)));
    r.store(r.load(x, {r.idx(0), src}), xp, i);
  });
  return xp;
}

/// The sum of each K-group's activations (x: one row of K), in a stack
/// buffer of K / G floats.
Value groupSumsX(IRB &r, Value x, int64_t K, int64_t G) {
  Value sums = memref::AllocaOp::create(
      r.b, r.loc, MemRefType::get({K / G}, r.b.getF32Type()),
      r.b.getI64IntegerAttr(64));
  r.forLoop(r.idx(0), r.idx(K / G), 1, [&](Value g) {
    Value gk = r.mulI(g, G);
    Value v = r.forReduce(r.idx(0), r.idx(G), L, r.splatF32(0.0, L),
                          [&](Value k, Value acc) {
                            return arith::AddFOp::create(
                                r.b, r.loc, acc,
                                r.vloadF32(x, {r.idx(0), r.add(gk, k)}, L));
                          });
    r.store(reduceAdd(r, v), sums, g);
  });
  return sums;
}

/// The decode GEMV (M = 1) of rows [n0, n0 + R): one vector accumulator
/// per row (vector<R x 16>); per group and row
///   acc[i] += scale[i] * sum_chunks (raw[i] - zero[i]) * x   (lane-wise),
/// each activation vector loaded once for the R rows, and one reduction per
/// row at the end.
void emitGemvRows(IRB &r, Decoder &dec, Value x, Value y, int64_t R,
                  int64_t K, int64_t G, Value n0,
                  const std::map<unsigned, Value> &xPlanes, Value xSums,
                  bool avx512) {
  Type f32 = r.b.getF32Type();
  // A block wider than kMaxRows is a whole tile, walked tile-group by
  // tile-group with the rows' accumulators in a stack buffer (see below).
  const bool wholeTile = R > kMaxRows;
  SmallVector<Value> rows;
  if (!wholeTile) {
    for (int64_t i = 0; i < R; ++i)
      rows.push_back(r.addI(n0, i));
    dec.beginRows(r, rows);
  }
  const int64_t Rv = wholeTile ? 1 : R; // rows per group view set
  // Each row's zero term, apart from its groups, where the decoder has it
  // (rowZeroTerm): then no group applies its zero.
  SmallVector<Value> rowZeros;
  if (!wholeTile && xSums)
    for (Value n : rows) {
      Value t = dec.rowZeroTerm(r, n, xSums, K / G);
      if (!t) {
        rowZeros.clear();
        break;
      }
      rowZeros.push_back(t);
    }
  const bool zerosApart = !rowZeros.empty();
  // Independent FMA chains: with few rows the loop would wait on one
  // accumulator's FMA latency (measured 2x for 4-bit planes at R = 1), so
  // each row has C chains, at least 2: with 4 rows of one chain each a
  // 128-code group's 8 FMAs per row still waited on each other (uniform
  // 4-bit at K = 11008: 21.7-23.6 -> 24.5-29.9 GB/s with 2 chains, mixed
  // weights unchanged). Row i's chain c is acc[i * C + c]. With AVX2 a
  // 16-lane chain is already two ymm chains, and the accumulators get at
  // most 8 of the 16 ymm registers: 2 chains per row up to 2 rows, 1 for
  // blocks of 4 (znver3, alternating runs: uniform 3-bit at R = 1
  // 10.9-11.2 -> 11.5-11.9 GB/s and 4-bit 13.0-14.1 -> 13.4-14.6 with 2
  // chains instead of 4, lookups unchanged; mixed weights at R = 4
  // 7.8-8.3 -> 8.8-9.2 with 1 chain instead of 2, which spilled). A walk
  // by whole tiles keeps 1 chain per row: its rows' chains go through a
  // stack buffer per tile-group anyway, and its rows are independent
  // iterations whose FMA latencies overlap; 2 chains cost 2 more loads
  // and stores per row and group (7B-shaped mixed decode, one process
  // alternating two modules step by step, 200 steps each, 3 runs: 1-3%
  // less time in the products with 1 chain).
  const int64_t C =
      avx512 ? std::max<int64_t>(2, kMaxRows / Rv)
             : (wholeTile ? 1 : std::clamp<int64_t>(kMaxRows / Rv, 1, 2));
  auto accType = VectorType::get({Rv * C, L}, f32);
  Value init = arith::ConstantOp::create(r.b, r.loc, r.b.getZeroAttr(accType));
  auto gemv = [&](IRB &r, Value g, ArrayRef<GroupView> views,
                  Value acc) -> Value {
    Value gk = r.mulI(g, G);
    const GroupView &v0 = views.front();
    auto xp = xPlanes.find(v0.planeBits);
    bool planes = v0.planeBits && xp != xPlanes.end();
    // The lookup path when the decoder has it for this walk (all views of a
    // block come from one decoder and precision, so v0 speaks for all).
    bool lookup = v0.table && (planes ? bool(v0.planeIndices)
                                      : bool(v0.indices));
    // Unpacked codes leave the zero out of the chunk loop:
    // sum((c - z) x) = sum(c x) - z sum(x), with the group's activation
    // sum computed once per task (one subtraction per 16 codes saved).
    Value xs;
    const bool apart = zerosApart || v0.zeroApart;
    if (!lookup && xSums && v0.zero && !apart)
      xs = r.load(xSums, g);
    SmallVector<Value> zeros;
    for (const GroupView &v : views)
      zeros.push_back(v.zero && !xs && !apart
                          ? vector::BroadcastOp::create(r.b, r.loc, vec(f32),
                                                        v.zero)
                                .getResult()
                          : Value());
    SmallVector<Value> tables;
    if (lookup)
      for (const GroupView &v : views)
        tables.push_back(v.table(r, apart));
    // A view's weights for the raw codes or indices `c` of one chunk.
    auto weights = [&](size_t i, Value c) -> Value {
      if (lookup)
        return tableLookup(r, tables[i], c, views[i].lookupIsa,
                           views[i].lookupBits);
      return zeros[i] ? arith::SubFOp::create(r.b, r.loc, c, zeros[i])
                            .getResult()
                      : c;
    };
    // A (<= C) chains per row in this group. Lookup weights are final (the
    // table holds the scale), so their chains run on across groups from
    // the carried ones; others start at 0 and are scaled at the group's end.
    auto chainInits = [&](int64_t A) {
      SmallVector<Value> inits;
      for (size_t i = 0; i < views.size(); ++i)
        for (int64_t a = 0; a < A; ++a)
          inits.push_back(
              lookup ? vector::ExtractOp::create(
                           r.b, r.loc, acc,
                           ArrayRef<int64_t>{int64_t(i) * C + a})
                           .getResult()
                     : r.splatF32(0.0, L));
      return inits;
    };
    SmallVector<Value> all;
    int64_t A = 1;
    if (planes) {
      // U plane blocks per step, so that a row has up to C chains.
      int64_t P = 8 / v0.planeBits, B = planeBlock(v0.planeBits), U = 1;
      while (P * U < C && G % (2 * U * B) == 0)
        U *= 2;
      A = std::min(C, P * U);
      SmallVector<Value> partInit = chainInits(A);
      all = groupReduce(
          r, G, U * B, partInit, [&](Value k, ValueRange a) {
            SmallVector<Value> next(a);
            for (int64_t u = 0; u < U; ++u) {
              Value ku = r.addI(k, u * B);
              SmallVector<SmallVector<Value>> codes;
              for (const GroupView &v : views)
                codes.push_back(lookup ? v.planeIndices(r, ku)
                                       : v.planes(r, ku));
              for (int64_t s = 0; s < P; ++s) {
                Value xv = r.vloadF32(
                    xp->second, {r.add(r.add(gk, ku), r.idx(s * L))}, L);
                for (size_t i = 0; i < views.size(); ++i) {
                  Value &part = next[i * A + (u * P + s) % A];
                  part = vector::FMAOp::create(
                      r.b, r.loc, weights(i, codes[i][size_t(s)]), xv, part);
                }
              }
            }
            return next;
          });
    } else {
      A = C;
      while (A > 1 && G % (A * L) != 0)
        A /= 2;
      SmallVector<Value> partInit = chainInits(A);
      all = groupReduce(
          r, G, A * L, partInit, [&](Value k, ValueRange a) {
            SmallVector<Value> next(a);
            for (int64_t u = 0; u < A; ++u) {
              Value ku = r.addI(k, u * L);
              Value xv = r.vloadF32(x, {r.idx(0), r.add(gk, ku)}, L);
              for (size_t i = 0; i < views.size(); ++i) {
                Value c = lookup ? views[i].indices(r, ku)
                                 : views[i].chunk(r, ku);
                Value &part = next[i * A + u];
                part = vector::FMAOp::create(r.b, r.loc, weights(i, c), xv,
                                             part);
              }
            }
            return next;
          });
    }
    for (auto [i, v] : llvm::enumerate(views)) {
      int64_t row0 = int64_t(i) * C;
      if (lookup) { // the chains carry on; the table applied the scale
        for (int64_t a = 0; a < A; ++a)
          acc = vector::InsertOp::create(r.b, r.loc, all[i * A + a], acc,
                                         ArrayRef<int64_t>{row0 + a});
      } else {
        Value sum = all[i * A];
        for (int64_t a = 1; a < A; ++a)
          sum = arith::AddFOp::create(r.b, r.loc, sum, all[i * A + a]);
        if (xs && v.zero) {
          Value minus = arith::NegFOp::create(r.b, r.loc, r.fmul(v.zero, xs));
          sum = arith::AddFOp::create(
              r.b, r.loc, sum,
              vector::InsertOp::create(r.b, r.loc, minus, r.splatF32(0.0, L),
                                       ArrayRef<int64_t>{0}));
        }
        Value chain0 = vector::ExtractOp::create(r.b, r.loc, acc,
                                                 ArrayRef<int64_t>{row0});
        Value scale =
            vector::BroadcastOp::create(r.b, r.loc, vec(f32), v.scale);
        chain0 = vector::FMAOp::create(r.b, r.loc, sum, scale, chain0);
        acc = vector::InsertOp::create(r.b, r.loc, chain0, acc,
                                       ArrayRef<int64_t>{row0});
      }
      if (v.outliers) {
        Value extra = v.outliers(
            r, r.f32(0.0), [&](IRB &r, Value s, Value col, Value val) {
              return r.fadd(s,
                            r.fmul(val, r.load(x, {r.idx(0), r.add(gk, col)})));
            });
        Value lane = vector::InsertOp::create(r.b, r.loc, extra,
                                              r.splatF32(0.0, L),
                                              ArrayRef<int64_t>{0});
        Value chain0 = vector::ExtractOp::create(r.b, r.loc, acc,
                                                 ArrayRef<int64_t>{row0});
        chain0 = arith::AddFOp::create(r.b, r.loc, chain0, lane);
        acc = vector::InsertOp::create(r.b, r.loc, chain0, acc,
                                       ArrayRef<int64_t>{row0});
      }
    }
    return acc;
  };
  // Row `row`'s result: its C chains added, reduced, stored.
  auto finishRow = [&](ArrayRef<Value> chains, Value row, Value extra) {
    Value rowAcc = chains.front();
    for (Value c : chains.drop_front())
      rowAcc = r.fadd(rowAcc, c);
    Value sum = reduceAdd(r, rowAcc);
    r.store(extra ? r.fadd(sum, extra) : sum, y, {r.idx(0), row});
  };
  if (wholeTile) {
    // Mixed weights, a tile of R rows at a time: each listed tile-group's
    // scales, zeros and prefetches serve all R rows, the rows are a loop
    // (one row's views, chains and codes in registers at a time), and each
    // row's C chains live in accBuf between its groups. Blocks of 4 rows
    // redid that per-tile-group work for each block and, on AVX2, spilled
    // 4 rows' plane codes and chains around the FMAs.
    // The rows' outlier-slot products and their zero terms (-scale x zero
    // x the group's activation sum) are summed apart, 16 rows a vector, in
    // rowTerms (R floats), in a first pass over the tile-groups: per row
    // and 2-bit tile-group the slot's scalar product and its insertion into
    // a chain were 11 of the row loop's 85 instructions per 128 codes, and
    // the zero 2 more of its 60 (a table (code - zero) x scale, now code x
    // scale). A slot's activations are 16 scalar loads: gathered as a
    // vector, LLVM built their 64-bit addresses in vectors and extracted
    // each (55 instructions per 16 where loading each column takes 34).
    auto bufType = MemRefType::get({R, C, L}, f32);
    Value accBuf = memref::AllocaOp::create(r.b, r.loc, bufType,
                                            r.b.getI64IntegerAttr(64));
    Value rowTerms = memref::AllocaOp::create(
        r.b, r.loc, MemRefType::get({R}, f32), r.b.getI64IntegerAttr(64));
    r.forLoop(r.idx(0), r.idx(R), 1, [&](Value i) {
      for (int64_t c = 0; c < C; ++c)
        vector::StoreOp::create(r.b, r.loc, r.splatF32(0.0, L), accBuf,
                                ValueRange{i, r.idx(c), r.idx(0)});
    });
    for (int64_t run = 0; run < R; run += L)
      vector::StoreOp::create(r.b, r.loc, r.splatF32(0.0, L), rowTerms,
                              ValueRange{r.idx(run)});
    dec.forEachTileGroup(
        r, n0, K / G, /*zerosApart=*/bool(xSums),
        [&](IRB &r, Value g, const Decoder::TileRows &terms) {
          Value gk = r.mulI(g, G);
          Value minusXs;
          if (terms.scaledZeros)
            minusXs = vector::BroadcastOp::create(
                r.b, r.loc, vec(f32),
                arith::NegFOp::create(r.b, r.loc, r.load(xSums, g)));
          for (int64_t run = 0; run < R; run += L) {
            Value sum = r.vloadF32(rowTerms, {r.idx(run)}, L);
            if (terms.scaledZeros)
              sum = vector::FMAOp::create(r.b, r.loc,
                                          terms.scaledZeros(r, run), minusXs,
                                          sum);
            for (int64_t s = 0; s < terms.slots; ++s) {
              auto [cols, values] = terms.slotAt(r, run, s);
              SmallVector<Value> picked;
              for (Value col : cols)
                picked.push_back(r.load(x, {r.idx(0), r.add(gk, col)}));
              Value xs = vector::FromElementsOp::create(r.b, r.loc, vec(f32),
                                                        picked);
              sum = vector::FMAOp::create(r.b, r.loc, values, xs, sum);
            }
            vector::StoreOp::create(r.b, r.loc, sum, rowTerms,
                                    ValueRange{r.idx(run)});
          }
        },
        [&](IRB &r, Value g, Decoder::RowView viewOf) {
          r.forLoop(r.idx(0), r.idx(R), 1, [&](Value i) {
            Value acc = init;
            for (int64_t c = 0; c < C; ++c)
              acc = vector::InsertOp::create(
                  r.b, r.loc,
                  vector::LoadOp::create(r.b, r.loc, vec(f32), accBuf,
                                         ValueRange{i, r.idx(c), r.idx(0)}),
                  acc, ArrayRef<int64_t>{c});
            GroupView v = viewOf(r, i);
            acc = gemv(r, g, ArrayRef<GroupView>(v), acc);
            for (int64_t c = 0; c < C; ++c)
              vector::StoreOp::create(
                  r.b, r.loc,
                  vector::ExtractOp::create(r.b, r.loc, acc,
                                            ArrayRef<int64_t>{c}),
                  accBuf, ValueRange{i, r.idx(c), r.idx(0)});
          });
        });
    // Rows are finished one at a time: reducing them 4 at a time
    // (reduceAdd4) made the whole GEMV slower (znver3, 7B-shaped mixed,
    // alternating runs: 7.8-10.3 GB/s per row, 6.7-8.3 by 4s).
    r.forLoop(r.idx(0), r.idx(R), 1, [&](Value i) {
      SmallVector<Value> chains;
      for (int64_t c = 0; c < C; ++c)
        chains.push_back(vector::LoadOp::create(
            r.b, r.loc, vec(f32), accBuf, ValueRange{i, r.idx(c), r.idx(0)}));
      finishRow(chains, r.add(n0, i), r.load(rowTerms, i));
    });
    return;
  }
  Value acc = dec.forEachGroup(r, rows, K / G, init, gemv);
  for (int64_t i = 0; i < R; ++i) {
    SmallVector<Value> chains;
    for (int64_t c = 0; c < C; ++c)
      chains.push_back(vector::ExtractOp::create(
          r.b, r.loc, acc, ArrayRef<int64_t>{i * C + c}));
    finishRow(chains, rows[i], zerosApart ? rowZeros[size_t(i)] : Value());
  }
}

/// Rows and tokens per block of the prefill GEMM (R x T accumulators). 8 x
/// 3 loads 11 vectors per 24 FMAs where 4 x 4 loaded 8 per 16, half of them
/// activations from L2; Llama-2-7B-shaped prefill, 4 alternating runs:
/// uniform 4-bit 201-238 -> 226-247 tok/s, fp32 199-242 -> 234-276.
constexpr int64_t kGemmRows = 8, kGemmTokens = 3;
/// The prefill GEMM's register block: rows x tokens accumulators of
/// `lanes` lanes. kGemmRows x kGemmTokens of 16 lanes with 32 vector
/// registers (AVX-512: 24 zmm). With 16 (AVX2) 8 x 3 accumulators of 16
/// lanes are 48 ymm and spilled around every FMA (znver3: ~400 stack
/// accesses per prefill task); there 4 rows x 3 tokens of 8 lanes: 12 ymm
/// accumulators, 3 activations, 1 weight, 7 loads per 12 FMAs where 2 x 2
/// blocks of 16 lanes loaded 8 per 8 (znver3, 7B-shaped prefill, 3
/// alternating runs, tok/s: fp32 70-108 -> 122-131, uniform-4 91-112 ->
/// 131-153, mixed 71-113 -> 124-149, lut-3 63-81 -> 101-103; 2 x 6 and
/// 3 x 4 blocks of 8 lanes measured no better than 2 x 2).
struct RegisterBlock {
  int64_t rows, tokens, lanes;
};
RegisterBlock gemmRegisterBlock(bool avx512) {
  return avx512 ? RegisterBlock{kGemmRows, kGemmTokens, L}
                : RegisterBlock{4, 3, 8};
}

/// Columns per K-chunk of the prefill GEMM: the R dequantized rows' chunk
/// (R x 4 KiB) stays in the L1 cache while every token block passes over
/// it, where whole rows of a wide K (4 x 16 KiB at K = 4096) came from L2
/// again for each token block.
constexpr int64_t kGemmChunk = 1024;

/// The prefill GEMM (any M) of rows [n0, n0 + R): the R rows are
/// dequantized once into wbuf (R x K floats), then, K-chunk by K-chunk,
/// every block of kGemmTokens input rows is multiplied with them in
/// registers: R x T vector accumulators over the chunk (each weight and
/// activation vector loaded once per block), one reduction per (row,
/// token) and chunk, added into y.
void emitGemmRows(IRB &r, Decoder &dec, Value x, Value y, Value m, int64_t R,
                  int64_t K, int64_t G, Value n0, Value wbuf,
                  RegisterBlock block) {
  Type f32 = r.b.getF32Type();
  SmallVector<Value> rows, slots;
  for (int64_t i = 0; i < R; ++i) {
    rows.push_back(r.addI(n0, i));
    slots.push_back(r.idx(i));
  }
  // Decoders take at most kMaxRows rows at a time.
  for (int64_t i = 0; i < R; i += kMaxRows) {
    int64_t n = std::min(kMaxRows, R - i);
    dequantizeRows(r, dec, ArrayRef<Value>(rows).slice(i, n), K, G, wbuf,
                   ArrayRef<Value>(slots).slice(i, n));
  }
  // Rows [i0, i0 + R) of the dequantized block against tokens m0.. m0 + T.
  const int64_t V = block.lanes;
  auto tokens = [&](Value k0, Value k1, Value m0, int64_t i0, int64_t R,
                    int64_t T) {
    SmallVector<Value> zeros(R * T, r.splatF32(0.0, V));
    SmallVector<Value> accs = r.forReduceN(
        k0, k1, V, zeros, [&](Value k, ValueRange a) {
          SmallVector<Value> next(a);
          SmallVector<Value> ws, xs;
          for (int64_t i = 0; i < R; ++i)
            ws.push_back(vector::LoadOp::create(r.b, r.loc, vec(f32, V), wbuf,
                                                ValueRange{r.idx(i0 + i), k}));
          for (int64_t t = 0; t < T; ++t)
            xs.push_back(r.vloadF32(x, {r.addI(m0, t), k}, V));
          for (int64_t i = 0; i < R; ++i)
            for (int64_t t = 0; t < T; ++t)
              next[i * T + t] =
                  vector::FMAOp::create(r.b, r.loc, ws[i], xs[t], next[i * T + t]);
          return next;
        });
    // The first chunk stores, the others add to what it stored.
    Value first = arith::CmpIOp::create(r.b, r.loc, arith::CmpIPredicate::eq,
                                        k0, r.idx(0));
    for (int64_t i = 0; i < R; ++i)
      for (int64_t t = 0; t < T; ++t) {
        SmallVector<Value> at{r.addI(m0, t), rows[i0 + i]};
        Value before = arith::SelectOp::create(r.b, r.loc, first, r.f32(0.0),
                                               r.load(y, at));
        r.store(r.fadd(before, reduceAdd(r, accs[i * T + t])), y, at);
      }
  };
  int64_t T = block.tokens;
  Value blockEnd = r.mulI(r.divI(m, T), T);
  r.forLoop(r.idx(0), r.idx(K), kGemmChunk, [&](Value k0) {
    Value k1 = K % kGemmChunk == 0 ? r.addI(k0, kGemmChunk)
                                   : r.minI(r.addI(k0, kGemmChunk), r.idx(K));
    for (int64_t i0 = 0; i0 < R; i0 += block.rows) {
      int64_t rs = std::min(block.rows, R - i0);
      r.forLoop(r.idx(0), blockEnd, T,
                [&](Value m0) { tokens(k0, k1, m0, i0, rs, T); });
      r.forLoop(blockEnd, m, 1,
                [&](Value m0) { tokens(k0, k1, m0, i0, rs, 1); });
    }
  });
}

/// Rows per block of the decode GEMV. Blocks share each activation load
/// and, for mixed weights, the precision switch; they cost registers, which
/// the unpacking of single rows needs. Measured with `mixq bench` on
/// Llama-2-7B shapes (AMD EPYC, AVX-512): mixed 8.5 -> 13 GB/s and 4-bit
/// at K = 11008 17 -> 26 GB/s with 4 rows, but 3-bit and LUT codes at
/// K = 4096 lose a third; so 4 rows for mixed weights and for activations
/// that do not fit a 32 KiB L1 cache, else 1. With 16 vector registers
/// (AVX2) 4 rows of 2 chains of 16 lanes take all 16 ymm registers, so
/// there codes that need unpacking or lookup take 1 row at any K (znver3,
/// 2 threads, K = 11008, alternating runs, GB/s with 4 / 2 / 1 rows:
/// uniform 2-bit 5.3-5.7 / 6.8-7.0 / 9.1-9.2, 3-bit 9.4-10.0 / 6.9-9.9 /
/// 9.2-11.1, LUT 3-bit 6.7-8.7 / 8.0-8.7 / 9.8-10.0); dense weights, which
/// only load and convert, and mixed weights keep their blocks of 4 (f16
/// 31.9-37.8 / 31.2-39.6 / 26.8-32.7). With AVX2, a decoder that walks
/// whole tiles (`tileRows`, mixed weights) takes a tile per block (see
/// emitGemvRows; znver3, alternating runs: 8.7-9.1 GB/s in blocks of 4
/// rows, 10.1-10.7 by tiles); AVX-512's 32 registers hold blocks of 4 rows
/// without spilling, and tiles are not measured there. 8-bit codes, which
/// only widen and convert, take blocks of 4 at any K: the int8 head of
/// stories15M (32000 x 288, --table-bits 8) 283-295 -> 237-239 us per
/// decode step (znver3, alternating runs; 2 rows 263-268; reducing the 4
/// rows together with reduceAdd4 measured no better, 230-248). At that K
/// dense FP16 rows do not: 4 rows took 553-771 us against 275-430 for 1
/// (2 rows 540-662).
int64_t gemvRowBlock(const Layout &l, int64_t K, bool avx512,
                     int64_t tileRows) {
  if (!avx512 && tileRows > kMaxRows)
    return tileRows;
  bool wideK = K * 4 > 32 * 1024;
  bool bytes = l.scheme == Scheme::Uniform && l.bits.size() == 1 &&
               l.bits.front() == 8;
  if (bytes || l.scheme == Scheme::Mixed ||
      (wideK && (avx512 || l.scheme == Scheme::Dense)))
    return kMaxRows;
  return 1;
}

/// Output rows [rowBegin, rowEnd) of y[M x N] = x[M x K] * W^T: blocks of
/// `rowBlock` rows for the decode GEMV, of kGemmRows rows for the prefill
/// GEMM (then single rows for the tails). wbuf: kGemmRows x K floats.
/// zeroSums: the GEMV takes zeros out of its chunk loop (uniform, mixed),
/// so it needs each group's activation sum.
void emitRows(IRB &r, Decoder &dec, Value x, Value y, Value m,
              bool singleRow, int64_t N, int64_t K, int64_t G,
              int64_t rowsPerTask, Value rowBegin, Value rowEnd, Value wbuf,
              ArrayRef<unsigned> planeWidths, int64_t rowBlock, bool avx512,
              bool zeroSums) {
  // A task's rows are [k * rowsPerTask, min(N, (k + 1) * rowsPerTask)): when
  // the block divides both, no block is ever cut and no tail loop is needed
  // (each tail is a second copy of the decoder's code).
  auto blocked = [&](int64_t block,
                     llvm::function_ref<void(Value, int64_t)> body) {
    Value blockEnd = rowEnd;
    if (N % block != 0 || rowsPerTask % block != 0) {
      Value span = arith::SubIOp::create(r.b, r.loc, rowEnd, rowBegin);
      blockEnd = r.add(rowBegin, r.mulI(r.divI(span, block), block));
    }
    r.forLoop(rowBegin, blockEnd, block,
              [&](Value n0) { body(n0, block); });
    if (blockEnd != rowEnd)
      r.forLoop(blockEnd, rowEnd, 1, [&](Value n) { body(n, 1); });
  };
  if (!singleRow) {
    blocked(kGemmRows, [&](Value n0, int64_t R) {
      emitGemmRows(r, dec, x, y, m, R, K, G, n0, wbuf,
                   gemmRegisterBlock(avx512));
    });
    return;
  }
  // Activations in plane order, once per task, for the decoders' fast path.
  std::map<unsigned, Value> xPlanes;
  for (unsigned bits : planeWidths)
    if (hasPlanes(bits, G))
      xPlanes[bits] = planeOrderX(r, x, K, bits);
  Value xSums = zeroSums ? groupSumsX(r, x, K, G) : Value();
  blocked(rowBlock, [&](Value n0, int64_t R) {
    emitGemvRows(r, dec, x, y, R, K, G, n0, xPlanes, xSums, avx512);
  });
}

/// The scales of a weight's groups (first- or second-order). With
/// `mayBeEmpty` (mixed weights), the streams may hold no scales at all.
ScaleSource scaleSource(IRB &r, WeightSource &src, const WeightInfo &w,
                        bool &missing, bool mayBeEmpty = false) {
  auto view = [&](llvm::StringRef s) -> Value {
    auto v = src.stream(r, w, s, mayBeEmpty);
    if (failed(v)) {
      missing = true;
      return Value();
    }
    return *v;
  };
  ScaleSource s;
  s.scaleBits = w.layout.scaleBits;
  s.scaleBlock = w.layout.scaleBlock;
  if (s.scaleBits == 0) {
    s.scales = view("scales");
  } else {
    s.codes = view("scale_codes");
    s.meta = view("scale_meta");
  }
  return s;
}

/// The K-group width a decoder works in.
int64_t groupWidth(const ProductSpec &product, const WeightInfo &w) {
  const Layout &l = w.layout;
  if ((l.scheme == Scheme::Uniform || l.scheme == Scheme::Mixed) && l.group)
    return l.group;
  if (l.scheme == Scheme::Uniform)
    return w.cols;
  if (product.plan)
    return product.plan.getTileK();
  return w.cols;
}

/// The decoder of a weight's scheme over the streams `src` gives; sets
/// `missing` when a stream is absent. QUIK has its own kernel. Nothing in
/// the code it emits depends on the weight's data beyond what `src` gives,
/// so tasks of layers with the same shape and layout parameters are equal.
std::unique_ptr<Decoder> makeDecoder(IRB &r, WeightSource &src,
                                     const FunctionEnv &env,
                                     const WeightInfo &w, int64_t G,
                                     bool &missing) {
  const Layout &l = w.layout;
  int64_t K = w.cols;
  OpBuilder &b = r.b;
  Type f32 = b.getF32Type();
  auto view = [&](llvm::StringRef s, bool mayBeEmpty = false) -> Value {
    auto v = src.stream(r, w, s, mayBeEmpty);
    if (failed(v)) {
      missing = true;
      return Value();
    }
    return *v;
  };
  LookupIsa isa{env.avx512, env.avx512 && env.vbmi,
                env.avx2 && !env.avx512};
  std::unique_ptr<Decoder> dec;
  switch (l.scheme) {
  case Scheme::Dense:
    dec = std::make_unique<DenseDecoder>(view("values"), K, G);
    break;
  case Scheme::Uniform:
    dec = std::make_unique<UniformDecoder>(
        view("codes"), scaleSource(r, src, w, missing),
        l.asymmetric ? view("zeros") : Value(), unsigned(l.bits[0]), K, G,
        isa);
    break;
  case Scheme::Lut: {
    Value row = memref::AllocaOp::create(
        b, r.loc, MemRefType::get({kMaxRows, L}, f32), b.getI64IntegerAttr(64));
    dec = std::make_unique<LutDecoder>(view("codes"), view("lut"), row,
                                       unsigned(l.bits[0]), K, G, isa);
    break;
  }
  case Scheme::Mixed: {
    // Every precision of the layout gets its case, whether this weight has
    // tile-groups of it or not (then its streams are empty, and the
    // precision map never selects it): the allocation is data, not code.
    std::vector<MixedDecoder::Precision> precs;
    int64_t rowGroups = 0, zeroBits = 0;
    bool first = true;
    for (size_t q = 0; q < l.bits.size(); ++q) {
      MixedDecoder::Precision p;
      p.bits = unsigned(l.bits[q]);
      p.codes = view("codes" + std::to_string(l.bits[q]), /*mayBeEmpty=*/true);
      if (p.bits != 16) {
        // The first quantized precision starts at 0 in every weight.
        p.rowGroupBase = first ? r.idx(0) : src.index(r, rowGroups);
        p.zeroBitBase = first ? r.idx(0) : src.index(r, zeroBits);
        first = false;
        rowGroups += l.alloc[q] * l.tile;
        zeroBits += l.alloc[q] * l.tile * l.bits[q];
      }
      precs.push_back(p);
    }
    ScaleSource s = scaleSource(r, src, w, missing, /*mayBeEmpty=*/true);
    bool slots = l.outliers == OutlierKind::Slots;
    Value runBuf = memref::AllocaOp::create(
        b, r.loc,
        MemRefType::get({K / G, 2, std::max<int64_t>(L, l.tile)}, f32),
        b.getI64IntegerAttr(64));
    int64_t P = int64_t(precs.size());
    Value listBuf = memref::AllocaOp::create(
        b, r.loc,
        MemRefType::get({MixedDecoder::listBufSize(P, K / G)}, b.getI32Type()),
        b.getI64IntegerAttr(64));
    MixedDecoder::clearLists(r, listBuf, P, K / G);
    dec = std::make_unique<MixedDecoder>(
        l, view("pmap"), view("offsets"), precs, s,
        l.asymmetric ? view("zeros", true) : Value(),
        slots ? view("slot_index", true) : Value(),
        slots ? view("slot_value", true) : Value(), runBuf, listBuf, isa);
    break;
  }
  case Scheme::Quik:
    break;
  }
  return dec;
}

} // namespace

int64_t qmatmulScratchBytesPerRow(const WeightInfo &w) {
  if (w.layout.scheme != Scheme::Quik)
    return 0;
  // Per token: the compacted (then quantized, centred) activations as
  // f32/i32, the token's scale and zero point, the u8 codes for VNNI, and
  // (from quikOutlierWord on) the FP16 columns' activations as f32.
  return quikOutlierWord(w) * 4 + (w.layout.fp16Cols * 4 + 63) / 64 * 64;
}

int64_t quikOutlierWord(const WeightInfo &w) {
  int64_t kq = w.cols - w.layout.fp16Cols;
  int64_t bytes = kq * 4 + 16 + kq;
  return (bytes + 63) / 64 * 64 / 4;
}

LogicalResult emitQuikMatmul(IRB &r, FunctionEnv &env,
                             const ProductSpec &product, const WeightInfo &w,
                             Value x, Value y, Value m, Value scratch);

LogicalResult emitDequantRows(IRB &r, FunctionEnv &env, const WeightInfo &w,
                              Value rows, Value out, Value m) {
  const Layout &l = w.layout;
  if (l.scheme == Scheme::Quik || l.outliers == OutlierKind::Csr)
    return failure();
  int64_t G = (l.scheme == Scheme::Uniform || l.scheme == Scheme::Mixed) &&
                      l.group
                  ? l.group
                  : w.cols;
  if (G % L != 0)
    return failure();
  bool missing = false;
  InlineWeights src(*env.table, env.streams);
  std::unique_ptr<Decoder> dec = makeDecoder(r, src, env, w, G, missing);
  if (missing)
    return failure();
  r.forLoop(r.idx(0), m, 1, [&](Value mi) {
    Value n = r.toIndex(r.load(rows, mi));
    dequantizeRows(r, *dec, n, w.cols, G, out, mi);
  });
  return success();
}

LogicalResult emitQMatmul(IRB &r, FunctionEnv &env, const ProductSpec &product,
                          const WeightInfo &w, Value x, Value y, Value m,
                          Value scratch) {
  const Layout &l = w.layout;
  if (l.scheme == Scheme::Quik)
    return emitQuikMatmul(r, env, product, w, x, y, m, scratch);
  Operation *op = product.op;
  int64_t K = w.cols, N = w.rows;
  int64_t G = groupWidth(product, w);
  if (K % L != 0)
    return op->emitOpError()
           << "the CPU kernels read weights " << L << " columns at a time; '"
           << w.name << "' has K = " << K << " columns, so no layout of it "
           << "compiles for the CPU";
  if (G % L != 0 || K % G != 0)
    return op->emitOpError()
           << "the CPU kernels read groups " << L << " columns at a time; '"
           << w.name << "' has groups of " << G << " columns: quantize it "
           << "with a --group (or --mixed-group) that is a multiple of " << L
           << " and divides K = " << K;
  if (l.outliers == OutlierKind::Csr && !product.excludeOutliers)
    return op->emitOpError("CSR outliers must be split off first "
                           "(-mixq-split-outliers)");
  int64_t rowsPerTask = product.rowsPerTask;
  if (l.scheme == Scheme::Mixed && rowsPerTask % l.tile != 0)
    return op->emitOpError()
           << "a task's " << rowsPerTask << " rows of '" << w.name
           << "' must be whole tile-groups of " << l.tile << " rows";
  auto xType = cast<MemRefType>(x.getType());
  bool singleRow = xType.hasStaticShape() && xType.getDimSize(0) == 1;
  int64_t blocks = (N + rowsPerTask - 1) / rowsPerTask;
  bool failedStreams = false;

  SmallVector<Value> dyn;
  if (!xType.hasStaticShape())
    dyn.push_back(m);
  emitParallelFor(
      r, env, r.idx(blocks), ValueRange{x, y}, dyn, "mixq_qmatmul",
      [&](IRB &r, TaskArgs &args, ValueRange caps, ValueRange sizes,
          Value begin, Value end) {
        Value tx = caps[0], ty = caps[1];
        Value tm = sizes.empty() ? r.idx(1) : sizes[0];
        OpBuilder &b = r.b;
        Type f32 = b.getF32Type();
        Value wbuf;
        if (!singleRow)
          wbuf = memref::AllocaOp::create(
              b, r.loc, MemRefType::get({kGemmRows, K}, f32),
              b.getI64IntegerAttr(64));
        std::unique_ptr<Decoder> dec =
            makeDecoder(r, args, env, w, G, failedStreams);
        if (failedStreams)
          return;
        Value lo = r.mulI(begin, rowsPerTask);
        Value hi = r.minI(r.mulI(end, rowsPerTask), r.idx(N));
        // Plane blocks of 2- and 4-bit codes; with AVX2 not of 4-bit ones,
        // whose planes widen bytes across 128-bit lanes (vpmovzxbd from a
        // register, 1.3 cycles each on znver3): the per-lane shifts of the
        // chunk path do 16 codes with 2 broadcast loads, 2 vpsrlvd and 2
        // vpand (uniform 4-bit GEMV 9.4-11.5 -> 13.1-13.8 GB/s).
        SmallVector<unsigned> planeWidths;
        for (int64_t bits : l.bits)
          if ((bits == 2 || bits == 4) &&
              (l.scheme == Scheme::Uniform || l.scheme == Scheme::Mixed))
            planeWidths.push_back(unsigned(bits));
        emitRows(r, *dec, tx, ty, tm, singleRow, N, K, G, rowsPerTask, lo,
                 hi, wbuf, planeWidths,
                 gemvRowBlock(l, K, env.avx512, dec->tileRows()), env.avx512,
                 /*zeroSums=*/l.scheme == Scheme::Uniform ||
                     l.scheme == Scheme::Mixed);
      });
  if (failedStreams)
    return op->emitOpError() << "'" << w.name << "': a stream its layout "
                                "needs is missing";
  return success();
}

} // namespace mixq::cpu
