//===- HardeningTest.cpp - Limits that no file may talk mixq past ---------===//
//
// The checks of docs/Hardening.md that the hostile corpus cannot reach with
// small files: allocations a file's metadata asks for are refused against
// the machine's memory (the engine's KV cache for 2^24 positions of 4096
// layers), and readers fed from memory see exactly the bytes they were
// given.
//
//===----------------------------------------------------------------------===//
#include "model/Engine.h"
#include "model/MappedFile.h"
#include "model/MemoryLimit.h"

#include "gtest/gtest.h"

using namespace mixq;

namespace {

TEST(MemoryLimit, RefusesMoreThanThePhysicalMemory) {
  uint64_t memory = physicalMemoryBytes();
  ASSERT_GT(memory, 0u);
  EXPECT_FALSE(llvm::errorToBool(checkAllocation(1 << 20, false, "small")));
  llvm::Error big = checkAllocation(memory + 1, false, "the cache");
  ASSERT_TRUE(bool(big));
  EXPECT_NE(llvm::toString(std::move(big)).find("the cache needs"),
            std::string::npos);
  llvm::Error overflow = checkAllocation(1, true, "the cache");
  EXPECT_EQ(llvm::toString(std::move(overflow)),
            "the cache needs more than 2^64 bytes");
}

TEST(MemoryLimit, EngineRefusesAHugeContextOfATinyModel) {
  // A few kilobytes of weights whose config asks for a 2 TiB KV cache.
  LlamaWeights w;
  LlamaConfig &c = w.config;
  c.dim = 2, c.hiddenDim = 2, c.nLayers = 4096, c.nHeads = 1, c.nKvHeads = 1;
  c.vocabSize = 2, c.maxSeqLen = int64_t(1) << 24, c.tiedEmbeddings = true;
  w.tokEmbeddings.assign(4, 0.5f);
  w.finalNorm.assign(2, 1.0f);
  w.layers.resize(c.nLayers);
  for (LayerWeights &l : w.layers) {
    l.attentionNorm = l.ffnNorm = {1.0f, 1.0f};
    l.wq = l.wk = l.wv = l.wo = l.w1 = l.w2 = l.w3 = {0, 0, 0, 0};
  }
  auto engine = Engine::create(w, 1);
  ASSERT_FALSE(bool(engine));
  std::string message = llvm::toString(engine.takeError());
  EXPECT_NE(message.find("KV cache for a context of 16777216 positions "
                         "needs"),
            std::string::npos)
      << message;
}

TEST(MappedFile, FromBytesIsBoundsChecked) {
  const uint8_t bytes[] = {1, 2, 3, 4, 5};
  auto file = MappedFile::fromBytes("mem.bin", bytes);
  EXPECT_EQ(file->size(), 5u);
  EXPECT_EQ(file->path(), "mem.bin");
  EXPECT_EQ(file->bytes().data(), bytes); // a view, not a copy
  auto inside = file->range(1, 4, "x");
  ASSERT_TRUE(bool(inside));
  EXPECT_EQ(inside->size(), 4u);
  auto outside = file->range(2, 4, "tensor 'w'");
  ASSERT_FALSE(bool(outside));
  EXPECT_EQ(llvm::toString(outside.takeError()),
            "mem.bin: tensor 'w': 4 bytes at offset 2 extend past the end of "
            "the file (5 bytes)");
  auto wraps = file->range(UINT64_MAX, 2, "x");
  EXPECT_FALSE(bool(wraps));
  llvm::consumeError(wraps.takeError());
}

} // namespace
