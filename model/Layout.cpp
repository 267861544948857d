//===- Layout.cpp - Verification, storage accounting and JSON of layouts --===//
//
// Implements the rules each scheme imposes on its parameters, the exact
// storage count (see Layout.h for the byte streams), the textual form shared
// with the #mixq.layout attribute, and the JSON form of package metadata.
//
//===----------------------------------------------------------------------===//
#include "model/Layout.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mixq;
using llvm::formatv;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

bool contains(std::initializer_list<int64_t> set, int64_t value) {
  return llvm::is_contained(set, value);
}

std::string joinInts(const std::vector<int64_t> &values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i)
    s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

/// The parameters a scheme must leave at their defaults, with their names.
llvm::Error requireUnused(const Layout &l, bool group, bool asym, bool scales,
                          bool tileAlloc, bool fp16Cols, bool act) {
  llvm::StringRef scheme = schemeName(l.scheme);
  if (group && l.group != 0)
    return fail(formatv("'{0}' layouts take no group (the scale is per row)",
                        scheme));
  if (asym && l.asymmetric)
    return fail(formatv("'{0}' layouts are symmetric and take no 'asym'",
                        scheme));
  if (scales && l.scaleBits != 0)
    return fail(formatv("'{0}' layouts take no second-order 'scales'", scheme));
  if (tileAlloc && (l.tile != 0 || !l.alloc.empty()))
    return fail(formatv("'tile' and 'alloc' belong to 'mixed' layouts, not "
                        "'{0}'",
                        scheme));
  if (fp16Cols && l.fp16Cols != 0)
    return fail(formatv("'fp16_cols' belongs to 'quik' layouts, not '{0}'",
                        scheme));
  if (act && !(l.act == ActQuant()))
    return fail(formatv("'act' belongs to 'quik' layouts, not '{0}'", scheme));
  return llvm::Error::success();
}

llvm::Error requireSingleWidth(const Layout &l,
                               std::initializer_list<int64_t> allowed) {
  std::string set;
  for (int64_t b : allowed)
    set += (set.empty() ? "" : ", ") + std::to_string(b);
  if (l.bits.size() != 1 || !contains(allowed, l.bits[0]))
    return fail(formatv("'{0}' layouts take one bit width from {{{1}}, got {2}",
                        schemeName(l.scheme), set, joinInts(l.bits)));
  return llvm::Error::success();
}

/// 64-bit arithmetic that remembers whether anything overflowed.
struct Checked {
  bool overflow = false;
  uint64_t mul(uint64_t a, uint64_t b) {
    uint64_t r;
    overflow |= __builtin_mul_overflow(a, b, &r);
    return r;
  }
  uint64_t add(uint64_t a, uint64_t b) {
    uint64_t r;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  }
  /// `bits` rounded up to whole bytes.
  uint64_t bytes(uint64_t bits) { return add(bits, 7) / 8 * 8; }
  uint64_t ceilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }
  /// Scales of `count` groups: FP16 each, or second-order codes plus an FP16
  /// scale and an FP16 minimum per block.
  uint64_t scaleBits(const Layout &l, uint64_t count) {
    if (l.scaleBits == 0)
      return mul(count, 16);
    return add(bytes(mul(count, l.scaleBits)),
               mul(ceilDiv(count, l.scaleBlock), 32));
  }
};

} // namespace

llvm::StringRef mixq::schemeName(Scheme scheme) {
  switch (scheme) {
  case Scheme::Dense:
    return "dense";
  case Scheme::Uniform:
    return "uniform";
  case Scheme::Mixed:
    return "mixed";
  case Scheme::Lut:
    return "lut";
  case Scheme::Quik:
    return "quik";
  }
  return "?";
}

std::optional<Scheme> mixq::parseSchemeName(llvm::StringRef name) {
  for (Scheme s : {Scheme::Dense, Scheme::Uniform, Scheme::Mixed, Scheme::Lut,
                   Scheme::Quik})
    if (schemeName(s) == name)
      return s;
  return std::nullopt;
}

llvm::StringRef mixq::outlierKindName(OutlierKind kind) {
  switch (kind) {
  case OutlierKind::None:
    return "none";
  case OutlierKind::Slots:
    return "slots";
  case OutlierKind::Csr:
    return "csr";
  }
  return "?";
}

std::optional<OutlierKind> mixq::parseOutlierKindName(llvm::StringRef name) {
  for (OutlierKind k : {OutlierKind::None, OutlierKind::Slots, OutlierKind::Csr})
    if (outlierKindName(k) == name)
      return k;
  return std::nullopt;
}

