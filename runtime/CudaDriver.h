//===- CudaDriver.h - The CUDA driver API, loaded with dlopen ----*- C++ -*-===//
//
// Nothing in mixq links libcuda: CudaDriver::load() dlopens the driver
// library (libcuda.so.1, or $MIXQ_LIBCUDA) and resolves every entry point
// the runtime calls with dlsym, from one X-macro list below. The types are
// declared here (ABI-compatible with cuda.h, which is never included), so
// the project builds without the CUDA toolkit.
//
// The list uses the versioned names that cuda.h #defines its API names to
// (cuMemAlloc is cuMemAlloc_v2, ...): dlsym sees no macros. Every CUresult
// becomes a one-line llvm::Error naming the call and the driver's text:
// "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_CUDADRIVER_H
#define MIXQ_RUNTIME_CUDADRIVER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <string>

namespace mixq {
namespace cuda {

// The subset of cuda.h's types the runtime uses (same sizes and values).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUgraphNode = struct CUgraphNode_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
/// cuGraphExecUpdate: the graph cannot update the exec (topology, kernel
/// or node kind changed); instantiate it instead.
constexpr CUresult CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE = 910;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr int CU_JIT_OPTIMIZATION_LEVEL = 7;
constexpr unsigned CU_STREAM_DEFAULT = 0;
/// CUstreamCaptureMode: the driver refuses no call as "unsafe" during the
/// capture (the runtime refuses them itself, GpuRuntimeABI.h), so lazy
/// module loading may allocate inside the driver during the first one.
constexpr int CU_STREAM_CAPTURE_MODE_RELAXED = 2;
constexpr unsigned CU_EVENT_DEFAULT = 0;
/// cuda.h's CUgraphExecUpdateResultInfo (the result is a C enum).
struct CUgraphExecUpdateResultInfo {
  int result;
  CUgraphNode errorNode, errorFromNode;
};
/// cuda.h's CUtensorMap: 128 opaque bytes, 64-byte aligned.
struct alignas(64) CUtensorMap {
  unsigned long long opaque[16];
};
static_assert(sizeof(CUtensorMap) == 128, "CUtensorMap is 128 bytes");

} // namespace cuda

// X(field, symbol in libcuda, return type, parameter types...)
#define MIXQ_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(init, "cuInit", unsigned)                                                  \
  X(driverGetVersion, "cuDriverGetVersion", int *)                             \
  X(getErrorName, "cuGetErrorName", cuda::CUresult, const char **)             \
  X(getErrorString, "cuGetErrorString", cuda::CUresult, const char **)         \
  X(deviceGetCount, "cuDeviceGetCount", int *)                                 \
  X(deviceGet, "cuDeviceGet", cuda::CUdevice *, int)                           \
  X(deviceGetAttribute, "cuDeviceGetAttribute", int *, int, cuda::CUdevice)    \
  X(deviceGetName, "cuDeviceGetName", char *, int, cuda::CUdevice)             \
  X(primaryCtxRetain, "cuDevicePrimaryCtxRetain", cuda::CUcontext *,           \
    cuda::CUdevice)                                                            \
  X(primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", cuda::CUdevice)         \
  X(ctxSetCurrent, "cuCtxSetCurrent", cuda::CUcontext)                         \
  X(ctxSynchronize, "cuCtxSynchronize")                                        \
  X(memGetInfo, "cuMemGetInfo_v2", size_t *, size_t *)                         \
  X(memAlloc, "cuMemAlloc_v2", cuda::CUdeviceptr *, size_t)                    \
  X(memFree, "cuMemFree_v2", cuda::CUdeviceptr)                                \
  X(memcpyHtoD, "cuMemcpyHtoD_v2", cuda::CUdeviceptr, const void *, size_t)    \
  X(memcpyDtoH, "cuMemcpyDtoH_v2", void *, cuda::CUdeviceptr, size_t)          \
  X(memcpyAsync, "cuMemcpyAsync", cuda::CUdeviceptr, cuda::CUdeviceptr,        \
    size_t, cuda::CUstream)                                                    \
  X(memsetD32, "cuMemsetD32_v2", cuda::CUdeviceptr, unsigned, size_t)          \
  X(memsetD32Async, "cuMemsetD32Async", cuda::CUdeviceptr, unsigned, size_t,   \
    cuda::CUstream)                                                            \
  X(memsetD16Async, "cuMemsetD16Async", cuda::CUdeviceptr, unsigned short,     \
    size_t, cuda::CUstream)                                                    \
  X(moduleLoadDataEx, "cuModuleLoadDataEx", cuda::CUmodule *, const void *,    \
    unsigned, int *, void **)                                                  \
  X(moduleUnload, "cuModuleUnload", cuda::CUmodule)                            \
  X(moduleGetFunction, "cuModuleGetFunction", cuda::CUfunction *,              \
    cuda::CUmodule, const char *)                                              \
  X(launchKernel, "cuLaunchKernel", cuda::CUfunction, unsigned, unsigned,      \
    unsigned, unsigned, unsigned, unsigned, unsigned, cuda::CUstream, void **, \
    void **)                                                                   \
  X(streamCreate, "cuStreamCreate", cuda::CUstream *, unsigned)                \
  X(streamSynchronize, "cuStreamSynchronize", cuda::CUstream)                  \
  X(streamDestroy, "cuStreamDestroy_v2", cuda::CUstream)

// Entry points a driver may lack (the table keeps them null): the TMA
// tensor maps of the sm_90a GEMM (CUDA 12.0 and later); the CUDA graph
// calls that capture the decode step (runtime/GpuGraph.h; without them
// decode runs uncaptured); events, which time kernels (mixq bench).
// Enums cross as int. X(field, symbol, parameter types...)
#define MIXQ_CUDA_OPTIONAL_FUNCTIONS(X)                                        \
  X(tensorMapEncodeTiled, "cuTensorMapEncodeTiled", cuda::CUtensorMap *, int,  \
    unsigned, void *, const unsigned long long *, const unsigned long long *,  \
    const unsigned *, const unsigned *, int, int, int, int)                    \
  X(streamBeginCapture, "cuStreamBeginCapture_v2", cuda::CUstream, int)        \
  X(streamEndCapture, "cuStreamEndCapture", cuda::CUstream, cuda::CUgraph *)   \
  X(graphInstantiate, "cuGraphInstantiateWithFlags", cuda::CUgraphExec *,      \
    cuda::CUgraph, unsigned long long)                                         \
  X(graphExecUpdate, "cuGraphExecUpdate_v2", cuda::CUgraphExec, cuda::CUgraph, \
    cuda::CUgraphExecUpdateResultInfo *)                                       \
  X(graphLaunch, "cuGraphLaunch", cuda::CUgraphExec, cuda::CUstream)           \
  X(graphDestroy, "cuGraphDestroy", cuda::CUgraph)                             \
  X(graphExecDestroy, "cuGraphExecDestroy", cuda::CUgraphExec)                 \
  X(eventCreate, "cuEventCreate", cuda::CUevent *, unsigned)                   \
  X(eventRecord, "cuEventRecord", cuda::CUevent, cuda::CUstream)               \
  X(eventSynchronize, "cuEventSynchronize", cuda::CUevent)                     \
  X(eventElapsedTime, "cuEventElapsedTime", float *, cuda::CUevent,            \
    cuda::CUevent)                                                             \
  X(eventDestroy, "cuEventDestroy_v2", cuda::CUevent)

/// The driver's entry points, resolved once per process.
struct CudaDriver {
#define MIXQ_CUDA_FIELD(field, symbol, ...)                                    \
  cuda::CUresult (*field)(__VA_ARGS__) = nullptr;
  MIXQ_CUDA_DRIVER_FUNCTIONS(MIXQ_CUDA_FIELD)
  MIXQ_CUDA_OPTIONAL_FUNCTIONS(MIXQ_CUDA_FIELD)
#undef MIXQ_CUDA_FIELD
  /// The library the table came from (for "<library> has no <symbol>").
  std::string library;

  /// Empty when the driver has every CUDA graph call the decode capture
  /// uses, else "<library> has no <symbol>" for the first one missing.
  std::string missingGraphCall() const;
  /// The same for the event calls (cuEventCreate, ..., cuEventDestroy_v2).
  std::string missingEventCall() const;

  /// The driver library's name: $MIXQ_LIBCUDA when set, else libcuda.so.1.
  static std::string libraryName();

  /// The process's driver, loaded on first use (thread-safe). Fails with
  /// "libcuda.so.1 not found: no NVIDIA driver on this machine" (plus the
  /// loader's reason when the file exists but does not load)
  /// or "<library>: no symbol <name> (driver too old?)"; the failure is
  /// remembered, so every call returns the same message.
  static llvm::Expected<const CudaDriver &> get();

  /// Loads `library` into a new table (get() uses libraryName()); the
  /// library stays loaded. For tests.
  static llvm::Expected<CudaDriver> load(llvm::StringRef library);

  /// Success, or "<call>: <CUDA_ERROR_NAME> (<description>)".
  llvm::Error check(cuda::CUresult result, llvm::StringRef call) const;
  /// "<CUDA_ERROR_NAME> (<description>)" for `result`.
  std::string describe(cuda::CUresult result) const;
};

/// True when `e` (from CudaDriver::get or load) says the driver library is
/// missing, as opposed to present but unusable.
bool isMissingDriverMessage(llvm::StringRef message);

} // namespace mixq

#endif // MIXQ_RUNTIME_CUDADRIVER_H
