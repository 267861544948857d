//===- GraphLowering.h - The Llama graph on the GPU -------------*- C++ -*-===//
//
// The whole-graph mode of -mixq-lower-gpu: a module built by `mixq
// compile` (attribute mixq.model, functions @prefill and @decode, products
// planned for sm_80/sm_90a and tiled) becomes `gpu.module @mixq_kernels`
// plus the host functions `mixq_prefill` / `mixq_decode` of
// runtime/ModuleABI.h on device pointers, every op one or more
// gpu.launch_func on one stream, and the module's exports (GpuExports.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_GPU_GRAPHLOWERING_H
#define MIXQ_PASSES_GPU_GRAPHLOWERING_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mixq::device {

/// Whether `module` is a Llama graph from `mixq compile`.
bool isLlamaGraph(mlir::ModuleOp module);

/// Lowers the graph; diagnostics name the op that has no GPU lowering.
mlir::LogicalResult lowerLlamaGraph(mlir::ModuleOp module);

/// The model dimensions of the `mixq.model` attribute.
struct GraphDims {
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0,
          seq = 0;
  float theta = 10000.0f;
  int64_t headDim() const { return dim / heads; }
};

/// Adds the exported queries of runtime/ModuleABI.h (ABI version, GPU ABI
/// version, package hash, target, model dims, stream names, scratch size;
/// GpuExports.cpp) to `module`.
void buildGpuExports(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::ModuleOp module, const GraphDims &d,
                     llvm::StringRef sha, llvm::StringRef target,
                     const std::vector<std::string> &streams,
                     int64_t scratchBytes);

} // namespace mixq::device

#endif // MIXQ_PASSES_GPU_GRAPHLOWERING_H
