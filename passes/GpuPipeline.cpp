//===- GpuPipeline.cpp - -mixq-gpu-pipeline ---------------------------------===//
//
// The named pipeline that takes a module with mixq.qmatmul products to PTX
// for an NVIDIA GPU: -mixq-plan{target=chip}, -mixq-split-outliers,
// -mixq-tile, -mixq-lower-gpu, -mixq-pipeline-dequant, canonicalize and CSE, then
// nvvm-attach-target{chip features=+ptx80 O=3}, inside the gpu.module the
// conversions convert-nvgpu-to-nvvm, convert-scf-to-cf,
// convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1}, convert-nvvm-to-llvm,
// canonicalize and reconcile-unrealized-casts, and gpu-module-to-binary
// {format=isa|bin|fatbin}: the kernels become a gpu.binary holding PTX (or
// cubin). With host=1 (a whole Llama graph) the host functions then go to
// the LLVM dialect: convert-scf-to-cf, gpu-to-llvm{use-bare-pointers-for-
// kernels} (launches and streams become mgpu* calls when the module is
// translated to LLVM IR), finalize-memref-to-llvm, and the arith, cf and
// func conversions, after convert-nvgpu-to-nvvm for the host's TMA
// tensor maps. Otherwise the host code stays as -mixq-lower-gpu made
// it.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mixq::buildGpuPipeline(OpPassManager &pm, const GpuPipelineOptions &o) {
  MixQPlanOptions plan;
  plan.target = o.chip;
  plan.sm90Gemm = o.sm90Gemm;
  pm.addPass(createMixQPlan(plan));
  pm.addPass(createMixQSplitOutliers());
  pm.addPass(createMixQTile());
  pm.addPass(createMixQLowerGpu());
  pm.addPass(createMixQPipelineDequant());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = o.chip;
  target.features = "+ptx80";
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createConvertNVGPUToNVVMPass());
  kernels.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions toNvvm;
  toNvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(toNvvm));
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = o.format;
  binary.toolkitPath = o.toolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
  if (!o.host)
    return;
  // The host's nvgpu.tma.create.descriptor (the wgmma GEMM's tensor maps)
  // becomes a call of mgpuTensorMapEncodeTiledMemref.
  pm.addPass(createConvertNVGPUToNVVMPass());
  pm.addPass(createSCFToControlFlowPass());
  GpuToLLVMConversionPassOptions toLlvm;
  toLlvm.hostBarePtrCallConv = false;
  toLlvm.kernelBarePtrCallConv = true;
  pm.addPass(createGpuToLLVMConversionPass(toLlvm));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mixq::registerGpuPipeline() {
  PassPipelineRegistration<GpuPipelineOptions>(
      "mixq-gpu-pipeline",
      "Takes mixq products, or a whole Llama graph, to PTX kernels for sm_80 "
      "or sm_90a (plan, split outliers, tile, lower-gpu, NVVM conversions, "
      "gpu-module-to-binary; host=1: host code to the LLVM dialect)",
      buildGpuPipeline);
}
