//===- GpuRuntimeABI.cpp - The mgpu* functions GPU modules import ---------===//
//
// See GpuRuntimeABI.h. CUmodule, CUfunction and CUstream cross the ABI as
// void *; device pointers as void * too.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuRuntimeABI.h"
#include "runtime/GpuContext.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <cassert>
#include <cstring>
#include <mutex>
#include <string>

using namespace mixq;
using namespace mixq::cuda;

namespace {

/// The first unreported failure and the kind of the last image loaded.
struct AbiState {
  std::mutex mutex;
  std::string error;
  GpuImageKind lastImage = GpuImageKind::Unknown;
  /// mgpuModuleGetFunction runs before every launch: names resolved once
  /// per module.
  llvm::DenseMap<void *, llvm::StringMap<CUfunction>> functions;
  /// Device copies of the TMA tensor maps, by their 128 bytes.
  llvm::StringMap<CUdeviceptr> tensorMaps;
};

/// The stream a GpuStreamScope lends on this thread (null: none).
struct LentStream {
  CUstream stream = nullptr;
  bool captured = false;
};
thread_local LentStream lent;

AbiState &state() {
  static AbiState *s = new AbiState; // outlives modules unloaded at exit
  return *s;
}

void record(llvm::Error e) {
  if (!e)
    return;
  std::string text = llvm::toString(std::move(e));
  AbiState &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.error.empty())
    s.error = std::move(text);
}

void record(const llvm::Twine &text) {
  record(llvm::createStringError(llvm::inconvertibleErrorCode(), text));
}

/// The context, current on this thread; null after recording why not.
GpuContext *context() {
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu) {
    record(gpu.takeError());
    return nullptr;
  }
  return &*gpu;
}

/// `log` on one line: "; " between its lines, no trailing newline.
std::string oneLine(llvm::StringRef log) {
  std::string out;
  for (char c : log.rtrim())
    out += c == '\n' ? std::string("; ") : std::string(1, c);
  return out;
}

void *loadImage(const void *data, GpuImageKind kind, int optLevel) {
  {
    AbiState &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.lastImage = kind;
  }
  GpuContext *gpu = context();
  if (!gpu)
    return nullptr;
  char log[4096] = {};
  int options[3] = {CU_JIT_ERROR_LOG_BUFFER,
                    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                    CU_JIT_OPTIMIZATION_LEVEL};
  void *values[3] = {log, reinterpret_cast<void *>(sizeof(log) - 1),
                     reinterpret_cast<void *>(intptr_t(optLevel))};
  unsigned count = kind == GpuImageKind::Ptx && optLevel >= 0 &&
                           optLevel <= 4
                       ? 3
                       : 2;
  CUmodule module = nullptr;
  CUresult result = gpu->driver().moduleLoadDataEx(&module, data, count,
                                                   options, values);
  if (result != CUDA_SUCCESS) {
    std::string call = kind == GpuImageKind::Ptx
                           ? "cuModuleLoadDataEx (PTX)"
                           : "cuModuleLoadDataEx (cubin)";
    std::string text = gpu->driver().describe(result);
    if (log[0])
      text += ": " + oneLine(log);
    record(call + ": " + text);
    return nullptr;
  }
  return module;
}

/// True (after recording why) when `call` must not run because the lent
/// stream is being captured: `call` would allocate or copy synchronously,
/// which a CUDA graph cannot hold and which the capture forbids.
bool refusedInCapture(const llvm::Twine &call) {
  if (!lent.captured)
    return false;
  record(call + ": not allowed while the decode step is captured in a CUDA "
                "graph (it allocates or synchronizes); run decode uncaptured "
                "with MIXQ_CUDA_GRAPH=0");
  return true;
}

/// True (after recording why) when work for `stream` would leave the
/// captured stream: it would run now, outside the graph.
bool offCapturedStream(void *stream, const char *call) {
  if (!lent.captured || stream == lent.stream)
    return false;
  record(llvm::Twine(call) + ": on a stream other than the decode step's "
                             "captured one (the CUDA graph would miss it); "
                             "run decode uncaptured with MIXQ_CUDA_GRAPH=0");
  return true;
}

/// `value` as a launch dimension, or 0 after recording why not.
unsigned dimension(intptr_t value, const char *what) {
  if (value <= 0 || uint64_t(value) > UINT32_MAX) {
    record(llvm::formatv("mgpuLaunchKernel: {0} is {1}", what, value).str());
    return 0;
  }
  return unsigned(value);
}

} // namespace

llvm::Error mixq::takeGpuAbiError() {
  AbiState &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.error.empty())
    return llvm::Error::success();
  std::string text = std::move(s.error);
  s.error.clear();
  return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
}

mixq::GpuStreamScope::GpuStreamScope(void *stream, bool captured) {
  assert(!lent.stream && "GpuStreamScopes do not nest");
  lent.stream = static_cast<CUstream>(stream);
  lent.captured = captured;
}

mixq::GpuStreamScope::~GpuStreamScope() { lent = LentStream(); }

