//===- Package.h - The mixq package file ------------------------*- C++ -*-===//
//
// A package is one quantized model in one file that standard safetensors
// tools can list:
//
//   bytes 0..7     u64 LE: length H of the JSON header
//   bytes 8..8+H   JSON header, padded with spaces so the data section starts
//                  64-byte aligned
//   data section   every stream of every tensor, each 64-byte aligned; the
//                  gaps are explicit filler tensors "__pad<i>__" (U8), so the
//                  tensors cover the data section exactly as safetensors
//                  requires
//
// Safetensors tensor names are "<tensor>:<stream>" (e.g.
// "layers.0.attention.wq.weight:codes"), dtypes U8/U16/I32/F16/F32, 1-D.
// `__metadata__` (string -> string, as the format demands) holds:
//   "format"          "mixq-package"
//   "format_version"  "1"
//   "config"          the LlamaConfig as JSON
//   "tensors"         JSON: { name: {"shape": [...], "layout": {...},
//                              "streams": [stream names]} }
//   "tokenizer_format" "llama2c" | "hf-json";  "tokenizer": base64 bytes
//   "quantizer"       JSON of the quantizer's settings
//   "source_sha256"   hash of the source checkpoint
//   "content_sha256"  SHA-256 over the metadata above (in key order, as
//                     "key=value\n") and then the data section; checked on
//                     load
//
// Files are written to a temporary name beside the target and renamed, so a
// killed or failed write never leaves a partial package under the final name.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_PACKAGE_H
#define MIXQ_MODEL_PACKAGE_H

#include "model/LlamaConfig.h"
#include "model/QuantizedTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <memory>
#include <string>
#include <vector>

namespace mixq {

class MappedFile;

/// Alignment of every stream in the data section (bytes).
constexpr uint64_t kPackageAlignment = 64;

/// One tensor of a package: its logical shape (1-D for norms, 2-D for
/// matrices; a 1-D tensor of size K is stored as a 1 x K weight) and streams.
struct PackageTensor {
  std::vector<int64_t> shape;
  QuantizedTensor data;
};

/// Everything a package holds, in memory (what the quantizer writes).
struct Package {
  LlamaConfig config;
  std::string tokenizerFormat; ///< "llama2c" or "hf-json"
  std::vector<uint8_t> tokenizer;
  llvm::json::Object quantizer;
  std::string sourceSha256;
  std::vector<PackageTensor> tensors;
};

/// Writes `package` to `path` atomically. Fails (leaving no file under
/// `path`) when a tensor's streams do not match its layout.
llvm::Error writePackage(const Package &package, llvm::StringRef path);

/// The streams of one tensor as stored in a mapped package (no copies).
struct PackageTensorView {
  std::string name;
  std::vector<int64_t> shape;
  int64_t rows = 0, cols = 0;
  Layout layout;
  struct StreamView {
    std::string name;
    StreamType type;
    llvm::ArrayRef<uint8_t> bytes;
  };
  std::vector<StreamView> streams;
  uint64_t storageBits() const;
  /// A copy of the streams as a QuantizedTensor (for dequantization).
  QuantizedTensor copy() const;
};

/// A package opened for reading: mmapped, every range and every piece of
/// metadata checked once, here, for inspect, the compiler and the runtime.
class PackageReader {
public:
  ~PackageReader();
  /// Opens and validates `path`. With `verifyContentHash` the whole file is
  /// hashed and compared with "content_sha256".
  static llvm::Expected<std::unique_ptr<PackageReader>>
  open(llvm::StringRef path, bool verifyContentHash = true);
  /// The same for an already mapped file (or bytes in memory), without the
  /// isPackageFile() sniff.
  static llvm::Expected<std::unique_ptr<PackageReader>>
  open(std::unique_ptr<MappedFile> file, bool verifyContentHash = true);

  const std::string &path() const;
  const LlamaConfig &config() const { return config_; }
  const std::string &tokenizerFormat() const { return tokenizerFormat_; }
  const std::vector<uint8_t> &tokenizer() const { return tokenizer_; }
  const llvm::json::Object &quantizer() const { return quantizer_; }
  const std::string &sourceSha256() const { return sourceSha256_; }
  const std::string &contentSha256() const { return contentSha256_; }
  llvm::ArrayRef<PackageTensorView> tensors() const { return tensors_; }
  const PackageTensorView *find(llvm::StringRef name) const;

private:
  PackageReader() = default;
  std::unique_ptr<MappedFile> file_;
  LlamaConfig config_;
  std::string tokenizerFormat_;
  std::vector<uint8_t> tokenizer_;
  llvm::json::Object quantizer_;
  std::string sourceSha256_, contentSha256_;
  std::vector<PackageTensorView> tensors_;
  friend struct PackageParser;
};

/// True when `path` is a file whose safetensors header starts with
/// {"__metadata__":{"format":"mixq-package" as the writer puts it (a cheap
/// sniff that works on truncated files too; open() does the checking).
bool isPackageFile(llvm::StringRef path);


} // namespace mixq

#endif // MIXQ_MODEL_PACKAGE_H
