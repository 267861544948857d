//===- Pack.cpp - QuantizedTensors from a quantizer's decisions -----------===//
//
// Second-order scale quantization and the per-scheme packers (Pack.h). Each
// packer checks its inputs, writes the streams in the order of
// model/QuantizedTensor.h and validates the result with the dequantizer's
// own checks.
//
//===----------------------------------------------------------------------===//
#include "quant/Pack.h"

#include "model/BitPack.h"
#include "model/Dequantize.h"
#include "model/Float16.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "packing '" + name + "': " + message);
}

/// The next F16 value below / above (finite inputs).
uint16_t halfNextDown(uint16_t h) {
  if (h == 0x0000)
    return 0x8001;
  return (h & 0x8000) ? uint16_t(h + 1) : uint16_t(h - 1);
}
uint16_t halfNextUp(uint16_t h) {
  if (h == 0x8000)
    return 0x0001;
  return (h & 0x8000) ? uint16_t(h - 1) : uint16_t(h + 1);
}

/// Largest F16 <= v and smallest F16 >= v (v finite, within F16 range).
uint16_t halfFloor(double v) {
  uint16_t h = floatToHalf(float(v));
  while (double(halfToFloat(h)) > v)
    h = halfNextDown(h);
  return h;
}
uint16_t halfCeil(double v) {
  uint16_t h = floatToHalf(float(v));
  while (double(halfToFloat(h)) < v)
    h = halfNextUp(h);
  return h;
}

llvm::Error checkSize(llvm::StringRef name, llvm::StringRef what, size_t got,
                      uint64_t want) {
  if (got != want)
    return fail(name,
                formatv("{0} has {1} entries, expected {2}", what, got, want));
  return llvm::Error::success();
}

/// Adds the stored scales' streams; `count` is the number of scales expected.
llvm::Error addScales(QuantizedTensor &t, llvm::StringRef name, const Layout &l,
                      const StoredScales &s, uint64_t count) {
  if (s.bits != l.scaleBits || (s.bits && s.block != l.scaleBlock))
    return fail(name, formatv("scales stored as <{0}, {1}> but the layout "
                              "asks for <{2}, {3}>",
                              s.bits, s.block, l.scaleBits, l.scaleBlock));
  if (auto e = checkSize(name, "scales", s.size(), count))
    return e;
  if (s.bits == 0) {
    Stream &st = t.streams["scales"];
    st.type = StreamType::F16;
    for (uint16_t h : s.half)
      appendU16(st.bytes, h);
    return llvm::Error::success();
  }
  uint64_t blocks = (count + s.block - 1) / s.block;
  if (s.step.size() != blocks || s.min.size() != blocks)
    return fail(name, formatv("second-order scales have {0} steps and {1} "
                              "minima for {2} blocks",
                              s.step.size(), s.min.size(), blocks));
  if (auto e = checkCodeRange(s.codes, unsigned(s.bits),
                              "packing '" + name + "': scale codes"))
    return e;
  t.streams["scale_codes"] = {StreamType::U8,
                              packBits(s.codes, unsigned(s.bits))};
  Stream &meta = t.streams["scale_meta"];
  meta.type = StreamType::F16;
  for (uint64_t b = 0; b < blocks; ++b) {
    appendU16(meta.bytes, s.step[b]);
    appendU16(meta.bytes, s.min[b]);
  }
  return llvm::Error::success();
}

/// Drops empty streams, then checks the tensor as a reader would.
llvm::Expected<QuantizedTensor> finish(QuantizedTensor t) {
  for (auto it = t.streams.begin(); it != t.streams.end();)
    it = it->second.bytes.empty() ? t.streams.erase(it) : std::next(it);
  auto storage = storageBits(t.layout, t.rows, t.cols);
  if (!storage)
    return fail(t.name, llvm::toString(storage.takeError()));
  if (storage->total() != t.totalBits())
    return fail(t.name, formatv("internal: streams hold {0} bits, the layout "
                                "stores {1}",
                                t.totalBits(), storage->total()));
  if (auto e = validateQuantizedTensor(t))
    return fail(t.name, llvm::toString(std::move(e)));
  return std::move(t);
}

