//===- GraphLowering.h - The Llama graph on the GPU -------------*- C++ -*-===//
//
// The whole-graph mode of -mixq-lower-gpu: a module built by `mixq
// compile` (attribute mixq.model, functions @prefill and @decode, products
// planned for sm_80/sm_90a and tiled) becomes `gpu.module @mixq_kernels`
// plus the host functions `mixq_prefill` / `mixq_decode` of
// runtime/ModuleABI.h on device pointers, every op one or more
// gpu.launch_func on one stream, and the module's exports
// (passes/LlamaModule.h, shared with the CPU lowering).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_GPU_GRAPHLOWERING_H
#define MIXQ_PASSES_GPU_GRAPHLOWERING_H

#include "mlir/IR/BuiltinOps.h"


namespace mixq::device {

/// Whether `module` is a Llama graph from `mixq compile`.
bool isLlamaGraph(mlir::ModuleOp module);

/// Lowers the graph; diagnostics name the op that has no GPU lowering.
mlir::LogicalResult lowerLlamaGraph(mlir::ModuleOp module);

} // namespace mixq::device

#endif // MIXQ_PASSES_GPU_GRAPHLOWERING_H
