//===- MixQDialect.cpp - The mixq dialect ---------------------------------===//
//
// Registers the dialect's attributes, types and ops.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mixq;

#include "dialect/MixQDialect.cpp.inc"

void MixQDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MixQAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/MixQTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialect/MixQOps.cpp.inc"
      >();
}
