//===- HostCodegenTest.cpp - LLVM-dialect module -> loaded .so ------------===//
//
// Small LLVM-dialect modules go through translateToLLVMIR, optimizeForHost,
// emitHostCode and linkSharedLibrary, and the library is dlopened and called
// (including a function that calls libc's expf, left undefined in the .so).
// Also: target resolution (native, named CPUs, unknown names), assembly
// output, and the failures of the linker and of the translation.
//
//===----------------------------------------------------------------------===//
#include "codegen/Host/HostCodegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <dlfcn.h>

using namespace mixq;

namespace {

const char *const kAddAndExp = R"mlir(
  llvm.func @expf(f32) -> f32
  llvm.func @mixq_test_add(%a: i64, %b: i64) -> i64 {
    %s = llvm.add %a, %b : i64
    llvm.return %s : i64
  }
  llvm.func @mixq_test_exp(%x: f32) -> f32 {
    %r = llvm.call @expf(%x) : (f32) -> f32
    llvm.return %r : f32
  }
)mlir";

// for (i = 0; i < n; ++i) p[i] *= 2.0f: vectorizable with the cost model.
const char *const kScaleLoop = R"mlir(
  llvm.func @mixq_test_scale(%p: !llvm.ptr, %n: i64) {
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %two = llvm.mlir.constant(2.0 : f32) : f32
    llvm.br ^head(%zero : i64)
  ^head(%i: i64):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %q = llvm.getelementptr %p[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %v = llvm.load %q : !llvm.ptr -> f32
    %w = llvm.fmul %v, %two : f32
    llvm.store %w, %q : f32, !llvm.ptr
    %next = llvm.add %i, %one : i64
    llvm.br ^head(%next : i64)
  ^exit:
    llvm.return
  }
)mlir";

bool contains(llvm::StringRef text, llvm::StringRef part) {
  return text.contains(part);
}

std::string errorText(llvm::Error error) {
  return llvm::toString(std::move(error));
}

class HostCodegenTest : public ::testing::Test {
protected:
  HostCodegenTest() {
    context.getOrLoadDialect<mlir::LLVM::LLVMDialect>();
    context.getOrLoadDialect<mlir::func::FuncDialect>();
  }

  void SetUp() override {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("mixq-host-test", tempDir);
    ASSERT_FALSE(ec) << ec.message();
  }

  void TearDown() override {
    if (!tempDir.empty())
      llvm::sys::fs::remove_directories(tempDir);
  }

  std::string tempPath(llvm::StringRef name) const {
    llvm::SmallString<128> path(tempDir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  }

  /// Number of entries in the temporary directory.
  int tempDirEntries() const {
    int count = 0;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(tempDir, ec), end;
         !ec && it != end; it.increment(ec))
      ++count;
    return count;
  }

  /// Parses `source`, translates it and (when `target` is given) optimizes
  /// it; failures are reported as test failures and give nullptr.
  std::unique_ptr<llvm::Module> compile(const char *source,
                                        const ResolvedHostTarget *target) {
    mlir::OwningOpRef<mlir::ModuleOp> module =
        mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    EXPECT_TRUE(module) << "cannot parse the test module";
    if (!module)
      return nullptr;
    llvm::Expected<std::unique_ptr<llvm::Module>> llvmModule =
        translateToLLVMIR(*module, llvmContext);
    EXPECT_TRUE(static_cast<bool>(llvmModule))
        << errorText(llvmModule.takeError());
    if (!llvmModule)
      return nullptr;
    if (target) {
      llvm::Error error = optimizeForHost(**llvmModule, *target);
      EXPECT_FALSE(static_cast<bool>(error)) << errorText(std::move(error));
    }
    return std::move(*llvmModule);
  }

  mlir::MLIRContext context;
  llvm::LLVMContext llvmContext;
  llvm::SmallString<128> tempDir;
};

ResolvedHostTarget resolveOrFail(const HostTarget &target) {
  llvm::Expected<ResolvedHostTarget> resolved = resolveHostTarget(target);
  EXPECT_TRUE(static_cast<bool>(resolved)) << errorText(resolved.takeError());
  return resolved ? *resolved : ResolvedHostTarget{};
}

} // namespace

