//===- GpuGraph.h - The decode step captured in a CUDA graph ----*- C++ -*-===//
//
// GpuSession runs each decode step through a GpuDecodeGraph, as llama.cpp
// does: the module's call runs under a GpuStreamScope (GpuRuntimeABI.h)
// that lends it the session's stream while the stream is captured
// (cuStreamBeginCapture_v2 in relaxed mode, as llama.cpp: lazily loaded
// kernels may make the driver allocate during the first capture; the
// mgpu* functions refuse the unsafe calls themselves), so its launches are
// recorded, not run; cuStreamEndCapture gives the step's graph. The first
// step instantiates it (cuGraphInstantiateWithFlags); every later step
// updates that executable graph in place (cuGraphExecUpdate_v2: the
// kernels' arguments, such as the position and the token, change from step
// to step, the kernels and their order do not) and instantiates again only
// when the driver refuses the update. Then cuGraphLaunch on the stream and
// cuStreamSynchronize (the module's own synchronization is skipped during
// the capture). Each step's graph is destroyed once the exec has it; the
// exec and the stream go with the session.
//
// Capture is off with MIXQ_CUDA_GRAPH=0 or when the driver lacks a graph
// call (CudaDriver.h, optional functions): decode then calls the module
// directly, as prefill always does. A call that a capture cannot hold
// (allocation, synchronous copies, work on another stream) fails the step
// with an error naming it and MIXQ_CUDA_GRAPH=0.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_RUNTIME_GPUGRAPH_H
#define MIXQ_RUNTIME_GPUGRAPH_H

#include "runtime/CudaDriver.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace mixq {

class GpuContext;

class GpuDecodeGraph {
public:
  /// The graph for a session's decode steps (it creates the session's
  /// stream), or null with `uncaptured` set to why not: "MIXQ_CUDA_GRAPH=0"
  /// or "<library> has no <symbol>".
  static llvm::Expected<std::unique_ptr<GpuDecodeGraph>>
  create(GpuContext &gpu, std::string &uncaptured);
  ~GpuDecodeGraph();
  GpuDecodeGraph(const GpuDecodeGraph &) = delete;
  GpuDecodeGraph &operator=(const GpuDecodeGraph &) = delete;

  /// Captures `step` (the module's decode call; it returns its status),
  /// updates or instantiates the exec, launches it and waits for it.
  /// Returns the step's status (a nonzero one launches nothing: the module
  /// checks its arguments before its first launch), or the first CUDA
  /// failure: one recorded by the mgpu* functions during the step wins over
  /// the driver's own (an invalidated capture).
  llvm::Expected<int32_t> run(llvm::function_ref<int32_t()> step);

  /// Steps that instantiated the exec, and steps that updated it.
  unsigned instantiations() const { return instantiations_; }
  unsigned updates() const { return updates_; }

private:
  GpuDecodeGraph(GpuContext &gpu, cuda::CUstream stream)
      : gpu_(gpu), stream_(stream) {}
  llvm::Error launch(cuda::CUgraph graph);

  GpuContext &gpu_;
  cuda::CUstream stream_ = nullptr;
  cuda::CUgraphExec exec_ = nullptr;
  unsigned instantiations_ = 0, updates_ = 0;
};

} // namespace mixq

#endif // MIXQ_RUNTIME_GPUGRAPH_H
