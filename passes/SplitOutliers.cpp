//===- SplitOutliers.cpp - -mixq-split-outliers ---------------------------===//
//
// qmatmul(x, W) with CSR outliers  ->  sparse_add(qmatmul(x, W \ S), x, W).
// See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mixq {
#define GEN_PASS_DEF_MIXQSPLITOUTLIERS
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;

namespace {

struct SplitCsrOutliers : public OpRewritePattern<QMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto weight = llvm::cast<QWeightType>(op.getWeight().getType());
    if (weight.getLayout().getOutliers() != OutlierKind::Csr)
      return rewriter.notifyMatchFailure(op, "the weight has no CSR outliers");
    if (op.getExcludeOutliers())
      return rewriter.notifyMatchFailure(op, "the outliers are already split");
    auto dense = QMatmulOp::create(rewriter, op.getLoc(), op.getType(),
                                   op.getInput(), op.getWeight(),
                                   /*exclude_outliers=*/true);
    if (PlanAttr plan = op.getPlanAttr())
      dense.setPlanAttr(plan); // the dense part keeps the product's plan
    rewriter.replaceOpWithNewOp<SparseAddOp>(op, op.getType(), dense,
                                             op.getInput(), op.getWeight());
    return success();
  }
};

struct SplitOutliersPass
    : public mixq::impl::MixQSplitOutliersBase<SplitOutliersPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SplitCsrOutliers>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
