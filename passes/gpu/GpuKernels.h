//===- GpuKernels.h - Kernels of the GPU lowering ---------------*- C++ -*-===//
//
// The pieces -mixq-lower-gpu (passes/LowerGpu.cpp, the driver) assembles
// into one `gpu.module`:
//
//   - KernelStreams: which package streams a kernel reads, as static 1-D
//     memref arguments (bare-pointer ABI), and their host-side symbols;
//   - ChunkDecoder: per scheme, how one lane loads and decodes a chunk of
//     consecutive codes of one weight row (Decoders.cpp);
//   - the kernels: the row-streaming decode GEMV for dense, uniform, LUT
//     and QUIK weights (GemvKernel.cpp), the tile-group GEMV of mixed
//     2/4/16 weights (MixedGemvKernel.cpp), the split-K reduction, the CSR
//     outlier kernel and QUIK's activation split (AuxKernels.cpp);
//   - the prefill GEMM on tensor cores (MmaGemm.h, MmaGemmBase.cpp,
//     MmaGemmKernel.cpp, MixedGemmKernel.cpp; QUIK's integer GEMM in
//     QuikGemmKernel.cpp): cp.async
//     stages, ldmatrix, mma.sync m16n8k16, dequantization in registers,
//     its K loop marked for -mixq-pipeline-dequant; and the PTX it needs
//     that MLIR has no op for (PtxAsm.cpp);
//   - the sm_90a prefill GEMM (WgmmaGemmKernel.cpp): TMA, mbarriers,
//     wgmma with the weight as a register A operand, and its PTX
//     (HopperAsm.cpp).
//
// docs/Compiler.md ("The GPU path") gives the thread/data mapping of each.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_GPU_GPUKERNELS_H
#define MIXQ_PASSES_GPU_GPUKERNELS_H

#include "dialect/MixQDialect.h"
#include "model/Layout.h"
#include "passes/cpu/CpuBuilder.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <array>
#include <string>

namespace mixq::device {

using cpu::IRB;

/// Threads of a warp.
constexpr int64_t kWarp = 32;
/// Warps per thread block of the decode kernels.
constexpr int64_t kWarpsPerBlock = 4;
/// Output rows one warp of the row-streaming GEMV computes together.
constexpr int64_t kRowsPerWarp = 4;
/// Rows of x per chunk where prefill runs the decode GEMV (grid z).
constexpr int64_t kChunkRows = 16;

/// Why a weight's group of `group` columns (K = `k`) rules out the GPU
/// GEMV, and how to quantize it so that it does not: `quantizeOption`
/// ("--group" or "--mixed-group") with a multiple of 32 that divides K.
std::string groupAdvice(int64_t group, int64_t k,
                        llvm::StringRef quantizeOption);

/// A weight as the kernels see it.
struct WeightInfo {
  std::string name;
  Layout layout;
  int64_t rows = 0, cols = 0; // N x K
};

/// One stream of one weight as a kernel argument.
struct StreamArg {
  std::string key;       ///< "<weight>:<stream>", the runtime's stream name
  mlir::MemRefType type; ///< static 1-D view the kernel reads
};

/// The GPU view of a package stream: packed code streams ("codes",
/// "codes2", "codes4") as i32 words (rounded up to 16 bytes: the runtime
/// pads every device stream to 16 bytes), sub-byte side streams (pmap,
/// zeros, scale codes) as i8, other streams at their element type.
mlir::FailureOr<mlir::MemRefType> streamViewType(mlir::MLIRContext *ctx,
                                                 const WeightInfo &w,
                                                 llvm::StringRef stream);

/// A kernel's arguments, built up before its body: streams first (in the
/// order they were added), then the activations and outputs.
struct KernelSignature {
  llvm::SmallVector<StreamArg> streams;
  llvm::SmallVector<mlir::Type> others;
  /// Adds stream `stream` of `w`; returns its argument index (an existing
  /// one when added before), or failure when the layout has no such stream.
  mlir::FailureOr<unsigned> addStream(mlir::MLIRContext *ctx,
                                      const WeightInfo &w,
                                      llvm::StringRef stream);
  /// addStream's index as an int, or -1 with `why` naming the missing
  /// stream.
  int addStreamOrWhy(mlir::MLIRContext *ctx, const WeightInfo &w,
                     llvm::StringRef stream, std::string &why);
  unsigned addOther(mlir::Type type) {
    others.push_back(type);
    return unsigned(streams.size() + others.size() - 1);
  }
  llvm::SmallVector<mlir::Type> types() const;
};

/// A kernel in the gpu.module and how to launch it.
struct KernelLaunch {
  mlir::gpu::GPUFuncOp func;
  KernelSignature signature;
  std::array<int64_t, 3> grid{1, 1, 1}, block{1, 1, 1};
};

/// Creates `gpu.func @name` (a kernel with `known_block_size`, every memref
/// argument `llvm.align = 16` and `llvm.noalias`) at the end of `module`
/// with `workgroup` shared-memory buffers (each 16-byte aligned), and sets
/// the builder inside its entry block. The caller ends it with
/// gpu.return.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::gpu::GPUModuleOp module,
                                  llvm::StringRef name,
                                  const KernelSignature &signature,
                                  std::array<int64_t, 3> block,
                                  llvm::ArrayRef<mlir::MemRefType> workgroup =
                                      {});

