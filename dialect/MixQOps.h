//===- MixQOps.h - mixq operations -----------------------------*- C++ -*-===//
//
// The ops declared in MixQOps.td.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_DIALECT_MIXQOPS_H
#define MIXQ_DIALECT_MIXQOPS_H

#include "dialect/MixQTypes.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/MixQOps.h.inc"

#endif // MIXQ_DIALECT_MIXQOPS_H
