//===- MappedFile.h - Read-only mapped files and bounded readers -*- C++ -*-===//
//
// The one place where model/ touches raw file bytes. MappedFile maps a whole
// file read-only and hands out byte ranges only after an overflow-safe bounds
// check. ByteReader walks a byte range as little-endian scalars and
// length-prefixed strings; every read is bounds-checked and every failure is
// an llvm::Error "<file>: <reason> at offset N". The checkpoint readers and the
// package reader share these, so the checks live in one place.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_MAPPEDFILE_H
#define MIXQ_MODEL_MAPPEDFILE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace llvm {
class MemoryBuffer;
} // namespace llvm

namespace mixq {

/// "<file>: <reason>" as an llvm::Error (the convention of every reader).
/// Control characters (a tensor name with a newline, a terminal escape) are
/// written as \n, \r, \t or \xNN, so the message is always one line.
llvm::Error fileError(llvm::StringRef file, const llvm::Twine &reason);

/// `text` with its control characters escaped as fileError does.
std::string printableText(llvm::StringRef text);

/// Overflow-checked 64-bit arithmetic: false when the result does not fit.
inline bool checkedAdd(uint64_t a, uint64_t b, uint64_t &out) {
  return !__builtin_add_overflow(a, b, &out);
}
inline bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}
/// The product of `dims` (each >= 0) or false on a negative dim or overflow.
bool checkedProduct(llvm::ArrayRef<int64_t> dims, uint64_t &out);
/// `value` rounded up to a multiple of `alignment` (> 0), or false on overflow.
bool checkedAlignTo(uint64_t value, uint64_t alignment, uint64_t &out);

/// A whole file mapped read-only for the lifetime of the object.
class MappedFile {
public:
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  static llvm::Expected<std::unique_ptr<MappedFile>> open(llvm::StringRef path);
  /// A view of `bytes` (not copied: they must outlive the object) under the
  /// name `path`, for readers fed from memory (the fuzz targets).
  static std::unique_ptr<MappedFile> fromBytes(llvm::StringRef path,
                                               llvm::ArrayRef<uint8_t> bytes);

  const std::string &path() const { return path_; }
  uint64_t size() const { return bytes_.size(); }
  llvm::ArrayRef<uint8_t> bytes() const { return bytes_; }

  /// Bytes [offset, offset + length), or an error naming `what` when the range
  /// overflows or ends past the end of the file.
  llvm::Expected<llvm::ArrayRef<uint8_t>>
  range(uint64_t offset, uint64_t length, const llvm::Twine &what) const;
  /// True when [offset, offset + length) lies inside the file.
  bool contains(uint64_t offset, uint64_t length) const;

private:
  MappedFile(std::string path, std::unique_ptr<llvm::MemoryBuffer> buffer);
  std::string path_;
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  llvm::ArrayRef<uint8_t> bytes_;
};

/// Sequential little-endian reader over a byte range. Offsets in messages are
/// absolute file offsets (`base` is the file offset of `data[0]`).
class ByteReader {
public:
  ByteReader(llvm::ArrayRef<uint8_t> data, llvm::StringRef file,
             uint64_t base = 0)
      : data_(data), file_(file.str()), base_(base) {}

  uint64_t position() const { return pos_; }           ///< within `data`
  uint64_t fileOffset() const { return base_ + pos_; } ///< absolute
  uint64_t remaining() const { return data_.size() - pos_; }
  bool atEnd() const { return pos_ == data_.size(); }
  const std::string &file() const { return file_; }

  llvm::Expected<uint8_t> readU8(const llvm::Twine &what = "byte");
  llvm::Expected<uint16_t> readU16(const llvm::Twine &what = "u16");
  llvm::Expected<uint32_t> readU32(const llvm::Twine &what = "u32");
  llvm::Expected<uint64_t> readU64(const llvm::Twine &what = "u64");
  llvm::Expected<int32_t> readI32(const llvm::Twine &what = "i32");
  llvm::Expected<int64_t> readI64(const llvm::Twine &what = "i64");
  llvm::Expected<float> readF32(const llvm::Twine &what = "f32");
  llvm::Expected<double> readF64(const llvm::Twine &what = "f64");

  /// `length` raw bytes (no copy).
  llvm::Expected<llvm::ArrayRef<uint8_t>> readBytes(uint64_t length,
                                                    const llvm::Twine &what);
  /// `length` bytes as a string; `length` must fit in what is left and in
  /// `maxLength`, so a hostile length never causes a large allocation.
  llvm::Expected<std::string> readString(uint64_t length,
                                         const llvm::Twine &what,
                                         uint64_t maxLength = UINT64_MAX);
  /// A u64 length followed by that many bytes (GGUF strings).
  llvm::Expected<std::string>
  readStringU64(const llvm::Twine &what, uint64_t maxLength = UINT64_MAX);
  /// A u32 length followed by that many bytes.
  llvm::Expected<std::string>
  readStringU32(const llvm::Twine &what, uint64_t maxLength = UINT64_MAX);

  llvm::Error skip(uint64_t length, const llvm::Twine &what);
  llvm::Error seek(uint64_t position, const llvm::Twine &what);

  /// An error "<file>: <reason> at offset <current file offset>".
  llvm::Error error(const llvm::Twine &reason) const;

private:
  llvm::Error need(uint64_t length, const llvm::Twine &what) const;
  llvm::ArrayRef<uint8_t> data_;
  std::string file_;
  uint64_t base_ = 0;
  uint64_t pos_ = 0;
};

} // namespace mixq

#endif // MIXQ_MODEL_MAPPEDFILE_H
