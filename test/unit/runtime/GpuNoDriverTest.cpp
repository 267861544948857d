//===- GpuNoDriverTest.cpp - The GPU runtime on a machine without a driver ===//
//
// $MIXQ_LIBCUDA points at a library that does not exist (set before any
// test runs, so the process's driver is "missing" on every machine): the
// mgpu* functions a module's constructor and launches call return null or
// nothing and record the driver's message once; the chip check says the
// driver is missing; the functions are dynamic symbols of this executable
// (what a dlopened module binds to). Also the weights' device layout.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuRuntimeABI.h"
#include "runtime/GpuTarget.h"
#include "runtime/GpuWeights.h"
#include "runtime/TargetCheck.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <dlfcn.h>

using namespace mixq;

namespace {

const bool kNoDriver = [] {
  setenv("MIXQ_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  return true;
}();

constexpr const char *kMissing =
    "/nonexistent/libcuda.so.1 not found: no NVIDIA driver on this machine";

std::string taken() { return llvm::toString(takeGpuAbiError()); }

TEST(GpuNoDriver, ModuleLoadRecordsTheDriversAbsence) {
  ASSERT_TRUE(kNoDriver);
  llvm::consumeError(takeGpuAbiError());
  char ptx[] = ".version 8.0\n.target sm_80\n.address_size 64\n";
  EXPECT_EQ(mgpuModuleLoadJIT(ptx, 3), nullptr);
  EXPECT_EQ(takeLastGpuImageKind(), GpuImageKind::Ptx);
  EXPECT_EQ(takeLastGpuImageKind(), GpuImageKind::Unknown);
  EXPECT_EQ(taken(), kMissing);
  EXPECT_EQ(taken(), ""); // taken once
  EXPECT_EQ(mgpuModuleLoad(ptx, sizeof(ptx)), nullptr);
  EXPECT_EQ(takeLastGpuImageKind(), GpuImageKind::Cubin);
  EXPECT_EQ(taken(), kMissing);
}

TEST(GpuNoDriver, LaterCallsFailQuietlyAndKeepTheFirstError) {
  llvm::consumeError(takeGpuAbiError());
  mgpuModuleUnload(nullptr); // the destructor of a module that never loaded
  EXPECT_EQ(taken(), "");
  EXPECT_EQ(mgpuModuleGetFunction(nullptr, "mixq_gemv_0"), nullptr);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  mgpuLaunchKernel(nullptr, 1, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr,
                   0);
  mgpuStreamSynchronize(nullptr);
  mgpuStreamDestroy(nullptr);
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr);
  EXPECT_EQ(taken(), "mgpuModuleGetFunction: no kernel module for "
                     "mixq_gemv_0 (its kernels did not load)");
  EXPECT_EQ(taken(), "");
}

// A 2-D f16 memref descriptor (allocated, aligned, offset, sizes, strides)
// for the TMA tensor map call.
struct Descriptor2d {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};

TEST(GpuNoDriver, TensorMapChecksItsArgumentsThenNeedsTheDriver) {
  llvm::consumeError(takeGpuAbiError());
  alignas(16) static uint16_t x[16 * 64];
  Descriptor2d d{x, x, 0, {16, 64}, {64, 1}};
  int64_t box[2] = {64, 64};
  EXPECT_EQ(mgpuTensorMapEncodeTiledMemref(6, &d, 6, 0, 3, 0, 0, box),
            nullptr);
  EXPECT_EQ(taken(), "mgpuTensorMapEncodeTiledMemref: rank 6, data type 6: "
                     "expected rank 1..5 and a CUtensorMapDataType");
  EXPECT_EQ(mgpuTensorMapEncodeTiledMemref(2, &d, 6, 0, 3, 0, 0, box),
            nullptr);
  EXPECT_EQ(taken(), kMissing);
}

TEST(GpuNoDriver, ChipCheckSaysTheDriverIsMissing) {
  std::string expected = std::string("compiled for the NVIDIA GPU target "
                                     "sm_90a, but no NVIDIA driver is "
                                     "installed (") +
                         kMissing + ")";
  EXPECT_EQ(llvm::toString(checkGpuModule("sm_90a", GpuImageKind::Cubin)),
            expected);
  EXPECT_EQ(llvm::toString(checkModuleTarget("sm_90a")), expected);
  auto weights = GpuWeights::upload(llvm::ArrayRef<llvm::ArrayRef<uint8_t>>());
  ASSERT_FALSE(weights);
  EXPECT_EQ(llvm::toString(weights.takeError()), kMissing);
}

TEST(GpuNoDriver, AbiFunctionsAreDynamicSymbols) {
  for (const char *name :
       {"mgpuModuleLoad", "mgpuModuleLoadJIT", "mgpuModuleUnload",
        "mgpuModuleGetFunction", "mgpuLaunchKernel", "mgpuStreamCreate",
        "mgpuStreamSynchronize", "mgpuStreamDestroy", "mgpuMemAlloc",
        "mgpuMemFree", "mgpuMemcpy", "mgpuMemset32", "mgpuMemset16",
        "mgpuTensorMapEncodeTiledMemref"})
    EXPECT_NE(dlsym(RTLD_DEFAULT, name), nullptr) << name;
}

TEST(GpuWeightLayout, StreamsAreAlignedAndPadded) {
  GpuWeightLayout layout = layoutGpuWeights({0, 1, 16, 17, 3});
  EXPECT_EQ(layout.offsets, (std::vector<size_t>{0, 0, 16, 32, 64}));
  EXPECT_EQ(layout.bytes, 64u + 16 + 16);
  EXPECT_EQ(layoutGpuWeights({}).bytes, 16u);
}

} // namespace
