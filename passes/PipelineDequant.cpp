//===- PipelineDequant.cpp - -mixq-pipeline-dequant ------------------------===//
//
// Software-pipelines the K loop of the tensor-core GEMM (the scf.for that
// passes/gpu/MmaGemmKernel.cpp tags `mixq.pipeline = S`, its ops tagged
// `mixq.stage`) with upstream scf loop pipelining: copies S-1 tiles
// ahead, scale dequantization one tile ahead, wait + compute on the
// current tile; cp.async.wait_group becomes S-2 in the loop and 0 in the
// peeled epilogue. See Passes.td for the schedule.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/gpu/GpuKernels.h"

#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mixq {
#define GEN_PASS_DEF_MIXQPIPELINEDEQUANT
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;
using namespace mixq::device;

namespace {

/// The loop's ops by phase, in their order.
struct Phases {
  SmallVector<Operation *> copy, scales, wait, compute;
};

FailureOr<Phases> phasesOf(scf::ForOp loop) {
  Phases p;
  for (Operation &op : loop.getBody()->without_terminator()) {
    auto phase = op.getAttrOfType<StringAttr>(kStageAttr);
    if (!phase)
      return op.emitOpError("-mixq-pipeline-dequant: an op of a pipelined "
                            "loop has no 'mixq.stage' phase");
    if (phase.getValue() == kStageCopy)
      p.copy.push_back(&op);
    else if (phase.getValue() == kStageScales)
      p.scales.push_back(&op);
    else if (phase.getValue() == kStageWait)
      p.wait.push_back(&op);
    else if (phase.getValue() == kStageCompute)
      p.compute.push_back(&op);
    else
      return op.emitOpError() << "-mixq-pipeline-dequant: unknown phase '"
                              << phase.getValue()
                              << "'; expected copy, scales, wait or compute";
  }
  return p;
}

std::optional<int64_t> tripCount(scf::ForOp loop) {
  std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound());
  std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound());
  std::optional<int64_t> step = getConstantIntValue(loop.getStep());
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return *ub > *lb ? (*ub - *lb + *step - 1) / *step : 0;
}

LogicalResult pipelineLoop(scf::ForOp loop) {
  auto stagesAttr = loop->getAttrOfType<IntegerAttr>(kPipelineAttr);
  if (!stagesAttr || stagesAttr.getInt() < 2)
    return loop.emitOpError("-mixq-pipeline-dequant: 'mixq.pipeline' must be "
                            "an integer number of stages >= 2");
  const int64_t S = stagesAttr.getInt();
  FailureOr<Phases> phases = phasesOf(loop);
  if (failed(phases))
    return failure();
  std::optional<int64_t> trips = tripCount(loop);
  // Too few tiles to fill the pipeline: the plain order is correct.
  if (!trips || *trips < S)
    return success();

  scf::PipeliningOption options;
  const unsigned last = unsigned(S - 1), scaleStage = unsigned(S - 2);
  options.getScheduleFn =
      [&](scf::ForOp, std::vector<std::pair<Operation *, unsigned>> &order) {
        for (Operation *op : phases->wait)
          order.emplace_back(op, last);
        for (Operation *op : phases->copy)
          order.emplace_back(op, 0);
        for (Operation *op : phases->scales)
          order.emplace_back(op, scaleStage);
        for (Operation *op : phases->compute)
          order.emplace_back(op, last);
      };
  options.annotateFn = [&](Operation *op,
                           scf::PipeliningOption::PipelinerPart part,
                           unsigned) {
    auto wait = dyn_cast<NVVM::CpAsyncWaitGroupOp>(op);
    if (!wait)
      return;
    // In the loop S-2 younger groups may stay in flight; the epilogue
    // issues no more copies and drains them.
    bool kernel = part == scf::PipeliningOption::PipelinerPart::Kernel;
    wait.setN(kernel ? uint32_t(S - 2) : 0u);
  };
  options.peelEpilogue = true;
  IRRewriter rewriter(loop.getContext());
  rewriter.setInsertionPoint(loop);
  bool modified = false;
  FailureOr<scf::ForOp> pipelined =
      scf::pipelineForLoop(rewriter, loop, options, &modified);
  if (failed(pipelined) && modified)
    return loop.emitOpError("-mixq-pipeline-dequant: pipelining failed "
                            "half-way");
  return success();
}

struct PipelineDequantPass
    : public mixq::impl::MixQPipelineDequantBase<PipelineDequantPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation()->walk([&](scf::ForOp loop) {
      if (loop->hasAttr(kPipelineAttr))
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops)
      if (failed(pipelineLoop(loop)))
        return signalPassFailure();
    getOperation()->walk([](Operation *op) {
      op->removeAttr(kStageAttr);
      op->removeAttr(kPipelineAttr);
    });
  }
};

} // namespace
