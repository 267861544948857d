//===- MixQTypes.h - mixq types --------------------------------*- C++ -*-===//
//
// !mixq.qweight.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_DIALECT_MIXQTYPES_H
#define MIXQ_DIALECT_MIXQTYPES_H

#include "dialect/MixQAttrs.h"

#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "dialect/MixQTypes.h.inc"

#endif // MIXQ_DIALECT_MIXQTYPES_H