/// The decode product one kernel computes: y[M x N] (+)= x[M x K] * W^T
/// over the K range of each split.
struct GemvSpec {
  WeightInfo w;
  int64_t m = 1;           ///< static M (<= 16)
  mlir::Type xElem;        ///< f16 or f32 activations
  int64_t kSize = 0;       ///< K per split
  int64_t splitK = 1;      ///< > 1: partial sums into out[split][M][N]
  bool excludeOutliers = false;
  /// Which part of the weight the kernel streams: the whole weight, or for
  /// QUIK its quantized columns (x is then the compacted M x (K - C) f32
  /// activations) or its FP16 outlier columns (x: M x C f32).
  enum class Part { Whole, QuikCodes, QuikFp16Cols } part = Part::Whole;
  /// Columns of x and of each weight row the kernel reads (K, K - C or C).
  int64_t cols() const;
  /// The kernel reads acc[M x N] and writes acc + product (no split).
  bool accumulate = false;
  /// Prefill: when > 0, x, acc and out have max(rowCap, m) rows and the
  /// kernel computes rows [m z, m z + m) with z = blockIdx.z (the host
  /// launches ceil(rows / m) chunks in grid z; splitK must be 1).
  int64_t rowCap = 0;
  int64_t rowCapacity() const { return rowCap > m ? rowCap : m; }
  /// The first row of the kernel's chunk (index 0 without chunks).
  mlir::Value rowBase(IRB &r) const;
};

/// What one lane holds of one chunk of a weight row: the raw words it
/// loaded, and the row's scale and zero for the chunk's group (null when
/// the scheme has none).
struct Chunk {
  llvm::SmallVector<mlir::Value> words;
  mlir::Value scale, zeroMagic; ///< f32; zeroMagic = 2^23 + zero
  mlir::Value row;              ///< index, the weight row
  mlir::Value slot;             ///< index, the row's slot in the block
};

/// Per scheme: how a lane loads and decodes `chunk()` consecutive codes of
/// one weight row. The GEMV (and, later, the tensor-core kernels) call
/// load() once per chunk and values() per run of codes. A chunk lies inside
/// one scale group.
class ChunkDecoder {
public:
  virtual ~ChunkDecoder() = default;
  /// Takes the kernel's arguments (the streams the decoder added).
  virtual void bind(mlir::ValueRange args) = 0;
  /// Codes per chunk.
  virtual int64_t chunk() const = 0;
  /// Shared-memory buffers the decoder needs (kernel workgroup attributions).
  virtual llvm::SmallVector<mlir::MemRefType> workgroup(mlir::MLIRContext *) {
    return {};
  }
  /// Called at the start of the kernel with the block's first weight row
  /// and the shared buffers (LUTs are staged there).
  virtual void begin(IRB &, mlir::Value /*firstRow*/,
                     mlir::ValueRange /*shared*/) {}
  /// Loads the chunk of row `row` starting at column `k0`; `slot` is the
  /// row's position among the block's rows.
  virtual Chunk load(IRB &r, mlir::Value row, mlir::Value slot,
                     mlir::Value k0) = 0;
  /// The decoded values `first` .. `first + count - 1` of the chunk, f32,
  /// without the scale (raw - zero; the caller multiplies by chunk.scale).
  virtual llvm::SmallVector<mlir::Value> values(IRB &r, const Chunk &c,
                                                int64_t first,
                                                int64_t count) = 0;
};