QuantizedTensor start(llvm::StringRef name, const Layout &layout, int64_t n,
                      int64_t k) {
  QuantizedTensor t;
  t.name = name.str();
  t.rows = n;
  t.cols = k;
  t.layout = layout;
  return t;
}

} // namespace

// Scales
// -------------------------------------------------------------------===//

float StoredScales::value(size_t i) const {
  if (bits == 0)
    return halfToFloat(half[i]);
  size_t b = i / block;
  return secondOrderScale(halfToFloat(min[b]), halfToFloat(step[b]), codes[i]);
}

uint8_t StoredScales::nearestCode(size_t blockIndex, float scale) const {
  float lo = halfToFloat(min[blockIndex]);
  float st = halfToFloat(step[blockIndex]);
  int64_t maxCode = (int64_t(1) << bits) - 1;
  if (!(st > 0))
    return 0;
  int64_t c = int64_t(std::nearbyint((double(scale) - lo) / st));
  c = std::clamp<int64_t>(c, 0, maxCode);
  int64_t best = c;
  float bestErr = std::fabs(secondOrderScale(lo, st, uint32_t(c)) - scale);
  for (int64_t d : {c - 1, c + 1}) {
    if (d < 0 || d > maxCode)
      continue;
    float err = std::fabs(secondOrderScale(lo, st, uint32_t(d)) - scale);
    if (err < bestErr || (err == bestErr && d < best)) {
      best = d;
      bestErr = err;
    }
  }
  return uint8_t(best);
}

float StoredScales::store(size_t i, float scale) {
  if (bits == 0)
    half[i] = floatToHalf(scale);
  else
    codes[i] = nearestCode(i / block, scale);
  return value(i);
}

StoredScales mixq::storeScalesF16(llvm::ArrayRef<float> scales) {
  StoredScales s;
  s.half.reserve(scales.size());
  for (float v : scales)
    s.half.push_back(floatToHalf(v));
  return s;
}

StoredScales mixq::quantizeScales(llvm::ArrayRef<float> scales, int64_t bits,
                                  int64_t block) {
  StoredScales s;
  s.bits = bits;
  s.block = block;
  s.codes.resize(scales.size());
  double levels = double((int64_t(1) << bits) - 1);
  for (size_t first = 0; first < scales.size(); first += block) {
    size_t last = std::min(scales.size(), first + size_t(block));
    double lo = scales[first], hi = scales[first];
    for (size_t i = first; i < last; ++i) {
      lo = std::min(lo, double(scales[i]));
      hi = std::max(hi, double(scales[i]));
    }
    uint16_t minH = halfFloor(lo);
    uint16_t stepH = halfCeil((hi - double(halfToFloat(minH))) / levels);
    s.min.push_back(minH);
    s.step.push_back(stepH);
    size_t b = s.min.size() - 1;
    for (size_t i = first; i < last; ++i)
      s.codes[i] = s.nearestCode(b, scales[i]);
  }
  return s;
}

StoredScales mixq::storeScales(const Layout &layout,
                               llvm::ArrayRef<float> scales) {
  if (layout.scaleBits == 0)
    return storeScalesF16(scales);
  return quantizeScales(scales, layout.scaleBits, layout.scaleBlock);
}

// Packers
// -------------------------------------------------------------------===//

llvm::Expected<QuantizedTensor> mixq::packDense(llvm::StringRef name, int64_t n,
                                                int64_t k,
                                                llvm::ArrayRef<float> values,
                                                int64_t bits) {
  Layout l;
  l.scheme = Scheme::Dense;
  l.bits = {bits};
  if (auto e = verifyLayoutForShape(l, n, k))
    return fail(name, llvm::toString(std::move(e)));
  if (auto e = checkSize(name, "values", values.size(), uint64_t(n) * k))
    return std::move(e);
  QuantizedTensor t = start(name, l, n, k);
  t.streams["values"] = bits == 16 ? Stream{StreamType::F16, encodeF16(values)}
                                   : Stream{StreamType::F32, encodeF32(values)};
  return finish(std::move(t));
}

