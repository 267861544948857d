//===- GpuTargetTest.cpp - Which GPUs run a module's chip ------------------===//
//
// runtime/GpuTarget.h as pure functions: target names parse; sm_90a runs
// only on compute capability 9.0, an sm_80 cubin on 8.x, sm_80 PTX on 8.0
// and newer; refusals name the chip, the device and what to recompile for.
//
//===----------------------------------------------------------------------===//
#include "runtime/GpuTarget.h"

#include "gtest/gtest.h"

using namespace mixq;

namespace {

std::string refusal(llvm::StringRef target, GpuImageKind kind, int major,
                    int minor) {
  llvm::Error e = checkGpuArch(target, kind, major, minor, "GPU 0 (Test)");
  return e ? llvm::toString(std::move(e)) : std::string();
}

TEST(GpuTarget, Parses) {
  auto sm80 = parseGpuTarget("sm_80");
  ASSERT_TRUE(sm80);
  EXPECT_EQ(sm80->major, 8);
  EXPECT_EQ(sm80->minor, 0);
  EXPECT_FALSE(sm80->archSpecific);
  auto sm90a = parseGpuTarget("sm_90a");
  ASSERT_TRUE(sm90a);
  EXPECT_EQ(sm90a->major, 9);
  EXPECT_TRUE(sm90a->archSpecific);
  auto sm100a = parseGpuTarget("sm_100a");
  ASSERT_TRUE(sm100a);
  EXPECT_EQ(sm100a->major, 10);
  EXPECT_EQ(sm100a->minor, 0);
  for (const char *bad : {"sm_", "sm_8", "sm_8x", "sm_1000", "compute_80",
                          "x86-64:znver4", "sm_09", ""})
    EXPECT_FALSE(parseGpuTarget(bad)) << bad;
}

TEST(GpuTarget, Sm90aRunsOnlyOnHopper) {
  for (GpuImageKind kind : {GpuImageKind::Cubin, GpuImageKind::Ptx,
                            GpuImageKind::Unknown}) {
    EXPECT_EQ(refusal("sm_90a", kind, 9, 0), "");
    EXPECT_NE(refusal("sm_90a", kind, 8, 0), "");
    EXPECT_NE(refusal("sm_90a", kind, 10, 0), "");
    EXPECT_NE(refusal("sm_90a", kind, 8, 9), "");
  }
  EXPECT_EQ(refusal("sm_90a", GpuImageKind::Cubin, 8, 0),
            "compiled for the NVIDIA GPU target sm_90a (compute capability "
            "9.0), but GPU 0 (Test) has compute capability 8.0: its "
            "architecture-specific kernels run on exactly that compute "
            "capability; recompile with --target=sm_80");
}

TEST(GpuTarget, Sm80CubinStaysWithinAmpere) {
  EXPECT_EQ(refusal("sm_80", GpuImageKind::Cubin, 8, 0), "");
  EXPECT_EQ(refusal("sm_80", GpuImageKind::Cubin, 8, 6), "");
  EXPECT_EQ(refusal("sm_80", GpuImageKind::Cubin, 8, 9), "");
  std::string hopper = refusal("sm_80", GpuImageKind::Cubin, 9, 0);
  EXPECT_NE(hopper.find("a cubin runs only within its major compute "
                        "capability; recompile with --target=sm_90a"),
            std::string::npos)
      << hopper;
  EXPECT_NE(refusal("sm_80", GpuImageKind::Cubin, 7, 5), "");
}

TEST(GpuTarget, Sm80PtxRunsOnNewerChips) {
  for (GpuImageKind kind : {GpuImageKind::Ptx, GpuImageKind::Unknown}) {
    EXPECT_EQ(refusal("sm_80", kind, 8, 0), "");
    EXPECT_EQ(refusal("sm_80", kind, 9, 0), "");
    EXPECT_EQ(refusal("sm_80", kind, 12, 0), "");
    std::string turing = refusal("sm_80", kind, 7, 5);
    EXPECT_NE(turing.find("need compute capability 8.0 (sm_80) or newer"),
              std::string::npos)
        << turing;
  }
}

TEST(GpuTarget, UnknownTargetsAreRefused) {
  EXPECT_EQ(refusal("sm_x", GpuImageKind::Ptx, 9, 0),
            "unknown GPU target 'sm_x'");
}

} // namespace
