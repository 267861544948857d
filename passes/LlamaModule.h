//===- LlamaModule.h - Pieces both Llama lowerings share --------*- C++ -*-===//
//
// What -mixq-lower-cpu and -mixq-lower-gpu both need from a module built by
// `mixq compile` and both give the compiled module of runtime/ModuleABI.h:
//   - ModelDims / readModelDims: the `mixq.model` attribute;
//   - LivenessArena: first-fit placement of buffers by lifetime (the scratch
//     planning of both lowerings, after ggml's graph allocator);
//   - buildRopeTable: the (cos, sin) table of every position in f64, as the
//     reference engine computes it;
//   - createEntryPoint: mixq_prefill / mixq_decode with their C signature;
//   - buildModuleExports: the exported queries (ABI version, package hash,
//     target, model dims, stream names, scratch size).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_LLAMAMODULE_H
#define MIXQ_PASSES_LLAMAMODULE_H

#include "passes/cpu/CpuBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>
#include <vector>

namespace mixq {

/// The model dimensions of the `mixq.model` attribute.
struct ModelDims {
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0,
          seq = 0;
  float eps = 1e-5f, theta = 10000.0f;
  int64_t headDim() const { return dim / heads; }
};

/// Reads `mixq.model`; a missing attribute or dimension is an error that
/// names `pass`.
mlir::LogicalResult readModelDims(mlir::ModuleOp module, ModelDims &d,
                                  llvm::StringRef pass);

/// First-fit allocation of byte ranges with lifetimes over op indices; each
/// range is rounded up to `alignment` bytes.
class LivenessArena {
public:
  explicit LivenessArena(int64_t alignment = 64) : alignment(alignment) {}
  /// A range of `size` bytes live from op `now` to op `lastUse`.
  int64_t allocate(int64_t size, int64_t now, int64_t lastUse);
  int64_t peak = 0;

private:
  struct Range {
    int64_t begin, size, lastUse;
  };
  int64_t alignment;
  std::vector<Range> live;
};

/// `memref.global "private" constant @mixq_rope_table : memref<S x HD/2 x 2
/// x f32>` at the builder's insertion point.
mlir::memref::GlobalOp buildRopeTable(mlir::OpBuilder &b, mlir::Location loc,
                                      const ModelDims &d, int64_t alignment);

/// The version `mixq_abi_version` returns (MIXQ_ABI_VERSION of
/// runtime/ModuleABI.h, whose signatures createEntryPoint follows).
constexpr int32_t kModuleAbiVersion = 2;

/// An empty `mixq_prefill` or `mixq_decode` with the C signature of
/// runtime/ModuleABI.h (runtime, streams, caches, tokens, position(s),
/// [first logit,] logits, scratch -> i32 status), at the end of `module`.
mlir::func::FuncOp createEntryPoint(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::ModuleOp module, bool decode);

/// The exports of runtime/ModuleABI.h as func.func definitions at the end of
/// `module`. `scratchBytes` computes mixq_scratch_bytes from its argument
/// (the maximum token count, i64); `gpuAbiVersion` adds
/// mixq_gpu_abi_version.
/// The layer a KV-cache slice of the graph addresses: the first of its 4
/// static offsets ([layer, pos, 0, 0] for the cache update, [layer, 0, 0, 0]
/// for the view attention reads); none for any other slice.
inline std::optional<int64_t>
kvCacheLayer(llvm::ArrayRef<int64_t> staticOffsets) {
  if (staticOffsets.size() != 4 ||
      mlir::ShapedType::isDynamic(staticOffsets[0]))
    return std::nullopt;
  return staticOffsets[0];
}

void buildModuleExports(
    mlir::OpBuilder &b, mlir::Location loc, mlir::ModuleOp module,
    const ModelDims &d, llvm::StringRef sha, llvm::StringRef target,
    llvm::ArrayRef<std::string> streams,
    llvm::function_ref<mlir::Value(cpu::IRB &, mlir::Value)> scratchBytes,
    std::optional<int32_t> gpuAbiVersion = std::nullopt);

} // namespace mixq

#endif // MIXQ_PASSES_LLAMAMODULE_H
