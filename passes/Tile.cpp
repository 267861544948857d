//===- Tile.cpp - -mixq-tile -----------------------------------------------===//
//
// Distributes every planned mixq.qmatmul over the units a target runs in
// parallel: an scf.forall over the plan's N tiles (output features, the
// weight rows a tile streams) and its K splits, each iteration one
// mixq.qmatmul_tile whose result is inserted into the shared output. Split
// products (split_k > 1) write partial sums into a [split_k x M x N] tensor
// that a linalg.reduce adds up. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mixq {
#define GEN_PASS_DEF_MIXQTILE
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;

namespace {

/// Replaces `op` by its tiled form.
void tileProduct(QMatmulOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto weight = llvm::cast<QWeightType>(op.getWeight().getType());
  PlanAttr plan = op.getPlanAttr();
  int64_t n = weight.getN(), k = weight.getK();
  int64_t tileN = std::min(plan.getTileN(), n);
  int64_t splitK = plan.getSplitK();
  int64_t kSize = k / splitK;
  RankedTensorType outType = op.getType();
  Type elem = outType.getElementType();
  Value x = op.getInput();

  SmallVector<Value> dynM;
  SmallVector<OpFoldResult> mSize;
  if (outType.isDynamicDim(0)) {
    dynM.push_back(tensor::DimOp::create(b, loc, x, 0));
    mSize.push_back(dynM.back());
  } else {
    mSize.push_back(b.getIndexAttr(outType.getDimSize(0)));
  }

  // Shared output: the product itself, or the partial sums of each split.
  SmallVector<int64_t> sharedShape(outType.getShape());
  if (splitK > 1)
    sharedShape.insert(sharedShape.begin(), splitK);
  Value init = tensor::EmptyOp::create(b, loc, sharedShape, elem, dynM);

  SmallVector<OpFoldResult> lbs{b.getIndexAttr(0)}, ubs{b.getIndexAttr(n)},
      steps{b.getIndexAttr(tileN)};
  if (splitK > 1) {
    lbs.push_back(b.getIndexAttr(0));
    ubs.push_back(b.getIndexAttr(splitK));
    steps.push_back(b.getIndexAttr(1));
  }
  auto forall = scf::ForallOp::create(b, loc, lbs, ubs, steps,
                                      ValueRange{init}, std::nullopt);
  Block *body = forall.getBody();
  b.setInsertionPoint(forall.getTerminator());
  Value row = body->getArgument(0);
  Value shared = forall.getRegionIterArgs()[0];

  // Rows of this tile: tileN, or what is left of N in the last tile.
  bool partial = n % tileN != 0;
  Value count;
  int64_t tileRows = tileN;
  if (partial) {
    AffineExpr d0 = b.getAffineDimExpr(0);
    auto map = AffineMap::get(1, 0, {b.getAffineConstantExpr(tileN), n - d0},
                              b.getContext());
    count = affine::AffineMinOp::create(b, loc, map, ValueRange{row});
    tileRows = ShapedType::kDynamic;
  } else {
    count = arith::ConstantIndexOp::create(b, loc, tileN);
  }
  Value kOffset;
  if (splitK > 1)
    kOffset = arith::MulIOp::create(
        b, loc, body->getArgument(1),
        arith::ConstantIndexOp::create(b, loc, kSize));
  else
    kOffset = arith::ConstantIndexOp::create(b, loc, 0);

  auto tileType =
      RankedTensorType::get({outType.getDimSize(0), tileRows}, elem);
  auto tile = QMatmulTileOp::create(
      b, loc, tileType, x, op.getWeight(), row, count, kOffset,
      b.getI64IntegerAttr(kSize), op.getExcludeOutliersAttr(), plan);

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  if (splitK > 1) {
    offsets.push_back(body->getArgument(1));
    sizes.push_back(b.getIndexAttr(1));
    strides.push_back(b.getIndexAttr(1));
  }
  offsets.append({b.getIndexAttr(0), row});
  sizes.append({mSize[0], count});
  if (!partial)
    sizes.back() = b.getIndexAttr(tileN);
  strides.append({b.getIndexAttr(1), b.getIndexAttr(1)});
  tensor::ParallelInsertSliceOp::create(b, loc, tile.getResult(), shared,
                                        offsets, sizes, strides);

  Value result = forall.getResult(0);
  b.setInsertionPointAfter(forall);
  if (splitK > 1) {
    // Sum the partial products of the K splits.
    Value empty = tensor::EmptyOp::create(b, loc, outType.getShape(), elem,
                                          dynM);
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elem));
    Value filled =
        linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    auto reduce = linalg::ReduceOp::create(
        b, loc, ValueRange{result}, ValueRange{filled},
        ArrayRef<int64_t>{0},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value sum = arith::AddFOp::create(nb, nloc, args[0], args[1]);
          linalg::YieldOp::create(nb, nloc, sum);
        });
    result = reduce.getResult(0);
  }
  op.getResult().replaceAllUsesWith(result);
  op.erase();
}

struct TilePass : public mixq::impl::MixQTileBase<TilePass> {
  void runOnOperation() override {
    SmallVector<QMatmulOp> products;
    bool unplanned = false;
    getOperation()->walk([&](QMatmulOp op) {
      if (!op.getPlanAttr()) {
        op.emitOpError("-mixq-tile: the product has no plan; run -mixq-plan "
                       "first");
        unplanned = true;
      }
      products.push_back(op);
    });
    if (unplanned)
      return signalPassFailure();
    for (QMatmulOp op : products)
      tileProduct(op);
  }
};

} // namespace
