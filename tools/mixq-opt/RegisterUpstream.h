//===- RegisterUpstream.h - Upstream dialects and passes mixq uses -*- C++ -*-===//
//
// The upstream MLIR dialects, interfaces, passes and translations that mixq's
// pipelines use, registered one by one (never through the InitAll headers,
// which cost minutes of build time on two cores).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_REGISTERUPSTREAM_H
#define MIXQ_TOOLS_REGISTERUPSTREAM_H

namespace mlir {
class DialectRegistry;
}

namespace mixq {
/// Dialects, their external interface models and the LLVM IR translations.
void registerUpstreamDialects(mlir::DialectRegistry &registry);
/// Transformation and conversion passes and the GPU pipeline.
void registerUpstreamPasses();
} // namespace mixq

#endif // MIXQ_TOOLS_REGISTERUPSTREAM_H
