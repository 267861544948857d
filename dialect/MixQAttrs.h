//===- MixQAttrs.h - mixq attributes ---------------------------*- C++ -*-===//
//
// #mixq.layout (backed by model/Layout.h) and #mixq.rope_style.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_DIALECT_MIXQATTRS_H
#define MIXQ_DIALECT_MIXQATTRS_H

#include "model/Layout.h"

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/MixQEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MixQAttrs.h.inc"

#endif // MIXQ_DIALECT_MIXQATTRS_H
