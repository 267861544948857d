//===- GpuDeviceTest.cpp - The GPU runtime on a device ---------------------===//
//
// Needs an NVIDIA GPU (ctest label `gpu`); every test is skipped, with the
// reason, where the driver or a device is missing. Checks device buffers
// (round trip, zeroing), the weights' upload (alignment, zero padding) and
// the mgpu* functions as a module calls them: a hand-written PTX kernel
// loaded with mgpuModuleLoadJIT, looked up (cached), launched on a stream
// of mgpuStreamCreate, synchronized, unloaded; and a failing load recorded
// as a one-line error.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuContext.h"
#include "runtime/GpuMemory.h"
#include "runtime/GpuRuntimeABI.h"
#include "runtime/GpuWeights.h"

#include "gtest/gtest.h"

#include <cstring>
#include <vector>

using namespace mixq;

namespace {

// x[i] += 1 for i < n; one thread per element.
const char kAddOnePtx[] = R"(.version 8.0
.target sm_80
.address_size 64
.visible .entry mixq_test_add1(.param .u64 p0, .param .u32 n)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .f32 %f<3>;
	.reg .b64 %rd<5>;
	ld.param.u64 %rd1, [p0];
	ld.param.u32 %r1, [n];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	setp.ge.u32 %p1, %r5, %r1;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd2, %rd1;
	mul.wide.u32 %rd3, %r5, 4;
	add.s64 %rd4, %rd2, %rd3;
	ld.global.f32 %f1, [%rd4];
	add.f32 %f2, %f1, 0f3F800000;
	st.global.f32 [%rd4], %f2;
DONE:
	ret;
}
)";

class GpuDevice : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::Expected<GpuContext &> gpu = GpuContext::get();
    if (!gpu)
      GTEST_SKIP() << "no GPU: " << llvm::toString(gpu.takeError());
    gpu_ = &*gpu;
    llvm::consumeError(takeGpuAbiError());
  }
  GpuContext *gpu_ = nullptr;
};

TEST_F(GpuDevice, BufferRoundTripAndZero) {
  auto buffer = DeviceBuffer::allocate(*gpu_, 1000, "a test");
  ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
  EXPECT_EQ(buffer->size() % 16, 0u);
  std::vector<uint8_t> in(1000), out(1000, 0xff);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = uint8_t(i * 7);
  ASSERT_FALSE(bool(buffer->upload(0, in.data(), in.size())));
  ASSERT_FALSE(bool(buffer->download(0, out.data(), out.size())));
  EXPECT_EQ(in, out);
  ASSERT_FALSE(bool(buffer->zero()));
  ASSERT_FALSE(bool(buffer->download(0, out.data(), out.size())));
  EXPECT_EQ(out, std::vector<uint8_t>(1000, 0));
  llvm::Error e = buffer->upload(999, in.data(), 2);
  EXPECT_TRUE(bool(e));
  llvm::consumeError(std::move(e));
}

TEST_F(GpuDevice, WeightsAreAlignedAndPadded) {
  std::vector<uint8_t> a(5, 1), b(32, 2), c(17, 3);
  std::vector<llvm::ArrayRef<uint8_t>> streams = {a, b, c};
  auto weights = GpuWeights::upload(streams);
  ASSERT_TRUE(bool(weights)) << llvm::toString(weights.takeError());
  llvm::ArrayRef<const void *> table = (*weights)->table();
  ASSERT_EQ(table.size(), 3u);
  for (const void *p : table)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
  // Read everything back through a plain buffer copy of the whole block.
  std::vector<uint8_t> all((*weights)->bytes());
  ASSERT_EQ(gpu_->driver().memcpyDtoH(
                all.data(), reinterpret_cast<cuda::CUdeviceptr>(table[0]),
                all.size()),
            cuda::CUDA_SUCCESS);
  std::vector<uint8_t> expected(16 + 32 + 32 + 16, 0);
  std::memset(expected.data(), 1, 5);
  std::memset(expected.data() + 16, 2, 32);
  std::memset(expected.data() + 48, 3, 17);
  EXPECT_EQ(all, expected);
}

TEST_F(GpuDevice, ModuleAbiLoadsLaunchesAndUnloads) {
  std::vector<char> ptx(kAddOnePtx, kAddOnePtx + sizeof(kAddOnePtx));
  takeLastGpuImageKind();
  void *module = mgpuModuleLoadJIT(ptx.data(), 3);
  ASSERT_NE(module, nullptr) << llvm::toString(takeGpuAbiError());
  EXPECT_EQ(takeLastGpuImageKind(), GpuImageKind::Ptx);
  void *function = mgpuModuleGetFunction(module, "mixq_test_add1");
  ASSERT_NE(function, nullptr) << llvm::toString(takeGpuAbiError());
  EXPECT_EQ(mgpuModuleGetFunction(module, "mixq_test_add1"), function);

  const uint32_t n = 1000;
  std::vector<float> host(n);
  for (uint32_t i = 0; i < n; ++i)
    host[i] = float(i);
  auto buffer = DeviceBuffer::allocate(*gpu_, n * 4, "a test");
  ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
  ASSERT_FALSE(bool(buffer->upload(0, host.data(), n * 4)));
  cuda::CUdeviceptr x = buffer->address();
  uint32_t count = n;
  void *params[] = {&x, &count};
  void *stream = mgpuStreamCreate();
  ASSERT_NE(stream, nullptr) << llvm::toString(takeGpuAbiError());
  mgpuLaunchKernel(function, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream,
                   params, nullptr, 2);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(llvm::toString(takeGpuAbiError()), "");
  std::vector<float> out(n);
  ASSERT_FALSE(bool(buffer->download(0, out.data(), n * 4)));
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], float(i) + 1) << i;

  EXPECT_EQ(mgpuModuleGetFunction(module, "no_such_kernel"), nullptr);
  std::string missing = llvm::toString(takeGpuAbiError());
  EXPECT_EQ(missing.rfind("cuModuleGetFunction(no_such_kernel): "
                          "CUDA_ERROR_NOT_FOUND",
                          0),
            0u)
      << missing;
  mgpuModuleUnload(module);
  EXPECT_EQ(llvm::toString(takeGpuAbiError()), "");
}

TEST_F(GpuDevice, BadImagesAreOneLineErrors) {
  char garbage[] = ".version 8.0\n.target sm_80\nthis is not ptx\n";
  EXPECT_EQ(mgpuModuleLoadJIT(garbage, 3), nullptr);
  std::string message = llvm::toString(takeGpuAbiError());
  EXPECT_EQ(message.rfind("cuModuleLoadDataEx (PTX): ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  mgpuModuleUnload(nullptr);
  EXPECT_EQ(llvm::toString(takeGpuAbiError()), "");
}

} // namespace
