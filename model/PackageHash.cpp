//===- PackageHash.cpp - The content hash of a package --------------------===//
//
// See PackageHash.h.
//
//===----------------------------------------------------------------------===//
#include "model/PackageHash.h"

#include "llvm/ADT/StringExtras.h"

using namespace mixq;

void PackageHasher::addMetadata(
    const std::map<std::string, std::string> &metadata) {
  for (const auto &[key, value] : metadata) {
    if (key == "content_sha256")
      continue;
    sha.update(key);
    sha.update("=");
    sha.update(value);
    sha.update("\n");
  }
}

std::string PackageHasher::finalHex() {
  std::array<uint8_t, 32> digest = sha.final();
  return llvm::toHex(digest, /*LowerCase=*/true);
}

std::string mixq::sha256Hex(llvm::ArrayRef<uint8_t> bytes) {
  PackageHasher hasher;
  hasher.addData(bytes);
  return hasher.finalHex();
}
