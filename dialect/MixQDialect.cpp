//===- MixQDialect.cpp - The mixq dialect ---------------------------------===//
//
// Registers the dialect's attributes, types and ops.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

using namespace mixq;

#include "dialect/MixQDialect.cpp.inc"

void MixQDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "dialect/MixQOps.cpp.inc"
      >();
}
