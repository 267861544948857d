//===- mixq-opt.cpp - The mixq optimizer driver ---------------------------===//
//
// An opt-style driver around MlirOptMain: parses a module, runs the passes or
// pipelines named on the command line, and prints the result. It knows the
// mixq dialect and passes plus the upstream ones mixq's pipelines use.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"
#include "passes/Passes.h"
#include "tools/mixq-opt/RegisterUpstream.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mixq::MixQDialect>();
  mixq::registerUpstreamDialects(registry);
  mixq::registerUpstreamPasses();
  mixq::registerMixQPasses();
  mixq::registerCpuPipeline();
  mixq::registerGpuPipeline();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "mixq optimizer driver: mixq dialect, passes and pipelines\n",
      registry));
}
