//===- MemoryLimit.cpp - Refusing allocations a file cannot justify -------===//
//
// See MemoryLimit.h.
//
//===----------------------------------------------------------------------===//
#include "model/MemoryLimit.h"

#include "llvm/Support/FormatVariadic.h"

#include <unistd.h>

using namespace mixq;

uint64_t mixq::physicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return 0;
  return uint64_t(pages) * uint64_t(pageSize);
}

llvm::Error mixq::checkAllocation(uint64_t bytes, bool overflow,
                                  const llvm::Twine &what) {
  uint64_t memory = physicalMemoryBytes();
  if (!overflow && (memory == 0 || bytes <= memory))
    return llvm::Error::success();
  auto gib = [](uint64_t b) { return double(b) / double(uint64_t(1) << 30); };
  if (overflow)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   what + " needs more than 2^64 bytes");
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      what + llvm::formatv(" needs {0:f1} GiB, more than this machine's "
                           "{1:f1} GiB of memory",
                           gib(bytes), gib(memory)));
}
