//===- PackageReader.cpp - Opening and validating mixq packages -----------===//
//
// Every check on a package lives here, shared by inspect, the quantizer's
// evaluation, the compiler and the runtime: the safetensors container (via
// parseSafetensors), the metadata, each tensor's layout against its shape,
// each stream's presence, dtype, alignment and size against the layout, the
// content hash, each stream's contents (validateQuantizedTensor), finite
// FP16/FP32 values. (The embedded tokenizer is checked by those who load
// it: inspect, run, generate and ppl.)
//
//===----------------------------------------------------------------------===//
#include "model/Dequantize.h"
#include "model/Float16.h"
#include "model/MappedFile.h"
#include "model/Package.h"
#include "model/PackageHash.h"
#include "model/Safetensors.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Base64.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <optional>
#include <set>

using namespace mixq;

namespace mixq {

/// Builds a PackageReader; a friend of it.
struct PackageParser {
  PackageReader &reader;
  const std::string &path;

  llvm::Error fail(const llvm::Twine &reason) {
    return fileError(path, reason);
  }

  llvm::Expected<std::string>
  metadata(const SafetensorsHeader &header, llvm::StringRef key) {
    auto it = header.metadata.find(key.str());
    if (it == header.metadata.end())
      return fail("package metadata lacks '" + key + "'");
    return it->second;
  }

  llvm::Expected<llvm::json::Value> metadataJSON(const SafetensorsHeader &h,
                                                 llvm::StringRef key) {
    auto text = metadata(h, key);
    if (!text)
      return text.takeError();
    auto value = parseJSONDocument(*text, path);
    if (!value)
      return fail("metadata '" + key +
                  "': " + llvm::toString(value.takeError()));
    return value;
  }

  llvm::Error parseTensor(const SafetensorsHeader &header,
                          llvm::ArrayRef<uint8_t> bytes, llvm::StringRef name,
                          const llvm::json::Value &entry,
                          std::set<std::string> &used) {
    auto tensorError = [&](const llvm::Twine &reason) {
      return fail("tensor '" + name + "': " + reason);
    };
    const llvm::json::Object *object = entry.getAsObject();
    if (!object)
      return tensorError("its entry is not a JSON object");
    PackageTensorView view;
    view.name = name.str();
    const llvm::json::Array *shape = object->getArray("shape");
    if (!shape || shape->empty() || shape->size() > 2)
      return tensorError("'shape' must list 1 or 2 dimensions");
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> dim = d.getAsInteger();
      if (!dim || *dim <= 0 || *dim > (int64_t(1) << 40))
        return tensorError("'shape' has a dimension that is not a positive "
                           "integer below 2^40");
      view.shape.push_back(*dim);
    }
    view.rows = view.shape.size() == 2 ? view.shape[0] : 1;
    view.cols = view.shape.back();
    const llvm::json::Value *layout = object->get("layout");
    if (!layout)
      return tensorError("no 'layout'");
    auto parsed = layoutFromJSON(*layout);
    if (!parsed)
      return tensorError(llvm::toString(parsed.takeError()));
    view.layout = *parsed;
    auto expected = storageBits(view.layout, view.rows, view.cols);
    if (!expected)
      return tensorError(llvm::toString(expected.takeError()));

    const llvm::json::Array *streams = object->getArray("streams");
    if (!streams)
      return tensorError("no 'streams' list");
    for (const llvm::json::Value &s : *streams) {
      std::optional<llvm::StringRef> streamName = s.getAsString();
      if (!streamName || streamName->empty())
        return tensorError("a stream name is not a non-empty string");
      std::string stored = (name + ":" + *streamName).str();
      if (!used.insert(stored).second)
        return tensorError("stream '" + *streamName + "' is listed twice");
      const SafetensorsTensor *t = header.find(stored);
      if (!t)
        return tensorError("stream '" + *streamName +
                           "' is missing from the file");
      PackageTensorView::StreamView sv;
      sv.name = streamName->str();
      if (!parseStreamTypeName(t->dtype, sv.type))
        return tensorError("stream '" + *streamName + "' has dtype " +
                           t->dtype + ", not one of U8, U16, I32, F16, F32");
      if (t->fileOffset % kPackageAlignment != 0)
        return tensorError(llvm::formatv("stream '{0}' starts at byte {1}, not "
                                         "{2}-byte aligned",
                                         *streamName, t->fileOffset,
                                         kPackageAlignment));
      sv.bytes = bytes.slice(t->fileOffset, t->size());
      view.streams.push_back(sv);
    }
    if (view.storageBits() != expected->total())
      return tensorError(llvm::formatv("its streams hold {0} bits but its "
                                       "layout stores {1}",
                                       view.storageBits(), expected->total()));
    reader.tensors_.push_back(std::move(view));
    return llvm::Error::success();
  }

