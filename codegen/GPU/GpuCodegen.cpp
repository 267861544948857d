//===- GpuCodegen.cpp - A lowered GPU module -> PTX, cubin ---------------===//
//
// See GpuCodegen.h.
//
//===----------------------------------------------------------------------===//
#include "codegen/GPU/GpuCodegen.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cstdlib>

using namespace llvm;

namespace mixq {

void registerGpuCodegen(mlir::DialectRegistry &registry) {
  registry.insert<mlir::gpu::GPUDialect, mlir::NVVM::NVVMDialect>();
  mlir::arith::registerConvertArithToLLVMInterface(registry);
  mlir::cf::registerConvertControlFlowToLLVMInterface(registry);
  mlir::registerConvertFuncToLLVMInterface(registry);
  mlir::index::registerConvertIndexToLLVMInterface(registry);
  mlir::registerConvertMathToLLVMInterface(registry);
  mlir::registerConvertMemRefToLLVMInterface(registry);
  mlir::ub::registerConvertUBToLLVMInterface(registry);
  mlir::vector::registerConvertVectorToLLVMInterface(registry);
  mlir::registerConvertNVVMToLLVMInterface(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerGPUDialectTranslation(registry);
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerNVVMDialectTranslation(registry);
}

std::optional<std::string> findCudaToolkit() {
  auto hasPtxas = [](StringRef dir) {
    SmallString<256> p(dir);
    sys::path::append(p, "bin", "ptxas");
    return sys::fs::can_execute(p);
  };
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *dir = std::getenv(var))
      if (*dir && hasPtxas(dir))
        return std::string(dir);
  if (ErrorOr<std::string> ptxas = sys::findProgramByName("ptxas")) {
    StringRef dir = sys::path::parent_path(sys::path::parent_path(*ptxas));
    if (hasPtxas(dir))
      return dir.str();
  }
  if (hasPtxas("/usr/local/cuda"))
    return std::string("/usr/local/cuda");
  return std::nullopt;
}

Expected<GpuObject> kernelObject(mlir::ModuleOp module) {
  SmallVector<mlir::gpu::BinaryOp> binaries;
  module.walk([&](mlir::gpu::BinaryOp op) { binaries.push_back(op); });
  if (binaries.size() != 1)
    return createStringError(inconvertibleErrorCode(),
                             "expected one gpu.binary in the lowered module, "
                             "found " +
                                 Twine(binaries.size()));
  auto objects = binaries.front().getObjects();
  if (objects.size() != 1)
    return createStringError(inconvertibleErrorCode(),
                             "expected one object in the gpu.binary");
  auto object = cast<mlir::gpu::ObjectAttr>(objects[0]);
  GpuObject out;
  switch (object.getFormat()) {
  case mlir::gpu::CompilationTarget::Assembly:
    out.format = GpuObjectFormat::Ptx;
    break;
  case mlir::gpu::CompilationTarget::Binary:
    out.format = GpuObjectFormat::Cubin;
    break;
  case mlir::gpu::CompilationTarget::Fatbin:
    out.format = GpuObjectFormat::Fatbin;
    break;
  default:
    return createStringError(inconvertibleErrorCode(),
                             "the gpu.binary holds LLVM IR, not PTX or cubin");
  }
  out.bytes = object.getObject().getValue().str();
  if (auto target = dyn_cast<mlir::NVVM::NVVMTargetAttr>(object.getTarget()))
    out.chip = target.getChip().str();
  return out;
}

} // namespace mixq
