//===- FuzzSupport.h - Shared checks of the mixq fuzz targets ---*- C++ -*-===//
//
// The property every reader promises (docs/Hardening.md): a hostile input is
// refused with an llvm::Error whose message is one line that starts with the
// file it concerns ("<file>: <reason>"). checkRefusal() turns a broken
// promise into a crash, so libFuzzer reports it like a memory error.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_FUZZ_FUZZSUPPORT_H
#define MIXQ_FUZZ_FUZZSUPPORT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdio>
#include <cstdlib>

namespace mixq::fuzz {

/// Consumes `error`; aborts when its message is not one line starting with
/// "<file>: " followed by a reason.
inline void checkRefusal(llvm::Error error, llvm::StringRef file) {
  std::string message = llvm::toString(std::move(error));
  llvm::StringRef m = message;
  bool named = m.starts_with((file + ": ").str()) &&
               m.size() > file.size() + 2;
  bool oneLine = !m.contains('\n') && !m.contains('\r');
  if (named && oneLine)
    return;
  std::fprintf(stderr, "mixq-fuzz: bad refusal (%s): %s\n",
               named ? "not one line" : "does not start with the file name",
               message.c_str());
  std::abort();
}

/// checkRefusal for errors that may name any file inside directory `dir`.
inline void checkRefusalIn(llvm::Error error, llvm::StringRef dir) {
  std::string message = llvm::toString(std::move(error));
  llvm::StringRef m = message;
  size_t colon = m.find(": ");
  if (m.starts_with(dir) && colon != llvm::StringRef::npos &&
      colon + 2 < m.size() && !m.contains('\n') && !m.contains('\r'))
    return;
  std::fprintf(stderr, "mixq-fuzz: bad refusal: %s\n", message.c_str());
  std::abort();
}

/// checkRefusal for the error of an Expected that failed; true when `value`
/// holds a value.
template <typename T>
bool succeeded(llvm::Expected<T> &value, llvm::StringRef file) {
  if (value)
    return true;
  checkRefusal(value.takeError(), file);
  return false;
}

} // namespace mixq::fuzz

#endif // MIXQ_FUZZ_FUZZSUPPORT_H
