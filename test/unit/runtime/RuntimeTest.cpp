//===- RuntimeTest.cpp - Loading, binding and running compiled modules ----===//
//
// Runs the runtime against the reference module (runtime/testing/
// ReferenceModule.cpp, the fp32 engine behind the module ABI) on a tiny
// package: logits equal the reference engine's bit for bit; a module refuses
// another package; non-modules and wrong ABI versions give one-line errors;
// bad prompts are refused before the module runs; parallel_for covers its
// range exactly once.
//
//===----------------------------------------------------------------------===//
#include "runtime/CompiledModule.h"
#include "runtime/Session.h"

#include "model/Engine.h"
#include "model/PackageWeights.h"
#include "quant/Pack.h"
#include "quant/Rtn.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include "test/unit/support/TinyPackage.h"

#include "gtest/gtest.h"

#include <atomic>
#include <dlfcn.h>
#include <unistd.h>
#include <random>

using namespace mixq;

namespace {

LlamaConfig tinyConfig() { return test_support::tinyPackageConfig(/*layers=*/2); }

/// Writes a tiny random package to a temporary file and returns its path.
std::string writeTinyPackage(unsigned seed) {
  Package package = test_support::makeTinyPackage(tinyConfig(), seed);
  llvm::SmallString<128> path;
  EXPECT_FALSE(
      llvm::sys::fs::createTemporaryFile("mixq-runtime", "mixq", path));
  llvm::cantFail(writePackage(package, path));
  return std::string(path);
}

/// The reference module's test hooks, through the test's own dlopen handle
/// (the runtime's dlopen of the same file shares the loaded instance).
struct ReferenceHooks {
  const char *(*configure)(const char *) = nullptr;
  void (*setAbiVersion)(int32_t) = nullptr;
};

const ReferenceHooks &hooks() {
  static ReferenceHooks h = [] {
    ReferenceHooks r;
    void *handle = dlopen(MIXQ_REFERENCE_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return r;
    r.configure = reinterpret_cast<const char *(*)(const char *)>(
        dlsym(handle, "mixq_reference_configure"));
    r.setAbiVersion = reinterpret_cast<void (*)(int32_t)>(
        dlsym(handle, "mixq_reference_set_abi_version"));
    return r;
  }();
  return h;
}

class RuntimeTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    packageA = new std::string(writeTinyPackage(1));
    packageB = new std::string(writeTinyPackage(2));
  }
  static void TearDownTestSuite() {
    llvm::sys::fs::remove(*packageA);
    llvm::sys::fs::remove(*packageB);
    delete packageA;
    delete packageB;
  }

  void SetUp() override {
    ASSERT_TRUE(hooks().configure && hooks().setAbiVersion)
        << "cannot load " << MIXQ_REFERENCE_MODULE << ": " << dlerror();
    const char *error = hooks().configure(packageA->c_str());
    ASSERT_EQ(error, nullptr) << error;
    auto reader = PackageReader::open(*packageA);
    ASSERT_TRUE(bool(reader)) << llvm::toString(reader.takeError());
    package = std::move(*reader);
    auto opened = CompiledModule::open(MIXQ_REFERENCE_MODULE);
    ASSERT_TRUE(bool(opened)) << llvm::toString(opened.takeError());
    module = std::move(*opened);
  }

  void bind() {
    llvm::Error e = module->bindPackage(*package);
    ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
  }

  static std::string *packageA, *packageB;
  std::unique_ptr<PackageReader> package;
  std::unique_ptr<CompiledModule> module;
};

std::string *RuntimeTest::packageA = nullptr;
std::string *RuntimeTest::packageB = nullptr;

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

} // namespace

