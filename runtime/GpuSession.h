//===- GpuSession.h - A session's device memory and GPU calls ---*- C++ -*-===//
//
// What Session (runtime/Session.h) keeps on the GPU for a GPU module: the
// KV caches (zeroed), the scratch the module plans (mixq_scratch_bytes is
// one constant, ModuleABI.h), the token ids of a prefill and the logits,
// all device buffers; the weights are the module's (CompiledModule binds
// them, runtime/GpuWeights.h). prefill/decode copy the token ids in, call
// the module (which runs and synchronizes its own stream) and copy the
// logits out. A CUDA failure inside the module's call (recorded by the
// mgpu* functions, runtime/GpuRuntimeABI.h) is returned as the error; it
// wins over the module's status.
//
// Each decode step is captured in a CUDA graph and replayed
// (runtime/GpuGraph.h): the module's launches go to the session's stream,
// the first step instantiates the graph, later steps update it in place.
// MIXQ_CUDA_GRAPH=0, or a driver without the graph calls, runs decode
// uncaptured; prefill always runs uncaptured (its row count changes the
// kernels' grids, and it runs once per prompt).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUSESSION_H
#define MIXQ_RUNTIME_GPUSESSION_H

#include "runtime/GpuGraph.h"
#include "runtime/GpuMemory.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace mixq {

class CompiledModule;

class GpuSession {
public:
  /// Device memory for `module` (bound to its package, a GPU module);
  /// `cacheFloats` is the element count of each KV cache.
  static llvm::Expected<std::unique_ptr<GpuSession>>
  create(const CompiledModule &module, uint64_t cacheFloats);

  /// mixq_prefill of `tokens` at `pos`; fills rows firstLogit.. of
  /// `logits` ([n][vocab]). Returns the module's status, or the CUDA
  /// failure.
  llvm::Expected<int32_t> prefill(llvm::ArrayRef<int32_t> tokens, int64_t pos,
                                  int64_t firstLogit,
                                  llvm::MutableArrayRef<float> logits);
  /// mixq_decode of `token` at `pos`; fills `logits` ([vocab]).
  llvm::Expected<int32_t> decode(int32_t token, int64_t pos,
                                 llvm::MutableArrayRef<float> logits);

  /// "GPU 0 (<name>, sm_XY)".
  const std::string &device() const { return device_; }
  /// "decode in a CUDA graph (I instantiated, U updated)", or "decode
  /// uncaptured (MIXQ_CUDA_GRAPH=0)" / "(<library> has no <symbol>)".
  std::string decodeMode() const;

private:
  explicit GpuSession(const CompiledModule &module) : module_(module) {}
  llvm::Error reserveLogits(size_t floats);
  llvm::Expected<int32_t> finish(int32_t status,
                                 llvm::MutableArrayRef<float> logits);

  const CompiledModule &module_;
  std::string device_, uncaptured_;
  std::unique_ptr<GpuDecodeGraph> graph_;
  DeviceBuffer kcache_, vcache_, scratch_, tokens_, logits_;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUSESSION_H
