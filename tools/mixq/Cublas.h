//===- Cublas.h - cuBLAS, loaded with dlopen --------------------*- C++ -*-===//
//
// The FP16 baseline of `mixq bench --target=sm_80|sm_90a` (BenchCublas.h)
// calls cuBLAS without linking it or including its headers, as the runtime
// does the driver (runtime/CudaDriver.h): Cublas::load() dlopens
// $MIXQ_LIBCUBLAS, else the first of libcublas.so.13, libcublas.so.12 and
// libcublas.so that loads (from the loader's path, then from the CUDA
// toolkit's lib64/ and lib/), and resolves the entry points of one X-macro
// list. Every status becomes a one-line error naming the call, the status
// (cublasGetStatusName where the library has it) and the library.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_CUBLAS_H
#define MIXQ_TOOLS_MIXQ_CUBLAS_H

#include "runtime/CudaDriver.h"

#include "llvm/Support/Error.h"

#include <string>

namespace mixq {

namespace cublas {
using Status = int; // cublasStatus_t
using Handle = struct cublasContext *;
constexpr Status CUBLAS_STATUS_SUCCESS = 0;
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
constexpr int CUDA_R_16F = 2;            // cudaDataType
constexpr int CUBLAS_COMPUTE_32F = 68;   // cublasComputeType_t
constexpr int CUBLAS_GEMM_DEFAULT = -1;  // cublasGemmAlgo_t
} // namespace cublas

// X(field, symbol, parameter types...); every one returns cublasStatus_t.
#define MIXQ_CUBLAS_FUNCTIONS(X)                                               \
  X(create, "cublasCreate_v2", cublas::Handle *)                               \
  X(destroy, "cublasDestroy_v2", cublas::Handle)                               \
  X(setStream, "cublasSetStream_v2", cublas::Handle, cuda::CUstream)           \
  X(gemmEx, "cublasGemmEx", cublas::Handle, int, int, int, int, int,           \
    const void *, const void *, int, int, const void *, int, int,              \
    const void *, void *, int, int, int, int)

struct Cublas {
#define MIXQ_CUBLAS_FIELD(field, symbol, ...)                                  \
  cublas::Status (*field)(__VA_ARGS__) = nullptr;
  MIXQ_CUBLAS_FUNCTIONS(MIXQ_CUBLAS_FIELD)
#undef MIXQ_CUBLAS_FIELD
  /// Optional (cuBLAS 11.4.2 and later): the status's enumerator name.
  const char *(*statusName)(cublas::Status) = nullptr;
  /// The file that loaded.
  std::string library;

  /// Loads cuBLAS (see the header comment); the error names every file
  /// tried ("no cuBLAS: libcublas.so.13, ...: not found") or the missing
  /// symbol ("<library>: no symbol cublasGemmEx").
  static llvm::Expected<Cublas> load();

  /// Success, or "<call>: <CUBLAS_STATUS_NAME> (<library>)".
  llvm::Error check(cublas::Status status, const llvm::Twine &call) const;
};

} // namespace mixq

#endif // MIXQ_TOOLS_MIXQ_CUBLAS_H
