//===- GpuGraphTest.cpp - The decode step's CUDA graph on a fake driver ---===//
//
// runtime/GpuGraph.h against the stand-in driver of the lit tests
// (test/Target/Inputs/fake_libcuda.c, built here as MIXQ_FAKE_LIBCUDA and
// named by $MIXQ_LIBCUDA before any test runs): a step's mgpuStreamCreate
// gets the graph's stream and mgpuStreamDestroy leaves it; the first step
// instantiates, later ones update; a step with a nonzero status launches
// nothing; and the calls a capture cannot hold (allocation, freeing, a new
// TMA tensor map, work on another stream) fail the step with an error that
// names them, after which the next step captures normally.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuContext.h"
#include "runtime/GpuGraph.h"
#include "runtime/GpuRuntimeABI.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace mixq;

namespace {

const bool kFakeDriver = [] {
  setenv("MIXQ_LIBCUDA", MIXQ_FAKE_LIBCUDA, 1);
  unsetenv("MIXQ_CUDA_GRAPH");
  unsetenv("FAKE_CUDA_FAIL");
  return true;
}();

std::string taken() { return llvm::toString(takeGpuAbiError()); }

struct Graph : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(kFakeDriver);
    llvm::Expected<GpuContext &> gpu = GpuContext::get();
    ASSERT_TRUE(bool(gpu)) << llvm::toString(gpu.takeError());
    llvm::consumeError(takeGpuAbiError());
    char image[] = "fake cubin";
    module = mgpuModuleLoad(image, sizeof(image));
    ASSERT_NE(module, nullptr) << taken();
    kernel = mgpuModuleGetFunction(module, "mixq_test_kernel");
    ASSERT_NE(kernel, nullptr) << taken();
    std::string uncaptured;
    auto created = GpuDecodeGraph::create(*gpu, uncaptured);
    ASSERT_TRUE(bool(created)) << llvm::toString(created.takeError());
    graph = std::move(*created);
    ASSERT_NE(graph, nullptr) << uncaptured;
  }
  void TearDown() override {
    graph.reset();
    mgpuModuleUnload(module);
    EXPECT_EQ(taken(), "");
  }
  /// What a module's decode does: its stream, a launch, sync, destroy.
  int32_t step() {
    void *stream = mgpuStreamCreate();
    streams.push_back(stream);
    int64_t pos = 7;
    void *params[] = {&pos};
    mgpuLaunchKernel(kernel, 1, 1, 1, 128, 1, 1, 0, stream, params, nullptr,
                     1);
    mgpuStreamSynchronize(stream);
    mgpuStreamDestroy(stream);
    return 0;
  }
  std::string failure(llvm::function_ref<int32_t()> fn) {
    llvm::Expected<int32_t> status = graph->run(fn);
    return status ? std::string() : llvm::toString(status.takeError());
  }

  void *module = nullptr, *kernel = nullptr;
  std::unique_ptr<GpuDecodeGraph> graph;
  std::vector<void *> streams;
};

TEST_F(Graph, InstantiatesOnceThenUpdatesOnTheLentStream) {
  for (int i = 0; i < 3; ++i) {
    llvm::Expected<int32_t> status = graph->run([&] { return step(); });
    ASSERT_TRUE(bool(status)) << llvm::toString(status.takeError());
    EXPECT_EQ(*status, 0);
  }
  EXPECT_EQ(graph->instantiations(), 1u);
  EXPECT_EQ(graph->updates(), 2u);
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_NE(streams[0], nullptr);
  EXPECT_EQ(streams[1], streams[0]); // the same lent stream, not destroyed
  EXPECT_EQ(streams[2], streams[0]);
  // Outside a step the module's calls get a stream of their own.
  void *own = mgpuStreamCreate();
  EXPECT_NE(own, streams[0]);
  mgpuStreamDestroy(own);
}

