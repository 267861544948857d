//===- PackageWriter.cpp - Writing mixq packages atomically ---------------===//
//
// Lays the streams of every tensor out 64-byte aligned with explicit filler
// tensors, builds the safetensors header with the package metadata and the
// content hash, and writes the file under a temporary name before renaming it
// into place (see Package.h for the format).
//
//===----------------------------------------------------------------------===//
#include "model/Package.h"
#include "model/PackageHash.h"

#include "llvm/Support/Base64.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <csignal>

using namespace mixq;

namespace {

llvm::Error packageError(llvm::StringRef path, const llvm::Twine &reason) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + reason);
}

/// One entry of the data section: a stream of a tensor, or a filler.
struct Placement {
  std::string name;
  StreamType type;
  const std::vector<uint8_t> *bytes; ///< null for a filler
  uint64_t begin, size;
};

std::string jsonText(const llvm::json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << value;
  return text;
}

/// Checks one tensor before anything is written.
llvm::Error checkTensor(const PackageTensor &t, llvm::StringRef path) {
  const QuantizedTensor &q = t.data;
  uint64_t elements = 1;
  for (int64_t d : t.shape)
    elements = d > 0 ? elements * uint64_t(d) : 0;
  if (t.shape.empty() || t.shape.size() > 2 || elements == 0 ||
      elements != uint64_t(q.rows) * uint64_t(q.cols))
    return packageError(path, llvm::formatv("tensor '{0}': shape does not "
                                            "match its {1}x{2} data",
                                            q.name, q.rows, q.cols));
  auto expected = storageBits(q.layout, q.rows, q.cols);
  if (!expected)
    return packageError(path, "tensor '" + q.name +
                                  "': " + llvm::toString(expected.takeError()));
  if (expected->total() != q.totalBits())
    return packageError(path, llvm::formatv("tensor '{0}': its streams hold "
                                            "{1} bits but its layout stores "
                                            "{2}",
                                            q.name, q.totalBits(),
                                            expected->total()));
  for (const auto &[name, stream] : q.streams)
    if (stream.bytes.size() % streamTypeSize(stream.type) != 0)
      return packageError(path, llvm::formatv("tensor '{0}': stream '{1}' is "
                                              "not a whole number of {2}",
                                              q.name, name,
                                              streamTypeName(stream.type)));
  return llvm::Error::success();
}

} // namespace

