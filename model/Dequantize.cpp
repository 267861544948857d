//===- Dequantize.cpp - Checked dequantization of every scheme ------------===//
//
// expectedStreams (the exact stream set of a layout), the mixed tile-group
// plan, validation of a QuantizedTensor that may come from a stranger, and
// the reference dequantization of every scheme (see Dequantize.h).
//
//===----------------------------------------------------------------------===//
#include "model/Dequantize.h"
#include "model/NonFinite.h"

#include "model/BitPack.h"

#include "llvm/Support/FormatVariadic.h"

#include <set>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Error tensorError(const QuantizedTensor &t, const llvm::Twine &message) {
  return fail("tensor '" + t.name + "': " + message);
}

llvm::Error streamError(const QuantizedTensor &t, llvm::StringRef stream,
                        const llvm::Twine &message) {
  return fail("tensor '" + t.name + "': stream '" + stream + "': " + message);
}


/// Count of scales of a layout's scale streams and their specs.
void addScaleStreams(std::vector<StreamSpec> &out, const Layout &l,
                     uint64_t count) {
  if (l.scaleBits == 0) {
    out.push_back({"scales", StreamType::F16, count * 2});
    return;
  }
  uint64_t blocks = (count + l.scaleBlock - 1) / l.scaleBlock;
  out.push_back({"scale_codes", StreamType::U8,
                 packedBytes(count, unsigned(l.scaleBits))});
  out.push_back({"scale_meta", StreamType::F16, blocks * 4});
}

/// The stored scales of a tensor (FP16 or second-order).
class ScaleReader {
public:
  ScaleReader(const QuantizedTensor &t) : layout(t.layout) {
    if (layout.scaleBits == 0) {
      scales = stream(t, "scales");
    } else {
      codes = stream(t, "scale_codes");
      meta = stream(t, "scale_meta");
    }
  }
  float operator()(uint64_t i) const {
    if (layout.scaleBits == 0)
      return readF16(scales, i);
    uint64_t block = i / layout.scaleBlock;
    float step = readF16(meta, 2 * block);
    float min = readF16(meta, 2 * block + 1);
    return secondOrderScale(min, step,
                            getBits(codes, unsigned(layout.scaleBits), i));
  }
  static llvm::ArrayRef<uint8_t> stream(const QuantizedTensor &t,
                                        llvm::StringRef name) {
    auto it = t.streams.find(name.str());
    if (it == t.streams.end())
      return {};
    return it->second.bytes;
  }

private:
  const Layout &layout;
  llvm::ArrayRef<uint8_t> scales, codes, meta;
};

llvm::ArrayRef<uint8_t> streamBytes(const QuantizedTensor &t,
                                    llvm::StringRef name) {
  return ScaleReader::stream(t, name);
}

} // namespace

std::string mixq::mixedCodeStream(int64_t bits) {
  return "codes" + std::to_string(bits);
}

