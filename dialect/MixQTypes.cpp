//===- MixQTypes.cpp - !mixq.qweight --------------------------------------===//
//
// Parsing, printing and verification of the quantized weight type.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mixq;

#define GET_TYPEDEF_CLASSES
#include "dialect/MixQTypes.cpp.inc"

void MixQDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/MixQTypes.cpp.inc"
      >();
}

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, LayoutAttr layout) {
  if (shape.size() != 2)
    return emitError() << "!mixq.qweight needs a 2-D shape N x K, got rank "
                       << shape.size();
  auto bits = storageBits(layout.toLayout(), shape[0], shape[1]);
  if (!bits)
    return emitError() << "layout does not fit the " << shape[0] << "x"
                       << shape[1] << " weight: "
                       << llvm::toString(bits.takeError());
  return success();
}

StorageBits QWeightType::getStorageBits() const {
  // Verified on construction, so the count cannot fail.
  return llvm::cantFail(storageBits(getLayout().toLayout(), getN(), getK()));
}

double QWeightType::getBitsPerWeight() const {
  return static_cast<double>(getStorageBits().total()) /
         (static_cast<double>(getN()) * static_cast<double>(getK()));
}

Type QWeightType::parse(AsmParser &p) {
  SMLoc loc = p.getCurrentLocation();
  SmallVector<int64_t> shape;
  Attribute attr;
  if (p.parseLess() ||
      p.parseDimensionList(shape, /*allowDynamic=*/false,
                           /*withTrailingX=*/false) ||
      p.parseComma())
    return {};
  SMLoc attrLoc = p.getCurrentLocation();
  if (p.parseAttribute(attr) || p.parseGreater())
    return {};
  auto layout = llvm::dyn_cast<LayoutAttr>(attr);
  if (!layout) {
    p.emitError(attrLoc, "expected a #mixq.layout attribute");
    return {};
  }
  return getChecked([&] { return p.emitError(loc); }, p.getContext(), shape,
                    layout);
}

void QWeightType::print(AsmPrinter &p) const {
  p << "<";
  llvm::interleave(getShape(), p, "x");
  p << ", ";
  p.printAttribute(getLayout());
  p << ">";
}