TEST_F(HostCodegenTest, LinkedLibraryRunsAndResolvesLibc) {
  ResolvedHostTarget target = resolveOrFail({"native", ""});
  ASSERT_FALSE(target.cpu.empty());
  std::unique_ptr<llvm::Module> module = compile(kAddAndExp, &target);
  ASSERT_TRUE(module);
  EXPECT_EQ(module->getTargetTriple().str(), target.triple);
  llvm::Function *add = module->getFunction("mixq_test_add");
  ASSERT_TRUE(add);
  EXPECT_EQ(add->getFnAttribute("target-cpu").getValueAsString(), target.cpu);

  llvm::Expected<std::string> object =
      emitHostCode(*module, target, HostOutput::Object);
  ASSERT_TRUE(static_cast<bool>(object)) << errorText(object.takeError());
  ASSERT_TRUE(llvm::StringRef(*object).starts_with("\177ELF"));

  std::string library = tempPath("libtest.so");
  llvm::Error linked = linkSharedLibrary(*object, library);
  ASSERT_FALSE(static_cast<bool>(linked)) << errorText(std::move(linked));
  EXPECT_EQ(tempDirEntries(), 1) << "temporaries left next to the library";

  void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(handle) << ::dlerror();
  auto *addFn = reinterpret_cast<int64_t (*)(int64_t, int64_t)>(
      ::dlsym(handle, "mixq_test_add"));
  auto *expFn =
      reinterpret_cast<float (*)(float)>(::dlsym(handle, "mixq_test_exp"));
  EXPECT_TRUE(addFn);
  EXPECT_TRUE(expFn);
  if (addFn)
    EXPECT_EQ(addFn(2, 40), 42);
  if (expFn) {
    EXPECT_EQ(expFn(0.0f), 1.0f);
    EXPECT_NEAR(expFn(1.0f), 2.7182817f, 1e-6f);
  }
  ::dlclose(handle);
}

// An exported entry point that reaches an internal function through its
// address (as mixq_decode reaches its task functions) still works when the
// two land in different partitions.
const char *const kEntryAndTask = R"mlir(
  llvm.func internal @task(%a: i64) -> i64 {
    %c = llvm.mlir.constant(3 : i64) : i64
    %r = llvm.mul %a, %c : i64
    llvm.return %r : i64
  }
  llvm.func internal @task2(%a: i64) -> i64 {
    %c = llvm.mlir.constant(5 : i64) : i64
    %r = llvm.add %a, %c : i64
    llvm.return %r : i64
  }
  llvm.func @mixq_test_entry(%a: i64) -> i64 {
    %f = llvm.mlir.addressof @task : !llvm.ptr
    %g = llvm.mlir.addressof @task2 : !llvm.ptr
    %x = llvm.call %f(%a) : !llvm.ptr, (i64) -> i64
    %y = llvm.call %g(%x) : !llvm.ptr, (i64) -> i64
    llvm.return %y : i64
  }
)mlir";

TEST_F(HostCodegenTest, PartitionsCompileInParallelAndLinkIntoOneLibrary) {
  ResolvedHostTarget target = resolveOrFail({"native", ""});
  for (unsigned threads : {1u, 3u}) {
    std::unique_ptr<llvm::Module> module = compile(kEntryAndTask, nullptr);
    ASSERT_TRUE(module);
    llvm::Expected<std::vector<std::string>> objects =
        compileToObjects(*module, target, threads);
    ASSERT_TRUE(static_cast<bool>(objects)) << errorText(objects.takeError());
    EXPECT_EQ(objects->size(), threads);
    std::string library =
        tempPath("libparts" + std::to_string(threads) + ".so");
    llvm::Error linked = linkSharedLibraryFromObjects(*objects, library);
    ASSERT_FALSE(static_cast<bool>(linked)) << errorText(std::move(linked));
    void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_TRUE(handle) << ::dlerror();
    auto *entry = reinterpret_cast<int64_t (*)(int64_t)>(
        ::dlsym(handle, "mixq_test_entry"));
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry(7), 26);
    // The tasks stay private to the library.
    EXPECT_EQ(::dlsym(handle, "task"), nullptr);
    ::dlclose(handle);
  }
}

TEST_F(HostCodegenTest, AssemblyNamesTheFunction) {
  ResolvedHostTarget target = resolveOrFail({"x86-64", ""});
  std::unique_ptr<llvm::Module> module = compile(kAddAndExp, &target);
  ASSERT_TRUE(module);
  llvm::Expected<std::string> assembly =
      emitHostCode(*module, target, HostOutput::Assembly);
  ASSERT_TRUE(static_cast<bool>(assembly)) << errorText(assembly.takeError());
  EXPECT_TRUE(contains(*assembly, "mixq_test_add:")) << *assembly;
  EXPECT_TRUE(contains(*assembly, "expf")) << *assembly;
}