/// The decoder of a dense, uniform or LUT weight or of a part of a QUIK
/// weight (GemvSpec::part); its stream arguments are
/// added to `sig` (the decoder gets their values with bind()). Fails with a
/// reason in `why` for anything else.
mlir::FailureOr<std::unique_ptr<ChunkDecoder>>
makeDecoder(mlir::MLIRContext *ctx, const GemvSpec &spec, KernelSignature &sig,
            std::string &why);

/// The row-streaming decode GEMV (dense, uniform, LUT, both parts of QUIK).
/// Arguments: the decoder's streams, x (memref<M x cols x xElem>), with
/// `accumulate` acc (memref<M x N x f32>), out (memref<M x N x f32>, or
/// memref<S x M x N x f32> of partial sums when split).
mlir::FailureOr<KernelLaunch>
buildGemvKernel(mlir::OpBuilder &b, mlir::Location loc,
                mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                const GemvSpec &spec, std::string &why);

/// The tile-group decode GEMV of a mixed 2/4/16 weight. Same arguments.
mlir::FailureOr<KernelLaunch>
buildMixedGemvKernel(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                     const GemvSpec &spec, std::string &why);

/// out[m][n] = sum_s part[s][m][n]: one thread per output element.
KernelLaunch buildSplitReduceKernel(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::gpu::GPUModuleOp module,
                                    llvm::StringRef name, int64_t splits,
                                    int64_t m, int64_t n);

/// QUIK's activation split (activations kept in floating point, act = 16):
/// xq[m][j] = x[m][k] for the j-th column k that is not an outlier column,
/// xo[m][c] = x[m][col_index[c]]. Arguments: col_index, x, xq, xo (f32).
/// With rowCap > 0 the buffers have max(rowCap, m) rows and chunk z is
/// rows [m z, m z + m) (as GemvSpec::rowCap).
mlir::FailureOr<KernelLaunch>
buildQuikSplitKernel(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                     const WeightInfo &w, int64_t m, mlir::Type xElem,
                     std::string &why, int64_t rowCap = 0);

/// QUIK's run-time activation quantization of the quantized columns, as
/// the reference engine simulates it (model/ActivationQuant.h, bit for
/// bit): per row, lo = min(min x, 0) and hi = max(max x, 0) over the Q
/// columns, scale = (hi - lo) / (2^b - 1) and zero = rint(-lo / scale)
/// (asymmetric) or scale = max(hi, -lo) / (2^(b-1) - 1) and zero = 0, then
/// out[m][j] = (clamp(rint(x / scale) + zero) - zero) * scale (x itself
/// where scale is not positive). Arguments: x (memref<rows x Q x xElem>),
/// out (memref<rows x Q x f32>). Grid (m), block 128: block i quantizes
/// row i (rowCap as for buildQuikSplitKernel).
/// With `codeBits` (4 or 8, at least act's bits) the kernel writes the
/// integer GEMM's operands instead: out (memref<rows x P b / 32 x i32>,
/// P = quikCodeColumns(Q, b), codes past Q zero) the codes as signed b-bit
/// integers, q - 2^(act-1) (asymmetric) or q (symmetric), packed from bit
/// 0 up, and params (memref<rows x 2 x f32>)
/// the row's scale and its zero on the same scale (zero - 2^(act-1), or 0);
/// a row without a positive scale gets codes 0 and zero 0.
mlir::FailureOr<KernelLaunch>
buildQuikActQuantKernel(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                        const WeightInfo &w, int64_t m, mlir::Type xElem,
                        std::string &why, int64_t rowCap = 0,
                        int64_t codeBits = 0);