llvm::Expected<std::vector<StreamSpec>>
mixq::expectedStreams(const Layout &l, int64_t n, int64_t k) {
  // storageBits verifies the layout for the shape and rules out overflow of
  // every count used below.
  auto storage = storageBits(l, n, k);
  if (!storage)
    return storage.takeError();
  uint64_t N = n, K = k;
  std::vector<StreamSpec> out;
  switch (l.scheme) {
  case Scheme::Dense:
    out.push_back({"values",
                   l.bits[0] == 16 ? StreamType::F16 : StreamType::F32,
                   N * K * uint64_t(l.bits[0] / 8)});
    break;
  case Scheme::Uniform: {
    unsigned b = unsigned(l.bits[0]);
    uint64_t groups = l.group ? N * (K / l.group) : N;
    out.push_back({"codes", StreamType::U8, packedBytes(N * K, b)});
    addScaleStreams(out, l, groups);
    if (l.asymmetric)
      out.push_back({"zeros", StreamType::U8, packedBytes(groups, b)});
    break;
  }
  case Scheme::Mixed: {
    uint64_t tileGroups = (N / l.tile) * (K / l.group);
    uint64_t tileWeights = uint64_t(l.tile) * l.group;
    out.push_back({"pmap", StreamType::U8, packedBytes(tileGroups, 2)});
    out.push_back(
        {"offsets", StreamType::I32, (N / l.tile) * l.bits.size() * 4});
    uint64_t rowGroups = 0, zeroBits = 0;
    for (size_t p = 0; p < l.bits.size(); ++p) {
      uint64_t count = l.alloc[p] * tileWeights;
      if (l.bits[p] == 16) {
        out.push_back({mixedCodeStream(16), StreamType::F16, count * 2});
        continue;
      }
      out.push_back({mixedCodeStream(l.bits[p]), StreamType::U8,
                     packedBytes(count, unsigned(l.bits[p]))});
      rowGroups += l.alloc[p] * l.tile;
      zeroBits += l.alloc[p] * l.tile * l.bits[p];
    }
    addScaleStreams(out, l, rowGroups);
    if (l.asymmetric)
      out.push_back({"zeros", StreamType::U8, (zeroBits + 7) / 8});
    if (l.outliers == OutlierKind::Slots) {
      uint64_t slots = uint64_t(l.alloc[0]) * l.tile * l.slots;
      bool wide = l.group > 256;
      out.push_back({"slot_index", wide ? StreamType::U16 : StreamType::U8,
                     slots * (wide ? 2 : 1)});
      out.push_back({"slot_value", StreamType::F16, slots * 2});
    }
    break;
  }
  case Scheme::Lut: {
    unsigned b = unsigned(l.bits[0]);
    out.push_back({"codes", StreamType::U8, packedBytes(N * K, b)});
    out.push_back({"lut", StreamType::F16, N * (uint64_t(1) << b) * 2});
    if (l.outliers == OutlierKind::Csr) {
      bool narrow = K <= 65536;
      out.push_back({"csr_rowptr", StreamType::I32, (N + 1) * 4});
      out.push_back({"csr_col", narrow ? StreamType::U16 : StreamType::I32,
                     uint64_t(l.nnz) * (narrow ? 2 : 4)});
      out.push_back({"csr_value", StreamType::F16, uint64_t(l.nnz) * 2});
    }
    break;
  }
  case Scheme::Quik: {
    uint64_t C = l.fp16Cols;
    out.push_back({"codes", StreamType::U8,
                   packedBytes(N * (K - C), unsigned(l.bits[0]))});
    out.push_back({"scales", StreamType::F16, N * 2});
    out.push_back({"fp16_cols", StreamType::F16, N * C * 2});
    out.push_back({"col_index", StreamType::I32, C * 4});
    break;
  }
  }
  uint64_t sum = 0;
  for (const StreamSpec &s : out)
    sum += s.bytes * 8;
  if (sum != storage->total())
    return fail(formatv("internal: streams of '{0}' hold {1} bits, storage "
                        "counts {2}",
                        formatLayout(l), sum, storage->total()));
  return out;
}

// MixedPlan
// ---------------------------------------------------------------===//

llvm::Expected<MixedPlan> MixedPlan::build(const Layout &l, int64_t n,
                                           int64_t k,
                                           llvm::ArrayRef<uint8_t> precision) {
  if (auto e = verifyLayoutForShape(l, n, k))
    return std::move(e);
  if (l.scheme != Scheme::Mixed)
    return fail("a mixed plan needs a 'mixed' layout");
  MixedPlan p;
  p.rows = n;
  p.cols = k;
  p.tile = l.tile;
  p.group = l.group;
  p.rowBlocks = n / l.tile;
  p.groupsPerRow = k / l.group;
  p.bits = l.bits;
  size_t P = l.bits.size();
  uint64_t tileGroups = uint64_t(p.rowBlocks) * p.groupsPerRow;
  if (precision.size() != tileGroups)
    return fail(formatv("the precision map has {0} entries, the weight has {1} "
                        "tile-groups",
                        precision.size(), tileGroups));
  p.precision.assign(precision.begin(), precision.end());
  p.streamIndex.resize(tileGroups);
  p.offsets.resize(uint64_t(p.rowBlocks) * P);
  p.count.assign(P, 0);
  for (int64_t r = 0; r < p.rowBlocks; ++r) {
    for (size_t q = 0; q < P; ++q) {
      if (p.count[q] > INT32_MAX)
        return fail("a stream offset exceeds 32 bits");
      p.offsets[r * P + q] = int32_t(p.count[q]);
    }
    for (int64_t g = 0; g < p.groupsPerRow; ++g) {
      int64_t t = r * p.groupsPerRow + g;
      uint8_t q = precision[t];
      if (q >= P)
        return fail(formatv("tile-group {0} (row block {1}, group {2}) has "
                            "precision index {3}, but the layout has {4} "
                            "precisions",
                            t, r, g, unsigned(q), P));
      p.streamIndex[t] = p.count[q]++;
    }
  }
  for (size_t q = 0; q < P; ++q)
    if (p.count[q] != l.alloc[q])
      return fail(formatv("the precision map has {0} {1}-bit tile-groups but "
                          "'alloc' says {2}",
                          p.count[q], l.bits[q], l.alloc[q]));
  p.rowGroupBase.assign(P, -1);
  p.zeroBitBase.assign(P, 0);
  int64_t rowGroups = 0;
  uint64_t zeroBits = 0;
  for (size_t q = 0; q < P; ++q) {
    if (l.bits[q] == 16)
      continue;
    p.rowGroupBase[q] = rowGroups;
    p.zeroBitBase[q] = zeroBits;
    rowGroups += p.count[q] * p.tile;
    zeroBits += uint64_t(p.count[q]) * p.tile * l.bits[q];
  }
  return p;
}