TEST_F(RuntimeTest, ReadsWhatTheModuleWasCompiledFor) {
  EXPECT_EQ(module->target(), "x86-64:reference");
  EXPECT_TRUE(module->isCpu());
  EXPECT_EQ(module->packageSha256(), package->contentSha256());
  EXPECT_EQ(module->dims().n_layers, 2);
  EXPECT_EQ(module->dims().head_dim, 8);
  EXPECT_EQ(module->dims().vocab_size, 16);
  // The reference module reads every stream, in package order.
  std::vector<std::string> names;
  std::vector<const void *> data;
  for (const PackageTensorView &t : package->tensors())
    for (const auto &stream : t.streams) {
      names.push_back(t.name + ":" + stream.name);
      data.push_back(stream.bytes.data());
    }
  EXPECT_EQ(module->streamNames().vec(), names);
  EXPECT_FALSE(module->isBound());
  bind();
  EXPECT_TRUE(module->isBound());
  // The table points into the package's mapping (no copies).
  EXPECT_EQ(module->streamTable().vec(), data);
}

TEST_F(RuntimeTest, LogitsEqualTheReferenceEngine) {
  bind();
  auto session = Session::create(*module, 3);
  ASSERT_TRUE(bool(session)) << llvm::toString(session.takeError());
  Session &s = **session;

  auto weights = loadPackageWeights(*package);
  ASSERT_TRUE(bool(weights)) << llvm::toString(weights.takeError());
  Engine engine(*weights, 2);

  std::vector<int> prompt = {1, 5, 9, 3};
  std::vector<float> expected;
  for (size_t i = 0; i < prompt.size(); ++i)
    expected = engine.forward(prompt[i], int(i)).vec();
  for (int round = 0; round < 2; ++round) { // the second after reset()
    auto logits = s.prefill(prompt);
    ASSERT_TRUE(bool(logits)) << llvm::toString(logits.takeError());
    EXPECT_EQ(logits->vec(), expected);
    EXPECT_EQ(s.pos(), 4);
    int pos = 4;
    for (int token : {7, 0, 15}) {
      auto step = s.decode(token);
      ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
      EXPECT_EQ(step->vec(), engine.forward(token, pos).vec())
          << "round " << round << ", position " << pos;
      ++pos;
    }
    EXPECT_EQ(s.pos(), 7);
    s.reset();
    engine.reset();
    for (size_t i = 0; i < prompt.size(); ++i)
      expected = engine.forward(prompt[i], int(i)).vec();
  }
}

TEST_F(RuntimeTest, RefusesAnotherPackage) {
  auto other = PackageReader::open(*packageB);
  ASSERT_TRUE(bool(other)) << llvm::toString(other.takeError());
  ASSERT_NE((*other)->contentSha256(), package->contentSha256());
  std::string message = errorText(module->bindPackage(**other));
  EXPECT_EQ(message,
            llvm::formatv("{0}: compiled for package {1}, but {2} has content "
                          "hash {3}; recompile",
                          MIXQ_REFERENCE_MODULE, package->contentSha256(),
                          *packageB, (*other)->contentSha256())
                .str());
  EXPECT_FALSE(module->isBound());
  auto session = Session::create(*module);
  EXPECT_FALSE(bool(session));
  llvm::consumeError(session.takeError());
}

TEST_F(RuntimeTest, NonModulesGiveOneLineErrors) {
  Dl_info info;
  // getpid, not dlopen: AddressSanitizer intercepts dlopen in the executable.
  ASSERT_NE(dladdr(reinterpret_cast<void *>(&getpid), &info), 0);
  std::string libdl = info.dli_fname; // a real library, not a module
  for (const std::string &path :
       {std::string("/dev/null"), *packageA, libdl,
        *packageA + ".does-not-exist"}) {
    auto m = CompiledModule::open(path);
    ASSERT_FALSE(bool(m)) << path;
    std::string message = llvm::toString(m.takeError());
    EXPECT_TRUE(llvm::StringRef(message).starts_with(path + ": ")) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    if (path == libdl)
      EXPECT_EQ(message,
                path + ": not a mixq module (no symbol mixq_abi_version)");
  }
}

TEST_F(RuntimeTest, RefusesAnotherAbiVersion) {
  hooks().setAbiVersion(MIXQ_ABI_VERSION + 1);
  auto m = CompiledModule::open(MIXQ_REFERENCE_MODULE);
  hooks().setAbiVersion(MIXQ_ABI_VERSION);
  ASSERT_FALSE(bool(m));
  EXPECT_EQ(llvm::toString(m.takeError()),
            std::string(MIXQ_REFERENCE_MODULE) + ": module ABI version " +
                std::to_string(MIXQ_ABI_VERSION + 1) +
                ", this runtime speaks " + std::to_string(MIXQ_ABI_VERSION) +
                "; recompile it");
}

