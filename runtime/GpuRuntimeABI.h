//===- GpuRuntimeABI.h - The mgpu* functions GPU modules import -*- C++ -*-===//
//
// A GPU module (ModuleABI.h, "GPU modules") leaves the mgpu* functions that
// MLIR's gpu-to-llvm lowering and gpu.binary translation call undefined;
// the runtime implements them here on CudaDriver (GpuRuntimeABI.cpp) with
// the C signatures that lowering emits. They reach the module as dynamic
// symbols of the executable: every executable that links mixq_runtime is
// linked with --undefined and --export-dynamic-symbol for each of them
// (runtime/CMakeLists.txt), so dlopen binds the module's imports to them.
//
// The generated code checks no result: the functions return null or
// nothing on failure. Each failure is recorded instead (the first one since
// the last takeGpuAbiError) as "<call>: <CUDA error>", and the runtime
// turns it into an llvm::Error after loading a module and after each call.
// Each function makes the primary context current first (GpuContext), so a
// module's constructor may load its kernels before anyone else touched
// CUDA; without a driver it records the driver's message and returns null.
//
// A GpuStreamScope lends the module's host code a stream the runtime owns
// (the decode step's CUDA graph capture, runtime/GpuGraph.h): the module's
// mgpuStreamCreate returns it and its mgpuStreamDestroy leaves it; while
// the stream is captured, mgpuStreamSynchronize of it is skipped, and what
// cannot be captured (allocation, a new TMA tensor map's upload, a launch,
// copy or synchronization on another stream) is recorded as an error and
// not done.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPURUNTIMEABI_H
#define MIXQ_RUNTIME_GPURUNTIMEABI_H

#include "runtime/GpuTarget.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>

#define MIXQ_GPU_EXPORT extern "C" __attribute__((visibility("default")))

// Kernel images, embedded in the module (cubin, or NUL-terminated PTX).
MIXQ_GPU_EXPORT void *mgpuModuleLoad(void *data, size_t size);
MIXQ_GPU_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel);
MIXQ_GPU_EXPORT void mgpuModuleUnload(void *module);
MIXQ_GPU_EXPORT void *mgpuModuleGetFunction(void *module, const char *name);
MIXQ_GPU_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                      intptr_t gridY, intptr_t gridZ,
                                      intptr_t blockX, intptr_t blockY,
                                      intptr_t blockZ, int32_t smem,
                                      void *stream, void **params,
                                      void **extra, size_t paramCount);
// Streams.
MIXQ_GPU_EXPORT void *mgpuStreamCreate(void);
MIXQ_GPU_EXPORT void mgpuStreamSynchronize(void *stream);
MIXQ_GPU_EXPORT void mgpuStreamDestroy(void *stream);
// Memory (gpu.alloc, gpu.dealloc, gpu.memcpy, gpu.memset; not imported by
// today's modules, provided for the lowering's full set of memory ops).
MIXQ_GPU_EXPORT void *mgpuMemAlloc(uint64_t bytes, void *stream,
                                   bool hostShared);
MIXQ_GPU_EXPORT void mgpuMemFree(void *pointer, void *stream);
MIXQ_GPU_EXPORT void mgpuMemcpy(void *dst, void *src, size_t bytes,
                                void *stream);
MIXQ_GPU_EXPORT void mgpuMemset32(void *dst, unsigned value, size_t count,
                                  void *stream);
MIXQ_GPU_EXPORT void mgpuMemset16(void *dst, unsigned short value,
                                  size_t count, void *stream);
// TMA tensor maps (upstream nvgpu.tma.create.descriptor lowers to this
// call): a tiled map of the memref whose ranked descriptor is `descriptor`
// (rank 1..5, innermost stride 1), element type `dataType`
// (CUtensorMapDataType), box `box[rank]` in memref order (outermost first),
// encoded with cuTensorMapEncodeTiled and copied to device memory; returns
// that device address (kernels read the map from global memory). Maps are
// cached by their bytes, so a call with the same memref and box reuses one
// allocation. Records a failure (and returns null) when the driver has no
// cuTensorMapEncodeTiled.
MIXQ_GPU_EXPORT void *mgpuTensorMapEncodeTiledMemref(int64_t rank,
                                                     void *descriptor,
                                                     int64_t dataType,
                                                     int64_t interleave,
                                                     int64_t swizzle,
                                                     int64_t l2Promotion,
                                                     int64_t oobFill,
                                                     int64_t *box);

namespace mixq {

/// The first failure of an mgpu* function since the last call, as an error
/// (success when there was none); clears it.
llvm::Error takeGpuAbiError();

/// On the thread that makes it, and until it is destroyed: the mgpu*
/// functions run the module's work on `stream` (see the header comment);
/// `captured`: the stream is being captured into a CUDA graph. Scopes do
/// not nest.
class GpuStreamScope {
public:
  GpuStreamScope(void *stream, bool captured);
  ~GpuStreamScope();
  GpuStreamScope(const GpuStreamScope &) = delete;
  GpuStreamScope &operator=(const GpuStreamScope &) = delete;
};

/// How the last kernel image was loaded (mgpuModuleLoad: Cubin,
/// mgpuModuleLoadJIT: Ptx) since the last call; clears it to Unknown.
GpuImageKind takeLastGpuImageKind();

} // namespace mixq

#endif // MIXQ_RUNTIME_GPURUNTIMEABI_H
