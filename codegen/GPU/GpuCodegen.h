//===- GpuCodegen.h - A lowered GPU module -> PTX, cubin, .so ---*- C++ -*-===//
//
// The last steps of the GPU path (docs/Compiler.md, "The GPU path"):
//
//   registerGpuCodegen   what a context needs to run -mixq-gpu-pipeline and
//                        translate its result: the NVVM target, the GPU /
//                        NVVM / LLVM translations, the to-LLVM interfaces
//   findCudaToolkit      the CUDA toolkit holding ptxas ($CUDA_HOME,
//                        $CUDA_PATH, ptxas on PATH, /usr/local/cuda)
//   kernelObject         the PTX text or cubin bytes of the module's
//                        gpu.binary (no unescaping: the attribute holds the
//                        bytes)
//
// All failures are llvm::Error.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_CODEGEN_GPU_GPUCODEGEN_H
#define MIXQ_CODEGEN_GPU_GPUCODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mixq {

/// Registers the NVVM target attribute model, the builtin/LLVM/NVVM/GPU
/// translations to LLVM IR and the convert-to-LLVM interfaces the host
/// lowering uses.
void registerGpuCodegen(mlir::DialectRegistry &registry);

/// The directory of a CUDA toolkit with bin/ptxas, if any.
std::optional<std::string> findCudaToolkit();

/// What a gpu.binary object holds.
enum class GpuObjectFormat { Ptx, Cubin, Fatbin };

struct GpuObject {
  GpuObjectFormat format;
  std::string bytes; ///< PTX text, or cubin / fatbin bytes
  std::string chip;  ///< "sm_80", "sm_90a"
};

/// The (single) object of the (single) gpu.binary in `module`.
llvm::Expected<GpuObject> kernelObject(mlir::ModuleOp module);

} // namespace mixq

#endif // MIXQ_CODEGEN_GPU_GPUCODEGEN_H