bool Layout::operator==(const Layout &o) const {
  return scheme == o.scheme && bits == o.bits && group == o.group &&
         asymmetric == o.asymmetric && scaleBits == o.scaleBits &&
         scaleBlock == o.scaleBlock && outliers == o.outliers &&
         slots == o.slots && nnz == o.nnz && tile == o.tile &&
         alloc == o.alloc && fp16Cols == o.fp16Cols && act == o.act;
}

llvm::Error mixq::verifyLayout(const Layout &l) {
  if (l.bits.empty())
    return fail("'bits' must name at least one bit width");
  for (auto [name, value] :
       {std::pair<const char *, int64_t>{"group", l.group},
        {"slots", l.slots},
        {"nnz", l.nnz},
        {"tile", l.tile},
        {"fp16_cols", l.fp16Cols}})
    if (value < 0)
      return fail(formatv("'{0}' must not be negative, got {1}", name, value));
  for (int64_t a : l.alloc)
    if (a < 0)
      return fail(formatv("'alloc' counts must not be negative, got {0}",
                          joinInts(l.alloc)));

  // Second-order scales.
  if (l.scaleBits != 0) {
    if (l.scaleBits < 2 || l.scaleBits > 8)
      return fail(formatv("second-order scales take 2 to 8 bits, got {0}",
                          l.scaleBits));
    if (l.scaleBlock < 1)
      return fail(formatv("second-order scale block must be at least 1, got "
                          "{0}",
                          l.scaleBlock));
  } else if (l.scaleBlock != 0) {
    return fail("a scale block needs second-order scale bits");
  }

  // Outlier parameters agree with the outlier kind.
  switch (l.outliers) {
  case OutlierKind::None:
    if (l.slots != 0 || l.nnz != 0)
      return fail("outlier counts given without an outlier kind");
    break;
  case OutlierKind::Slots:
    if (l.slots < 1)
      return fail("'slots' outliers need at least one slot per group");
    if (l.nnz != 0)
      return fail("'slots' outliers take no CSR count");
    break;
  case OutlierKind::Csr:
    if (l.slots != 0)
      return fail("'csr' outliers take no slot count");
    break;
  }

  if (l.act.bits != 4 && l.act.bits != 8 && l.act.bits != 16)
    return fail(formatv("activation quantization takes 4, 8 or 16 bits, got "
                        "{0}",
                        l.act.bits));

  switch (l.scheme) {
  case Scheme::Dense:
    if (auto e = requireSingleWidth(l, {16, 32}))
      return e;
    if (l.outliers != OutlierKind::None)
      return fail("'dense' layouts carry no outliers");
    return requireUnused(l, true, true, true, true, true, true);

  case Scheme::Uniform:
    if (auto e = requireSingleWidth(l, {2, 3, 4, 8}))
      return e;
    if (l.outliers != OutlierKind::None)
      return fail("'uniform' layouts carry no outliers");
    return requireUnused(l, false, false, false, true, true, true);

  case Scheme::Mixed: {
    if (l.bits.size() < 2 || l.bits[0] != 2 ||
        !std::is_sorted(l.bits.begin(), l.bits.end()) ||
        std::adjacent_find(l.bits.begin(), l.bits.end()) != l.bits.end() ||
        llvm::any_of(l.bits, [](int64_t b) { return !contains({2, 4, 16}, b); }))
      return fail(formatv("'mixed' layouts take 2-bit plus 4 and/or 16-bit "
                          "precisions in increasing order, got {0}",
                          joinInts(l.bits)));
    if (l.group <= 0)
      return fail("'mixed' layouts need a positive 'group'");
    if (l.tile <= 0 || l.tile % 16 != 0)
      return fail(formatv("'mixed' layouts need a 'tile' that is a positive "
                          "multiple of 16 rows, got {0}",
                          l.tile));
    if (l.alloc.size() != l.bits.size())
      return fail(formatv("'alloc' needs one tile-group count per precision "
                          "({0}), got {1}",
                          l.bits.size(), l.alloc.size()));
    if (l.outliers == OutlierKind::Csr)
      return fail("'mixed' layouts keep exclusive outliers in fixed 'slots', "
                  "not 'csr'");
    if (l.slots > l.group)
      return fail(formatv("{0} outlier slots exceed the group of {1}", l.slots,
                          l.group));
    return requireUnused(l, false, false, false, false, true, true);
  }

  case Scheme::Lut:
    if (auto e = requireSingleWidth(l, {3, 4}))
      return e;
    if (l.outliers == OutlierKind::Slots)
      return fail("'lut' layouts keep outliers in 'csr', not 'slots'");
    return requireUnused(l, true, true, true, true, true, true);

  case Scheme::Quik:
    if (auto e = requireSingleWidth(l, {4, 8}))
      return e;
    if (l.outliers != OutlierKind::None)
      return fail("'quik' layouts keep outliers as 'fp16_cols', not as "
                  "sparse outliers");
    return requireUnused(l, true, true, true, true, false, false);
  }
  return fail("unknown scheme");
}

