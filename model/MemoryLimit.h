//===- MemoryLimit.h - Refusing allocations a file cannot justify -*- C++ -*-===//
//
// Some sizes come from a file's metadata alone (a GGUF's context_length, a
// module's model shape) and are not backed by bytes of the file: a KV cache
// for 2^24 positions of a tiny model is a few bytes of header and a terabyte
// of memory. Since mixq builds without exceptions, a failed std::vector
// allocation would abort; those allocations are checked here first, against
// the machine's physical memory, and refused with a message instead.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_MEMORYLIMIT_H
#define MIXQ_MODEL_MEMORYLIMIT_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace mixq {

/// This machine's physical memory in bytes (0 when unknown).
uint64_t physicalMemoryBytes();

/// An error "<what> needs N GiB, more than this machine's M GiB of memory"
/// when `bytes` exceeds the physical memory (or `overflow` is set: the size
/// did not fit 64 bits); success otherwise. Callers add the file name.
llvm::Error checkAllocation(uint64_t bytes, bool overflow,
                            const llvm::Twine &what);

} // namespace mixq

#endif // MIXQ_MODEL_MEMORYLIMIT_H
