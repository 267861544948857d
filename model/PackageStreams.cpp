//===- PackageStreams.cpp - Stream types and tensor views of packages -----===//
//
// The dtype names of stream types and the PackageTensorView helpers.
//
//===----------------------------------------------------------------------===//
#include "model/Package.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mixq;

llvm::StringRef mixq::streamTypeName(StreamType type) {
  switch (type) {
  case StreamType::U8:
    return "U8";
  case StreamType::U16:
    return "U16";
  case StreamType::I32:
    return "I32";
  case StreamType::F16:
    return "F16";
  case StreamType::F32:
    return "F32";
  }
  return "?";
}

unsigned mixq::streamTypeSize(StreamType type) {
  switch (type) {
  case StreamType::U8:
    return 1;
  case StreamType::U16:
  case StreamType::F16:
    return 2;
  case StreamType::I32:
  case StreamType::F32:
    return 4;
  }
  return 1;
}

bool mixq::parseStreamTypeName(llvm::StringRef name, StreamType &type) {
  for (StreamType t : {StreamType::U8, StreamType::U16, StreamType::I32,
                       StreamType::F16, StreamType::F32})
    if (streamTypeName(t) == name) {
      type = t;
      return true;
    }
  return false;
}

uint64_t PackageTensorView::storageBits() const {
  uint64_t bits = 0;
  for (const StreamView &s : streams)
    bits += uint64_t(s.bytes.size()) * 8;
  return bits;
}

QuantizedTensor PackageTensorView::copy() const {
  QuantizedTensor q;
  q.name = name;
  q.rows = rows;
  q.cols = cols;
  q.layout = layout;
  for (const StreamView &s : streams) {
    Stream &out = q.streams[s.name];
    out.type = s.type;
    out.bytes.assign(s.bytes.begin(), s.bytes.end());
  }
  return q;
}