llvm::Expected<QuantizedTensor>
mixq::packUniform(llvm::StringRef name, const Layout &l, int64_t n, int64_t k,
                  llvm::ArrayRef<uint8_t> codes, const StoredScales &scales,
                  llvm::ArrayRef<uint8_t> zeros) {
  if (l.scheme != Scheme::Uniform)
    return fail(name, "packUniform needs a 'uniform' layout");
  if (auto e = verifyLayoutForShape(l, n, k))
    return fail(name, llvm::toString(std::move(e)));
  unsigned b = unsigned(l.bits[0]);
  uint64_t groups = l.group ? uint64_t(n) * (k / l.group) : uint64_t(n);
  if (auto e = checkSize(name, "codes", codes.size(), uint64_t(n) * k))
    return std::move(e);
  if (auto e = checkCodeRange(codes, b, "packing '" + name + "': codes"))
    return std::move(e);
  QuantizedTensor t = start(name, l, n, k);
  t.streams["codes"] = {StreamType::U8, packBits(codes, b)};
  if (auto e = addScales(t, name, l, scales, groups))
    return std::move(e);
  if (l.asymmetric) {
    if (auto e = checkSize(name, "zeros", zeros.size(), groups))
      return std::move(e);
    if (auto e = checkCodeRange(zeros, b, "packing '" + name + "': zeros"))
      return std::move(e);
    t.streams["zeros"] = {StreamType::U8, packBits(zeros, b)};
  } else if (!zeros.empty()) {
    return fail(name, "zero points given for a symmetric layout");
  }
  return finish(std::move(t));
}

llvm::Expected<QuantizedTensor> mixq::packMixed(llvm::StringRef name,
                                                const Layout &l, int64_t n,
                                                int64_t k,
                                                const MixedDecisions &d) {
  if (l.scheme != Scheme::Mixed)
    return fail(name, "packMixed needs a 'mixed' layout");
  auto planOr = MixedPlan::build(l, n, k, d.precision);
  if (!planOr)
    return fail(name, llvm::toString(planOr.takeError()));
  const MixedPlan &plan = *planOr;
  uint64_t weights = uint64_t(n) * k;
  bool hasFp16 = false;
  for (size_t q = 0; q < l.bits.size(); ++q)
    hasFp16 |= l.bits[q] == 16 && l.alloc[q] > 0;
  if (auto e = checkSize(name, "codes", d.codes.size(), weights))
    return std::move(e);
  if (hasFp16)
    if (auto e = checkSize(name, "fp16 values", d.fp16.size(), weights))
      return std::move(e);
  QuantizedTensor t = start(name, l, n, k);
  size_t P = l.bits.size();
  t.streams["pmap"] = {StreamType::U8, packBits(d.precision, 2)};
  Stream &offsets = t.streams["offsets"];
  offsets.type = StreamType::I32;
  for (int32_t o : plan.offsets)
    appendI32(offsets.bytes, o);

  // Code streams, tile-group by tile-group in stream order.
  int64_t tileWeights = l.tile * l.group;
  std::vector<Stream *> codeStreams;
  for (size_t q = 0; q < P; ++q) {
    unsigned b = unsigned(l.bits[q]);
    Stream &st = t.streams[mixedCodeStream(b)];
    codeStreams.push_back(&st);
    st.type = b == 16 ? StreamType::F16 : StreamType::U8;
    st.bytes.assign(b == 16
                        ? uint64_t(plan.count[q]) * tileWeights * 2
                        : packedBytes(uint64_t(plan.count[q]) * tileWeights, b),
                    0);
  }
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      uint8_t q = plan.precision[plan.tileGroup(row, col / l.group)];
      unsigned b = unsigned(l.bits[q]);
      uint64_t at = plan.codeIndex(row, col);
      Stream &st = *codeStreams[q];
      uint64_t w = uint64_t(row) * k + col;
      if (b == 16) {
        uint16_t h = floatToHalf(d.fp16[w]);
        st.bytes[2 * at] = uint8_t(h & 0xff);
        st.bytes[2 * at + 1] = uint8_t(h >> 8);
        continue;
      }
      if (d.codes[w] >> b)
        return fail(name, formatv("code {0} at ({1}, {2}) does not fit its "
                                  "{3}-bit tile-group",
                                  unsigned(d.codes[w]), row, col, b));
      putBits(st.bytes, b, at, d.codes[w]);
    }

  // Scales and zeros per quantized row-group.
  uint64_t rowGroups = plan.quantRowGroups();
  if (auto e = addScales(t, name, l, d.scales, rowGroups))
    return std::move(e);
  if (l.asymmetric) {
    if (auto e = checkSize(name, "zeros", d.zeros.size(), rowGroups))
      return std::move(e);
    uint64_t zeroBits = 0;
    for (size_t q = 0; q < P; ++q)
      if (l.bits[q] != 16)
        zeroBits += uint64_t(plan.count[q]) * l.tile * l.bits[q];
    Stream &z = t.streams["zeros"];
    z.type = StreamType::U8;
    z.bytes.assign((zeroBits + 7) / 8, 0);
    for (int64_t row = 0; row < n; ++row)
      for (int64_t g = 0; g < plan.groupsPerRow; ++g) {
        int64_t rg = plan.quantRowGroup(row, g);
        if (rg < 0)
          continue;
        unsigned b = unsigned(plan.precisionBits(row, g));
        if (d.zeros[rg] >> b)
          return fail(name, formatv("zero point {0} of row-group {1} does not "
                                    "fit {2} bits",
                                    unsigned(d.zeros[rg]), rg, b));
        uint64_t bit = plan.zeroBit(row, g);
        // zeroBit is a multiple of the width, so the field is code bit/b.
        putBits(z.bytes, b, bit / b, d.zeros[rg]);
      }
  } else if (!d.zeros.empty()) {
    return fail(name, "zero points given for a symmetric layout");
  }

  // Outlier slots.
  if (l.outliers == OutlierKind::Slots) {
    uint64_t slots = uint64_t(plan.twoBitRowGroups()) * l.slots;
    if (auto e = checkSize(name, "slot indices", d.slotIndex.size(), slots))
      return std::move(e);
    if (auto e = checkSize(name, "slot values", d.slotValue.size(), slots))
      return std::move(e);
    Stream &index = t.streams["slot_index"];
    index.type = l.group > 256 ? StreamType::U16 : StreamType::U8;
    for (uint64_t i = 0; i < slots; ++i) {
      if (d.slotIndex[i] >= l.group)
        return fail(name, formatv("slot {0} has in-group index {1} outside the "
                                  "group of {2}",
                                  i, d.slotIndex[i], l.group));
      if (l.group > 256)
        appendU16(index.bytes, d.slotIndex[i]);
      else
        index.bytes.push_back(uint8_t(d.slotIndex[i]));
    }
    t.streams["slot_value"] = {StreamType::F16, encodeF16(d.slotValue)};
  } else if (!d.slotIndex.empty() || !d.slotValue.empty()) {
    return fail(name, "outlier slots given for a layout without slots");
  }
  return finish(std::move(t));
}

