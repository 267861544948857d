//===- Plan.cpp - -mixq-plan -----------------------------------------------===//
//
// Attaches a #mixq.plan (kernel family, tile, split-K, stages) to every
// mixq.qmatmul that has none, from M, N x K, the layout's group and the
// target. The rules are documented in Passes.td and docs/Compiler.md.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include <algorithm>

namespace mixq {
#define GEN_PASS_DEF_MIXQPLAN
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;

namespace {

/// The largest multiple of `step` that is <= max(cap, step) and divides `k`;
/// `k` itself when there is none.
int64_t chooseTileK(int64_t k, int64_t step, int64_t cap) {
  for (int64_t t = std::max(cap, step) / step * step; t >= step; t -= step)
    if (k % t == 0)
      return t;
  return k;
}

/// `tileN` rounded up to whole tile-groups of a mixed layout, whose
/// precision switches per tile-group (any tile of other layouts).
int64_t alignTileN(int64_t tileN, LayoutAttr layout) {
  if (layout.getScheme() != Scheme::Mixed || layout.getTile() <= 0)
    return tileN;
  return (tileN + layout.getTile() - 1) / layout.getTile() * layout.getTile();
}

/// Whether the sm_90a wgmma GEMM (passes/gpu/WgmmaGemmKernel.cpp) covers
/// the weight: uniform 2/3/4/8-bit codes, K in whole 64-column tiles,
/// groups of a multiple of 16 columns that divide K (or per-row scales);
/// QUIK 4-bit codes with activations quantized to 4 or 8 bits, their
/// K - fp16_cols quantized columns in whole 128-code tiles (s8 wgmma).
bool wgmmaCovers(QWeightType weight) {
  LayoutAttr layout = weight.getLayout();
  if (layout.getScheme() == Scheme::Quik)
    return layout.getBits().size() == 1 && layout.getBits()[0] == 4 &&
           (layout.getActBits() == 4 || layout.getActBits() == 8) &&
           (weight.getK() - layout.getFp16Cols()) % 128 == 0;
  if (layout.getScheme() != Scheme::Uniform)
    return false;
  llvm::ArrayRef<int64_t> bits = layout.getBits();
  if (bits.size() != 1 || (bits[0] != 2 && bits[0] != 3 && bits[0] != 4 &&
                           bits[0] != 8))
    return false;
  int64_t k = weight.getK(), group = layout.getGroup();
  if (k % 64)
    return false;
  return group == 0 || (group % 16 == 0 && k % group == 0);
}

PlanAttr choosePlan(QMatmulOp op, PlanTarget target, bool wgmma) {
  auto weight = llvm::cast<QWeightType>(op.getWeight().getType());
  int64_t m = op.getInput().getType().getDimSize(0);
  int64_t n = weight.getN(), k = weight.getK();
  int64_t group = weight.getLayout().getGroup();
  // Per-row layouts (group 0) align K tiles to 32 elements.
  int64_t step = group > 0 ? group : 32;
  bool gemv = !ShapedType::isDynamic(m) && m <= 16;
  PlanKernel kernel = gemv ? PlanKernel::Gemv : PlanKernel::Gemm;
  MLIRContext *ctx = op.getContext();

  if (target == PlanTarget::X86) {
    int64_t tileK = chooseTileK(k, step, 512);
    int64_t tileM = gemv ? std::max<int64_t>(m, 1) : 4;
    return PlanAttr::get(ctx, target, kernel, tileM,
                         alignTileN(16, weight.getLayout()), tileK,
                         /*splitK=*/1, /*stages=*/1);
  }
  if (gemv) {
    // sm_80 and sm_90a: one 16-row mma fragment of M, 64 features per block.
    int64_t tileK = chooseTileK(k, step, 128);
    int64_t splitK = 1;
    if (n <= 4096 && k >= 8192 && (k / tileK) % 2 == 0)
      splitK = 2;
    return PlanAttr::get(ctx, target, kernel, 16,
                         alignTileN(64, weight.getLayout()), tileK, splitK,
                         /*stages=*/4);
  }
  // The tensor-core GEMM (passes/gpu/MmaGemmKernel.cpp): blocks of 64 rows
  // of x and 128 weight rows; sm_90a runs the wgmma kernel where it covers
  // the weight (same block; its K tile is 64 columns whatever tile[2]
  // says), else the same mma.sync kernel with one more stage in flight.
  if (target == PlanTarget::Sm90a && wgmma && wgmmaCovers(weight))
    kernel = PlanKernel::Wgmma;
  int64_t tileK = chooseTileK(k, step, 64);
  return PlanAttr::get(ctx, target, kernel, 64,
                       alignTileN(128, weight.getLayout()), tileK, 1,
                       target == PlanTarget::Sm80 ? 3 : 4);
}

struct PlanPass : public mixq::impl::MixQPlanBase<PlanPass> {
  using MixQPlanBase::MixQPlanBase;

  void runOnOperation() override {
    std::optional<PlanTarget> parsed = symbolizePlanTarget(target);
    if (!parsed) {
      getOperation()->emitError()
          << "-mixq-plan: unknown target '" << target
          << "'; expected x86, sm_80 or sm_90a";
      return signalPassFailure();
    }
    if (sm90Gemm != "wgmma" && sm90Gemm != "mma") {
      getOperation()->emitError()
          << "-mixq-plan: unknown sm90-gemm '" << sm90Gemm
          << "'; expected wgmma or mma";
      return signalPassFailure();
    }
    getOperation()->walk([&](QMatmulOp op) {
      if (!op.getPlanAttr())
        op.setPlanAttr(choosePlan(op, *parsed, sm90Gemm == "wgmma"));
    });
  }
};

} // namespace
