//===- PackageHash.h - The content hash of a package ------------*- C++ -*-===//
//
// content_sha256 = SHA-256 over every metadata entry except itself, in key
// order, as "key=value\n", followed by the data section. The writer and the
// reader both use this class, so they cannot disagree. SHA-256 itself is
// model/Sha256.h (the x86 SHA extensions where the CPU has them).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_PACKAGEHASH_H
#define MIXQ_MODEL_PACKAGEHASH_H

#include "llvm/ADT/ArrayRef.h"
#include "model/Sha256.h"

#include <map>
#include <string>

namespace mixq {

class PackageHasher {
public:
  /// Adds the metadata entries (skipping "content_sha256").
  void addMetadata(const std::map<std::string, std::string> &metadata);
  void addData(llvm::ArrayRef<uint8_t> bytes) { sha.update(bytes); }
  /// Lower-case hex digest; the hasher is spent afterwards.
  std::string finalHex();

private:
  Sha256 sha;
};

/// Lower-case hex SHA-256 of a whole file's bytes.
std::string sha256Hex(llvm::ArrayRef<uint8_t> bytes);

} // namespace mixq

#endif // MIXQ_MODEL_PACKAGEHASH_H
