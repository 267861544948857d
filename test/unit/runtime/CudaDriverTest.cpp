//===- CudaDriverTest.cpp - The dlopened CUDA driver table -----------------===//
//
// runtime/CudaDriver.h without a GPU: a missing driver library gives the
// one-line "not found" message, a library that is not a driver names the
// first missing symbol, CUresults are described with the driver's own
// name and text, and the process's driver (libcuda.so.1, or $MIXQ_LIBCUDA)
// either loads or says that it is missing.
//
//===----------------------------------------------------------------------===//
#include "runtime/CudaDriver.h"

#include "gtest/gtest.h"

#include <dlfcn.h>

using namespace mixq;

namespace {

std::string failure(llvm::StringRef library) {
  llvm::Expected<CudaDriver> driver = CudaDriver::load(library);
  return driver ? std::string() : llvm::toString(driver.takeError());
}

TEST(CudaDriver, MissingLibraryIsNoDriver) {
  std::string message = failure("libmixq-no-such-driver.so.1");
  EXPECT_EQ(message, "libmixq-no-such-driver.so.1 not found: no NVIDIA "
                     "driver on this machine");
  EXPECT_TRUE(isMissingDriverMessage(message));
}

TEST(CudaDriver, OtherLibraryNamesTheMissingSymbol) {
  std::string message = failure("libm.so.6");
  EXPECT_EQ(message.rfind("libm.so.6: no symbol cuInit ", 0), 0u) << message;
  EXPECT_FALSE(isMissingDriverMessage(message));
}

// A driver table with fake error functions: what check() makes of results.
cuda::CUresult fakeName(cuda::CUresult r, const char **s) {
  if (r != 2)
    return 1; // CUDA_ERROR_INVALID_VALUE: unknown code
  *s = "CUDA_ERROR_OUT_OF_MEMORY";
  return 0;
}
cuda::CUresult fakeString(cuda::CUresult r, const char **s) {
  if (r != 2)
    return 1;
  *s = "out of memory";
  return 0;
}

TEST(CudaDriver, ErrorsNameTheCallAndTheDriversText) {
  CudaDriver driver;
  driver.getErrorName = fakeName;
  driver.getErrorString = fakeString;
  EXPECT_FALSE(driver.check(0, "cuMemAlloc"));
  EXPECT_EQ(llvm::toString(driver.check(2, "cuMemAlloc")),
            "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
  EXPECT_EQ(llvm::toString(driver.check(999, "cuLaunchKernel")),
            "cuLaunchKernel: CUDA error 999");
}

TEST(CudaDriver, ThisMachinesDriverLoadsOrIsMissing) {
  llvm::Expected<const CudaDriver &> driver = CudaDriver::get();
  if (driver) {
    EXPECT_NE(driver->init, nullptr);
    EXPECT_NE(driver->launchKernel, nullptr);
    return;
  }
  std::string message = llvm::toString(driver.takeError());
  // Present but unusable would be a broken install: say so in the test log.
  EXPECT_TRUE(isMissingDriverMessage(message)) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  // The same answer every time.
  llvm::Expected<const CudaDriver &> again = CudaDriver::get();
  ASSERT_FALSE(again);
  EXPECT_EQ(llvm::toString(again.takeError()), message);
}

TEST(CudaDriver, NothingLinksLibcuda) {
  // cuInit resolvable from the process would mean libcuda got linked.
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "cuInit"), nullptr);
}

} // namespace