/// out = acc + x * S^T for the CSR outliers S of a LUT weight: one warp per
/// output row. Arguments: csr_rowptr, csr_col, csr_value, x, acc, out.
/// rowCap as for buildQuikSplitKernel.
mlir::FailureOr<KernelLaunch>
buildSparseAddKernel(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                     const WeightInfo &w, int64_t m, mlir::Type xElem,
                     std::string &why, int64_t rowCap = 0);

/// The prefill product on tensor cores: out[m][n] = sum_k x16[m][k] W[n][k]
/// for m < M (a run-time kernel argument), x16 f16 with `rowCap` rows.
struct GemmSpec {
  WeightInfo w;
  int64_t rowCap = 0; ///< static rows of x16 and out (>= M)
  int64_t stages = 3; ///< shared-memory stages of the K loop (>= 2)
  /// The product leaves the CSR outliers to a mixq.sparse_add after it.
  bool excludeOutliers = false;
  /// A QUIK weight's codes over its compacted activations (x16 has
  /// K - fp16_cols columns; signed codes, one FP16 scale per row).
  bool quikCodes = false;
  /// Columns of x16 and of each code row.
  int64_t cols() const {
    return quikCodes ? w.cols - w.layout.fp16Cols : w.cols;
  }
  /// > cols(): x's columns and the K loop's extent, whole K tiles; the
  /// code rows read as zeros past cols() (QUIK's integer GEMM).
  int64_t xCols = 0;
};

/// The operand widths the mma.sync integer GEMM tries for a QUIK layout on
/// sm_80 (`sm80`) or sm_90a, best first: 4 then 8 on sm_80 where weight and activations are
/// 4-bit, else 8 (sm_90a has no 4-bit MMA).
llvm::SmallVector<int64_t, 2> quikOperandBits(const Layout &l, bool sm80);

/// The columns of QUIK's activation codes for the integer GEMM with
/// `operandBits` operands: the `q` quantized ones rounded up to whole K
/// tiles of either size (128 4-bit or 64 8-bit codes), zeros past q.
int64_t quikCodeColumns(int64_t q, int64_t operandBits);

/// How the GEMM marks its K loop for -mixq-pipeline-dequant: the loop
/// carries `mixq.pipeline = S` (stages), each op of its body `mixq.stage`,
/// one of the four phases below (the order they run in unpipelined).
inline constexpr llvm::StringLiteral kPipelineAttr = "mixq.pipeline";
inline constexpr llvm::StringLiteral kStageAttr = "mixq.stage";
inline constexpr llvm::StringLiteral kStageCopy = "copy";
inline constexpr llvm::StringLiteral kStageScales = "scales";
inline constexpr llvm::StringLiteral kStageWait = "wait";
inline constexpr llvm::StringLiteral kStageCompute = "compute";

/// Rows of M and of N one block of the GEMM computes.
constexpr int64_t kGemmBlockM = 64, kGemmBlockN = 128;

/// The tensor-core GEMM of a uniform 2/3/4/8-bit weight (FP16 or
/// second-order scales, optional zeros), a LUT 3/4-bit weight, a mixed
/// 2/4/16 weight or the codes of a QUIK weight (GemmSpec::quikCodes); docs/Compiler.md "Prefill GEMM"
/// gives the thread/data mapping. Arguments: the weight's streams, x16
/// (memref<rowCap x K x f16>), out (memref<rowCap x N x f32>), M (index).
/// Grid (ceil(N / 128), 1, ceil(M / 64)), block 128. Its K loop is the
/// unpipelined schedule with every op tagged `mixq.stage` and the loop
/// `mixq.pipeline = stages`; -mixq-pipeline-dequant pipelines it. Fails
/// with a reason in `why` for other schemes and unaligned shapes.
mlir::FailureOr<KernelLaunch>
buildMmaGemmKernel(mlir::OpBuilder &b, mlir::Location loc,
                   mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                   const GemmSpec &spec, std::string &why);

