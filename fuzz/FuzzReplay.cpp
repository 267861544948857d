//===- FuzzReplay.cpp - Replays fuzz inputs without libFuzzer -------------===//
//
// main() for the replay build of every fuzz target: runs
// LLVMFuzzerTestOneInput once on each file named on the command line (a
// directory stands for the files in it, sorted by name). Each input is
// copied into a buffer of exactly its size, so AddressSanitizer sees a read
// one byte past the end. This is what ctest runs on fuzz/regressions/ and
// the seeds, in the normal build and in the sanitized one.
//
//===----------------------------------------------------------------------===//
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string path = argv[i];
    if (!llvm::sys::fs::is_directory(path)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> inDir;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec))
      if (!llvm::sys::fs::is_directory(it->path()))
        inDir.push_back(it->path());
    if (ec) {
      llvm::errs() << path << ": " << ec.message() << "\n";
      return 1;
    }
    std::sort(inDir.begin(), inDir.end());
    files.insert(files.end(), inDir.begin(), inDir.end());
  }
  for (const std::string &file : files) {
    auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer) {
      llvm::errs() << file << ": " << buffer.getError().message() << "\n";
      return 1;
    }
    size_t size = (*buffer)->getBufferSize();
    std::unique_ptr<uint8_t[]> exact(new uint8_t[size ? size : 1]);
    std::memcpy(exact.get(), (*buffer)->getBufferStart(), size);
    LLVMFuzzerTestOneInput(exact.get(), size);
  }
  llvm::outs() << "replayed " << files.size() << " inputs\n";
  return 0;
}
