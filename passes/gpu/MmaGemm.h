//===- MmaGemm.h - The tensor-core GEMM skeleton --------------*- C++ -*-===//
//
// What every weight format's prefill GEMM shares (MmaGemmKernel.cpp): the
// block and warp mapping, the kernel signature tail (x16, out, M), the
// shared-memory slots, the x copies, the tagged K loop that
// -mixq-pipeline-dequant pipelines, ldmatrix and mma.sync, the lop3 decode
// of a code pair and the guarded epilogue. A format supplies its streams,
// its weight copies and raw per-tile loads (phase `copy`), its scale
// dequantization (phase `scales`) and its B fragments (phase `compute`):
// uniform, LUT and QUIK codes in MmaGemmKernel.cpp, mixed 2/4/16 in
// MixedGemmKernel.cpp. The operands are f16 (mma.sync m16n8k16), or
// signed 8- or 4-bit integer codes with s32 accumulators (m16n8k32,
// m16n8k64: QUIK's quantized activations, QuikGemmKernel.cpp), whose
// x tiles, ldmatrix and fragment registers are the same bytes.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_GPU_MMAGEMM_H
#define MIXQ_PASSES_GPU_MMAGEMM_H

#include "passes/gpu/GpuKernels.h"

namespace mixq::device {

constexpr int64_t kGemmWarps = 4;
constexpr int64_t kGemmThreads = kWarp * kGemmWarps;
/// Static shared memory a block may use without an opt-in.
constexpr int64_t kStaticSmem = 48 * 1024;
/// f16 of padding per x row in shared memory: rows 16 bytes apart modulo
/// 128, so ldmatrix's 8 row reads hit distinct banks.
constexpr int64_t kXPad = 8;

/// What the tensor cores multiply: f16 x f16 into f32, or signed integer
/// codes (both operands 8-bit, or both 4-bit) into s32.
enum class MmaOperands { F16, S8, S4 };
inline int64_t operandBits(MmaOperands o) {
  return o == MmaOperands::F16 ? 16 : o == MmaOperands::S8 ? 8 : 4;
}

/// The widest cp.async (16, 8 or 4 bytes) that divides both a tile's
/// `chunkBytes` of a code row and the row's `rowBytes`.
int64_t codeCopyBytes(int64_t chunkBytes, int64_t rowBytes);

/// The rows of a 2-D vector (or the elements of a 1-D vector of 32-bit
/// values) reinterpreted as the rows of `type`, row by row (the NVVM
/// lowering takes 1-D bitcasts only).
mlir::Value bitcastRows(IRB &r, mlir::Value v, mlir::VectorType type);

/// Four 4-bit two's-complement codes (bits 0..15 of `half`, i32) as four
/// bytes of 16 c each: each nibble moved to the top of its byte, exact in
/// s8 (the caller divides the product by 16).
mlir::Value widenCodeNibbles(IRB &r, mlir::Value half);

/// Shared-memory bytes of S stages of x (BK columns) and code rows
/// (`codeStride` words), plus `extra`.
inline int64_t gemmSmemBytes(int64_t stages, int64_t bk, int64_t codeStride,
                             int64_t extra = 0) {
  return extra + stages * (kGemmBlockM * (bk + kXPad) * 2 +
                           kGemmBlockN * codeStride * 4);
}

/// The bits of codes k, k + 1 (k = 16 k16 + 8 half + 2 tq) of row
/// `rowLocal` of a code tile cs[slot][row][word] in shared memory, shifted
/// down to bit 0 (`bits` per code; 3-bit pairs read the next word too).
mlir::Value codePairBits(IRB &r, mlir::Value cs, mlir::Value slot,
                         mlir::Value rowLocal, mlir::Value tq, int64_t k16,
                         int64_t half, unsigned bits);
/// (pair - zero2) * scale2 as f16x2 (lane 0: code k, lane 1: code k + 1):
/// two lop3 put the codes under the exponent of 1024.0; zero2 holds
/// 1024 + zero.
mlir::Value lop3DequantPair(IRB &r, mlir::Value pairBits, unsigned bits,
                            mlir::Value zero2, mlir::Value scale2);
/// f16x2 splat of an f32.
mlir::Value splatHalf(IRB &r, mlir::Value f32);

class MmaGemmBase {
public:
  /// `bk`: the K tile in 16-bit units of x (f16 elements, or 2 or 4
  /// integer codes).
  MmaGemmBase(mlir::OpBuilder &b, mlir::Location loc, const GemmSpec &spec,
              int64_t bk, int64_t stages, int64_t codeStride,
              MmaOperands operands = MmaOperands::F16)
      : b(b), r{b, loc}, spec(spec), l(spec.w.layout), N(spec.w.rows),
        K(spec.cols()), bk(bk), S(stages), codeStride(codeStride),
        operands(operands),
        xUnits(std::max(K, spec.xCols) * operandBits(operands) / 16) {}
  virtual ~MmaGemmBase() = default;

