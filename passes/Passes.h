//===- Passes.h - mixq passes ----------------------------------*- C++ -*-===//
//
// Declarations (create functions, options) and registration of mixq passes.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_PASSES_H
#define MIXQ_PASSES_PASSES_H

#include "dialect/MixQDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mixq {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mixq

#endif // MIXQ_PASSES_PASSES_H
