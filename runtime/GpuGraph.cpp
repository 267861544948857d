//===- GpuGraph.cpp - The decode step captured in a CUDA graph ------------===//
//
// See GpuGraph.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuGraph.h"
#include "runtime/GpuContext.h"
#include "runtime/GpuRuntimeABI.h"
#include "runtime/ModuleABI.h"

#include <cstdlib>
#include <cstring>

using namespace mixq;
using namespace mixq::cuda;

llvm::Expected<std::unique_ptr<GpuDecodeGraph>>
GpuDecodeGraph::create(GpuContext &gpu, std::string &uncaptured) {
  const char *env = std::getenv("MIXQ_CUDA_GRAPH");
  if (env && std::strcmp(env, "0") == 0) {
    uncaptured = "MIXQ_CUDA_GRAPH=0";
    return nullptr;
  }
  uncaptured = gpu.driver().missingGraphCall();
  if (!uncaptured.empty())
    return nullptr;
  // Blocking, like the module's own streams: it waits for the runtime's
  // synchronous copies on the default stream.
  CUstream stream = nullptr;
  if (llvm::Error e = gpu.check(
          gpu.driver().streamCreate(&stream, CU_STREAM_DEFAULT),
          "cuStreamCreate (the decode graph's stream)"))
    return std::move(e);
  return std::unique_ptr<GpuDecodeGraph>(new GpuDecodeGraph(gpu, stream));
}

GpuDecodeGraph::~GpuDecodeGraph() {
  // Failures here have nobody to go to (the session is going away).
  if (exec_)
    (void)gpu_.driver().graphExecDestroy(exec_);
  (void)gpu_.driver().streamDestroy(stream_);
}

llvm::Expected<int32_t>
GpuDecodeGraph::run(llvm::function_ref<int32_t()> step) {
  const CudaDriver &d = gpu_.driver();
  if (llvm::Error e = gpu_.makeCurrent())
    return std::move(e);
  if (llvm::Error e = gpu_.check(
          d.streamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_RELAXED),
          "cuStreamBeginCapture"))
    return std::move(e);
  int32_t status;
  {
    GpuStreamScope scope(stream_, /*captured=*/true);
    status = step();
  }
  // Always ended, so the stream leaves capture mode whatever happened.
  CUgraph graph = nullptr;
  CUresult ended = d.streamEndCapture(stream_, &graph);
  llvm::Error failure = takeGpuAbiError();
  if (!failure)
    failure = gpu_.check(ended, "cuStreamEndCapture");
  if (!failure && status == MIXQ_STATUS_OK)
    failure = launch(graph);
  if (graph) {
    llvm::Error destroyed = gpu_.check(d.graphDestroy(graph), "cuGraphDestroy");
    if (failure)
      llvm::consumeError(std::move(destroyed));
    else
      failure = std::move(destroyed);
  }
  if (failure)
    return std::move(failure);
  return status;
}

llvm::Error GpuDecodeGraph::launch(CUgraph graph) {
  const CudaDriver &d = gpu_.driver();
  if (exec_) {
    CUgraphExecUpdateResultInfo info{};
    CUresult updated = d.graphExecUpdate(exec_, graph, &info);
    if (updated == CUDA_SUCCESS) {
      ++updates_;
    } else if (updated == CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE) {
      // Refused (the step's kernels or their order changed): a new exec.
      CUgraphExec old = exec_;
      exec_ = nullptr;
      if (llvm::Error e =
              gpu_.check(d.graphExecDestroy(old), "cuGraphExecDestroy"))
        return e;
    } else {
      return gpu_.check(updated, "cuGraphExecUpdate");
    }
  }
  if (!exec_) {
    CUgraphExec exec = nullptr;
    if (llvm::Error e = gpu_.check(d.graphInstantiate(&exec, graph, 0),
                                   "cuGraphInstantiateWithFlags"))
      return e;
    exec_ = exec;
    ++instantiations_;
  }
  if (llvm::Error e = gpu_.check(d.graphLaunch(exec_, stream_), "cuGraphLaunch"))
    return e;
  return gpu_.check(d.streamSynchronize(stream_),
                    "cuStreamSynchronize (after cuGraphLaunch)");
}
