//===- Sha256Test.cpp - SHA-256, SHA extensions and portable ---------------===//
//
// Both compression functions of model/Sha256.h against the FIPS 180-4
// examples and against llvm::SHA256 on every length up to 300 bytes and on
// a megabyte fed in uneven pieces.
//
//===----------------------------------------------------------------------===//
#include "model/Sha256.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include "gtest/gtest.h"

#include <random>
#include <vector>

using namespace mixq;

namespace {

std::string hex(const std::array<uint8_t, 32> &digest) {
  return llvm::toHex(digest, /*LowerCase=*/true);
}

std::string llvmHex(llvm::ArrayRef<uint8_t> bytes) {
  return llvm::toHex(llvm::SHA256::hash(bytes), /*LowerCase=*/true);
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t &b : v)
    b = uint8_t(rng());
  return v;
}

} // namespace

TEST(Sha256, FipsExamples) {
  for (bool extensions : {true, false}) {
    Sha256 empty(extensions);
    EXPECT_EQ(hex(empty.final()),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    Sha256 abc(extensions);
    abc.update(llvm::StringRef("abc"));
    EXPECT_EQ(hex(abc.final()),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256 two(extensions);
    two.update(llvm::StringRef(
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"));
    EXPECT_EQ(hex(two.final()),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
}

TEST(Sha256, EveryShortLengthMatchesLlvm) {
  std::vector<uint8_t> data = randomBytes(300, 7);
  for (size_t n = 0; n <= data.size(); ++n) {
    llvm::ArrayRef<uint8_t> bytes(data.data(), n);
    for (bool extensions : {true, false}) {
      Sha256 sha(extensions);
      sha.update(bytes);
      EXPECT_EQ(hex(sha.final()), llvmHex(bytes))
          << n << " bytes, extensions " << extensions;
    }
  }
}

TEST(Sha256, UnevenPiecesOfAMegabyteMatchLlvm) {
  std::vector<uint8_t> data = randomBytes(1 << 20, 11);
  std::string expected = llvmHex(data);
  std::mt19937 rng(3);
  for (bool extensions : {true, false}) {
    Sha256 sha(extensions);
    size_t at = 0;
    while (at < data.size()) {
      size_t piece = std::min<size_t>(rng() % 1000, data.size() - at);
      sha.update(llvm::ArrayRef<uint8_t>(data.data() + at, piece));
      at += piece;
    }
    EXPECT_EQ(hex(sha.final()), expected) << "extensions " << extensions;
  }
  if (!Sha256::hasShaExtensions())
    GTEST_LOG_(INFO) << "this CPU has no SHA extensions: both runs were "
                        "portable";
}