GpuImageKind mixq::takeLastGpuImageKind() {
  AbiState &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  GpuImageKind kind = s.lastImage;
  s.lastImage = GpuImageKind::Unknown;
  return kind;
}

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  return loadImage(data, GpuImageKind::Cubin, -1);
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  return loadImage(data, GpuImageKind::Ptx, optLevel);
}

void mgpuModuleUnload(void *module) {
  if (!module)
    return; // its load failed (and was recorded)
  {
    AbiState &s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.functions.erase(module);
  }
  if (GpuContext *gpu = context())
    record(gpu->check(
        gpu->driver().moduleUnload(static_cast<CUmodule>(module)),
        "cuModuleUnload"));
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  if (!module) {
    record(llvm::Twine("mgpuModuleGetFunction: no kernel module for ") + name +
           " (its kernels did not load)");
    return nullptr;
  }
  AbiState &s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.functions.find(module);
    if (it != s.functions.end()) {
      auto fn = it->second.find(name);
      if (fn != it->second.end())
        return fn->second;
    }
  }
  GpuContext *gpu = context();
  if (!gpu)
    return nullptr;
  CUfunction function = nullptr;
  if (llvm::Error e = gpu->check(
          gpu->driver().moduleGetFunction(&function,
                                          static_cast<CUmodule>(module), name),
          (llvm::Twine("cuModuleGetFunction(") + name + ")").str())) {
    record(std::move(e));
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.functions[module][name] = function;
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t /*paramCount*/) {
  if (!function) {
    record("mgpuLaunchKernel: no kernel (mgpuModuleGetFunction failed)");
    return;
  }
  unsigned dims[6] = {dimension(gridX, "gridX"),   dimension(gridY, "gridY"),
                      dimension(gridZ, "gridZ"),   dimension(blockX, "blockX"),
                      dimension(blockY, "blockY"), dimension(blockZ, "blockZ")};
  for (unsigned d : dims)
    if (d == 0)
      return;
  if (smem < 0) {
    record(llvm::formatv("mgpuLaunchKernel: {0} bytes of shared memory", smem)
               .str());
    return;
  }
  if (offCapturedStream(stream, "mgpuLaunchKernel"))
    return;
  GpuContext *gpu = context();
  if (!gpu)
    return;
  record(gpu->check(gpu->driver().launchKernel(
                        static_cast<CUfunction>(function), dims[0], dims[1],
                        dims[2], dims[3], dims[4], dims[5], unsigned(smem),
                        static_cast<CUstream>(stream), params, extra),
                    "cuLaunchKernel"));
}

void *mgpuStreamCreate(void) {
  GpuContext *gpu = context();
  if (!gpu)
    return nullptr;
  if (lent.stream)
    return lent.stream;
  // A blocking stream: it waits for the runtime's copies on the default
  // stream (its inputs) before its kernels run.
  CUstream stream = nullptr;
  record(gpu->check(gpu->driver().streamCreate(&stream, CU_STREAM_DEFAULT),
                    "cuStreamCreate"));
  return stream;
}

void mgpuStreamSynchronize(void *stream) {
  // The captured stream is synchronized after its graph is launched.
  if (lent.captured && stream == lent.stream)
    return;
  if (offCapturedStream(stream, "mgpuStreamSynchronize"))
    return;
  if (GpuContext *gpu = context())
    record(gpu->check(
        gpu->driver().streamSynchronize(static_cast<CUstream>(stream)),
        "cuStreamSynchronize"));
}

void mgpuStreamDestroy(void *stream) {
  if (!stream || stream == lent.stream)
    return; // the lender's
  if (GpuContext *gpu = context())
    record(gpu->check(
        gpu->driver().streamDestroy(static_cast<CUstream>(stream)),
        "cuStreamDestroy"));
}

void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/, bool hostShared) {
  if (hostShared) {
    record("mgpuMemAlloc: host-shared memory is not supported");
    return nullptr;
  }
  if (refusedInCapture("mgpuMemAlloc (cuMemAlloc)"))
    return nullptr;
  GpuContext *gpu = context();
  if (!gpu)
    return nullptr;
  CUdeviceptr pointer = 0;
  if (llvm::Error e = gpu->check(
          gpu->driver().memAlloc(&pointer, bytes ? bytes : 1),
          llvm::formatv("cuMemAlloc({0} bytes)", bytes).str())) {
    record(std::move(e));
    return nullptr;
  }
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *pointer, void * /*stream*/) {
  if (!pointer || refusedInCapture("mgpuMemFree (cuMemFree)"))
    return;
  if (GpuContext *gpu = context())
    record(gpu->check(
        gpu->driver().memFree(reinterpret_cast<CUdeviceptr>(pointer)),
        "cuMemFree"));
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  if (offCapturedStream(stream, "mgpuMemcpy"))
    return;
  if (GpuContext *gpu = context())
    record(gpu->check(gpu->driver().memcpyAsync(
                          reinterpret_cast<CUdeviceptr>(dst),
                          reinterpret_cast<CUdeviceptr>(src), bytes,
                          static_cast<CUstream>(stream)),
                      "cuMemcpyAsync"));
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream) {
  if (offCapturedStream(stream, "mgpuMemset32"))
    return;
  if (GpuContext *gpu = context())
    record(gpu->check(gpu->driver().memsetD32Async(
                          reinterpret_cast<CUdeviceptr>(dst), value, count,
                          static_cast<CUstream>(stream)),
                      "cuMemsetD32Async"));
}