llvm::Error mixq::verifyLayoutForShape(const Layout &l, int64_t n, int64_t k) {
  if (auto e = verifyLayout(l))
    return e;
  if (n <= 0 || k <= 0)
    return fail(formatv("weight shape {0}x{1} must be positive", n, k));
  if (l.group > 0 && k % l.group != 0)
    return fail(formatv("group size {0} does not divide K = {1}", l.group, k));
  if (l.scheme == Scheme::Mixed) {
    if (n % l.tile != 0)
      return fail(formatv("tile of {0} rows does not divide N = {1}", l.tile,
                          n));
    Checked c;
    uint64_t tileGroups = c.mul(n / l.tile, k / l.group);
    uint64_t allocated = 0;
    for (int64_t a : l.alloc)
      allocated = c.add(allocated, a);
    if (c.overflow || allocated != tileGroups)
      return fail(formatv("'alloc' {0} covers {1} tile-groups, but a {2}x{3} "
                          "weight has {4}",
                          joinInts(l.alloc), allocated, n, k, tileGroups));
  }
  if (l.outliers == OutlierKind::Csr &&
      static_cast<uint64_t>(l.nnz) > static_cast<uint64_t>(n) * k)
    return fail(formatv("{0} CSR outliers exceed the {1} weights", l.nnz,
                        static_cast<uint64_t>(n) * k));
  if (l.fp16Cols > k)
    return fail(formatv("{0} FP16 columns exceed K = {1}", l.fp16Cols, k));
  return llvm::Error::success();
}

llvm::Expected<StorageBits> mixq::storageBits(const Layout &l, int64_t n,
                                              int64_t k) {
  if (auto e = verifyLayoutForShape(l, n, k))
    return std::move(e);
  Checked c;
  StorageBits s;
  uint64_t N = n, K = k;
  uint64_t weights = c.mul(N, K);
  switch (l.scheme) {
  case Scheme::Dense:
    s.codes = c.mul(weights, l.bits[0]);
    break;
  case Scheme::Uniform: {
    uint64_t b = l.bits[0];
    uint64_t groups = l.group ? c.mul(N, K / l.group) : N;
    s.codes = c.bytes(c.mul(weights, b));
    s.scales = c.scaleBits(l, groups);
    if (l.asymmetric)
      s.zeros = c.bytes(c.mul(groups, b));
    break;
  }
  case Scheme::Mixed: {
    uint64_t tileWeights = c.mul(l.tile, l.group);
    uint64_t quantRowGroups = 0, zeroBits = 0;
    for (size_t p = 0; p < l.bits.size(); ++p) {
      uint64_t b = l.bits[p], count = l.alloc[p];
      s.codes = c.add(s.codes, c.bytes(c.mul(c.mul(count, tileWeights), b)));
      if (b == 16)
        continue;
      uint64_t rowGroups = c.mul(count, l.tile);
      quantRowGroups = c.add(quantRowGroups, rowGroups);
      zeroBits = c.add(zeroBits, c.mul(rowGroups, b));
    }
    s.scales = c.scaleBits(l, quantRowGroups);
    if (l.asymmetric)
      s.zeros = c.bytes(zeroBits);
    uint64_t tileGroups = c.mul(N / l.tile, K / l.group);
    s.maps = c.add(c.bytes(c.mul(tileGroups, 2)),
                   c.mul(c.mul(N / l.tile, l.bits.size()), 32));
    if (l.outliers == OutlierKind::Slots) {
      uint64_t slots = c.mul(c.mul(l.alloc[0], l.tile), l.slots);
      s.outlierIndex = c.mul(slots, l.group > 256 ? 16 : 8);
      s.outlierValue = c.mul(slots, 16);
    }
    break;
  }
  case Scheme::Lut: {
    uint64_t b = l.bits[0];
    s.codes = c.bytes(c.mul(weights, b));
    s.luts = c.mul(c.mul(N, uint64_t(1) << b), 16);
    if (l.outliers == OutlierKind::Csr) {
      s.outlierIndex = c.add(c.mul(N + 1, 32),
                             c.mul(l.nnz, K <= 65536 ? 16 : 32));
      s.outlierValue = c.mul(l.nnz, 16);
    }
    break;
  }
  case Scheme::Quik: {
    uint64_t quantCols = K - l.fp16Cols;
    s.codes = c.bytes(c.mul(c.mul(N, quantCols), l.bits[0]));
    s.scales = c.mul(N, 16);
    s.outlierValue = c.mul(c.mul(N, l.fp16Cols), 16);
    s.outlierIndex = c.mul(l.fp16Cols, 32);
    break;
  }
  }
  uint64_t total = s.codes;
  for (uint64_t part : {s.scales, s.zeros, s.maps, s.luts, s.outlierIndex,
                        s.outlierValue})
    total = c.add(total, part);
  if (c.overflow)
    return fail(formatv("storage of a {0}x{1} weight overflows 64 bits", n, k));
  return s;
}

