//===- MappedFile.cpp - Read-only mapped files and bounded readers --------===//
//
// Maps files with llvm::MemoryBuffer (no null terminator, not volatile) and
// implements the bounds-checked accessors of MappedFile.h.
//
//===----------------------------------------------------------------------===//
#include "model/MappedFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace mixq;

std::string mixq::printableText(llvm::StringRef text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out.push_back(c);
      continue;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      continue;
    }
    out += "\\x";
    out.push_back(llvm::hexdigit(u >> 4));
    out.push_back(llvm::hexdigit(u & 15));
  }
  return out;
}

llvm::Error mixq::fileError(llvm::StringRef file, const llvm::Twine &reason) {
  // Names inside `reason` come from the file: keep the message one line
  // (and free of terminal escapes) whatever they hold.
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 printableText(file) + ": " +
                                     printableText(reason.str()));
}

bool mixq::checkedProduct(llvm::ArrayRef<int64_t> dims, uint64_t &out) {
  uint64_t product = 1;
  for (int64_t d : dims) {
    if (d < 0 || !checkedMul(product, static_cast<uint64_t>(d), product))
      return false;
  }
  out = product;
  return true;
}

bool mixq::checkedAlignTo(uint64_t value, uint64_t alignment, uint64_t &out) {
  if (alignment == 0)
    return false;
  uint64_t rem = value % alignment;
  if (rem == 0) {
    out = value;
    return true;
  }
  return checkedAdd(value, alignment - rem, out);
}

//===----------------------------------------------------------------------===//
// MappedFile
//===----------------------------------------------------------------------===//

MappedFile::MappedFile(std::string path,
                       std::unique_ptr<llvm::MemoryBuffer> buffer)
    : path_(std::move(path)), buffer_(std::move(buffer)) {
  bytes_ = llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(buffer_->getBufferStart()),
      buffer_->getBufferSize());
}

MappedFile::~MappedFile() = default;

llvm::Expected<std::unique_ptr<MappedFile>>
MappedFile::open(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false,
                                            /*IsVolatile=*/false);
  if (!buffer)
    return fileError(path, "cannot open: " + buffer.getError().message());
  return std::unique_ptr<MappedFile>(
      new MappedFile(path.str(), std::move(*buffer)));
}

std::unique_ptr<MappedFile>
MappedFile::fromBytes(llvm::StringRef path, llvm::ArrayRef<uint8_t> bytes) {
  llvm::StringRef view(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size());
  return std::unique_ptr<MappedFile>(new MappedFile(
      path.str(), llvm::MemoryBuffer::getMemBuffer(
                      view, path, /*RequiresNullTerminator=*/false)));
}

bool MappedFile::contains(uint64_t offset, uint64_t length) const {
  uint64_t end;
  return checkedAdd(offset, length, end) && end <= size();
}

llvm::Expected<llvm::ArrayRef<uint8_t>>
MappedFile::range(uint64_t offset, uint64_t length,
                  const llvm::Twine &what) const {
  if (!contains(offset, length))
    return fileError(path_, what + llvm::formatv(": {0} bytes at offset {1} "
                                                "extend past the end of the "
                                                "file ({2} bytes)",
                                                length, offset, size()));
  return bytes_.slice(offset, length);
}

//===----------------------------------------------------------------------===//
// ByteReader
//===----------------------------------------------------------------------===//

llvm::Error ByteReader::error(const llvm::Twine &reason) const {
  return fileError(file_, reason + " at offset " + llvm::Twine(fileOffset()));
}

llvm::Error ByteReader::need(uint64_t length, const llvm::Twine &what) const {
  if (length > remaining())
    return error("truncated: " + what + " needs " + llvm::Twine(length) +
                 " bytes but only " + llvm::Twine(remaining()) + " remain");
  return llvm::Error::success();
}

namespace {
template <typename T>
T loadLE(const uint8_t *p) {
  return llvm::support::endian::read<T, llvm::endianness::little>(p);
}
} // namespace