llvm::Error mixq::writePackage(const Package &package, llvm::StringRef path) {
  if (auto e = validateConfig(package.config))
    return packageError(path, llvm::toString(std::move(e)));

  // Lay out the data section.
  std::vector<Placement> placements;
  llvm::json::Object tensorsMeta;
  uint64_t cursor = 0;
  unsigned fillers = 0;
  for (const PackageTensor &t : package.tensors) {
    if (auto e = checkTensor(t, path))
      return e;
    const QuantizedTensor &q = t.data;
    if (tensorsMeta.find(q.name) != tensorsMeta.end())
      return packageError(path, "tensor '" + q.name + "' appears twice");
    llvm::json::Array streamNames;
    for (const auto &[name, stream] : q.streams) {
      uint64_t aligned = (cursor + kPackageAlignment - 1) / kPackageAlignment *
                         kPackageAlignment;
      if (aligned != cursor)
        placements.push_back({llvm::formatv("__pad{0}__", fillers++).str(),
                              StreamType::U8, nullptr, cursor,
                              aligned - cursor});
      placements.push_back({q.name + ":" + name, stream.type, &stream.bytes,
                            aligned, stream.bytes.size()});
      cursor = aligned + stream.bytes.size();
      streamNames.push_back(name);
    }
    tensorsMeta[q.name] = llvm::json::Object{
        {"shape", llvm::json::Array(t.shape)},
        {"layout", layoutToJSON(q.layout)},
        {"streams", std::move(streamNames)}};
  }

  // Metadata and the content hash over it and the data section.
  std::map<std::string, std::string> metadata = {
      {"format", "mixq-package"},
      {"format_version", "1"},
      {"config", jsonText(configToJSON(package.config))},
      {"tensors", jsonText(llvm::json::Value(std::move(tensorsMeta)))},
      {"tokenizer_format", package.tokenizerFormat},
      {"tokenizer", llvm::encodeBase64(package.tokenizer)},
      {"quantizer",
       jsonText(llvm::json::Value(llvm::json::Object(package.quantizer)))},
      {"source_sha256", package.sourceSha256},
  };
  PackageHasher hasher;
  hasher.addMetadata(metadata);
  static const std::vector<uint8_t> zeros(kPackageAlignment, 0);
  for (const Placement &p : placements)
    hasher.addData(p.bytes ? llvm::ArrayRef<uint8_t>(*p.bytes)
                           : llvm::ArrayRef<uint8_t>(zeros).take_front(p.size));
  metadata["content_sha256"] = hasher.finalHex();

  // The safetensors header. "__metadata__" comes first and "format" first in
  // it, so that isPackageFile() recognizes even a truncated package.
  std::string headerText = "{\"__metadata__\":{\"format\":";
  headerText += jsonText(llvm::json::Value(metadata["format"]));
  for (const auto &[key, value] : metadata)
    if (key != "format")
      headerText += "," + jsonText(llvm::json::Value(key)) + ":" +
                    jsonText(llvm::json::Value(value));
  headerText += "}";
  for (const Placement &p : placements)
    headerText +=
        "," + jsonText(llvm::json::Value(p.name)) + ":" +
        jsonText(llvm::json::Object{
            {"dtype", streamTypeName(p.type).str()},
            {"shape",
             llvm::json::Array{int64_t(p.size / streamTypeSize(p.type))}},
            {"data_offsets",
             llvm::json::Array{int64_t(p.begin), int64_t(p.begin + p.size)}}});
  headerText += "}";
  while ((8 + headerText.size()) % kPackageAlignment != 0)
    headerText.push_back(' ');

  // Write beside the target, then rename into place.
  llvm::SmallString<256> temp;
  int fd;
  llvm::SmallString<256> model(path);
  model += ".tmp-%%%%%%";
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, temp))
    return packageError(path, "cannot create a temporary file: " +
                                  ec.message());
  // An interrupt (SIGINT, SIGTERM) removes the temporary file too; SIGKILL
  // can leave it, but never anything under `path`.
  llvm::sys::RemoveFileOnSignal(temp);
  auto discard = [&] {
    llvm::sys::fs::remove(temp);
    llvm::sys::DontRemoveFileOnSignal(temp);
  };
  // Past a file-size limit (ulimit -f) write() must fail with EFBIG like on
  // a full disk instead of raising SIGXFSZ (whose handler, LLVM's, would
  // print a stack dump); the previous disposition comes back afterwards.
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &previous);
  llvm::Error written = [&]() -> llvm::Error {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    uint64_t length = headerText.size();
    for (int i = 0; i < 8; ++i)
      os << char((length >> (8 * i)) & 0xff);
    os << headerText;
    for (const Placement &p : placements) {
      if (p.bytes)
        os.write(reinterpret_cast<const char *>(p.bytes->data()), p.size);
      else
        os.write_zeros(p.size);
    }
    os.close();
    if (os.has_error()) {
      std::string message = os.error().message();
      os.clear_error();
      return packageError(path, "cannot write the package (" + message +
                                    "); nothing was left under this name");
    }
    return llvm::Error::success();
  }();
  sigaction(SIGXFSZ, &previous, nullptr);
  if (written) {
    discard();
    return written;
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    discard();
    return packageError(path, "cannot rename the temporary file into place: " +
                                  ec.message());
  }
  llvm::sys::DontRemoveFileOnSignal(temp);
  return llvm::Error::success();
}
