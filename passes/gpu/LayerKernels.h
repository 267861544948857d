//===- LayerKernels.h - GPU kernels of the Llama layer ops ------*- C++ -*-===//
//
// The kernels of the non-matmul ops of the Llama graph (LayerKernels.cpp),
// which the whole-graph GPU lowering (GraphLowering.cpp) launches: embedding
// rows, RMSNorm, RoPE, the KV-cache store, attention over the device cache,
// element-wise ops and a row copy. Their arithmetic mirrors the CPU kernels
// (passes/cpu/LayerOpsCpu.cpp): RMSNorm's mean of squares and the softmax
// sum in f64, RoPE from the same (cos, sin) table.
//
// Every buffer argument is a static-shape memref (bare-pointer ABI); tensors
// with one row per token have `cap` rows (1 for decode, max_seq_len rounded
// up to 16 for prefill) of which the first `m` (an index argument) are
// live. docs/Compiler.md ("The whole graph") gives each thread mapping.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_GPU_LAYERKERNELS_H
#define MIXQ_PASSES_GPU_LAYERKERNELS_H

#include "passes/gpu/GpuKernels.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace mixq::device {

/// Threads per block of the one-block-per-row kernels and the element-wise
/// kernels.
constexpr int64_t kRowThreads = 128;
constexpr int64_t kElementThreads = 256;

/// A workgroup (shared-memory) buffer of `n` elements.
mlir::MemRefType sharedBuffer(mlir::MLIRContext *ctx, int64_t n,
                              mlir::Type elem);
/// The `kRowThreads` values `mine` of a block's threads combined with
/// `combine` (thread 0 folds `red` in thread order, so the result is the
/// same on every run); every thread gets it. Three barriers; `red` holds
/// kRowThreads elements of mine's type.
mlir::Value blockReduce(IRB &r, mlir::Value red, mlir::Value tid,
                        mlir::Value mine,
                        llvm::function_ref<mlir::Value(mlir::Value,
                                                       mlir::Value)>
                            combine);

/// out[i][:] = row tokens[i] of the table (dense, uniform or LUT; quantized
/// rows decoded with the GEMV's ChunkDecoder). grid (m), block (128): block
/// i reads token i (clamped to the table), thread t writes columns t, t +
/// 128, ... (dense) or chunks t, t + 128, ... of C codes. Arguments: the
/// table's streams, tokens (memref<cap x i32>, or with `scalarToken` one
/// i32), out (memref<cap x K x f32>).
mlir::FailureOr<KernelLaunch>
buildEmbedKernel(mlir::OpBuilder &b, mlir::Location loc,
                 mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                 const WeightInfo &table, int64_t cap, bool scalarToken,
                 std::string &why);

/// out[i] = f32(x[i] / sqrt(mean(x[i]^2) + eps)) * gain, the sum of
/// squares in f64. grid (m), block (128): thread t sums columns t, t + 128,
/// ...; partial sums in shared memory, thread 0 adds them. Arguments: x,
/// gain (`gainType`, f16 or f32), out.
KernelLaunch buildRmsNormKernel(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::gpu::GPUModuleOp module,
                                llvm::StringRef name, int64_t cap, int64_t dim,
                                mlir::MemRefType gainType, float epsilon);

/// RoPE of x[cap][H][HD] at positions pos + i with the (cos, sin) table
/// `table` (memref.global in the kernel module, [S][HD/2][2] f32): one
/// thread per (row, head, pair), block (128). Pairs (2j, 2j + 1) when
/// `adjacent`, else (j, j + HD/2). Arguments: x, out, m, pos (index).
KernelLaunch buildRopeKernel(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::gpu::GPUModuleOp module,
                             llvm::StringRef name, int64_t cap, int64_t heads,
                             int64_t headDim, bool adjacent,
                             mlir::memref::GlobalOp table);

/// cache[pos + i][h][d] = src[i][h][d] for i < m (one layer's cache, [S][KVH]
/// [HD]): one thread per element, block (256). Arguments: src, cache, m,
/// pos.
KernelLaunch buildKvStoreKernel(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::gpu::GPUModuleOp module,
                                llvm::StringRef name, int64_t cap,
                                int64_t seq, int64_t kvHeads, int64_t headDim);

/// Causal attention of q[cap][H][HD] over one layer's caches k, v
/// ([S][KVH][HD]): one block of 128 threads per (row i, head h), row i at
/// position pos + i sees positions 0 .. pos + i; scores in shared memory
/// (S f32), the softmax max and f64 sum reduced through shared memory.
/// Arguments: q, k, v, out, pos. Fails when S scores do not fit in 40 KiB.
mlir::FailureOr<KernelLaunch>
buildAttentionKernel(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                     int64_t cap, int64_t heads, int64_t headDim, int64_t seq,
                     int64_t kvHeads, float scale, std::string &why);

/// exp(x) for f32 x as ex2.approx.ftz.f32(x * log2(e)) (inline PTX, so the
/// kernels never call libdevice's __nv_expf, which --emit=ptx cannot link
/// without a CUDA toolkit).
mlir::Value expF32(IRB &r, mlir::Value x);

/// out[e] = body(ins[0][e], ...) for the first m rows of `ins` (each
/// memref<cap x cols x f32>): one thread per element, block (256). `body`
/// builds the scalar result from the loaded f32 operands. Arguments: ins,
/// out, m.
KernelLaunch buildElementwiseKernel(
    mlir::OpBuilder &b, mlir::Location loc, mlir::gpu::GPUModuleOp module,
    llvm::StringRef name, int64_t cap, int64_t cols, unsigned numInputs,
    llvm::function_ref<mlir::Value(IRB &, mlir::ValueRange)> body);

} // namespace mixq::device

#endif // MIXQ_PASSES_GPU_LAYERKERNELS_H
