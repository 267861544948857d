/*===- AsanLLVMHeaders.h - LLVM's headers as in LLVM's own build -*- C++ -*-===*\
|*                                                                            *|
|* Force-included into every file of a MIXQ_SANITIZE build. Debian's          *|
|* libLLVM/libMLIR are not built with AddressSanitizer, but under             *|
|* -fsanitize=address llvm/Support/Compiler.h turns on the manual poisoning   *|
|* of BumpPtrAllocator slabs in the inline code of llvm/Support/Allocator.h.  *|
|* Slabs poisoned by mixq's inline copies and then handed out by the          *|
|* uninstrumented library copies (which never unpoison) make false            *|
|* use-after-poison reports inside MLIR (found by the layout-attr fuzzer).    *|
|* Declaring the interface first and then turning the two calls into no-ops  *|
|* makes the headers behave exactly as they do inside libLLVM.                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef MIXQ_CMAKE_ASANLLVMHEADERS_H
#define MIXQ_CMAKE_ASANLLVMHEADERS_H

#include <sanitizer/asan_interface.h>

#undef __asan_poison_memory_region
#undef __asan_unpoison_memory_region
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#define __asan_unpoison_memory_region(p, size) ((void)(p), (void)(size))

#endif // MIXQ_CMAKE_ASANLLVMHEADERS_H
