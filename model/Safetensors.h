//===- Safetensors.h - The safetensors container format ---------*- C++ -*-===//
//
// Byte layout of a .safetensors file:
//   u64 (LE)   N = length of the JSON header
//   N bytes    JSON object (UTF-8, may be padded with trailing spaces):
//                "__metadata__": {string: string, ...}        (optional)
//                "<tensor>": {"dtype": "F16", "shape": [..],
//                             "data_offsets": [begin, end]}    (per tensor)
//   the rest   the data section; offsets are relative to its start.
//
// parseSafetensors checks everything a reader would otherwise trust: the
// header length fits the file, the JSON is an object of well-formed entries,
// every dtype is known, end - begin == dtype size * product(shape) (overflow
// checked), ranges lie inside the data section and, as the format requires,
// the tensors cover the data section exactly with no overlaps or holes.
// The checkpoint reader and the mixq package reader both build on this.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_SAFETENSORS_H
#define MIXQ_MODEL_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mixq {

/// Bytes per element of a safetensors dtype name ("F32", "U8", ...), or 0
/// when the name is not a dtype of the format.
unsigned safetensorsDTypeSize(llvm::StringRef dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype; ///< as spelled in the file, e.g. "BF16"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< data_offsets (relative to the data section)
  uint64_t fileOffset = 0;     ///< absolute: dataOffset + begin
  uint64_t size() const { return end - begin; }
};

struct SafetensorsHeader {
  uint64_t headerSize = 0; ///< N
  uint64_t dataOffset = 0; ///< 8 + N
  uint64_t dataSize = 0;   ///< file size - dataOffset
  std::map<std::string, std::string> metadata;
  /// Sorted by data offset (= the order in the data section).
  std::vector<SafetensorsTensor> tensors;

  const SafetensorsTensor *find(llvm::StringRef name) const;
};

/// Parses and validates the container held in `bytes` (a whole file).
/// `file` names it in error messages.
llvm::Expected<SafetensorsHeader>
parseSafetensors(llvm::ArrayRef<uint8_t> bytes, llvm::StringRef file);

/// llvm::json::parse after checking that `text` nests no deeper than
/// `maxDepth` (the parser recurses, so hostile nesting must not reach it).
/// Errors name `file`.
llvm::Expected<llvm::json::Value> parseJSONDocument(llvm::StringRef text,
                                                    llvm::StringRef file,
                                                    unsigned maxDepth = 64);

/// The limit on N (the format's reference implementation uses 100 MB).
constexpr uint64_t kSafetensorsMaxHeaderSize = 100u << 20;

} // namespace mixq

#endif // MIXQ_MODEL_SAFETENSORS_H