llvm::Expected<QuantizedTensor>
mixq::packLut(llvm::StringRef name, const Layout &l, int64_t n, int64_t k,
              llvm::ArrayRef<uint8_t> codes, llvm::ArrayRef<float> lut,
              llvm::ArrayRef<CsrEntry> outliers) {
  if (l.scheme != Scheme::Lut)
    return fail(name, "packLut needs a 'lut' layout");
  if (auto e = verifyLayoutForShape(l, n, k))
    return fail(name, llvm::toString(std::move(e)));
  unsigned b = unsigned(l.bits[0]);
  if (auto e = checkSize(name, "codes", codes.size(), uint64_t(n) * k))
    return std::move(e);
  if (auto e = checkCodeRange(codes, b, "packing '" + name + "': codes"))
    return std::move(e);
  if (auto e = checkSize(name, "lut", lut.size(), uint64_t(n) << b))
    return std::move(e);
  uint64_t nnz = l.outliers == OutlierKind::Csr ? uint64_t(l.nnz) : 0;
  if (auto e = checkSize(name, "outliers", outliers.size(), nnz))
    return std::move(e);
  QuantizedTensor t = start(name, l, n, k);
  t.streams["codes"] = {StreamType::U8, packBits(codes, b)};
  t.streams["lut"] = {StreamType::F16, encodeF16(lut)};
  if (l.outliers == OutlierKind::Csr) {
    std::vector<CsrEntry> sorted(outliers.begin(), outliers.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const CsrEntry &a, const CsrEntry &b) {
                return a.row != b.row ? a.row < b.row : a.col < b.col;
              });
    bool narrow = k <= 65536;
    Stream &rowptr = t.streams["csr_rowptr"];
    Stream &col = t.streams["csr_col"];
    Stream &value = t.streams["csr_value"];
    rowptr.type = StreamType::I32;
    col.type = narrow ? StreamType::U16 : StreamType::I32;
    value.type = StreamType::F16;
    size_t i = 0;
    appendI32(rowptr.bytes, 0);
    for (int64_t row = 0; row < n; ++row) {
      for (; i < sorted.size() && sorted[i].row == row; ++i) {
        const CsrEntry &e = sorted[i];
        if (e.col < 0 || e.col >= k)
          return fail(name, formatv("outlier ({0}, {1}) lies outside the {2}x"
                                    "{3} weight",
                                    e.row, e.col, n, k));
        if (i > 0 && sorted[i - 1].row == row && sorted[i - 1].col == e.col)
          return fail(
              name, formatv("outlier ({0}, {1}) appears twice", e.row, e.col));
        if (narrow)
          appendU16(col.bytes, uint16_t(e.col));
        else
          appendI32(col.bytes, int32_t(e.col));
        appendF16(value.bytes, e.value);
      }
      appendI32(rowptr.bytes, int32_t(i));
    }
    if (i != sorted.size())
      return fail(name, formatv("outlier ({0}, {1}) lies outside the {2}x{3} "
                                "weight",
                                sorted[i].row, sorted[i].col, n, k));
  }
  return finish(std::move(t));
}