  llvm::Error parse(bool verifyContentHash) {
    llvm::ArrayRef<uint8_t> bytes = reader.file_->bytes();
    auto header = parseSafetensors(bytes, path);
    if (!header)
      return header.takeError();
    auto format = header->metadata.find("format");
    if (format == header->metadata.end() || format->second != "mixq-package")
      return fail("not a mixq package (its safetensors metadata has no "
                  "\"format\": \"mixq-package\"); a checkpoint is read by "
                  "inspect, generate and ppl directly");
    auto version = metadata(*header, "format_version");
    if (!version)
      return version.takeError();
    if (*version != "1")
      return fail("package format version " + *version +
                  " is not supported (this mixq reads version 1)");

    auto config = metadataJSON(*header, "config");
    if (!config)
      return config.takeError();
    auto parsedConfig = configFromJSON(*config);
    if (!parsedConfig)
      return fail("metadata 'config': " +
                  llvm::toString(parsedConfig.takeError()));
    reader.config_ = *parsedConfig;

    auto tokFormat = metadata(*header, "tokenizer_format");
    if (!tokFormat)
      return tokFormat.takeError();
    if (*tokFormat != "llama2c" && *tokFormat != "hf-json" &&
        !tokFormat->empty())
      return fail("unknown tokenizer format '" + *tokFormat + "'");
    reader.tokenizerFormat_ = *tokFormat;
    auto tokenizer = metadata(*header, "tokenizer");
    if (!tokenizer)
      return tokenizer.takeError();
    std::vector<char> decoded;
    if (llvm::Error e = llvm::decodeBase64(*tokenizer, decoded))
      return fail("metadata 'tokenizer' is not base64: " +
                  llvm::toString(std::move(e)));
    reader.tokenizer_.assign(decoded.begin(), decoded.end());

    auto quantizer = metadataJSON(*header, "quantizer");
    if (!quantizer)
      return quantizer.takeError();
    if (!quantizer->getAsObject())
      return fail("metadata 'quantizer' is not a JSON object");
    reader.quantizer_ = *quantizer->getAsObject();
    for (auto [key, out] : {std::pair<const char *, std::string *>{
                                "source_sha256", &reader.sourceSha256_},
                            {"content_sha256", &reader.contentSha256_}}) {
      auto value = metadata(*header, key);
      if (!value)
        return value.takeError();
      *out = *value;
    }

    auto tensors = metadataJSON(*header, "tensors");
    if (!tensors)
      return tensors.takeError();
    const llvm::json::Object *tensorObject = tensors->getAsObject();
    if (!tensorObject)
      return fail("metadata 'tensors' is not a JSON object");
    // Sorted, so that reading is deterministic whatever the JSON order.
    std::vector<std::string> names;
    for (const auto &entry : *tensorObject)
      names.push_back(entry.first.str());
    std::sort(names.begin(), names.end());
    std::set<std::string> used;
    for (const std::string &name : names)
      if (llvm::Error e = parseTensor(*header, bytes, name,
                                      *tensorObject->get(name), used))
        return e;
    for (const SafetensorsTensor &t : header->tensors) {
      llvm::StringRef n = t.name;
      bool filler = n.starts_with("__pad") && n.ends_with("__");
      if (!filler && !used.count(t.name))
        return fail("tensor '" + t.name +
                    "' belongs to no tensor of the package");
    }

    if (verifyContentHash) {
      PackageHasher hasher;
      hasher.addMetadata(header->metadata);
      hasher.addData(bytes.drop_front(header->dataOffset));
      std::string actual = hasher.finalHex();
      if (actual != reader.contentSha256_)
        return fail("content hash mismatch: the file was modified or is "
                    "corrupt (metadata says " +
                    reader.contentSha256_ + ", contents hash to " + actual +
                    ")");
    }
    // What the kernels and the engine trust: every stream's contents (map
    // indices, offsets, slot indices, CSR pointers, column indices) and
    // finite FP16/FP32 values, one tensor at a time.
    for (const PackageTensorView &view : reader.tensors_) {
      if (llvm::Error e = validateQuantizedTensor(view.copy()))
        return fail(llvm::toString(std::move(e)));
      if (llvm::Error e = checkFinite(view))
        return e;
    }
    return llvm::Error::success();
  }