llvm::Expected<double> mixq::bitsPerWeight(const Layout &l, int64_t n,
                                           int64_t k) {
  auto s = storageBits(l, n, k);
  if (!s)
    return s.takeError();
  return static_cast<double>(s->total()) /
         (static_cast<double>(n) * static_cast<double>(k));
}

std::string mixq::formatLayout(const Layout &l) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << schemeName(l.scheme) << ", bits = ";
  if (l.scheme == Scheme::Mixed || l.bits.size() != 1)
    os << joinInts(l.bits);
  else
    os << l.bits[0];
  if (l.group)
    os << ", group = " << l.group;
  if (l.tile)
    os << ", tile = " << l.tile;
  if (!l.alloc.empty())
    os << ", alloc = " << joinInts(l.alloc);
  if (l.asymmetric)
    os << ", asym";
  if (l.scaleBits)
    os << ", scales = <" << l.scaleBits << ", " << l.scaleBlock << ">";
  if (l.outliers == OutlierKind::Slots)
    os << ", outliers = slots<" << l.slots << ">";
  if (l.outliers == OutlierKind::Csr)
    os << ", outliers = csr<" << l.nnz << ">";
  if (l.fp16Cols)
    os << ", fp16_cols = " << l.fp16Cols;
  if (!(l.act == ActQuant()))
    os << ", act = <" << l.act.bits << ", per_token, "
       << (l.act.asymmetric ? "asym" : "sym") << ">";
  return s;
}

llvm::json::Value mixq::layoutToJSON(const Layout &l) {
  llvm::json::Object o;
  o["scheme"] = schemeName(l.scheme).str();
  o["bits"] = llvm::json::Array(l.bits);
  o["group"] = l.group;
  o["asym"] = l.asymmetric;
  if (l.scaleBits)
    o["scales"] = llvm::json::Object{{"bits", l.scaleBits},
                                     {"block", l.scaleBlock}};
  llvm::json::Object outliers{{"kind", outlierKindName(l.outliers).str()}};
  if (l.outliers == OutlierKind::Slots)
    outliers["slots"] = l.slots;
  if (l.outliers == OutlierKind::Csr)
    outliers["nnz"] = l.nnz;
  o["outliers"] = std::move(outliers);
  if (l.scheme == Scheme::Mixed) {
    o["tile"] = l.tile;
    o["alloc"] = llvm::json::Array(l.alloc);
  }
  if (l.scheme == Scheme::Quik) {
    o["fp16_cols"] = l.fp16Cols;
    o["act"] = llvm::json::Object{{"bits", l.act.bits},
                                  {"asym", l.act.asymmetric}};
  }
  return o;
}

namespace {

/// Strict reader of one JSON object: every key must be known and typed right.
class ObjectReader {
public:
  ObjectReader(const llvm::json::Object &object, llvm::StringRef where)
      : object(object), where(where.str()) {}

