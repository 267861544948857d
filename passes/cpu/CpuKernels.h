//===- CpuKernels.h - Kernels of the CPU lowering ---------------*- C++ -*-===//
//
// The pieces -mixq-lower-cpu assembles (passes/LowerCpu.cpp is the driver):
//
//   - StreamTable: the package streams a module reads, in the order of the
//     table the runtime passes (`streams` argument of the C ABI); each
//     stream is viewed as a static memref of its element type.
//   - emitQMatmulTask: one `func.func` per quantized product, the body of a
//     runtime parallel_for task over blocks of output rows (QMatmulCpu.cpp).
//   - the layer ops (embed, rms_norm, rope, attention, sparse_add and the
//     element-wise arithmetic) as scf loops on memrefs (LayerOpsCpu.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_CPU_CPUKERNELS_H
#define MIXQ_PASSES_CPU_CPUKERNELS_H

#include "dialect/MixQDialect.h"
#include "model/Layout.h"
#include "passes/cpu/CpuBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <string>
#include <vector>

namespace mixq::cpu {

/// Lanes of the f32 vectors the kernels compute with.
constexpr int64_t kLanes = 16;

/// A weight as the kernels see it.
struct WeightInfo {
  std::string name;
  Layout layout;
  int64_t rows = 0, cols = 0; // N x K
};

/// The streams of the module, in table order. `view` loads the stream's
/// pointer from the table at `table` (!llvm.ptr) and returns a static
/// memref over it; a stream the layout does not have is an error.
class StreamTable {
public:
  mlir::FailureOr<mlir::Value> view(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Value table, const WeightInfo &w,
                                    llvm::StringRef stream);
  const std::vector<std::string> &names() const { return names_; }

private:
  std::vector<std::string> names_;
  std::map<std::string, int64_t> index_;
};

/// Per-function state of the lowering: the ABI values every kernel needs.
struct FunctionEnv {
  mlir::Value runtime;  ///< !llvm.ptr to mixq_runtime
  mlir::Value streams;  ///< !llvm.ptr to the stream table
  StreamTable *table = nullptr;
  mlir::ModuleOp module;
  int64_t *taskCounter = nullptr; ///< for unique task names
  bool vnni = false;    ///< AVX-512 VNNI (vpdpbusd, 512-bit) may be used
  bool avxVnni = false; ///< AVX-VNNI (VEX vpdpbusd, 256-bit) may be used
  bool avx2 = false;    ///< AVX2 (vpmaddubsw, vpmaddwd) may be used
  bool avx512 = false; ///< AVX-512F (vpermps on 16 lanes) may be used
};

/// A quantized product as the kernels take it: a `mixq.qmatmul`, or the
/// `scf.forall` of `mixq.qmatmul_tile`s -mixq-tile makes of one (whose
/// tiles are the blocks of rows a task computes).
struct ProductSpec {
  mlir::Operation *op = nullptr; ///< where diagnostics go
  PlanAttr plan;                 ///< null for an unplanned product
  bool excludeOutliers = false;
  int64_t rowsPerTask = 16; ///< output rows per parallel_for block
};

/// y[M x N] = x[M x K] * W^T for a quantized product. `x` and `y` are
/// contiguous f32 memrefs (M static or dynamic), `m` their row count (index).
/// `scratch` is a byte buffer of qmatmulScratchBytes(...) bytes for
/// run-time activation quantization (unused otherwise).
mlir::LogicalResult emitQMatmul(IRB &r, FunctionEnv &env,
                                const ProductSpec &product,
                                const WeightInfo &w, mlir::Value x,
                                mlir::Value y, mlir::Value m,
                                mlir::Value scratch);
/// out[i, :] = row rows[i] of the dequantized weight, for i < m (embedding
/// lookups of quantized tables). Fails for QUIK and CSR layouts.
mlir::LogicalResult emitDequantRows(IRB &r, FunctionEnv &env,
                                    const WeightInfo &w, mlir::Value rows,
                                    mlir::Value out, mlir::Value m);
/// Bytes of scratch per input row that emitQMatmul needs (QUIK's quantized
/// activations), 64-byte multiple.
int64_t qmatmulScratchBytesPerRow(const WeightInfo &w);

/// Runs `body(begin, end)` over [0, n) blocks on the runtime's threads: the
/// body is outlined into a task function that receives `captures` (memrefs,
/// rebuilt inside with the same types, or !llvm.ptr values) and
/// `dynamicSizes` (every dynamic dimension of a captured memref is
/// dynamicSizes[0], the row count).
void emitParallelFor(
    IRB &r, FunctionEnv &env, mlir::Value n, mlir::ValueRange captures,
    mlir::ValueRange dynamicSizes, llvm::StringRef name,
    llvm::function_ref<void(IRB &, mlir::ValueRange captures,
                            mlir::ValueRange dynamicSizes, mlir::Value begin,
                            mlir::Value end)>
        body);

/// The `lanes` b-bit codes (LSB-first) starting at bit 0 of byte `byteOff`
/// of `bytes` (memref<Bxi8>), as vector<lanes x i32>; lanes * bits must be a
/// multiple of 8.
mlir::Value unpackCodes(IRB &r, mlir::Value bytes, mlir::Value byteOff,
                        unsigned bits, int64_t lanes = kLanes);

// Layer ops (LayerOpsCpu.cpp). All memrefs are f32 and contiguous.
mlir::LogicalResult emitEmbed(IRB &r, FunctionEnv &env, const WeightInfo &w,
                              mlir::Value tokens, mlir::Value out,
                              mlir::Value m);
void emitRmsNorm(IRB &r, mlir::Value x, mlir::Value gain, mlir::Value out,
                 mlir::Value m, float epsilon);
/// `table` is memref<S x HD/2 x 2 x f32> of (cos, sin) per position.
void emitRope(IRB &r, mlir::Value x, mlir::Value positions, mlir::Value out,
              mlir::Value m, mlir::Value table, bool adjacent);
void emitAttention(IRB &r, FunctionEnv &env, mlir::Value q, mlir::Value kc,
                   mlir::Value vc, mlir::Value start, mlir::Value out,
                   mlir::Value m, float scale);
mlir::LogicalResult emitSparseAdd(IRB &r, FunctionEnv &env, const WeightInfo &w,
                                  mlir::Value x, mlir::Value y, mlir::Value m);

} // namespace mixq::cpu

#endif // MIXQ_PASSES_CPU_CPUKERNELS_H
