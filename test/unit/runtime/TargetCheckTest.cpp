//===- TargetCheckTest.cpp - Modules for another chip are refused ---------===//
//
// checkModuleTarget (runtime/TargetCheck.h): GPU targets name NVIDIA and say
// what is missing (driver, device, compute capability), x86 modules for
// this CPU (and unknown CPU names, such as the reference module's) pass, an
// x86 module whose CPU, or whose extensions turned on beside the CPU's, this
// one lacks is refused with the list, other architectures are refused.
//
//===----------------------------------------------------------------------===//
#include "runtime/TargetCheck.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include "gtest/gtest.h"

using namespace mixq;

namespace {

std::string refusal(llvm::StringRef target) {
  llvm::Error e = checkModuleTarget(target);
  return e ? llvm::toString(std::move(e)) : std::string();
}

TEST(TargetCheck, GpuModulesAreRefusedWithTheReason) {
  for (const char *target : {"sm_80", "sm_90a"}) {
    std::string message = refusal(target);
    // Runnable on a machine with a fitting GPU (GpuTargetTest covers the
    // chip rules); otherwise the refusal names the target and the reason.
    if (message.empty())
      continue;
    EXPECT_NE(message.find(std::string("compiled for the NVIDIA GPU target ") +
                           target),
              std::string::npos)
        << message;
    EXPECT_TRUE(message.find("no NVIDIA driver is installed") !=
                    std::string::npos ||
                message.find("no usable NVIDIA GPU") != std::string::npos ||
                message.find("compute capability") != std::string::npos)
        << message;
  }
}

TEST(TargetCheck, ThisCpuAndUnknownNamesPass) {
#if defined(__x86_64__)
  EXPECT_EQ(refusal("x86-64:" + llvm::sys::getHostCPUName().str()), "");
  EXPECT_EQ(refusal("x86-64:x86-64"), "");
  EXPECT_EQ(refusal("x86-64:reference"), "");
#endif
}

TEST(TargetCheck, OtherTargetsAreRefused) {
  EXPECT_EQ(refusal("aarch64:cortex-a76"),
            "unknown target 'aarch64:cortex-a76' (expected x86-64:<cpu>, "
            "sm_80 or sm_90a)");
  EXPECT_NE(refusal(""), "");
}

TEST(TargetCheck, CpusWithMissingExtensionsAreRefused) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "not an x86-64 machine";
#else
  // The first of these CPUs that has an extension this machine lacks.
  for (const char *cpu : {"haswell", "x86-64-v4", "skylake-avx512", "znver4",
                          "sapphirerapids", "graniterapids"}) {
    std::vector<std::string> missing = missingX86Features(cpu);
    if (missing.empty())
      continue;
    std::string message = refusal(std::string("x86-64:") + cpu);
    EXPECT_NE(message.find(std::string("compiled for x86-64:") + cpu +
                           ", which needs " + missing[0]),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("recompile it here"), std::string::npos);
    return;
  }
  GTEST_SKIP() << "this CPU has every extension of the CPUs tried";
#endif
}

TEST(TargetCheck, ExtensionsBesideTheCpusAreChecked) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "not an x86-64 machine";
#else
  std::string cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  // What this CPU has passes; an extension it lacks is refused by name.
  if (host.lookup("avx2"))
    EXPECT_EQ(refusal("x86-64:" + cpu + ":+avx2,+fma"), "");
  for (const char *f : {"avx512f", "avx512vbmi", "amx-tile"}) {
    if (host.lookup(f))
      continue;
    std::string target = "x86-64:" + cpu + ":+avx2,+" + f;
    std::string message = refusal(target);
    EXPECT_NE(message.find("compiled for " + target + ", which needs " + f),
              std::string::npos)
        << message;
    return;
  }
  GTEST_SKIP() << "this CPU has every extension tried";
#endif
}

} // namespace