/// QUIK's prefill GEMM on integer tensor cores (QuikGemmKernel.cpp):
/// out[m][n] = x_scale[m] w_scale[n] (sum_k a[m][k] c[n][k] - zero[m]
/// sum_k c[n][k]) over the compacted columns, with a and zero the codes
/// and params of buildQuikActQuantKernel(codeBits = `operandBits`) and c
/// the weight's signed 4- or 8-bit codes; mma.sync m16n8k64.s4 (4-bit
/// operands) or m16n8k32.s8 (4-bit weight codes widened in registers) with
/// s32 accumulators, the MmaGemmBase block mapping and pipelined K loop.
/// Arguments: codes, scales, params, the activation codes (memref<rowCap
/// x P b / 32 x i32>, P = quikCodeColumns(Q, b)), out (memref<rowCap x N x
/// f32>), M (index). Fails with a reason for other weights and for code
/// rows that are not whole 32-bit words.
mlir::FailureOr<KernelLaunch>
buildQuikIntGemmKernel(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                       const GemmSpec &spec, int64_t operandBits,
                       std::string &why);

/// The sm_90a prefill GEMM (WgmmaGemmKernel.cpp; docs/Compiler.md "The
/// sm_90a GEMM"): a uniform 2/3/4/8-bit weight (FP16 or second-order
/// scales, optional zeros) with K a multiple of 64. One producer warpgroup
/// (warp 0: TMA loads of x, cp.async of the codes) feeds an S-stage ring
/// guarded by full/empty mbarriers; two consumer warpgroups decode the
/// codes into wgmma's A fragments (64 weight rows each) and run
/// wgmma.m64n64k16 with x from shared memory as B. Arguments: the weight's
/// streams, the TMA tensor map of x16 (!llvm.ptr, from
/// createActivationTensorMap), out (memref<rowCap x N x f32>), M (index).
/// Grid (ceil(N / 128), 1, ceil(M / 64)), block 384. Fails with a reason in
/// `why` for other formats and shapes.
mlir::FailureOr<KernelLaunch>
buildWgmmaGemmKernel(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                     const GemmSpec &spec, std::string &why);

/// Host code: the TMA tensor map the wgmma GEMM reads x16 through, for
/// `x16` (a 2-D f16 memref, rows x K; rows past its first dimension read as
/// zeros) with a 64 x 64 box and the 128-byte swizzle:
/// nvgpu.tma.create.descriptor (a call of mgpuTensorMapEncodeTiledMemref
/// once lowered) cast to !llvm.ptr.
mlir::Value createActivationTensorMap(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::Value x16);

/// x16[m][k] = f16(x[m][k]) for m < M: the GEMM's activations. Arguments:
/// x (memref<rows x K x f32>), x16 (memref<rows x K x f16>), M (index);
/// block 256, 4 elements a thread, grid x = ceil(M K / 1024) (set by the
/// caller). K must be a multiple of 4.
KernelLaunch buildToHalfKernel(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::gpu::GPUModuleOp module,
                               llvm::StringRef name, int64_t rows, int64_t k);

// PTX without an MLIR op (PtxAsm.cpp).

/// One PTX instruction (or block) as llvm.inline_asm: `result` null for
/// none, `constraints` in LLVM's syntax ("=f,f"), `sideEffects` for
/// anything that must not be moved or removed (copies, barriers, fences).
mlir::Value inlinePtx(IRB &r, mlir::Type result, mlir::ValueRange operands,
                      llvm::StringRef text, llvm::StringRef constraints,
                      bool sideEffects);
/// rint(v) for an f32, ties to even: cvt.rni.f32.f32 (math.roundeven would
/// call libdevice, and convert-gpu-to-nvvm rejects llvm.intr.roundeven).
mlir::Value roundToNearestEven(IRB &r, mlir::Value v);
/// The address (i64) `byteOffset` bytes into `memref`: a shared-window
/// address for workgroup memory, a generic one for global memory.
mlir::Value byteAddress(IRB &r, mlir::Value memref, mlir::Value byteOffset);
/// createpolicy.fractional.L2::evict_first (i64 policy).
mlir::Value evictFirstPolicy(IRB &r);
/// cp.async of `bytes` (4, 8 or 16) global -> shared with an L2 policy.
void cpAsyncEvictFirst(IRB &r, mlir::Value shared, mlir::Value global,
                       int64_t bytes, mlir::Value policy);
