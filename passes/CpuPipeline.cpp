//===- CpuPipeline.cpp - -mixq-cpu-pipeline --------------------------------===//
//
// The named pipeline that takes a module from `mixq compile --emit=mlir` to
// the LLVM dialect for x86: -mixq-plan{target=x86}, -mixq-split-outliers,
// -mixq-lower-cpu, then the upstream conversions (scf to cf, strided
// metadata, affine, vector/memref/arith/math/cf/func/ub to LLVM) and
// reconcile-unrealized-casts.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mixq::buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &o) {
  MixQPlanOptions plan;
  plan.target = "x86";
  pm.addPass(createMixQPlan(plan));
  pm.addPass(createMixQSplitOutliers());
  pm.addPass(createMixQTile());
  MixQLowerCpuOptions lower;
  lower.cpu = o.cpu;
  lower.features = o.features;
  pm.addPass(createMixQLowerCpu(lower));
  // Passes that work function by function run nested, so that MLIR runs
  // them on all cores (a 7B module has hundreds of kernel functions).
  OpPassManager &perFunction = pm.nest<func::FuncOp>();
  perFunction.addPass(createCanonicalizerPass());
  perFunction.addPass(createCSEPass());
  perFunction.addPass(createSCFToControlFlowPass());
  perFunction.addPass(memref::createExpandStridedMetadataPass());
  perFunction.addPass(createLowerAffinePass());
  perFunction.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  OpPassManager &perFunction2 = pm.nest<func::FuncOp>();
  perFunction2.addPass(createConvertMathToLLVMPass());
  perFunction2.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mixq::registerCpuPipeline() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "mixq-cpu-pipeline",
      "Takes a mixq Llama module to the LLVM dialect for x86 (plan, split "
      "outliers, tile, lower-cpu, upstream conversions)",
      buildCpuPipeline);
}