TEST_F(RuntimeTest, AllLogitsOnlyWhenAskedFor) {
  bind();
  auto session = Session::create(*module, 2);
  ASSERT_TRUE(bool(session)) << llvm::toString(session.takeError());
  Session &s = **session;
  std::vector<int> prompt = {1, 5, 9};
  auto last = s.prefill(prompt);
  ASSERT_TRUE(bool(last)) << llvm::toString(last.takeError());
  std::vector<float> lastLogits = last->vec();
  EXPECT_TRUE(s.allLogits().empty()); // rows before the last: unspecified
  s.reset();
  auto all = s.prefill(prompt, Session::LogitRows::All);
  ASSERT_TRUE(bool(all)) << llvm::toString(all.takeError());
  size_t vocab = size_t(s.vocabSize());
  ASSERT_EQ(s.allLogits().size(), prompt.size() * vocab);
  EXPECT_EQ(s.allLogits().take_back(vocab).vec(), lastLogits);
}

TEST_F(RuntimeTest, RefusesBadInputBeforeTheModuleRuns) {
  bind();
  auto session = Session::create(*module, 2);
  ASSERT_TRUE(bool(session)) << llvm::toString(session.takeError());
  Session &s = **session;
  std::string prefix = std::string(MIXQ_REFERENCE_MODULE) + ": ";

  std::vector<int> tooLong(9, 1);
  auto r = s.prefill(tooLong);
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(llvm::toString(r.takeError()),
            prefix + "prompt of 9 tokens does not fit the context of 8");

  r = s.prefill({1, 2, 16});
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(llvm::toString(r.takeError()),
            prefix + "token id 16 (at 2) is outside the vocabulary of 16");
  r = s.decode(-1);
  ASSERT_FALSE(bool(r));
  llvm::consumeError(r.takeError());
  r = s.prefill({});
  ASSERT_FALSE(bool(r));
  llvm::consumeError(r.takeError());
  EXPECT_EQ(s.pos(), 0); // nothing ran

  // Filling the context exactly works; one more token does not.
  r = s.prefill({1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  r = s.decode(1);
  ASSERT_FALSE(bool(r));
  EXPECT_EQ(llvm::toString(r.takeError()),
            prefix + "1 tokens at position 8 do not fit the context of 8");
}

TEST_F(RuntimeTest, SessionNeedsABoundModule) {
  auto session = Session::create(*module);
  ASSERT_FALSE(bool(session));
  EXPECT_EQ(llvm::toString(session.takeError()),
            std::string(MIXQ_REFERENCE_MODULE) +
                ": module is not bound to a package");
}

TEST_F(RuntimeTest, ParallelForCoversTheRangeOnce) {
  bind();
  for (unsigned threads : {1u, 2u, 5u}) {
    auto session = Session::create(*module, threads);
    ASSERT_TRUE(bool(session)) << llvm::toString(session.takeError());
    const mixq_runtime *rt = (*session)->runtime();
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1001}) {
      std::vector<std::atomic<int>> hits(size_t(n) + 1);
      struct Args {
        std::vector<std::atomic<int>> *hits;
        const mixq_runtime *rt;
      } args{&hits, rt};
      rt->parallel_for(
          rt->ctx, n,
          [](void *p, int64_t begin, int64_t end) {
            auto *a = static_cast<Args *>(p);
            EXPECT_LE(begin, end);
            // A nested call runs (serially) instead of deadlocking.
            a->rt->parallel_for(
                a->rt->ctx, end - begin,
                [](void *, int64_t, int64_t) {}, nullptr);
            for (int64_t i = begin; i < end; ++i)
              (*a->hits)[size_t(i)]++;
          },
          &args);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(hits[size_t(i)].load(), 1)
            << "index " << i << " of " << n << ", " << threads << " threads";
      EXPECT_EQ(hits[size_t(n)].load(), 0);
    }
  }
}