int64_t MixedPlan::quantRowGroup(int64_t row, int64_t g) const {
  int64_t t = tileGroup(row, g);
  uint8_t q = precision[t];
  if (bits[q] == 16)
    return -1;
  return rowGroupBase[q] + streamIndex[t] * tile + row % tile;
}

int64_t MixedPlan::twoBitRowGroup(int64_t row, int64_t g) const {
  int64_t t = tileGroup(row, g);
  if (precision[t] != 0)
    return -1;
  return streamIndex[t] * tile + row % tile;
}

int64_t MixedPlan::quantRowGroups() const {
  int64_t sum = 0;
  for (size_t q = 0; q < bits.size(); ++q)
    if (bits[q] != 16)
      sum += count[q] * tile;
  return sum;
}

uint64_t MixedPlan::codeIndex(int64_t row, int64_t col) const {
  int64_t g = col / group;
  int64_t t = tileGroup(row, g);
  return uint64_t(streamIndex[t]) * tile * group +
         uint64_t(row % tile) * group + uint64_t(col % group);
}

uint64_t MixedPlan::zeroBit(int64_t row, int64_t g) const {
  int64_t t = tileGroup(row, g);
  uint8_t q = precision[t];
  return zeroBitBase[q] +
         (uint64_t(streamIndex[t]) * tile + row % tile) * bits[q];
}

// Validation
// --------------------------------------------------------------===//

