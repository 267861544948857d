//===- Sha256.h - SHA-256 with the x86 SHA extensions -----------*- C++ -*-===//
//
// Streaming SHA-256 (FIPS 180-4). Every package is hashed in full when it
// is opened (its content_sha256, model/PackageHash.h), so the hash sits on
// the start-up path of `mixq run`: llvm::SHA256, portable C, reads about
// 190 MB/s (16 s for a 3 GB Llama-2-7B package). Where the CPU has the SHA
// extensions (every AMD Zen, Intel since Ice Lake and Goldmont) blocks go
// through sha256rnds2/sha256msg1/sha256msg2, several times faster; other
// CPUs run the portable compression function below. Both give the same
// digest (test/unit/Sha256Test.cpp checks them against llvm::SHA256).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_SHA256_H
#define MIXQ_MODEL_SHA256_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstdint>

namespace mixq {

class Sha256 {
public:
  /// `allowShaExtensions` = false forces the portable compression function
  /// (for tests; the default uses the SHA extensions where the CPU has
  /// them).
  explicit Sha256(bool allowShaExtensions = true);

  void update(llvm::ArrayRef<uint8_t> bytes);
  void update(llvm::StringRef text) {
    update(llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(text.data()), text.size()));
  }
  /// The digest; the object is spent afterwards.
  std::array<uint8_t, 32> final();

  /// Whether this process hashes with the SHA extensions.
  static bool hasShaExtensions();

private:
  void compress(const uint8_t *blocks, size_t count);

  std::array<uint32_t, 8> state;
  std::array<uint8_t, 64> buffer{};
  size_t buffered = 0;
  uint64_t totalBytes = 0;
  bool useShaExtensions;
};

} // namespace mixq

#endif // MIXQ_MODEL_SHA256_H
