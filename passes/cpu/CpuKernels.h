//===- CpuKernels.h - Kernels of the CPU lowering ---------------*- C++ -*-===//
//
// The pieces -mixq-lower-cpu assembles (passes/LowerCpu.cpp is the driver):
//
//   - StreamTable: the package streams a module reads, in the order of the
//     table the runtime passes (`streams` argument of the C ABI); each
//     stream is viewed as a memref of its element type.
//   - WeightSource: where a kernel gets its weight's streams and per-weight
//     integers: constants of the calling function (InlineWeights), or
//     run-time arguments of a task (TaskArgs), so that one task body serves
//     every layer.
//   - emitParallelFor: a task `func.func` run by the runtime's parallel_for;
//     a task whose body is identical to one the module has is dropped for
//     it (TaskRegistry): a 32-layer model has one qmatmul task per role
//     and phase, not 32 (CpuTasks.cpp).
//   - emitQMatmul: a quantized product over blocks of output rows
//     (QMatmulCpu.cpp, QuikMatmulCpu.cpp).
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

#include <functional>
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
/// memref over it; a stream the layout does not have (or leaves empty) is
/// an error. `slot` registers a stream and returns its index in the table.
class StreamTable {
public:
  mlir::FailureOr<mlir::Value> view(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Value table, const WeightInfo &w,
                                    llvm::StringRef stream);
  int64_t slot(const WeightInfo &w, llvm::StringRef stream);
  const std::vector<std::string> &names() const { return names_; }

private:
  std::vector<std::string> names_;
  std::map<std::string, int64_t> index_;
};

/// A stream of a weight's layout, present or not: its memref element type
/// and element count (0 for a stream the layout leaves empty, e.g. the
/// codes of a precision without tile-groups); failure when the layout has
/// no stream of that name.
struct StreamShape {
  mlir::Type elem;
  int64_t count = 0;
};
mlir::FailureOr<StreamShape> streamShape(mlir::MLIRContext *ctx,
                                         const WeightInfo &w,
                                         llvm::StringRef stream);

/// Where a kernel gets what differs between weights of one shape and
/// layout: the streams, and integers that depend on the weight's data (the
/// row-groups of a mixed weight's lower precisions).
class WeightSource {
public:
  virtual ~WeightSource() = default;
  /// Stream `name` of `w` as a 1-D memref. `mayBeEmpty` says that the
  /// stream's size depends on the weight's data (a mixed weight's
  /// allocation: its per-precision codes, scales, zeros and slots), not
  /// only on its shape and layout parameters: a task takes such a stream as
  /// memref<?xT>, and an empty one is a memref the kernel must never read
  /// (a precision that the precision map never selects). Failure when the
  /// layout has no such stream, or leaves it empty and `mayBeEmpty` is
  /// false.
  virtual mlir::FailureOr<mlir::Value> stream(IRB &r, const WeightInfo &w,
                                              llvm::StringRef name,
                                              bool mayBeEmpty = false) = 0;
  /// The per-weight integer `v` as an index.
  virtual mlir::Value index(IRB &r, int64_t v) = 0;
};

/// Streams viewed with their static sizes from the table at `table`, and
/// integers as constants: for kernels inlined into @mixq_prefill/decode.
class InlineWeights : public WeightSource {
public:
  InlineWeights(StreamTable &table, mlir::Value tablePtr)
      : table(table), tablePtr(tablePtr) {}
  mlir::FailureOr<mlir::Value> stream(IRB &r, const WeightInfo &w,
                                      llvm::StringRef name,
                                      bool mayBeEmpty = false) override;
  mlir::Value index(IRB &r, int64_t v) override;

private:
  StreamTable &table;
  mlir::Value tablePtr;
};

struct TaskRegistry;

/// Per-function state of the lowering: the ABI values every kernel needs.
/// A parallel_for call emitParallelFor leaves to emitParallelBatch: the
/// task (!llvm.ptr), its argument array (!llvm.ptr) and block count (i64).
struct DeferredParallelFor {
  mlir::Value task, args, n;
};

