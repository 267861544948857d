//===- Safetensors.cpp - Parse and validate a safetensors container -------===//
//
// Implements Safetensors.h: header length, JSON header, per-tensor entries,
// and the exact-cover rule of the data section.
//
//===----------------------------------------------------------------------===//
#include "model/Safetensors.h"
#include "model/MappedFile.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mixq;

unsigned mixq::safetensorsDTypeSize(llvm::StringRef dtype) {
  return llvm::StringSwitch<unsigned>(dtype)
      .Cases({"BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2"}, 1)
      .Cases({"U16", "I16", "F16", "BF16"}, 2)
      .Cases({"U32", "I32", "F32"}, 4)
      .Cases({"U64", "I64", "F64"}, 8)
      .Default(0);
}

const SafetensorsTensor *
SafetensorsHeader::find(llvm::StringRef name) const {
  for (const SafetensorsTensor &t : tensors)
    if (t.name == name)
      return &t;
  return nullptr;
}

llvm::Expected<llvm::json::Value>
mixq::parseJSONDocument(llvm::StringRef text, llvm::StringRef file,
                        unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return fileError(file, "JSON nests deeper than " +
                                   llvm::Twine(maxDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  auto value = llvm::json::parse(text);
  if (!value)
    return fileError(file, "invalid JSON: " +
                               llvm::toString(value.takeError()));
  return value;
}

namespace {

/// Reads a JSON array of non-negative integers.
bool readUInts(const llvm::json::Value *v, std::vector<uint64_t> &out) {
  const llvm::json::Array *a = v ? v->getAsArray() : nullptr;
  if (!a)
    return false;
  out.clear();
  for (const llvm::json::Value &e : *a) {
    std::optional<uint64_t> u = e.getAsUINT64();
    if (!u)
      return false;
    out.push_back(*u);
  }
  return true;
}

} // namespace

llvm::Expected<SafetensorsHeader>
mixq::parseSafetensors(llvm::ArrayRef<uint8_t> bytes, llvm::StringRef file) {
  SafetensorsHeader h;
  if (bytes.size() < 8)
    return fileError(file, llvm::formatv("truncated safetensors file: {0} "
                                         "bytes, the header length alone "
                                         "needs 8",
                                         bytes.size()));
  h.headerSize = llvm::support::endian::read64le(bytes.data());
  if (h.headerSize > kSafetensorsMaxHeaderSize)
    return fileError(file, llvm::formatv("safetensors header length {0} "
                                         "exceeds the limit of {1} bytes",
                                         h.headerSize,
                                         kSafetensorsMaxHeaderSize));
  h.dataOffset = 8 + h.headerSize; // cannot overflow after the check above
  if (h.dataOffset > bytes.size())
    return fileError(file, llvm::formatv("safetensors header length {0} "
                                         "extends past the end of the file "
                                         "({1} bytes)",
                                         h.headerSize, bytes.size()));
  h.dataSize = bytes.size() - h.dataOffset;
  llvm::StringRef text(reinterpret_cast<const char *>(bytes.data()) + 8,
                       h.headerSize);
  auto json = parseJSONDocument(text, file);
  if (!json)
    return json.takeError();
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fileError(file, "safetensors header is not a JSON object");

  for (const auto &entry : *root) {
    std::string name = entry.first.str();
    if (name == "__metadata__") {
      const llvm::json::Object *meta = entry.second.getAsObject();
      if (!meta)
        return fileError(file, "__metadata__ is not a JSON object");
      for (const auto &m : *meta) {
        std::optional<llvm::StringRef> s = m.second.getAsString();
        if (!s)
          return fileError(file, "__metadata__ value of '" + m.first.str() +
                                     "' is not a string");
        h.metadata[m.first.str()] = s->str();
      }
      continue;
    }
    auto bad = [&](const llvm::Twine &reason) {
      return fileError(file, "tensor '" + name + "': " + reason);
    };
    const llvm::json::Object *o = entry.second.getAsObject();
    if (!o)
      return bad("entry is not a JSON object");
    SafetensorsTensor t;
    t.name = name;
    std::optional<llvm::StringRef> dtype = o->getString("dtype");
    if (!dtype)
      return bad("missing or non-string \"dtype\"");
    t.dtype = dtype->str();
    unsigned elementSize = safetensorsDTypeSize(*dtype);
    if (elementSize == 0)
      return bad("unknown dtype '" + *dtype + "'");
    std::vector<uint64_t> shape, offsets;
    if (!readUInts(o->get("shape"), shape))
      return bad("\"shape\" is not an array of non-negative integers");
    if (shape.size() > 16)
      return bad(llvm::Twine(shape.size()) + " dimensions (limit 16)");
    for (uint64_t d : shape) {
      if (d > static_cast<uint64_t>(INT64_MAX))
        return bad("dimension " + llvm::Twine(d) + " is too large");
      t.shape.push_back(static_cast<int64_t>(d));
    }
    if (!readUInts(o->get("data_offsets"), offsets) || offsets.size() != 2)
      return bad("\"data_offsets\" is not an array of two non-negative "
                 "integers");
    t.begin = offsets[0];
    t.end = offsets[1];
    if (t.begin > t.end)
      return bad(llvm::formatv("data_offsets [{0}, {1}] end before they "
                               "begin",
                               t.begin, t.end));
    if (t.end > h.dataSize)
      return bad(llvm::formatv("data_offsets [{0}, {1}] lie outside the data "
                               "section of {2} bytes",
                               t.begin, t.end, h.dataSize));
    uint64_t count = 0, size = 0;
    if (!checkedProduct(t.shape, count) ||
        !checkedMul(count, elementSize, size))
      return bad("the size of the shape overflows");
    if (size != t.size())
      return bad(llvm::formatv("{0} x {1} needs {2} bytes but data_offsets "
                               "[{3}, {4}] hold {5}",
                               count, t.dtype, size, t.begin, t.end,
                               t.size()));
    t.fileOffset = h.dataOffset + t.begin; // <= file size, no overflow
    h.tensors.push_back(std::move(t));
  }

  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const SafetensorsTensor &a, const SafetensorsTensor &b) {
              return std::tie(a.begin, a.end, a.name) <
                     std::tie(b.begin, b.end, b.name);
            });
  uint64_t covered = 0;
  const SafetensorsTensor *previous = nullptr;
  for (const SafetensorsTensor &t : h.tensors) {
    if (t.begin < covered)
      return fileError(file, llvm::formatv("tensor '{0}' (data_offsets [{1}, "
                                           "{2}]) overlaps tensor '{3}'",
                                           t.name, t.begin, t.end,
                                           previous ? previous->name : ""));
    if (t.begin > covered)
      return fileError(file, llvm::formatv("the data section has a hole: "
                                           "bytes [{0}, {1}) belong to no "
                                           "tensor",
                                           covered, t.begin));
    covered = t.end;
    previous = &t;
  }
  if (covered != h.dataSize)
    return fileError(file, llvm::formatv("the data section has {0} bytes "
                                         "but the tensors cover only {1}",
                                         h.dataSize, covered));
  return h;
}
