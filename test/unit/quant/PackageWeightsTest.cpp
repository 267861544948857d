//===- PackageWeightsTest.cpp - Packages as engine weights; act quant -----===//
//
// A tiny model packed into a package comes back as exactly the dequantized
// weights; QUIK's activation quantization matches a hand computation and
// leaves the FP16 columns alone; the plan refuses disagreeing linears.
//
//===----------------------------------------------------------------------===//
#include "model/ActivationQuant.h"
#include "model/Dequantize.h"
#include "model/PackageWeights.h"
#include "quant/Pack.h"
#include "quant/Rtn.h"

#include "llvm/Support/FileSystem.h"

#include "test/unit/support/TinyPackage.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace mixq;

TEST(ActivationQuant, AsymmetricByHand) {
  // lo = -1, hi = 2 -> scale = 3/15 = 0.2, zero = round(5) = 5.
  std::vector<float> x = {-1.0f, 2.0f, 0.31f, 100.0f, 0.0f};
  ActivationQuantSpec spec;
  spec.bits = 4;
  spec.fp16Cols = {3};
  fakeQuantizeActivations(x, spec);
  EXPECT_FLOAT_EQ(x[0], -1.0f);
  EXPECT_FLOAT_EQ(x[1], 2.0f);
  EXPECT_FLOAT_EQ(x[2], (std::nearbyint(0.31f / 0.2f) + 5 - 5) * 0.2f);
  EXPECT_EQ(x[3], 100.0f); // an FP16 column is kept
  EXPECT_FLOAT_EQ(x[4], 0.0f);
}

TEST(ActivationQuant, SymmetricByHand) {
  // max |x| = 1.4 over quantized columns, 8 bits: scale = 1.4 / 127.
  std::vector<float> x = {1.4f, -0.7f, 0.01f};
  ActivationQuantSpec spec;
  spec.bits = 8;
  spec.asymmetric = false;
  fakeQuantizeActivations(x, spec);
  float scale = 1.4f / 127.0f;
  EXPECT_FLOAT_EQ(x[0], 127 * scale);
  EXPECT_FLOAT_EQ(x[1], std::nearbyint(-0.7f / scale) * scale);
  EXPECT_FLOAT_EQ(x[2], std::nearbyint(0.01f / scale) * scale);
}

TEST(ActivationQuant, ErrorShrinksWithBitsAndZerosStayZero) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(256);
  for (float &v : x)
    v = normal(rng);
  auto error = [&](int bits) {
    std::vector<float> y = x;
    ActivationQuantSpec spec;
    spec.bits = bits;
    fakeQuantizeActivations(y, spec);
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i)
      e += (x[i] - y[i]) * (x[i] - y[i]);
    return e;
  };
  EXPECT_GT(error(4), 10 * error(8));
  EXPECT_EQ(error(16), 0.0);
  std::vector<float> zeros(8, 0.0f);
  ActivationQuantSpec spec;
  spec.bits = 4;
  fakeQuantizeActivations(zeros, spec);
  for (float v : zeros)
    EXPECT_EQ(v, 0.0f);
}

namespace {

std::vector<float> randomValues(size_t n, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

} // namespace

TEST(PackageWeights, PackageComesBackAsItsDequantizedWeights) {
  std::map<std::string, std::vector<float>> expected;
  Package package = test_support::makeTinyPackage(
      test_support::tinyPackageConfig(/*layers=*/1), 11, &expected);

  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("mixq-weights", "mixq", path));
  ASSERT_FALSE(bool(writePackage(package, path)));
  auto reader = PackageReader::open(path);
  ASSERT_TRUE(bool(reader)) << llvm::toString(reader.takeError());
  auto weights = loadPackageWeights(**reader);
  ASSERT_TRUE(bool(weights)) << llvm::toString(weights.takeError());
  EXPECT_EQ(weights->tokEmbeddings, expected["tok_embeddings.weight"]);
  EXPECT_EQ(weights->layers[0].wk, expected["layers.0.attention.wk.weight"]);
  EXPECT_EQ(weights->layers[0].w2, expected["layers.0.feed_forward.w2.weight"]);
  EXPECT_EQ(weights->finalNorm, expected["norm.weight"]);
  auto plan = activationQuantPlan(**reader);
  ASSERT_TRUE(bool(plan));
  EXPECT_TRUE(plan->empty()); // no QUIK layouts
  llvm::sys::fs::remove(path);

  // A package missing a tensor is refused with its name.
  package.tensors.pop_back();
  ASSERT_FALSE(bool(writePackage(package, path)));
  auto partial = PackageReader::open(path);
  ASSERT_TRUE(bool(partial));
  auto missing = loadPackageWeights(**partial);
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("norm"), std::string::npos);
  llvm::sys::fs::remove(path);
}

TEST(PackageWeights, NonFiniteScalesAreRefusedNotPropagated) {
  std::mt19937 rng(5);
  auto r = quantizeRtn("w", randomValues(4 * 32, rng), 4, 32,
                       uniformLayout(4, 16, true));
  ASSERT_TRUE(bool(r));
  QuantizedTensor t = std::move(r->tensor);
  ASSERT_TRUE(bool(dequantize(t)));
  // Scale of group 3 (row 1, group 1) becomes +Inf (F16 0x7C00).
  std::vector<uint8_t> &scales = t.streams.at("scales").bytes;
  scales[6] = 0x00;
  scales[7] = 0x7C;
  auto values = dequantize(t);
  ASSERT_FALSE(bool(values));
  std::string message = llvm::toString(values.takeError());
  EXPECT_NE(message.find("non-finite value at row 1, column 16"),
            std::string::npos)
      << message;
}