TEST_F(Graph, ABadStatusLaunchesNothing) {
  llvm::Expected<int32_t> status = graph->run([] { return int32_t(1); });
  ASSERT_TRUE(bool(status)) << llvm::toString(status.takeError());
  EXPECT_EQ(*status, 1);
  EXPECT_EQ(graph->instantiations(), 0u);
}

TEST_F(Graph, AllocationInACaptureIsAnError) {
  const std::string advice = ": not allowed while the decode step is "
                             "captured in a CUDA graph (it allocates or "
                             "synchronizes); run decode uncaptured with "
                             "MIXQ_CUDA_GRAPH=0";
  EXPECT_EQ(failure([&] {
              EXPECT_EQ(mgpuMemAlloc(64, mgpuStreamCreate(), false), nullptr);
              return step();
            }),
            "mgpuMemAlloc (cuMemAlloc)" + advice);
  int word = 0;
  EXPECT_EQ(failure([&] {
              mgpuMemFree(&word, nullptr);
              return int32_t(0);
            }),
            "mgpuMemFree (cuMemFree)" + advice);
  // A tensor map this process has not encoded yet needs an upload.
  float data[64 * 64] = {};
  struct {
    float *allocated, *aligned;
    int64_t offset, sizes[2], strides[2];
  } memref = {data, data, 0, {64, 64}, {64, 1}};
  int64_t box[2] = {64, 64};
  EXPECT_EQ(failure([&] {
              EXPECT_EQ(mgpuTensorMapEncodeTiledMemref(2, &memref, 7, 0, 3, 0,
                                                       0, box),
                        nullptr);
              return int32_t(0);
            }),
            "mgpuTensorMapEncodeTiledMemref (a new tensor map)" + advice);
  EXPECT_EQ(graph->instantiations(), 0u);
  // The stream left capture mode: the next step runs.
  EXPECT_EQ(failure([&] { return step(); }), "");
  EXPECT_EQ(graph->instantiations(), 1u);
}

TEST_F(Graph, WorkOffTheCapturedStreamIsAnError) {
  const std::string why = ": on a stream other than the decode step's "
                          "captured one (the CUDA graph would miss it); run "
                          "decode uncaptured with MIXQ_CUDA_GRAPH=0";
  int64_t pos = 0;
  void *params[] = {&pos};
  EXPECT_EQ(failure([&] {
              mgpuLaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, nullptr, params,
                               nullptr, 1);
              return int32_t(0);
            }),
            std::string("mgpuLaunchKernel") + why);
  EXPECT_EQ(failure([&] {
              mgpuStreamSynchronize(nullptr);
              return int32_t(0);
            }),
            std::string("mgpuStreamSynchronize") + why);
  char bytes[16] = {};
  EXPECT_EQ(failure([&] {
              mgpuMemcpy(bytes, bytes + 8, 8, nullptr);
              return int32_t(0);
            }),
            std::string("mgpuMemcpy") + why);
  EXPECT_EQ(failure([&] { return step(); }), "");
}

TEST(GraphSwitch, OffWithTheEnvironmentOrWithoutTheCalls) {
  ASSERT_TRUE(kFakeDriver);
  llvm::Expected<GpuContext &> gpu = GpuContext::get();
  ASSERT_TRUE(bool(gpu)) << llvm::toString(gpu.takeError());
  setenv("MIXQ_CUDA_GRAPH", "0", 1);
  std::string uncaptured;
  auto off = GpuDecodeGraph::create(*gpu, uncaptured);
  unsetenv("MIXQ_CUDA_GRAPH");
  ASSERT_TRUE(bool(off)) << llvm::toString(off.takeError());
  EXPECT_EQ(*off, nullptr);
  EXPECT_EQ(uncaptured, "MIXQ_CUDA_GRAPH=0");

  EXPECT_EQ(gpu->driver().missingGraphCall(), "");
  CudaDriver old = gpu->driver();
  old.graphExecUpdate = nullptr;
  EXPECT_EQ(old.missingGraphCall(),
            std::string(MIXQ_FAKE_LIBCUDA) + " has no cuGraphExecUpdate_v2");
}

} // namespace
