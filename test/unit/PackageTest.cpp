//===- PackageTest.cpp - Writing and reading mixq packages ----------------===//
//
// Round trip of a small package, the on-disk layout standard safetensors
// tools rely on (aligned data, exact cover), atomic writes, and rejection of
// damaged or lying packages with messages naming the file and the reason.
//
//===----------------------------------------------------------------------===//
#include "model/Package.h"
#include "model/Safetensors.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <fstream>

using namespace mixq;

namespace {

LlamaConfig tinyConfig() {
  LlamaConfig c;
  c.dim = 8;
  c.hiddenDim = 16;
  c.nLayers = 1;
  c.nHeads = 2;
  c.nKvHeads = 1;
  c.vocabSize = 4;
  c.maxSeqLen = 16;
  return c;
}

Stream bytesStream(StreamType type, size_t n, uint8_t seed) {
  Stream s;
  s.type = type;
  for (size_t i = 0; i < n; ++i)
    s.bytes.push_back(uint8_t(seed + 7 * i));
  return s;
}

Package tinyPackage() {
  Package p;
  p.config = tinyConfig();
  p.tokenizerFormat = "llama2c";
  p.tokenizer = {0, 1, 2, 255, 128, 7};
  p.quantizer = llvm::json::Object{{"scheme", "rtn"}, {"bits", 4}};
  p.sourceSha256 = std::string(64, 'a');

  PackageTensor wq;
  wq.shape = {4, 8};
  wq.data.name = "layers.0.attention.wq.weight";
  wq.data.rows = 4;
  wq.data.cols = 8;
  wq.data.layout.scheme = Scheme::Uniform;
  wq.data.layout.bits = {4};
  wq.data.layout.group = 8;
  wq.data.streams["codes"] = bytesStream(StreamType::U8, 16, 1); // 4*8*4 bits
  wq.data.streams["scales"] = bytesStream(StreamType::F16, 8, 2); // 4 groups
  p.tensors.push_back(wq);

  PackageTensor norm;
  norm.shape = {8};
  norm.data.name = "norm.weight";
  norm.data.rows = 1;
  norm.data.cols = 8;
  norm.data.layout.bits = {32};
  norm.data.streams["values"] = bytesStream(StreamType::F32, 32, 3);
  p.tensors.push_back(norm);
  return p;
}

class PackageTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mixq-package", dir));
    path = (dir + "/model.mixq").str();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::vector<uint8_t> readAll() {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    EXPECT_TRUE(bool(buffer));
    return std::vector<uint8_t>((*buffer)->getBufferStart(),
                                (*buffer)->getBufferEnd());
  }
  void writeAll(const std::vector<uint8_t> &bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  }
  std::string openError(bool verify = true) {
    auto reader = PackageReader::open(path, verify);
    if (reader)
      return "";
    return llvm::toString(reader.takeError());
  }
  size_t countFiles() {
    std::error_code ec;
    size_t n = 0;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      ++n;
    return n;
  }

  llvm::SmallString<128> dir;
  std::string path;
};

} // namespace

TEST_F(PackageTest, RoundTrip) {
  Package p = tinyPackage();
  ASSERT_FALSE(bool(writePackage(p, path)));
  auto reader = PackageReader::open(path);
  ASSERT_TRUE(bool(reader)) << llvm::toString(reader.takeError());
  const PackageReader &r = **reader;
  EXPECT_EQ(r.config().dim, 8);
  EXPECT_EQ(r.config().nKvHeads, 1);
  EXPECT_EQ(r.tokenizerFormat(), "llama2c");
  EXPECT_EQ(r.tokenizer(), p.tokenizer);
  EXPECT_EQ(r.sourceSha256(), p.sourceSha256);
  EXPECT_EQ(r.contentSha256().size(), 64u);
  EXPECT_EQ(r.quantizer().getString("scheme"), std::optional<llvm::StringRef>("rtn"));
  ASSERT_EQ(r.tensors().size(), 2u);
  for (const PackageTensor &t : p.tensors) {
    const PackageTensorView *v = r.find(t.data.name);
    ASSERT_NE(v, nullptr) << t.data.name;
    EXPECT_EQ(v->shape, t.shape);
    EXPECT_EQ(v->layout, t.data.layout);
    QuantizedTensor copy = v->copy();
    EXPECT_EQ(copy.rows, t.data.rows);
    EXPECT_EQ(copy.cols, t.data.cols);
    ASSERT_EQ(copy.streams.size(), t.data.streams.size());
    for (const auto &[name, stream] : t.data.streams) {
      EXPECT_EQ(copy.streams[name].bytes, stream.bytes) << name;
      EXPECT_EQ(copy.streams[name].type, stream.type) << name;
    }
  }
}