  mlir::FailureOr<KernelLaunch> build(mlir::gpu::GPUModuleOp module,
                                      llvm::StringRef name, std::string &why);

protected:
  // The format's hooks.
  /// Adds the weight's streams to `sig` (and any other argument before x,
  /// out and M).
  virtual mlir::LogicalResult addStreams(KernelSignature &sig,
                                         std::string &why) = 0;
  /// Shared buffers beyond x and the code slots (attributions 2, ...).
  virtual llvm::SmallVector<mlir::MemRefType> extraShared() { return {}; }
  /// Takes the stream arguments and extra buffers; runs before the loop.
  virtual void setup(mlir::gpu::GPUFuncOp func) = 0;
  /// Loop-carried values besides the 16 accumulators.
  virtual llvm::SmallVector<mlir::Value> extraInits() { return {}; }
  /// Phase `copy` of tile `kt` (after the x copies, before the commit):
  /// the weight's cp.asyncs into `slot` and its raw per-tile loads;
  /// returns the next values of the extraInits() state.
  virtual llvm::SmallVector<mlir::Value>
  copyWeights(mlir::Value kt, mlir::Value slot, mlir::Value k0,
              mlir::ValueRange state) = 0;
  /// Phase `scales`.
  virtual void dequantScales() {}
  /// Phase `compute`: the B fragments (vector<2x2xf16>, vector<2x4xi8> or
  /// vector<2x8xi4>) of the warp's four n8 fragments for MMA step `ks` (16
  /// units of x) of the tile in `slot`.
  virtual llvm::SmallVector<mlir::Value> fragmentsB(mlir::Value slot,
                                                    int64_t ks) = 0;
  /// Accumulators beyond the 16 of the product (zero-initialized, of the
  /// same type, carried by the K loop) and the MMAs that update them after
  /// each step's product, from its B fragments.
  virtual int64_t extraAccumulators() const { return 0; }
  virtual void extraMmas(llvm::ArrayRef<mlir::Value> fragsB,
                         llvm::MutableArrayRef<mlir::Value> accs) {}
  /// The epilogue: once with the final extra accumulators, then the value
  /// stored for element e of n8 fragment j at x row `mRow` (`acc`, f32 or
  /// i32, is the product's accumulator element).
  virtual void prepareEpilogue(llvm::ArrayRef<mlir::Value> extraAccs) {}
  virtual mlir::Value epilogueValue(mlir::Value acc, mlir::Value mRow,
                                    int64_t j, int64_t e) {
    return acc;
  }

  // Shared pieces.
  mlir::Value addr(mlir::Value base, mlir::Value byteOffset);
  /// The bits of codes k, k + 1 (k = 16 k16 + 8 half + 2 t) of row
  /// `rowLocal`'s chunk in `slot`, shifted down to bit 0 (`bits` per code).
  mlir::Value pairBitsAt(mlir::Value slot, mlir::Value rowLocal, int64_t k16,
                         int64_t half, unsigned bits);
  /// (pair - zero2) * scale2 as f16x2: two lop3 put the codes under the
  /// exponent of 1024.0.
  mlir::Value lop3Dequant(mlir::Value pairBits, unsigned bits,
                          mlir::Value zero2, mlir::Value scale2);
  /// f16x2 splat of an f32.
  mlir::Value splatHalf(mlir::Value f32);
  /// vector<2x2xf16> from the two f16x2 halves of a B fragment.
  mlir::Value packB(mlir::Value lo, mlir::Value hi);
  /// Phase `copy` of a row-major code tile: the block's 128 weight rows
  /// (clamped to N - 1), `tileCodes` b-bit codes each from code k0 of the
  /// row (`rowCodes` a row in the stream at `codeBase`), as `copyBytes`
  /// cp.asyncs with the evict-first policy into cs[slot][row]; with
  /// `zeroPastRow` the bytes past the row's end are zeros.
  void copyCodeTile(mlir::Value codeBase, mlir::Value slot, mlir::Value k0,
                    int64_t tileCodes, int64_t rowCodes, unsigned bits,
                    int64_t copyBytes, bool zeroPastRow = false);

  mlir::OpBuilder &b;
  IRB r;
  const GemmSpec &spec;
  const Layout &l;
  const int64_t N, K, bk, S, codeStride;
  const MmaOperands operands;
  /// Columns of x in 16-bit units (K for f16; GemmSpec::xCols where
  /// larger).
  const int64_t xUnits;

  mlir::Value x, out, M, xs, cs, xBase, xsBase, csBase, policy;
  /// The K loop's induction variable (the tile), for every phase.
  mlir::Value kt;
  mlir::Value tid, lane, warp, g, tq, m0, n0;
  /// Row of fragment j (0..3) in the block (32 w + 8 j + g) and in the
  /// weight (clamped to N - 1).
  llvm::SmallVector<mlir::Value> rowsLocal, rowsGlobal;

private:
  void emitXCopies(mlir::Value slot, mlir::Value k0);
  void emitEpilogue(llvm::ArrayRef<mlir::Value> acc,
                    llvm::ArrayRef<mlir::Value> extraAccs);
};

/// Adds a uniform layout's scale streams through `stream` (which returns an
/// argument index, or -1 with the reason set): `scales` (FP16), or
/// `scale_codes` and `scale_meta` (second-order). False when one is missing.
bool addScaleStreams(const Layout &l,
                     llvm::function_ref<int(llvm::StringRef)> stream,
                     int &scalesArg, int &scaleCodesArg, int &metaArg);

/// The ScaleSource over `func`'s arguments that addScaleStreams recorded
/// (an index of -1 leaves that stream null).
ScaleSource scaleSourceOf(mlir::gpu::GPUFuncOp func, const Layout &l,
                          int scalesArg, int scaleCodesArg, int metaArg);

/// out[mRow][col] = v for a GEMM epilogue whose caller has checked mRow:
/// guarded by col < N unless N is a multiple of the block's kGemmBlockN
/// weight rows, so that no block has rows past N.
void storeGuardedColumn(IRB &r, mlir::Value v, mlir::Value out,
                        mlir::Value mRow, mlir::Value col, int64_t N);

/// The mixed 2/4/16 GEMM (MixedGemmKernel.cpp); arguments as
/// buildMmaGemmKernel.
mlir::FailureOr<KernelLaunch>
buildMixedMmaGemmKernel(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                        const GemmSpec &spec, std::string &why);

} // namespace mixq::device

#endif // MIXQ_PASSES_GPU_MMAGEMM_H