llvm::Expected<uint8_t> ByteReader::readU8(const llvm::Twine &what) {
  if (llvm::Error e = need(1, what))
    return std::move(e);
  return data_[pos_++];
}

llvm::Expected<uint16_t> ByteReader::readU16(const llvm::Twine &what) {
  if (llvm::Error e = need(2, what))
    return std::move(e);
  uint16_t v = loadLE<uint16_t>(data_.data() + pos_);
  pos_ += 2;
  return v;
}

llvm::Expected<uint32_t> ByteReader::readU32(const llvm::Twine &what) {
  if (llvm::Error e = need(4, what))
    return std::move(e);
  uint32_t v = loadLE<uint32_t>(data_.data() + pos_);
  pos_ += 4;
  return v;
}

llvm::Expected<uint64_t> ByteReader::readU64(const llvm::Twine &what) {
  if (llvm::Error e = need(8, what))
    return std::move(e);
  uint64_t v = loadLE<uint64_t>(data_.data() + pos_);
  pos_ += 8;
  return v;
}

llvm::Expected<int32_t> ByteReader::readI32(const llvm::Twine &what) {
  auto v = readU32(what);
  if (!v)
    return v.takeError();
  return static_cast<int32_t>(*v);
}

llvm::Expected<int64_t> ByteReader::readI64(const llvm::Twine &what) {
  auto v = readU64(what);
  if (!v)
    return v.takeError();
  return static_cast<int64_t>(*v);
}

llvm::Expected<float> ByteReader::readF32(const llvm::Twine &what) {
  auto v = readU32(what);
  if (!v)
    return v.takeError();
  float f;
  uint32_t bits = *v;
  std::memcpy(&f, &bits, 4);
  return f;
}

llvm::Expected<double> ByteReader::readF64(const llvm::Twine &what) {
  auto v = readU64(what);
  if (!v)
    return v.takeError();
  double d;
  uint64_t bits = *v;
  std::memcpy(&d, &bits, 8);
  return d;
}

llvm::Expected<llvm::ArrayRef<uint8_t>>
ByteReader::readBytes(uint64_t length, const llvm::Twine &what) {
  if (llvm::Error e = need(length, what))
    return std::move(e);
  llvm::ArrayRef<uint8_t> bytes = data_.slice(pos_, length);
  pos_ += length;
  return bytes;
}

llvm::Expected<std::string> ByteReader::readString(uint64_t length,
                                                   const llvm::Twine &what,
                                                   uint64_t maxLength) {
  if (length > maxLength)
    return error(what + " has length " + llvm::Twine(length) +
                 ", more than the limit of " + llvm::Twine(maxLength));
  auto bytes = readBytes(length, what);
  if (!bytes)
    return bytes.takeError();
  return std::string(reinterpret_cast<const char *>(bytes->data()),
                     bytes->size());
}

llvm::Expected<std::string> ByteReader::readStringU64(const llvm::Twine &what,
                                                      uint64_t maxLength) {
  auto length = readU64(what + " length");
  if (!length)
    return length.takeError();
  return readString(*length, what, maxLength);
}

llvm::Expected<std::string> ByteReader::readStringU32(const llvm::Twine &what,
                                                      uint64_t maxLength) {
  auto length = readU32(what + " length");
  if (!length)
    return length.takeError();
  return readString(*length, what, maxLength);
}

llvm::Error ByteReader::skip(uint64_t length, const llvm::Twine &what) {
  if (llvm::Error e = need(length, what))
    return e;
  pos_ += length;
  return llvm::Error::success();
}

llvm::Error ByteReader::seek(uint64_t position, const llvm::Twine &what) {
  if (position > data_.size())
    return error(what + ": position " + llvm::Twine(position) +
                 " is past the end (" + llvm::Twine(data_.size()) + " bytes)");
  pos_ = position;
  return llvm::Error::success();
}
