//===- MixQDialect.h - The mixq dialect ------------------------*- C++ -*-===//
//
// Declares the dialect and pulls in its attributes, types and ops.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_DIALECT_MIXQDIALECT_H
#define MIXQ_DIALECT_MIXQDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialect/MixQDialect.h.inc"

#include "dialect/MixQAttrs.h"
#include "dialect/MixQTypes.h"
#include "dialect/MixQOps.h"

#endif // MIXQ_DIALECT_MIXQDIALECT_H