namespace {

llvm::Error checkStreamSet(const QuantizedTensor &t) {
  auto specs = expectedStreams(t.layout, t.rows, t.cols);
  if (!specs)
    return tensorError(t, formatv("{0}x{1} '{2}': {3}", t.rows, t.cols,
                                  formatLayout(t.layout),
                                  llvm::toString(specs.takeError())));
  std::set<std::string> known;
  for (const StreamSpec &s : *specs) {
    known.insert(s.name);
    auto it = t.streams.find(s.name);
    if (it == t.streams.end()) {
      if (s.bytes == 0)
        continue; // an empty stream may be omitted
      return streamError(t, s.name,
                         formatv("missing (the '{0}' layout needs {1} bytes)",
                                 schemeName(t.layout.scheme), s.bytes));
    }
    const Stream &stream = it->second;
    if (stream.type != s.type)
      return streamError(t, s.name,
                         formatv("has type {0}, expected {1}",
                                 streamTypeName(stream.type), streamTypeName(s.type)));
    if (stream.bytes.size() != s.bytes)
      return streamError(t, s.name,
                         formatv("has {0} bytes, expected {1} for a {2}x{3} "
                                 "'{4}' weight",
                                 stream.bytes.size(), s.bytes, t.rows, t.cols,
                                 formatLayout(t.layout)));
  }
  for (const auto &entry : t.streams)
    if (!known.count(entry.first))
      return streamError(t, entry.first,
                         formatv("not a stream of the '{0}' scheme",
                                 schemeName(t.layout.scheme)));
  return llvm::Error::success();
}

/// Builds the mixed plan from "pmap" and checks "offsets" and "slot_index".
llvm::Expected<MixedPlan> checkMixed(const QuantizedTensor &t) {
  const Layout &l = t.layout;
  uint64_t tileGroups = uint64_t(t.rows / l.tile) * (t.cols / l.group);
  std::vector<uint8_t> pmap = unpackBits(streamBytes(t, "pmap"), 2, tileGroups);
  auto plan = MixedPlan::build(l, t.rows, t.cols, pmap);
  if (!plan)
    return streamError(t, "pmap", llvm::toString(plan.takeError()));
  llvm::ArrayRef<uint8_t> offsets = streamBytes(t, "offsets");
  size_t P = l.bits.size();
  for (int64_t r = 0; r < plan->rowBlocks; ++r)
    for (size_t q = 0; q < P; ++q) {
      int32_t stored = readI32(offsets, r * P + q);
      int32_t want = plan->offsets[r * P + q];
      if (stored != want)
        return streamError(t, "offsets",
                           formatv("row block {0}, {1}-bit stream: offset {2}, "
                                   "but the precision map puts {3} tile-groups "
                                   "before it",
                                   r, l.bits[q], stored, want));
    }
  if (l.outliers == OutlierKind::Slots) {
    llvm::ArrayRef<uint8_t> index = streamBytes(t, "slot_index");
    bool wide = l.group > 256;
    uint64_t slots = uint64_t(plan->twoBitRowGroups()) * l.slots;
    for (uint64_t i = 0; i < slots; ++i) {
      uint32_t v = wide ? readU16(index, i) : index[i];
      if (v >= uint64_t(l.group))
        return streamError(t, "slot_index",
                           formatv("slot {0} has in-group index {1}, but the "
                                   "group has {2} elements",
                                   i, v, l.group));
    }
  }
  return std::move(*plan);
}

llvm::Error checkCsr(const QuantizedTensor &t) {
  const Layout &l = t.layout;
  if (l.outliers != OutlierKind::Csr)
    return llvm::Error::success();
  llvm::ArrayRef<uint8_t> rowptr = streamBytes(t, "csr_rowptr");
  llvm::ArrayRef<uint8_t> col = streamBytes(t, "csr_col");
  bool narrow = t.cols <= 65536;
  if (readI32(rowptr, 0) != 0)
    return streamError(t, "csr_rowptr",
                       formatv("starts at {0}, not 0", readI32(rowptr, 0)));
  for (int64_t r = 0; r < t.rows; ++r) {
    int64_t begin = readI32(rowptr, r), end = readI32(rowptr, r + 1);
    if (end < begin || end > l.nnz)
      return streamError(t, "csr_rowptr",
                         formatv("row {0} spans [{1}, {2}), not a monotone "
                                 "range within the {3} outliers",
                                 r, begin, end, l.nnz));
    int64_t previous = -1;
    for (int64_t i = begin; i < end; ++i) {
      int64_t c = narrow ? int64_t(readU16(col, i)) : int64_t(readI32(col, i));
      if (c < 0 || c >= t.cols)
        return streamError(t, "csr_col",
                           formatv("outlier {0} (row {1}) has column {2}, "
                                   "outside K = {3}",
                                   i, r, c, t.cols));
      if (c <= previous)
        return streamError(t, "csr_col",
                           formatv("row {0}: columns not strictly increasing "
                                   "({1} after {2})",
                                   r, c, previous));
      previous = c;
    }
  }
  if (readI32(rowptr, t.rows) != l.nnz)
    return streamError(t, "csr_rowptr",
                       formatv("ends at {0}, but the layout has {1} outliers",
                               readI32(rowptr, t.rows), l.nnz));
  return llvm::Error::success();
}

llvm::Error checkQuik(const QuantizedTensor &t) {
  llvm::ArrayRef<uint8_t> index = streamBytes(t, "col_index");
  int64_t previous = -1;
  for (int64_t c = 0; c < t.layout.fp16Cols; ++c) {
    int64_t v = readI32(index, c);
    if (v < 0 || v >= t.cols)
      return streamError(t, "col_index",
                         formatv("FP16 column {0} has index {1}, outside K = "
                                 "{2}",
                                 c, v, t.cols));
    if (v <= previous)
      return streamError(t, "col_index",
                         formatv("indices not strictly increasing ({0} after "
                                 "{1})",
                                 v, previous));
    previous = v;
  }
  return llvm::Error::success();
}

/// Full validation; for mixed layouts also returns the plan.
llvm::Error validate(const QuantizedTensor &t, MixedPlan *plan) {
  if (auto e = checkStreamSet(t))
    return e;
  switch (t.layout.scheme) {
  case Scheme::Mixed: {
    auto p = checkMixed(t);
    if (!p)
      return p.takeError();
    if (plan)
      *plan = std::move(*p);
    return llvm::Error::success();
  }
  case Scheme::Lut:
    return checkCsr(t);
  case Scheme::Quik:
    return checkQuik(t);
  default:
    return llvm::Error::success();
  }
}

// Dequantization per scheme (after validation)
// ----------------------------===//

void dequantDense(const QuantizedTensor &t, float *w) {
  llvm::ArrayRef<uint8_t> v = streamBytes(t, "values");
  uint64_t count = uint64_t(t.rows) * t.cols;
  for (uint64_t i = 0; i < count; ++i)
    w[i] = t.layout.bits[0] == 16 ? readF16(v, i) : readF32(v, i);
}

void dequantUniform(const QuantizedTensor &t, float *w) {
  const Layout &l = t.layout;
  unsigned b = unsigned(l.bits[0]);
  int64_t K = t.cols;
  int64_t gs = l.group ? l.group : K;
  int64_t groupsPerRow = K / gs;
  ScaleReader scale(t);
  llvm::ArrayRef<uint8_t> codes = streamBytes(t, "codes");
  llvm::ArrayRef<uint8_t> zeros = streamBytes(t, "zeros");
  std::vector<uint8_t> buf(gs);
  for (int64_t n = 0; n < t.rows; ++n)
    for (int64_t g = 0; g < groupsPerRow; ++g) {
      uint64_t gi = uint64_t(n) * groupsPerRow + g;
      float s = scale(gi);
      int32_t zero =
          l.asymmetric ? int32_t(getBits(zeros, b, gi)) : symmetricZero(b);
      uint64_t first = uint64_t(n) * K + uint64_t(g) * gs;
      unpackBits(codes, b, first, gs, buf.data());
      for (int64_t j = 0; j < gs; ++j)
        w[first + j] = uniformValue(buf[j], zero, s);
    }
}

void dequantMixed(const QuantizedTensor &t, const MixedPlan &plan, float *w) {
  const Layout &l = t.layout;
  int64_t K = t.cols, G = l.group;
  ScaleReader scale(t);
  llvm::ArrayRef<uint8_t> zeros = streamBytes(t, "zeros");
  llvm::ArrayRef<uint8_t> slotIndex = streamBytes(t, "slot_index");
  llvm::ArrayRef<uint8_t> slotValue = streamBytes(t, "slot_value");
  std::vector<llvm::ArrayRef<uint8_t>> codes;
  for (int64_t b : l.bits)
    codes.push_back(streamBytes(t, mixedCodeStream(b)));
  std::vector<uint8_t> buf(G);
  for (int64_t n = 0; n < t.rows; ++n)
    for (int64_t g = 0; g < plan.groupsPerRow; ++g) {
      uint8_t q = plan.precision[plan.tileGroup(n, g)];
      unsigned b = unsigned(l.bits[q]);
      float *out = w + uint64_t(n) * K + uint64_t(g) * G;
      uint64_t first = plan.codeIndex(n, g * G);
      if (b == 16) {
        for (int64_t j = 0; j < G; ++j)
          out[j] = readF16(codes[q], first + j);
        continue;
      }
      int64_t rg = plan.quantRowGroup(n, g);
      float s = scale(rg);
      int32_t zero = l.asymmetric
                         ? int32_t(getBitField(zeros, plan.zeroBit(n, g), b))
                         : symmetricZero(b);
      unpackBits(codes[q], b, first, G, buf.data());
      for (int64_t j = 0; j < G; ++j)
        out[j] = uniformValue(buf[j], zero, s);
      if (q == 0 && l.outliers == OutlierKind::Slots) {
        uint64_t base = uint64_t(plan.twoBitRowGroup(n, g)) * l.slots;
        for (int64_t i = 0; i < l.slots; ++i) {
          uint32_t idx =
              G > 256 ? readU16(slotIndex, base + i) : slotIndex[base + i];
          out[idx] = out[idx] + readF16(slotValue, base + i);
        }
      }
    }
}

void dequantLut(const QuantizedTensor &t, float *w) {
  const Layout &l = t.layout;
  unsigned b = unsigned(l.bits[0]);
  int64_t K = t.cols;
  uint64_t entries = uint64_t(1) << b;
  llvm::ArrayRef<uint8_t> codes = streamBytes(t, "codes");
  llvm::ArrayRef<uint8_t> lut = streamBytes(t, "lut");
  std::vector<uint8_t> buf(K);
  std::vector<float> table(entries);
  for (int64_t n = 0; n < t.rows; ++n) {
    for (uint64_t e = 0; e < entries; ++e)
      table[e] = readF16(lut, n * entries + e);
    unpackBits(codes, b, uint64_t(n) * K, K, buf.data());
    float *out = w + uint64_t(n) * K;
    for (int64_t j = 0; j < K; ++j)
      out[j] = table[buf[j]];
  }
  if (l.outliers != OutlierKind::Csr)
    return;
  llvm::ArrayRef<uint8_t> rowptr = streamBytes(t, "csr_rowptr");
  llvm::ArrayRef<uint8_t> col = streamBytes(t, "csr_col");
  llvm::ArrayRef<uint8_t> value = streamBytes(t, "csr_value");
  bool narrow = K <= 65536;
  for (int64_t n = 0; n < t.rows; ++n)
    for (int64_t i = readI32(rowptr, n), e = readI32(rowptr, n + 1); i < e;
         ++i) {
      int64_t c = narrow ? int64_t(readU16(col, i)) : int64_t(readI32(col, i));
      float &x = w[uint64_t(n) * K + c];
      x = x + readF16(value, i);
    }
}

void dequantQuik(const QuantizedTensor &t, float *w) {
  const Layout &l = t.layout;
  unsigned b = unsigned(l.bits[0]);
  int64_t K = t.cols, C = l.fp16Cols, Q = K - C;
  llvm::ArrayRef<uint8_t> codes = streamBytes(t, "codes");
  llvm::ArrayRef<uint8_t> scales = streamBytes(t, "scales");
  llvm::ArrayRef<uint8_t> fp16 = streamBytes(t, "fp16_cols");
  llvm::ArrayRef<uint8_t> index = streamBytes(t, "col_index");
  std::vector<int32_t> outlierCols(C);
  for (int64_t c = 0; c < C; ++c)
    outlierCols[c] = readI32(index, c);
  std::vector<uint8_t> buf(Q);
  for (int64_t n = 0; n < t.rows; ++n) {
    float s = readF16(scales, n);
    unpackBits(codes, b, uint64_t(n) * Q, Q, buf.data());
    float *out = w + uint64_t(n) * K;
    int64_t next = 0, q = 0;
    for (int64_t k = 0; k < K; ++k) {
      if (next < C && outlierCols[next] == k) {
        out[k] = readF16(fp16, uint64_t(n) * C + next);
        ++next;
      } else {
        out[k] = static_cast<float>(signExtend(buf[q++], b)) * s;
      }
    }
  }
}

} // namespace

llvm::Error mixq::validateQuantizedTensor(const QuantizedTensor &tensor) {
  return validate(tensor, nullptr);
}

llvm::Expected<std::vector<float>> mixq::dequantize(const QuantizedTensor &t) {
  MixedPlan plan;
  if (auto e = validate(t, &plan))
    return std::move(e);
  std::vector<float> w(uint64_t(t.rows) * t.cols);
  switch (t.layout.scheme) {
  case Scheme::Dense:
    dequantDense(t, w.data());
    break;
  case Scheme::Uniform:
    dequantUniform(t, w.data());
    break;
  case Scheme::Mixed:
    dequantMixed(t, plan, w.data());
    break;
  case Scheme::Lut:
    dequantLut(t, w.data());
    break;
  case Scheme::Quik:
    dequantQuik(t, w.data());
    break;
  }
  if (std::optional<size_t> bad = firstNonFinite(w))
    return tensorError(t, llvm::formatv("dequantizes to a non-finite value "
                                        "at row {0}, column {1} (NaN or Inf "
                                        "in its scales or values)",
                                        *bad / t.cols, *bad % t.cols));
  return w;
}