llvm::Expected<QuantizedTensor>
mixq::packQuik(llvm::StringRef name, const Layout &l, int64_t n, int64_t k,
               llvm::ArrayRef<int8_t> codes, llvm::ArrayRef<float> scales,
               llvm::ArrayRef<int64_t> colIndex,
               llvm::ArrayRef<float> fp16Values) {
  if (l.scheme != Scheme::Quik)
    return fail(name, "packQuik needs a 'quik' layout");
  if (auto e = verifyLayoutForShape(l, n, k))
    return fail(name, llvm::toString(std::move(e)));
  int64_t b = l.bits[0], C = l.fp16Cols;
  if (auto e = checkSize(name, "codes", codes.size(), uint64_t(n) * k))
    return std::move(e);
  if (auto e = checkSize(name, "scales", scales.size(), uint64_t(n)))
    return std::move(e);
  if (auto e =
          checkSize(name, "FP16 column indices", colIndex.size(), uint64_t(C)))
    return std::move(e);
  if (auto e = checkSize(name, "FP16 column values", fp16Values.size(),
                         uint64_t(n) * C))
    return std::move(e);
  std::vector<bool> isOutlier(k, false);
  for (int64_t c = 0; c < C; ++c) {
    if (colIndex[c] < 0 || colIndex[c] >= k ||
        (c > 0 && colIndex[c] <= colIndex[c - 1]))
      return fail(name, formatv("FP16 column index {0} is out of range or not "
                                "increasing",
                                colIndex[c]));
    isOutlier[colIndex[c]] = true;
  }
  int32_t lo = -(int32_t(1) << (b - 1)), hi = (int32_t(1) << (b - 1)) - 1;
  std::vector<uint8_t> kept;
  kept.reserve(uint64_t(n) * (k - C));
  uint8_t mask = uint8_t((1u << b) - 1);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      if (isOutlier[col])
        continue;
      int32_t c = codes[uint64_t(row) * k + col];
      if (c < lo || c > hi)
        return fail(name, formatv("code {0} at ({1}, {2}) is outside the "
                                  "signed {3}-bit range",
                                  c, row, col, b));
      kept.push_back(uint8_t(uint8_t(c) & mask));
    }
  QuantizedTensor t = start(name, l, n, k);
  t.streams["codes"] = {StreamType::U8, packBits(kept, unsigned(b))};
  t.streams["scales"] = {StreamType::F16, encodeF16(scales)};
  t.streams["fp16_cols"] = {StreamType::F16, encodeF16(fp16Values)};
  Stream &index = t.streams["col_index"];
  index.type = StreamType::I32;
  for (int64_t c : colIndex)
    appendI32(index.bytes, int32_t(c));
  return finish(std::move(t));
}