TEST_F(PackageTest, IsAValidSafetensorsFileWithAlignedStreams) {
  ASSERT_FALSE(bool(writePackage(tinyPackage(), path)));
  std::vector<uint8_t> bytes = readAll();
  auto header = parseSafetensors(bytes, path);
  ASSERT_TRUE(bool(header)) << llvm::toString(header.takeError());
  EXPECT_EQ(header->dataOffset % kPackageAlignment, 0u);
  EXPECT_EQ(header->metadata.at("format"), "mixq-package");
  for (const SafetensorsTensor &t : header->tensors)
    if (!llvm::StringRef(t.name).starts_with("__pad"))
      EXPECT_EQ(t.fileOffset % kPackageAlignment, 0u) << t.name;
  EXPECT_NE(header->find("layers.0.attention.wq.weight:codes"), nullptr);
  EXPECT_NE(header->find("norm.weight:values"), nullptr);
}

TEST_F(PackageTest, WritingIsAtomic) {
  // An old file stays until a good package replaces it.
  writeAll({'o', 'l', 'd'});
  Package bad = tinyPackage();
  bad.tensors[0].data.streams["codes"].bytes.pop_back(); // 8 bits short
  llvm::Error e = writePackage(bad, path);
  ASSERT_TRUE(bool(e));
  std::string message = llvm::toString(std::move(e));
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("streams hold 184 bits but its layout stores 192"),
            std::string::npos)
      << message;
  EXPECT_EQ(readAll(), (std::vector<uint8_t>{'o', 'l', 'd'}));
  EXPECT_EQ(countFiles(), 1u); // no temporary left behind
  ASSERT_FALSE(bool(writePackage(tinyPackage(), path)));
  EXPECT_EQ(countFiles(), 1u);
  EXPECT_EQ(openError(), "");
}

TEST_F(PackageTest, WriteRejectsInconsistentTensors) {
  Package dup = tinyPackage();
  dup.tensors.push_back(dup.tensors[0]);
  EXPECT_NE(llvm::toString(writePackage(dup, path)).find("appears twice"),
            std::string::npos);
  Package shape = tinyPackage();
  shape.tensors[0].shape = {8, 8};
  EXPECT_NE(llvm::toString(writePackage(shape, path)).find("shape"),
            std::string::npos);
  Package odd = tinyPackage();
  odd.tensors[1].data.streams["values"].type = StreamType::I32;
  odd.tensors[1].data.streams["values"].bytes.resize(30);
  EXPECT_NE(llvm::toString(writePackage(odd, path)).find("bits"),
            std::string::npos);
  EXPECT_FALSE(llvm::sys::fs::exists(path));
}

TEST_F(PackageTest, ContentHashCatchesAnyChangedByte) {
  ASSERT_FALSE(bool(writePackage(tinyPackage(), path)));
  std::vector<uint8_t> good = readAll();
  // Flip the last byte (inside the data section).
  std::vector<uint8_t> bad = good;
  bad.back() ^= 1;
  writeAll(bad);
  std::string message = openError();
  EXPECT_NE(message.find("content hash mismatch"), std::string::npos)
      << message;
  EXPECT_NE(message.find(path), std::string::npos);
  EXPECT_EQ(openError(/*verify=*/false), "");
}

