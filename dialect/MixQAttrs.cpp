//===- MixQAttrs.cpp - #mixq.layout parsing, printing and verification ----===//
//
// The attribute is a thin MLIR face of mixq::Layout: the parser fills a
// Layout, the verifier and the printer defer to model/Layout.cpp, so the
// compiler and the package format can never disagree. #mixq.plan's format is
// declarative; only its verifier is here.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mixq;

#include "dialect/MixQEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MixQAttrs.cpp.inc"

void MixQDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MixQAttrs.cpp.inc"
      >();
}

Layout LayoutAttr::toLayout() const {
  Layout l;
  l.scheme = getScheme();
  l.bits.assign(getBits().begin(), getBits().end());
  l.group = getGroup();
  l.asymmetric = getAsym();
  l.scaleBits = getScaleBits();
  l.scaleBlock = getScaleBlock();
  l.outliers = getOutliers();
  l.slots = getSlots();
  l.nnz = getNnz();
  l.tile = getTile();
  l.alloc.assign(getAlloc().begin(), getAlloc().end());
  l.fp16Cols = getFp16Cols();
  l.act.bits = getActBits();
  l.act.asymmetric = getActAsym();
  return l;
}

LayoutAttr LayoutAttr::get(MLIRContext *context, const Layout &l) {
  return Base::get(context, l.scheme, ArrayRef<int64_t>(l.bits), l.group,
                   l.asymmetric, l.scaleBits, l.scaleBlock, l.outliers, l.slots,
                   l.nnz, l.tile, ArrayRef<int64_t>(l.alloc), l.fp16Cols,
                   l.act.bits, l.act.asymmetric);
}

LogicalResult LayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 Scheme scheme, ArrayRef<int64_t> bits,
                                 int64_t group, bool asym, int64_t scaleBits,
                                 int64_t scaleBlock, OutlierKind outliers,
                                 int64_t slots, int64_t nnz, int64_t tile,
                                 ArrayRef<int64_t> alloc, int64_t fp16Cols,
                                 int64_t actBits, bool actAsym) {
  Layout l;
  l.scheme = scheme;
  l.bits.assign(bits.begin(), bits.end());
  l.group = group;
  l.asymmetric = asym;
  l.scaleBits = scaleBits;
  l.scaleBlock = scaleBlock;
  l.outliers = outliers;
  l.slots = slots;
  l.nnz = nnz;
  l.tile = tile;
  l.alloc.assign(alloc.begin(), alloc.end());
  l.fp16Cols = fp16Cols;
  l.act.bits = actBits;
  l.act.asymmetric = actAsym;
  if (llvm::Error e = verifyLayout(l))
    return emitError() << "invalid #mixq.layout: " << llvm::toString(std::move(e));
  return success();
}

LogicalResult PlanAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               PlanTarget target, PlanKernel kernel,
                               int64_t tileM, int64_t tileN, int64_t tileK,
                               int64_t splitK, int64_t stages) {
  if (tileM <= 0 || tileN <= 0 || tileK <= 0)
    return emitError() << "#mixq.plan tile sizes must be positive, got ["
                       << tileM << ", " << tileN << ", " << tileK << "]";
  if (splitK <= 0)
    return emitError() << "#mixq.plan split_k must be positive, got "
                       << splitK;
  if (stages <= 0)
    return emitError() << "#mixq.plan stages must be positive, got " << stages;
  if (kernel == PlanKernel::Wgmma && target != PlanTarget::Sm90a)
    return emitError() << "#mixq.plan kernel wgmma needs target sm_90a";
  if (kernel == PlanKernel::Gemv && tileM > 16)
    return emitError() << "#mixq.plan gemv tiles at most 16 rows, got tile m = "
                       << tileM;
  if (target == PlanTarget::X86) {
    if (stages != 1)
      return emitError() << "#mixq.plan for x86 has stages = 1, got "
                         << stages;
    return success();
  }
  if (stages < 2)
    return emitError() << "#mixq.plan for " << stringifyPlanTarget(target)
                       << " pipelines at least 2 stages, got " << stages;
  if (tileM % 16 != 0 || tileN % 16 != 0)
    return emitError() << "#mixq.plan for " << stringifyPlanTarget(target)
                       << " needs tile m and n multiples of 16, got ["
                       << tileM << ", " << tileN << ", " << tileK << "]";
  return success();
}

llvm::Expected<StorageBits>
LayoutAttr::getStorageBits(ArrayRef<int64_t> shape) const {
  if (shape.size() != 2)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "a quantized weight is 2-D (N x K)");
  return storageBits(toLayout(), shape[0], shape[1]);
}

namespace {

ParseResult parseIntList(AsmParser &p, std::vector<int64_t> &out) {
  out.clear();
  return p.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
    int64_t v;
    if (p.parseInteger(v))
      return failure();
    out.push_back(v);
    return success();
  });
}