void mgpuMemset16(void *dst, unsigned short value, size_t count,
                  void *stream) {
  if (offCapturedStream(stream, "mgpuMemset16"))
    return;
  if (GpuContext *gpu = context())
    record(gpu->check(gpu->driver().memsetD16Async(
                          reinterpret_cast<CUdeviceptr>(dst), value, count,
                          static_cast<CUstream>(stream)),
                      "cuMemsetD16Async"));
}

void *mgpuTensorMapEncodeTiledMemref(int64_t rank, void *descriptor,
                                     int64_t dataType, int64_t interleave,
                                     int64_t swizzle, int64_t l2Promotion,
                                     int64_t oobFill, int64_t *box) {
  // Bytes per element of each CUtensorMapDataType (UINT8 .. TFLOAT32_FTZ).
  static constexpr int64_t kElementBytes[] = {1, 2, 4, 4, 8, 8, 2,
                                              4, 8, 2, 4, 4, 4};
  const char *call = "mgpuTensorMapEncodeTiledMemref";
  if (rank < 1 || rank > 5 || !descriptor || !box || dataType < 0 ||
      dataType > 12) {
    record(llvm::formatv("{0}: rank {1}, data type {2}: expected rank 1..5 "
                         "and a CUtensorMapDataType",
                         call, rank, dataType)
               .str());
    return nullptr;
  }
  GpuContext *gpu = context();
  if (!gpu)
    return nullptr;
  const CudaDriver &driver = gpu->driver();
  if (!driver.tensorMapEncodeTiled) {
    record(llvm::Twine(call) + ": " + driver.library +
           " has no cuTensorMapEncodeTiled (a driver older than CUDA 12); "
           "the sm_90a GEMM needs it (compile with --sm90-gemm=mma to "
           "avoid it)");
    return nullptr;
  }
  // The ranked memref descriptor: allocated, aligned, offset, sizes[rank],
  // strides[rank]. The driver wants the innermost dimension first and the
  // strides (in bytes) of dimensions 1.. only.
  struct Head {
    char *allocated, *aligned;
    int64_t offset;
  };
  auto *head = static_cast<Head *>(descriptor);
  const int64_t *sizes = reinterpret_cast<const int64_t *>(head + 1);
  const int64_t *strides = sizes + rank;
  const int64_t elem = kElementBytes[dataType];
  unsigned long long globalDim[5] = {1, 1, 1, 1, 1}, globalStrides[5] = {};
  unsigned boxDim[5] = {1, 1, 1, 1, 1}, elementStrides[5] = {1, 1, 1, 1, 1};
  if (strides[rank - 1] != 1) {
    record(llvm::formatv("{0}: the innermost stride is {1}; a TMA map needs "
                         "a contiguous innermost dimension",
                         call, strides[rank - 1])
               .str());
    return nullptr;
  }
  for (int64_t d = 0; d < rank; ++d) {
    globalDim[d] = (unsigned long long)sizes[rank - 1 - d];
    boxDim[d] = unsigned(box[rank - 1 - d]);
    if (d + 1 < rank)
      globalStrides[d] = (unsigned long long)(strides[rank - 2 - d] * elem);
  }
  cuda::CUtensorMap map;
  std::memset(&map, 0, sizeof(map));
  if (llvm::Error e = gpu->check(
          driver.tensorMapEncodeTiled(
              &map, int(dataType), unsigned(rank),
              head->aligned + head->offset * elem, globalDim, globalStrides,
              boxDim, elementStrides, int(interleave), int(swizzle),
              int(l2Promotion), int(oobFill)),
          "cuTensorMapEncodeTiled")) {
    record(std::move(e));
    return nullptr;
  }
  // Its own lock: record() takes the state's.
  static std::mutex cacheMutex;
  std::lock_guard<std::mutex> lock(cacheMutex);
  AbiState &s = state();
  llvm::StringRef key(reinterpret_cast<const char *>(&map), sizeof(map));
  auto it = s.tensorMaps.find(key);
  if (it != s.tensorMaps.end())
    return reinterpret_cast<void *>(it->second);
  // A new map is allocated and copied synchronously: not in a capture.
  if (refusedInCapture(llvm::Twine(call) + " (a new tensor map)"))
    return nullptr;
  CUdeviceptr device = 0;
  if (llvm::Error e = gpu->check(driver.memAlloc(&device, sizeof(map)),
                                 "cuMemAlloc (tensor map)")) {
    record(std::move(e));
    return nullptr;
  }
  if (llvm::Error e = gpu->check(driver.memcpyHtoD(device, &map, sizeof(map)),
                                 "cuMemcpyHtoD (tensor map)")) {
    record(std::move(e));
    return nullptr;
  }
  s.tensorMaps[key] = device;
  return reinterpret_cast<void *>(device);
}