TEST_F(PackageTest, NonFiniteValuesAreFoundAnywhere) {
  // 100 x 100 dense values, zero but one: a NaN (FP16) or an infinity (FP32)
  // at each place a blocked scan could miss (first, last, block edges).
  struct Case {
    int64_t bits;
    size_t at;
    const char *what;
  };
  for (Case c : {Case{16, 0, " NaN"}, Case{16, 4095, " NaN"},
                 Case{16, 4096, " NaN"}, Case{16, 9999, " NaN"},
                 Case{32, 4097, "n infinite"}, Case{32, 9999, "n infinite"}}) {
    SCOPED_TRACE(std::to_string(c.bits) + " bits, element " +
                 std::to_string(c.at));
    Package p = tinyPackage();
    PackageTensor big;
    big.shape = {100, 100};
    big.data.name = "big.weight";
    big.data.rows = 100;
    big.data.cols = 100;
    big.data.layout.bits = {c.bits};
    size_t size = c.bits / 8;
    Stream values;
    values.type = c.bits == 16 ? StreamType::F16 : StreamType::F32;
    values.bytes.assign(10000 * size, 0);
    uint8_t *v = values.bytes.data() + c.at * size;
    if (c.bits == 16) {
      v[0] = 0x01; // 0x7E01: a NaN
      v[1] = 0x7E;
    } else {
      v[2] = 0x80; // 0x7F800000: +infinity
      v[3] = 0x7F;
    }
    big.data.streams["values"] = std::move(values);
    p.tensors.push_back(big);
    ASSERT_FALSE(bool(writePackage(p, path)));
    std::string message = openError(/*verify=*/false);
    EXPECT_NE(message.find("tensor 'big.weight': stream 'values' has a" +
                           std::string(c.what) + " value at element " +
                           std::to_string(c.at)),
              std::string::npos)
        << message;
  }
}

TEST_F(PackageTest, RejectsTruncatedAndForeignFiles) {
  ASSERT_FALSE(bool(writePackage(tinyPackage(), path)));
  std::vector<uint8_t> good = readAll();
  for (size_t keep : {size_t(0), size_t(4), size_t(8), size_t(100),
                      good.size() - 1}) {
    SCOPED_TRACE(keep);
    writeAll(std::vector<uint8_t>(good.begin(), good.begin() + keep));
    EXPECT_NE(openError(), "");
    // Recognized as a (broken) package as soon as its first bytes are there.
    EXPECT_EQ(isPackageFile(path), keep >= 100);
  }
  // A plain safetensors file (a checkpoint) is not a package.
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::vector<uint8_t> plain(8, 0);
  plain[0] = uint8_t(header.size());
  plain.insert(plain.end(), header.begin(), header.end());
  plain.insert(plain.end(), 4, 0);
  writeAll(plain);
  EXPECT_NE(openError().find("not a mixq package"), std::string::npos);
  EXPECT_FALSE(isPackageFile(path));
}

TEST_F(PackageTest, RejectsLyingMetadata) {
  ASSERT_FALSE(bool(writePackage(tinyPackage(), path)));
  std::vector<uint8_t> good = readAll();
  std::string text(good.begin(), good.end());
  auto replaceOnce = [&](const std::string &from, const std::string &to) {
    std::string t = text;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    writeAll(std::vector<uint8_t>(t.begin(), t.end()));
    return openError(/*verify=*/false);
  };
  // Same-length edits keep the container valid; the package rules catch them.
  EXPECT_NE(replaceOnce("\\\"bits\\\":[4]", "\\\"bits\\\":[8]").find("bits"),
            std::string::npos);
  EXPECT_NE(replaceOnce("mixq-package", "mixq-packagX").find("not a mixq"),
            std::string::npos);
  EXPECT_NE(replaceOnce("\"format_version\":\"1\"", "\"format_version\":\"9\"")
                .find("version 9"),
            std::string::npos);
  EXPECT_NE(replaceOnce("\\\"codes\\\"", "\\\"coded\\\"").find("missing"),
            std::string::npos);
}