TEST_F(HostCodegenTest, ResolvesNativeAndNamedCPUs) {
  ResolvedHostTarget native = resolveOrFail({"native", ""});
  EXPECT_EQ(native.triple, "x86_64-unknown-linux-gnu");
  EXPECT_FALSE(native.cpu.empty());
  EXPECT_NE(native.cpu, "native");
  ResolvedHostTarget empty = resolveOrFail({"", ""});
  EXPECT_EQ(empty.cpu, native.cpu);

  // A named CPU spells out the features it implies (the kernels choose
  // from them), then the user's, which come last and so win.
  ResolvedHostTarget named = resolveOrFail({"znver4", "+avx2, -avx512f"});
  EXPECT_EQ(named.cpu, "znver4");
  EXPECT_TRUE(contains(named.features, "+avx512vnni,")) << named.features;
  EXPECT_TRUE(llvm::StringRef(named.features).ends_with(",+avx2,-avx512f"))
      << named.features;
  ResolvedHostTarget haswell = resolveOrFail({"haswell", ""});
  EXPECT_TRUE(contains(haswell.features, "+avx2,")) << haswell.features;
  EXPECT_FALSE(contains(haswell.features, "avx512")) << haswell.features;
  EXPECT_FALSE(contains(haswell.features, "avxvnni")) << haswell.features;
}

TEST_F(HostCodegenTest, X86_64_V3VectorizesWithoutZmm) {
  ResolvedHostTarget target = resolveOrFail({"x86-64-v3", ""});
  std::unique_ptr<llvm::Module> module = compile(kScaleLoop, &target);
  ASSERT_TRUE(module);
  llvm::Expected<std::string> assembly =
      emitHostCode(*module, target, HostOutput::Assembly);
  ASSERT_TRUE(static_cast<bool>(assembly)) << errorText(assembly.takeError());
  EXPECT_TRUE(contains(*assembly, "mixq_test_scale:")) << *assembly;
  EXPECT_TRUE(contains(*assembly, "%ymm")) << *assembly;
  EXPECT_FALSE(contains(*assembly, "%zmm")) << *assembly;
}

TEST_F(HostCodegenTest, UnknownCPUOrFeatureIsAnError) {
  llvm::Expected<ResolvedHostTarget> cpu =
      resolveHostTarget({"pentium-9000", ""});
  ASSERT_FALSE(static_cast<bool>(cpu));
  std::string cpuMessage = errorText(cpu.takeError());
  EXPECT_TRUE(contains(cpuMessage, "unknown x86 CPU 'pentium-9000'"))
      << cpuMessage;

  llvm::Expected<ResolvedHostTarget> feature =
      resolveHostTarget({"x86-64", "+avx9000"});
  ASSERT_FALSE(static_cast<bool>(feature));
  std::string featureMessage = errorText(feature.takeError());
  EXPECT_TRUE(contains(featureMessage, "unknown x86 feature '+avx9000'"))
      << featureMessage;
}

TEST(FeatureString, TheLastMentionOfAFeatureWins) {
  EXPECT_TRUE(featureIsOn("+avx2,+fma", "avx2"));
  EXPECT_TRUE(featureIsOn("+avx2,+fma", "fma"));
  EXPECT_FALSE(featureIsOn("+avx2,+fma", "avx512f"));
  EXPECT_FALSE(featureIsOn("", "avx2"));
  // The host's "+avx512f", then the user's "-avx512f", then on again.
  EXPECT_FALSE(featureIsOn("+avx512f,+avx2,-avx512f", "avx512f"));
  EXPECT_TRUE(featureIsOn("+avx512f,-avx512f,+avx512f", "avx512f"));
  // Whole names only: "avx512f" is not "avx512fp16", nor a prefix of it.
  EXPECT_FALSE(featureIsOn("+avx512fp16", "avx512f"));
  EXPECT_FALSE(featureIsOn("+avx512f", "avx512"));
  // Empty entries and bare signs are skipped.
  EXPECT_TRUE(featureIsOn(",+,+avx2,", "avx2"));
}

TEST_F(HostCodegenTest, LinkingGarbageFailsWithTheLinkerOutput) {
  std::string library = tempPath("libgarbage.so");
  llvm::Error error = linkSharedLibrary("this is not an ELF object", library);
  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = errorText(std::move(error));
  EXPECT_TRUE(contains(message, "error:")) << message;
  EXPECT_TRUE(contains(message, "unknown directive")) << message;
  EXPECT_FALSE(llvm::sys::fs::exists(library));
  EXPECT_EQ(tempDirEntries(), 0) << "temporaries left next to the library";
}

TEST_F(HostCodegenTest, NonLLVMDialectOpsDoNotTranslate) {
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>("func.func @f() { return }",
                                              &context);
  ASSERT_TRUE(module);
  llvm::Expected<std::unique_ptr<llvm::Module>> llvmModule =
      translateToLLVMIR(*module, llvmContext);
  ASSERT_FALSE(static_cast<bool>(llvmModule));
  std::string message = errorText(llvmModule.takeError());
  EXPECT_TRUE(contains(message, "cannot translate the module to LLVM IR: "))
      << message;
  EXPECT_TRUE(contains(message, "func.func")) << message;
}