  llvm::Error checkKeys(std::initializer_list<llvm::StringRef> known) {
    for (const auto &entry : object)
      if (!llvm::is_contained(known, entry.first.str()))
        return fail(formatv("{0}: unknown key '{1}'", where, entry.first));
    return llvm::Error::success();
  }
  llvm::Error getInt(llvm::StringRef key, int64_t &out, bool required) {
    const llvm::json::Value *v = object.get(key);
    if (!v)
      return required ? fail(formatv("{0}: missing '{1}'", where, key))
                      : llvm::Error::success();
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return fail(formatv("{0}: '{1}' must be an integer", where, key));
    out = *i;
    return llvm::Error::success();
  }
  llvm::Error getBool(llvm::StringRef key, bool &out) {
    const llvm::json::Value *v = object.get(key);
    if (!v)
      return llvm::Error::success();
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return fail(formatv("{0}: '{1}' must be true or false", where, key));
    out = *b;
    return llvm::Error::success();
  }
  llvm::Error getInts(llvm::StringRef key, std::vector<int64_t> &out,
                      bool required) {
    const llvm::json::Value *v = object.get(key);
    if (!v)
      return required ? fail(formatv("{0}: missing '{1}'", where, key))
                      : llvm::Error::success();
    const llvm::json::Array *a = v->getAsArray();
    if (!a)
      return fail(formatv("{0}: '{1}' must be an array of integers", where,
                          key));
    out.clear();
    for (const llvm::json::Value &e : *a) {
      std::optional<int64_t> i = e.getAsInteger();
      if (!i)
        return fail(formatv("{0}: '{1}' must be an array of integers", where,
                            key));
      out.push_back(*i);
    }
    return llvm::Error::success();
  }
  llvm::Expected<const llvm::json::Object *> getObject(llvm::StringRef key) {
    const llvm::json::Value *v = object.get(key);
    if (!v)
      return nullptr;
    const llvm::json::Object *o = v->getAsObject();
    if (!o)
      return fail(formatv("{0}: '{1}' must be an object", where, key));
    return o;
  }

private:
  const llvm::json::Object &object;
  std::string where;
};

} // namespace

llvm::Expected<Layout> mixq::layoutFromJSON(const llvm::json::Value &value) {
  const llvm::json::Object *object = value.getAsObject();
  if (!object)
    return fail("layout: expected a JSON object");
  ObjectReader r(*object, "layout");
  if (auto e = r.checkKeys({"scheme", "bits", "group", "asym", "scales",
                            "outliers", "tile", "alloc", "fp16_cols", "act"}))
    return std::move(e);
  Layout l;
  std::optional<llvm::StringRef> scheme = object->getString("scheme");
  if (!scheme)
    return fail("layout: missing string 'scheme'");
  std::optional<Scheme> parsed = parseSchemeName(*scheme);
  if (!parsed)
    return fail(formatv("layout: unknown scheme '{0}'", *scheme));
  l.scheme = *parsed;
  if (auto e = r.getInts("bits", l.bits, true))
    return std::move(e);
  if (auto e = r.getInt("group", l.group, false))
    return std::move(e);
  if (auto e = r.getBool("asym", l.asymmetric))
    return std::move(e);
  if (auto e = r.getInt("tile", l.tile, false))
    return std::move(e);
  if (auto e = r.getInts("alloc", l.alloc, false))
    return std::move(e);
  if (auto e = r.getInt("fp16_cols", l.fp16Cols, false))
    return std::move(e);

  auto scales = r.getObject("scales");
  if (!scales)
    return scales.takeError();
  if (*scales) {
    ObjectReader s(**scales, "layout.scales");
    if (auto e = s.checkKeys({"bits", "block"}))
      return std::move(e);
    if (auto e = s.getInt("bits", l.scaleBits, true))
      return std::move(e);
    if (auto e = s.getInt("block", l.scaleBlock, true))
      return std::move(e);
  }

  auto outliers = r.getObject("outliers");
  if (!outliers)
    return outliers.takeError();
  if (*outliers) {
    ObjectReader o(**outliers, "layout.outliers");
    if (auto e = o.checkKeys({"kind", "slots", "nnz"}))
      return std::move(e);
    std::optional<llvm::StringRef> kind = (*outliers)->getString("kind");
    std::optional<OutlierKind> k =
        kind ? parseOutlierKindName(*kind) : std::nullopt;
    if (!k)
      return fail("layout.outliers: 'kind' must be none, slots or csr");
    l.outliers = *k;
    if (auto e = o.getInt("slots", l.slots, false))
      return std::move(e);
    if (auto e = o.getInt("nnz", l.nnz, false))
      return std::move(e);
  }

  auto act = r.getObject("act");
  if (!act)
    return act.takeError();
  if (*act) {
    ObjectReader a(**act, "layout.act");
    if (auto e = a.checkKeys({"bits", "asym"}))
      return std::move(e);
    if (auto e = a.getInt("bits", l.act.bits, true))
      return std::move(e);
    if (auto e = a.getBool("asym", l.act.asymmetric))
      return std::move(e);
  }

  if (auto e = verifyLayout(l))
    return fail("layout: " + llvm::toString(std::move(e)));
  return l;
}