struct FunctionEnv {
  mlir::Value runtime;  ///< !llvm.ptr to mixq_runtime
  mlir::Value streams;  ///< !llvm.ptr to the stream table
  StreamTable *table = nullptr;
  mlir::ModuleOp module;
  TaskRegistry *tasks = nullptr; ///< the module's tasks, for sharing
  bool vnni = false;    ///< AVX-512 VNNI (vpdpbusd, 512-bit) may be used
  bool avxVnni = false; ///< AVX-VNNI (VEX vpdpbusd, 256-bit) may be used
  bool avx2 = false;    ///< AVX2 (vpmaddubsw, vpmaddwd) may be used
  bool avx512 = false; ///< AVX-512F (vpermps on 16 lanes) may be used
  bool vbmi = false;   ///< AVX-512 VBMI (vpmultishiftqb) may be used
  /// When set, emitParallelFor appends its call here instead of making it
  /// (products batched into one parallel section, emitParallelBatch).
  std::vector<DeferredParallelFor> *batch = nullptr;
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
/// Where a QUIK token's FP16-column activations start in its scratch row,
/// in f32 words (a multiple of 16).
int64_t quikOutlierWord(const WeightInfo &w);

/// The run-time arguments of one task call beyond its captures: the
/// streams and per-weight integers the body asks for (WeightSource). Each
/// request takes the next slot (two for a stream sized by data: pointer and
/// element count) of the task's argument array; the body loads it once, at
/// the task's entry, and the call site stores this call's value there (a
/// stream's pointer from the module's stream table, its count, or the
/// integer). Streams sized by data are memref<?xT>, so that their sizes,
/// which differ between layers, are not part of the body.
class TaskArgs : public WeightSource {
public:
  /// Made by emitParallelFor: `args` is the task's argument array, whose
  /// slots from `firstSlot` on are free.
  TaskArgs(FunctionEnv &env, mlir::Block *entry, mlir::Value args,
           int64_t firstSlot)
      : env(env), entry(entry), args(args), nextSlot(firstSlot) {}
  mlir::FailureOr<mlir::Value> stream(IRB &r, const WeightInfo &w,
                                      llvm::StringRef name,
                                      bool mayBeEmpty = false) override;
  mlir::Value index(IRB &r, int64_t v) override;
  /// The values the call site stores, slot by slot from firstSlot.
  std::vector<std::function<mlir::Value(IRB &)>> callValues;

private:
  /// The i64 (or !llvm.ptr) word of the next slot, loaded at the entry.
  mlir::Value load(mlir::Location loc, bool pointer);

  FunctionEnv &env;
  mlir::Block *entry;
  mlir::Value args;
  int64_t nextSlot;
  mlir::Operation *lastLoad = nullptr; ///< the entry's last argument load
};

/// Runs `body(begin, end)` over [0, n) blocks on the runtime's threads: the
/// body is outlined into a task function that receives `captures` (memrefs,
/// rebuilt inside with the same types, or !llvm.ptr values),
/// `dynamicSizes` (every dynamic dimension of a captured memref is
/// dynamicSizes[0], the row count) and what it asks of its TaskArgs. A task
/// whose body is identical to one the module has (another layer's) is not
/// kept: the call goes to the existing one.
void emitParallelFor(
    IRB &r, FunctionEnv &env, mlir::Value n, mlir::ValueRange captures,
    mlir::ValueRange dynamicSizes, llvm::StringRef name,
    llvm::function_ref<void(IRB &, TaskArgs &, mlir::ValueRange captures,
                            mlir::ValueRange dynamicSizes, mlir::Value begin,
                            mlir::Value end)>
        body);

/// One parallel_for over the blocks of every call in `calls` (made by
/// emitParallelFor with env.batch set), in order: block b of the batch is
/// block b - (blocks of the calls before) of its call. A batch of one is
/// its plain call; larger ones go through a task `mixq_batch_<k>` that
/// maps a range of the batch's blocks onto the calls' ranges. One section
/// for independent products that read the same input (q, k, v; gate and
/// up) saves the pool's dispatch and join of each but the first.
void emitParallelBatch(IRB &r, FunctionEnv &env,
                       llvm::ArrayRef<DeferredParallelFor> calls);

/// The task functions of a module, by body (CpuTasks.cpp). `intern`
/// returns the symbol of a task already registered whose body is identical
/// to `task`'s (and erases `task`), or names `task` `<prefix>_<count>`,
/// registers it and returns that name.
struct TaskRegistry {
  std::string intern(mlir::func::FuncOp task, llvm::StringRef prefix);

private:
  std::map<size_t, std::vector<mlir::func::FuncOp>> byHash;
  int64_t count = 0;
};

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