/// cp.async of `bytes` with an L2 policy, reading `srcBytes` (i32, <=
/// bytes) and filling the rest with zeros.
void cpAsyncEvictFirstZeroFill(IRB &r, mlir::Value shared, mlir::Value global,
                               int64_t bytes, mlir::Value srcBytes,
                               mlir::Value policy);
/// cp.async.cg of 16 bytes reading `srcBytes` (i32, 0 or 16) and filling
/// the rest with zeros.
void cpAsyncZeroFill(IRB &r, mlir::Value shared, mlir::Value global,
                     mlir::Value srcBytes);
/// cp.async.commit_group / cp.async.wait_group `pending`.
void cpAsyncCommit(IRB &r);
void cpAsyncWait(IRB &r, int64_t pending);
/// lop3.b32 with truth table `lut` (0xEA: (a & b) | c).
mlir::Value lop3(IRB &r, mlir::Value a, mlir::Value b, mlir::Value c,
                 uint8_t lut);

// Hopper PTX (HopperAsm.cpp). `bar` and shared buffers are shared-window
// byte addresses (i64, byteAddress).

/// mbarrier.init with `count` expected arrivals.
void mbarrierInit(IRB &r, mlir::Value bar, int64_t count);
/// fence.mbarrier_init and fence.proxy.async after the inits.
void mbarrierInitFence(IRB &r);
/// mbarrier.arrive (one arrival).
void mbarrierArrive(IRB &r, mlir::Value bar);
/// mbarrier.arrive.expect_tx: one arrival and `bytes` of transactions.
void mbarrierArriveExpectTx(IRB &r, mlir::Value bar, int64_t bytes);
/// Spins on mbarrier.try_wait.parity until the phase of parity `parity`
/// (i32 or index, 0 or 1) has completed.
void mbarrierWaitParity(IRB &r, mlir::Value bar, mlir::Value parity);
/// cp.async.mbarrier.arrive.noinc: an arrival when this thread's earlier
/// cp.asyncs have landed (counted in the barrier's init count).
void cpAsyncMbarrierArrive(IRB &r, mlir::Value bar);
/// cp.async.bulk.tensor.2d global -> shared of the box at coordinates
/// (c0 innermost, c1) of `tensorMap` (a generic address), completing
/// its bytes on `bar`.
void tmaLoad2d(IRB &r, mlir::Value dst, mlir::Value tensorMap, mlir::Value c0,
               mlir::Value c1, mlir::Value bar);
/// wgmma.fence / commit_group / wait_group `pending`.
void wgmmaFence(IRB &r);
void wgmmaCommit(IRB &r);
void wgmmaWait(IRB &r, int64_t pending);
/// wgmma.mma_async m64n`n`k16 f32 += f16 x f16 with A from registers (`a`:
/// four f16x2 words as i32, the m16n8k16 A layout per warp) and B from the
/// shared-memory descriptor `descB` (K-major); `acc`: n / 2 f32 per thread.
/// Returns the new accumulators. With `s8`: m64n`n`k32 s32 += s8 x s8 (`a`:
/// four words of 4 codes, the m16n8k32 A layout per warp; `acc` i32).
llvm::SmallVector<mlir::Value> wgmmaRegA(IRB &r, int64_t n,
                                         llvm::ArrayRef<mlir::Value> acc,
                                         llvm::ArrayRef<mlir::Value> a,
                                         mlir::Value descB, bool s8 = false);
/// The wgmma descriptor (i64) of a K-major tile at `sharedAddr` (i64)
/// written with the 128-byte swizzle, `sbo` bytes between 8-row groups.
mlir::Value wgmmaDescriptor128B(IRB &r, mlir::Value sharedAddr, int64_t sbo);

