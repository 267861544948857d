//===- Layout.h - The quantized storage layout of one weight ----*- C++ -*-===//
//
// The plain C++ description of a mixq weight format: the single source of
// truth shared by the quantizer, the package reader/writer, the runtime and
// the compiler (the #mixq.layout attribute converts to and from it). No MLIR.
//
// A weight is an N x K matrix (N output features, K input features, the
// reduction dimension). Every scheme's storage is a set of byte streams:
//
//   dense    codes: N*K values of `bits` (16 = FP16, 32 = FP32)
//   uniform  codes: N*K codes of b bits; per group of `group` K-elements of one
//            row (group 0 = the whole row) a scale (FP16, or second-order:
//            `scaleBits` per scale plus an FP16 scale and an FP16 minimum per
//            block of `scaleBlock` scales) and, when asymmetric, a zero point
//            of b bits.
//   mixed    tile-groups of `tile` rows x `group` K-elements, each 2-, 4- or
//            16-bit (`alloc` counts them per precision); 2/4-bit row-groups
//            carry a scale (as above) and an optional zero at their own code
//            width; a 2-bit precision map per tile-group plus, per block of
//            `tile` rows, one 32-bit stream offset per precision; exclusive
//            outliers only in 2-bit row-groups, `slots` fixed slots each
//            (an 8-bit in-group index, 16-bit when group > 256, + FP16 value).
//   lut      codes: N*K codes of b bits indexing a per-row FP16 LUT of 2^b
//            entries; optional CSR outliers: (N+1) 32-bit row pointers, `nnz`
//            column indices (16-bit when K <= 65536, else 32-bit) and `nnz`
//            FP16 values.
//   quik     the K - fp16Cols quantized columns as b-bit symmetric codes with
//            one FP16 scale per output row; the fp16Cols outlier input columns
//            as FP16 values (N per column) with one 32-bit column index each.
//            Activations are quantized at run time (`act`), storing nothing.
//
// Each stream is rounded up to whole bytes. See docs/Layouts.md for the
// worked examples that the unit tests check.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_MODEL_LAYOUT_H
#define MIXQ_MODEL_LAYOUT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mixq {

enum class Scheme { Dense, Uniform, Mixed, Lut, Quik };
enum class OutlierKind { None, Slots, Csr };

llvm::StringRef schemeName(Scheme scheme);
std::optional<Scheme> parseSchemeName(llvm::StringRef name);
llvm::StringRef outlierKindName(OutlierKind kind);
std::optional<OutlierKind> parseOutlierKindName(llvm::StringRef name);

/// Per-token activation quantization applied at run time (QUIK).
struct ActQuant {
  int64_t bits = 16;       ///< 4, 8, or 16 (16: activations stay FP16)
  bool asymmetric = true;  ///< asymmetric (min/max) vs symmetric (abs-max)
  bool operator==(const ActQuant &o) const {
    return bits == o.bits && asymmetric == o.asymmetric;
  }
};

/// The storage format of one quantized weight. Fields that a scheme does not
/// use keep their defaults (verifyLayout rejects anything else).
struct Layout {
  Scheme scheme = Scheme::Dense;
  std::vector<int64_t> bits{16}; ///< code widths; mixed lists its precisions
  int64_t group = 0;             ///< K-elements per group; 0 = whole row
  bool asymmetric = false;       ///< weights carry zero points
  int64_t scaleBits = 0;         ///< 0 = FP16 scales; else second-order width
  int64_t scaleBlock = 0;        ///< scales per FP16 scale-of-scales block
  OutlierKind outliers = OutlierKind::None;
  int64_t slots = 0;             ///< mixed: outlier slots per 2-bit row-group
  int64_t nnz = 0;               ///< lut: CSR outlier count
  int64_t tile = 0;              ///< mixed: rows per tile-group
  std::vector<int64_t> alloc;    ///< mixed: tile-groups per precision
  int64_t fp16Cols = 0;          ///< quik: FP16 outlier input columns
  ActQuant act;                  ///< quik: run-time activation quantization

  bool operator==(const Layout &o) const;
  bool operator!=(const Layout &o) const { return !(*this == o); }
};

/// Exact storage of one weight, in bits, by kind of data.
struct StorageBits {
  uint64_t codes = 0;         ///< packed codes (and FP16 groups/dense values)
  uint64_t scales = 0;        ///< scales at their stored width, incl. 2nd order
  uint64_t zeros = 0;         ///< zero points
  uint64_t maps = 0;          ///< precision maps and stream offset tables
  uint64_t luts = 0;          ///< per-row lookup tables
  uint64_t outlierIndex = 0;  ///< outlier positions (slots, CSR, column ids)
  uint64_t outlierValue = 0;  ///< outlier values (FP16)
  uint64_t total() const {
    return codes + scales + zeros + maps + luts + outlierIndex + outlierValue;
  }
};

/// Checks everything that does not depend on the weight's shape. The message
/// names the offending parameter and the rule it breaks.
llvm::Error verifyLayout(const Layout &layout);

/// Checks `layout` for an N x K weight (includes verifyLayout).
llvm::Error verifyLayoutForShape(const Layout &layout, int64_t n, int64_t k);

/// The exact storage of an N x K weight; fails where the layout does not fit
/// the shape or a count overflows 64 bits.
llvm::Expected<StorageBits> storageBits(const Layout &layout, int64_t n,
                                        int64_t k);

/// storageBits(...).total() / (N * K).
llvm::Expected<double> bitsPerWeight(const Layout &layout, int64_t n,
                                     int64_t k);

/// The layout in the textual form of the #mixq.layout attribute's body, e.g.
/// "uniform, bits = 4, group = 128, asym".
std::string formatLayout(const Layout &layout);

/// JSON form used in package metadata; fromJSON(toJSON(l)) == l.
llvm::json::Value layoutToJSON(const Layout &layout);
llvm::Expected<Layout> layoutFromJSON(const llvm::json::Value &value);

} // namespace mixq

#endif // MIXQ_MODEL_LAYOUT_H
