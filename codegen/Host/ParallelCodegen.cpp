//===- ParallelCodegen.cpp - O3 and x86 code generation on all cores ------===//
//
// compileToObjects(): the module is split into partitions with
// llvm::SplitModule, each partition is written to bitcode and read back into
// its own LLVMContext (contexts are not thread-safe), then optimized and
// compiled on a thread pool. The kernels of a mixq module are independent
// functions (the entry points only take their addresses), so partitioning
// loses no inlining; the partitions are linked into one library.
//
//===----------------------------------------------------------------------===//
#include "codegen/Host/HostCodegen.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <mutex>

using namespace mixq;

namespace {

llvm::Expected<std::string> compileOne(llvm::Module &module,
                                       const ResolvedHostTarget &target) {
  if (llvm::Error e = optimizeForHost(module, target))
    return std::move(e);
  return emitHostCode(module, target, HostOutput::Object);
}

} // namespace

llvm::Expected<std::vector<std::string>>
mixq::compileToObjects(llvm::Module &module, const ResolvedHostTarget &target,
                       unsigned threads) {
  if (threads == 0)
    threads = llvm::hardware_concurrency().compute_thread_count();
  size_t definitions = 0;
  for (const llvm::Function &f : module)
    definitions += !f.isDeclaration();
  threads = unsigned(std::min<size_t>(threads, definitions));
  if (threads <= 1) {
    llvm::Expected<std::string> object = compileOne(module, target);
    if (!object)
      return object.takeError();
    return std::vector<std::string>{std::move(*object)};
  }

  std::vector<llvm::SmallVector<char, 0>> parts;
  llvm::SplitModule(
      module, threads,
      [&](std::unique_ptr<llvm::Module> part) {
        llvm::SmallVector<char, 0> bitcode;
        llvm::raw_svector_ostream os(bitcode);
        llvm::WriteBitcodeToFile(*part, os);
        parts.push_back(std::move(bitcode));
      },
      /*PreserveLocals=*/false);

  std::vector<std::string> objects(parts.size());
  std::mutex failureLock;
  std::string failure;
  llvm::DefaultThreadPool pool(llvm::hardware_concurrency(threads));
  for (size_t i = 0; i < parts.size(); ++i) {
    pool.async([&, i] {
      auto fail = [&](llvm::Error e) {
        std::lock_guard<std::mutex> lock(failureLock);
        std::string text = llvm::toString(std::move(e));
        if (failure.empty())
          failure = "partition " + std::to_string(i) + ": " + text;
      };
      llvm::LLVMContext context;
      llvm::MemoryBufferRef buffer(
          llvm::StringRef(parts[i].data(), parts[i].size()), "partition");
      llvm::Expected<std::unique_ptr<llvm::Module>> part =
          llvm::parseBitcodeFile(buffer, context);
      if (!part)
        return fail(part.takeError());
      llvm::Expected<std::string> object = compileOne(**part, target);
      if (!object)
        return fail(object.takeError());
      objects[i] = std::move(*object);
    });
  }
  pool.wait();
  if (!failure.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), failure);
  return objects;
}