/// The streams of a mixed 2/4/16 weight as kernel arguments (-1: absent):
/// per precision its code stream and where its row-groups start among the
/// scales and its zeros among the zero bits; the precision map, the
/// offsets table, the scales (FP16 or second order), zeros and outlier
/// slots (slotPrecision: the 2-bit precision that carries them, or -1).
struct MixedStreams {
  struct Precision {
    unsigned bits = 0;
    int codesArg = -1;
    int64_t rowGroupBase = 0, zeroBitBase = 0;
  };
  llvm::SmallVector<Precision> precs;
  int pmapArg = -1, offsetsArg = -1, scalesArg = -1, scaleCodesArg = -1,
      metaArg = -1, zerosArg = -1, slotIndexArg = -1, slotValueArg = -1;
  int slotPrecision = -1;
};
/// Adds a mixed weight's streams to `sig` (GEMV and GEMM share them).
mlir::FailureOr<MixedStreams> addMixedStreams(mlir::MLIRContext *ctx,
                                              const WeightInfo &w,
                                              KernelSignature &sig,
                                              std::string &why);

// Shared device-side helpers (GpuCommon.cpp).

/// gpu.thread_id x / gpu.block_id {x, y} as index.
mlir::Value threadIdX(IRB &r);
mlir::Value blockId(IRB &r, mlir::gpu::Dimension dim);
/// The first row of a kernel's chunk of `m` rows: m * blockIdx.z when the
/// buffers hold rowCap > 0 rows in chunks (prefill), else 0.
mlir::Value chunkRowBase(IRB &r, int64_t m, int64_t rowCap);
/// The sum of `v` (f32 or i32) over groups of `width` consecutive lanes (a power
/// of two <= 32): butterfly shuffles with offsets width/2 .. 1; every lane
/// of a group gets the sum.
mlir::Value warpSum(IRB &r, mlir::Value v, int64_t width = kWarp);
/// `count` consecutive floats mem[prefix..., k ...] (f16 or f32 memory) as
/// f32, loaded as 16-byte vectors where `count` allows (activation rows,
/// FP16 weights).
llvm::SmallVector<mlir::Value> loadFloats(IRB &r, mlir::Value mem,
                                          mlir::ValueRange prefix,
                                          mlir::Value k, int64_t count);
/// `count` consecutive i32 words at word `index` of `words`, as 16-byte
/// (or 8-byte) vector loads when count is 4 (or 2) and scalars otherwise.
llvm::SmallVector<mlir::Value> loadWords(IRB &r, mlir::Value words,
                                         mlir::Value index, int64_t count);
/// The b-bit code at bit `bit` of the little-endian words (a compile-time
/// position; crosses a word boundary with a funnel of two shifts).
mlir::Value extractCode(IRB &r, llvm::ArrayRef<mlir::Value> words,
                        int64_t bit, unsigned bits);
/// (code - zero) as f32 via the magic-number trick: bitcast(0x4B000000 |
/// code) - zeroMagic, where zeroMagic = 2^23 + zero (exact for codes and
/// zeros < 2^23; no int-to-float conversion).
mlir::Value codeMinusZero(IRB &r, mlir::Value code, mlir::Value zeroMagic);
/// 2^23 + zero as f32 for an i32 zero point (or a constant one).
mlir::Value zeroMagicOf(IRB &r, mlir::Value zeroI32);
mlir::Value zeroMagicConst(IRB &r, int64_t zero);
/// a * b + c in one fma.rn.f32 (llvm.intr.fma).
mlir::Value fma(IRB &r, mlir::Value a, mlir::Value b, mlir::Value c);
/// acc + sum_i w[i] * x[i], as a chain of fmas.
mlir::Value dotAcc(IRB &r, llvm::ArrayRef<mlir::Value> w,
                   llvm::ArrayRef<mlir::Value> x, mlir::Value acc);
/// A uniform or mixed scale: FP16, or second-order min + code * step
/// (shared with the CPU kernels, passes/cpu/CpuBuilder.h).
using cpu::ScaleSource;

} // namespace mixq::device

#endif // MIXQ_PASSES_GPU_GPUKERNELS_H