ParseResult parseIntPair(AsmParser &p, int64_t &a, int64_t &b) {
  return failure(p.parseLess() || p.parseInteger(a) || p.parseComma() ||
                 p.parseInteger(b) || p.parseGreater());
}

/// `none`, `slots<k>` or `csr<nnz>`.
ParseResult parseOutliers(AsmParser &p, Layout &l) {
  SMLoc loc = p.getCurrentLocation();
  StringRef kind;
  if (p.parseKeyword(&kind))
    return failure();
  std::optional<OutlierKind> parsed = parseOutlierKindName(kind);
  if (!parsed)
    return p.emitError(loc, "expected outliers 'none', 'slots<k>' or "
                            "'csr<nnz>', got '")
           << kind << "'";
  l.outliers = *parsed;
  if (l.outliers == OutlierKind::None)
    return success();
  int64_t &count = l.outliers == OutlierKind::Slots ? l.slots : l.nnz;
  return failure(p.parseLess() || p.parseInteger(count) || p.parseGreater());
}

/// `<bits, per_token, asym|sym>`.
ParseResult parseAct(AsmParser &p, Layout &l) {
  StringRef granularity, symmetry;
  if (p.parseLess() || p.parseInteger(l.act.bits) || p.parseComma())
    return failure();
  SMLoc loc = p.getCurrentLocation();
  if (p.parseKeyword(&granularity))
    return failure();
  if (granularity != "per_token")
    return p.emitError(loc, "activation quantization is 'per_token', got '")
           << granularity << "'";
  if (p.parseComma())
    return failure();
  loc = p.getCurrentLocation();
  if (p.parseKeyword(&symmetry))
    return failure();
  if (symmetry != "asym" && symmetry != "sym")
    return p.emitError(loc, "expected 'asym' or 'sym', got '")
           << symmetry << "'";
  l.act.asymmetric = symmetry == "asym";
  return p.parseGreater();
}

} // namespace

Attribute LayoutAttr::parse(AsmParser &p, Type) {
  SMLoc loc = p.getCurrentLocation();
  Layout l;
  StringRef schemeWord;
  if (p.parseLess() || p.parseKeyword(&schemeWord))
    return {};
  std::optional<Scheme> scheme = parseSchemeName(schemeWord);
  if (!scheme) {
    p.emitError(loc, "unknown layout scheme '")
        << schemeWord << "'; expected dense, uniform, mixed, lut or quik";
    return {};
  }
  l.scheme = *scheme;
  l.bits.clear();

  llvm::StringSet<> seen;
  while (succeeded(p.parseOptionalComma())) {
    SMLoc keyLoc = p.getCurrentLocation();
    StringRef key;
    if (p.parseKeyword(&key))
      return {};
    if (!seen.insert(key).second) {
      p.emitError(keyLoc, "duplicate layout parameter '") << key << "'";
      return {};
    }
    if (key == "asym") {
      l.asymmetric = true;
      continue;
    }
    static const char *const known[] = {"bits", "group",    "tile",
                                        "alloc", "scales",  "outliers",
                                        "fp16_cols", "act"};
    if (!llvm::is_contained(known, key)) {
      p.emitError(keyLoc, "unknown layout parameter '") << key << "'";
      return {};
    }
    if (p.parseEqual())
      return {};
    ParseResult r = success();
    if (key == "bits") {
      if (succeeded(p.parseOptionalLSquare())) {
        l.bits.clear();
        do {
          int64_t b;
          if (p.parseInteger(b))
            return {};
          l.bits.push_back(b);
        } while (succeeded(p.parseOptionalComma()));
        r = p.parseRSquare();
      } else {
        l.bits.resize(1);
        r = p.parseInteger(l.bits[0]);
      }
    } else if (key == "group") {
      r = p.parseInteger(l.group);
    } else if (key == "tile") {
      r = p.parseInteger(l.tile);
    } else if (key == "fp16_cols") {
      r = p.parseInteger(l.fp16Cols);
    } else if (key == "alloc") {
      r = parseIntList(p, l.alloc);
    } else if (key == "scales") {
      r = parseIntPair(p, l.scaleBits, l.scaleBlock);
    } else if (key == "outliers") {
      r = parseOutliers(p, l);
    } else {
      r = parseAct(p, l);
    }
    if (failed(r))
      return {};
  }
  if (p.parseGreater())
    return {};
  if (l.bits.empty()) {
    p.emitError(loc, "#mixq.layout needs 'bits'");
    return {};
  }
  return getChecked([&] { return p.emitError(loc); }, p.getContext(),
                    l.scheme, ArrayRef<int64_t>(l.bits), l.group, l.asymmetric,
                    l.scaleBits, l.scaleBlock, l.outliers, l.slots, l.nnz,
                    l.tile, ArrayRef<int64_t>(l.alloc), l.fp16Cols, l.act.bits,
                    l.act.asymmetric);
}

void LayoutAttr::print(AsmPrinter &p) const {
  p << "<" << formatLayout(toLayout()) << ">";
}
