//===- Passes.h - mixq passes ----------------------------------*- C++ -*-===//
//
// Declarations (create functions, options) and registration of mixq passes.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_PASSES_H
#define MIXQ_PASSES_PASSES_H

#include "dialect/MixQDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mixq {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Options of -mixq-cpu-pipeline.
struct CpuPipelineOptions
    : public mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<std::string> cpu{*this, "cpu",
                          llvm::cl::desc("CPU name recorded in mixq_target"),
                          llvm::cl::init("generic")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("Target features, e.g. +avx512vnni,+avx512bw"),
      llvm::cl::init("")};
};

/// Adds the CPU pipeline (see CpuPipeline.cpp) to `pm`.
void buildCpuPipeline(mlir::OpPassManager &pm, const CpuPipelineOptions &o);
/// Registers -mixq-cpu-pipeline with the pass registry.
void registerCpuPipeline();

/// Options of -mixq-gpu-pipeline.
struct GpuPipelineOptions
    : public mlir::PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("The GPU: sm_80 or sm_90a"),
                           llvm::cl::init("sm_80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What the gpu.binary holds: isa (PTX, needs no "
                     "ptxas), bin (cubin) or fatbin (both need ptxas)"),
      llvm::cl::init("isa")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit directory for format=bin|fatbin (empty: "
                     "MLIR's default search)"),
      llvm::cl::init("")};
  Option<std::string> sm90Gemm{
      *this, "sm90-gemm",
      llvm::cl::desc("The prefill GEMM on sm_90a: wgmma (TMA, mbarriers and "
                     "wgmma where the kernel covers the weight) or mma "
                     "(the mma.sync kernel for every weight)"),
      llvm::cl::init("wgmma")};
  Option<bool> host{*this, "host",
                    llvm::cl::desc("Also lower the host code to the LLVM "
                                   "dialect (gpu-to-llvm and the standard "
                                   "conversions; a whole Llama graph only)"),
                    llvm::cl::init(false)};
};

/// Adds the GPU pipeline (see GpuPipeline.cpp) to `pm`.
void buildGpuPipeline(mlir::OpPassManager &pm, const GpuPipelineOptions &o);
/// Registers -mixq-gpu-pipeline with the pass registry.
void registerGpuPipeline();

} // namespace mixq

#endif // MIXQ_PASSES_PASSES_H