  /// Every FP16/FP32 value of `view` is finite (so is every weight they
  /// make: codes are small integers, see QuantizedTensor.h).
  llvm::Error checkFinite(const PackageTensorView &view) {
    for (const PackageTensorView::StreamView &s : view.streams) {
      std::optional<size_t> bad;
      if (s.type == StreamType::F16)
        bad = firstAllOnesExponent<uint16_t, 0x7C00>(s.bytes);
      else if (s.type == StreamType::F32)
        bad = firstAllOnesExponent<uint32_t, 0x7F800000>(s.bytes);
      if (!bad)
        continue;
      const uint8_t *p = s.bytes.data() + *bad * streamTypeSize(s.type);
      float value = s.type == StreamType::F32
                        ? llvm::bit_cast<float>(
                              llvm::support::endian::read32le(p))
                        : halfToFloat(llvm::support::endian::read16le(p));
      return fail(llvm::formatv("tensor '{0}': stream '{1}' has a{2} "
                                "value at element {3}",
                                view.name, s.name,
                                std::isnan(value) ? " NaN" : "n infinite",
                                *bad));
    }
    return llvm::Error::success();
  }

  /// The first little-endian T of `bytes` whose exponent bits (`mask`) are
  /// all ones (an infinity or a NaN), if any. Blocks are scanned without
  /// branches (vectorized: the scan of a 7B model's FP16 embedding table
  /// and scales is on the start-up path of every run), then the block with
  /// a hit element by element.
  template <class T, T mask>
  static std::optional<size_t>
  firstAllOnesExponent(llvm::ArrayRef<uint8_t> bytes) {
    const size_t n = bytes.size() / sizeof(T);
    constexpr size_t kBlock = 4096;
    auto at = [&](size_t i) {
      return llvm::support::endian::read<T, llvm::endianness::little>(
          bytes.data() + i * sizeof(T));
    };
    for (size_t start = 0; start < n; start += kBlock) {
      size_t end = std::min(n, start + kBlock);
      T hits = 0;
      for (size_t i = start; i < end; ++i)
        hits |= T((at(i) & mask) == mask);
      if (!hits)
        continue;
      for (size_t i = start; i < end; ++i)
        if ((at(i) & mask) == mask)
          return i;
    }
    return std::nullopt;
  }
};

} // namespace mixq

PackageReader::~PackageReader() = default;

const std::string &PackageReader::path() const { return file_->path(); }

llvm::Expected<std::unique_ptr<PackageReader>>
PackageReader::open(llvm::StringRef path, bool verifyContentHash) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  if (!isPackageFile(path))
    return fileError(path, "not a mixq package (it does not start with a "
                           "mixq package header); `mixq quantize` makes one "
                           "from a checkpoint");
  return open(std::move(*file), verifyContentHash);
}

llvm::Expected<std::unique_ptr<PackageReader>>
PackageReader::open(std::unique_ptr<MappedFile> file, bool verifyContentHash) {
  std::unique_ptr<PackageReader> reader(new PackageReader());
  reader->file_ = std::move(file);
  PackageParser parser{*reader, reader->file_->path()};
  if (llvm::Error e = parser.parse(verifyContentHash))
    return std::move(e);
  return std::move(reader);
}

const PackageTensorView *PackageReader::find(llvm::StringRef name) const {
  for (const PackageTensorView &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

bool mixq::isPackageFile(llvm::StringRef path) {
  if (llvm::sys::fs::is_directory(path))
    return false;
  auto file = MappedFile::open(path);
  if (!file) {
    llvm::consumeError(file.takeError());
    return false;
  }
  // The writer puts this right after the 8-byte header length.
  static const char prefix[] = "{\"__metadata__\":{\"format\":\"mixq-package\"";
  llvm::ArrayRef<uint8_t> bytes = (*file)->bytes();
  if (bytes.size() < 8 + sizeof(prefix) - 1)
    return false;
  return llvm::StringRef(reinterpret_cast<const char *>(bytes.data()) + 8,
                         sizeof(prefix) - 1) == prefix;
}
