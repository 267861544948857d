//===- MixQOps.cpp - mixq op verifiers ------------------------------------===//
//
// Every op checks the shapes, element types and layouts it is given, so that
// passes can rely on consistent IR.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mixq;

#define GET_OP_CLASSES
#include "dialect/MixQOps.cpp.inc"

namespace {

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

/// Checks that `t` has the given rank; names it `what` otherwise.
LogicalResult checkRank(Operation *op, RankedTensorType t, int64_t rank,
                        StringRef what, StringRef shape) {
  if (t.getRank() != rank)
    return op->emitOpError() << what << " must be " << shape << " (rank "
                             << rank << "), got rank " << t.getRank();
  return success();
}

/// Two extents of the same dimension agree (both dynamic, or equal).
LogicalResult checkSameDim(Operation *op, int64_t a, StringRef aName,
                           int64_t b, StringRef bName, StringRef dim) {
  if (a != b)
    return op->emitOpError() << aName << " has " << dim << " = "
                             << dimString(a) << " but " << bName << " has "
                             << dim << " = " << dimString(b);
  return success();
}

/// input (M x K) times weight (N x K)^T gives an M x N `product`.
LogicalResult verifyProductShapes(Operation *op, RankedTensorType input,
                                  QWeightType weight, RankedTensorType product,
                                  StringRef productName) {
  if (failed(checkRank(op, input, 2, "input", "M x K")) ||
      failed(checkRank(op, product, 2, productName, "M x N")))
    return failure();
  if (failed(checkSameDim(op, input.getDimSize(1), "the input", weight.getK(),
                          "the weight", "K")) ||
      failed(checkSameDim(op, product.getDimSize(1), "the " + productName.str(),
                          weight.getN(), "the weight", "N")) ||
      failed(checkSameDim(op, product.getDimSize(0), "the " + productName.str(),
                          input.getDimSize(0), "the input", "M")))
    return failure();
  return success();
}

} // namespace

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty package tensor name");
  return success();
}

LogicalResult QMatmulOp::verify() {
  auto weight = llvm::cast<QWeightType>(getWeight().getType());
  if (failed(verifyProductShapes(*this, getInput().getType(), weight,
                                 getResult().getType(), "result")))
    return failure();
  if (getExcludeOutliers() &&
      weight.getLayout().getOutliers() != OutlierKind::Csr)
    return emitOpError("'exclude_outliers' needs a weight with CSR outliers");
  if (PlanAttr plan = getPlanAttr()) {
    int64_t k = weight.getK();
    int64_t group = weight.getLayout().getGroup();
    int64_t tileK = plan.getTileK();
    if (k % tileK != 0)
      return emitOpError() << "plan tile k = " << tileK
                           << " must divide the weight's K = " << k;
    if (group > 0 && tileK % group != 0 && tileK != k)
      return emitOpError() << "plan tile k = " << tileK
                           << " must be a multiple of the layout's group = "
                           << group << " (or equal K = " << k << ")";
    if (plan.getKernel() == PlanKernel::Gemv) {
      int64_t m = getInput().getType().getDimSize(0);
      if (ShapedType::isDynamic(m) || m > 16)
        return emitOpError() << "a gemv plan needs a static M <= 16, got M = "
                             << dimString(m);
    }
    if ((k / tileK) % plan.getSplitK() != 0)
      return emitOpError() << "plan split_k = " << plan.getSplitK()
                           << " must divide K / tile k = " << k / tileK;
  }
  return success();
}

LogicalResult QMatmulTileOp::verify() {
  auto weight = llvm::cast<QWeightType>(getWeight().getType());
  RankedTensorType input = getInput().getType(), result = getResult().getType();
  if (failed(checkRank(*this, input, 2, "input", "M x K")) ||
      failed(checkRank(*this, result, 2, "result", "M x rows")) ||
      failed(checkSameDim(*this, input.getDimSize(1), "the input",
                          weight.getK(), "the weight", "K")) ||
      failed(checkSameDim(*this, result.getDimSize(0), "the result",
                          input.getDimSize(0), "the input", "M")))
    return failure();
  if (getExcludeOutliers() &&
      weight.getLayout().getOutliers() != OutlierKind::Csr)
    return emitOpError("'exclude_outliers' needs a weight with CSR outliers");
  PlanAttr plan = getPlan();
  int64_t k = weight.getK(), n = weight.getN(), kSize = getKSize();
  int64_t rows = result.getDimSize(1);
  if (!ShapedType::isDynamic(rows) && (rows > plan.getTileN() || rows > n))
    return emitOpError() << "a tile of " << rows << " rows exceeds the plan's "
                         << "tile n = " << plan.getTileN()
                         << " or the weight's N = " << n;
  if (kSize * plan.getSplitK() != k)
    return emitOpError() << "k_size = " << kSize << " times the plan's split_k"
                         << " = " << plan.getSplitK() << " must be K = " << k;
  if (kSize % plan.getTileK() != 0)
    return emitOpError() << "k_size = " << kSize << " must be a multiple of "
                         << "the plan's tile k = " << plan.getTileK();
  auto constant = [](Value v) -> std::optional<int64_t> {
    APInt c;
    if (matchPattern(v, m_ConstantInt(&c)))
      return c.getSExtValue();
    return std::nullopt;
  };
  std::optional<int64_t> off = constant(getRowOffset()),
                         count = constant(getRowCount());
  if (count && !ShapedType::isDynamic(rows) && *count != rows)
    return emitOpError() << "row_count = " << *count
                         << " differs from the result's " << rows << " rows";
  if (off && count && (*off < 0 || *count < 1 || *off + *count > n))
    return emitOpError() << "rows [" << *off << ", " << *off + *count
                         << ") leave the weight's " << n << " rows";
  return success();
}

LogicalResult DequantOp::verify() {
  auto weight = llvm::cast<QWeightType>(getWeight().getType());
  if (getResult().getType().getShape() != weight.getShape())
    return emitOpError() << "result must have the weight's static shape "
                         << weight.getN() << "x" << weight.getK();
  return success();
}

LogicalResult SparseAddOp::verify() {
  auto weight = llvm::cast<QWeightType>(getWeight().getType());
  if (weight.getLayout().getOutliers() != OutlierKind::Csr)
    return emitOpError("the weight has no CSR outliers to add");
  if (getAcc().getType() != getResult().getType())
    return emitOpError("accumulator and result types must match");
  return verifyProductShapes(*this, getInput().getType(), weight,
                             getAcc().getType(), "accumulator");
}

LogicalResult ActQuantOp::verify() {
  auto weight = llvm::cast<QWeightType>(getWeight().getType());
  LayoutAttr layout = weight.getLayout();
  if (layout.getScheme() != Scheme::Quik)
    return emitOpError("needs a 'quik' weight, got '")
           << schemeName(layout.getScheme()) << "'";
  if (layout.getActBits() == 16)
    return emitOpError("the weight's layout keeps activations in 16 bits; "
                       "there is nothing to quantize");
  RankedTensorType input = getInput().getType();
  if (failed(checkRank(*this, input, 2, "input", "M x K")) ||
      failed(checkSameDim(*this, input.getDimSize(1), "the input",
                          weight.getK(), "the weight", "K")))
    return failure();
  int64_t m = input.getDimSize(0);
  int64_t cols = layout.getFp16Cols();
  RankedTensorType codes = getCodes().getType();
  RankedTensorType outliers = getOutlierCols().getType();
  if (failed(checkRank(*this, codes, 2, "codes", "M x (K - fp16_cols)")) ||
      failed(checkRank(*this, getScale().getType(), 1, "scale", "M")) ||
      failed(checkRank(*this, getZero().getType(), 1, "zero", "M")) ||
      failed(checkRank(*this, outliers, 2, "outlier columns", "M x fp16_cols")))
    return failure();
  if (failed(checkSameDim(*this, codes.getDimSize(1), "the codes",
                          weight.getK() - cols, "the quantized part", "K")) ||
      failed(checkSameDim(*this, outliers.getDimSize(1), "the outlier columns",
                          cols, "the layout", "fp16_cols")))
    return failure();
  for (auto [t, name] :
       {std::pair<ShapedType, StringRef>{codes, "the codes"},
        {getScale().getType(), "the scale"},
        {getZero().getType(), "the zero"},
        {outliers, "the outlier columns"}})
    if (failed(checkSameDim(*this, t.getDimSize(0), name, m, "the input", "M")))
      return failure();
  if (outliers.getElementType() != input.getElementType())
    return emitOpError("outlier columns must keep the input's element type");
  return success();
}

LogicalResult EmbedOp::verify() {
  auto table = llvm::cast<QWeightType>(getTable().getType());
  RankedTensorType tokens = getTokens().getType();
  RankedTensorType result = getResult().getType();
  if (failed(checkRank(*this, tokens, 1, "tokens", "M")) ||
      failed(checkRank(*this, result, 2, "result", "M x D")) ||
      failed(checkSameDim(*this, result.getDimSize(0), "the result",
                          tokens.getDimSize(0), "the tokens", "M")) ||
      failed(checkSameDim(*this, result.getDimSize(1), "the result",
                          table.getK(), "the table", "D")))
    return failure();
  return success();
}

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType gamma = getGamma().getType();
  if (input.getRank() < 1)
    return emitOpError("input must have at least one dimension");
  if (failed(checkRank(*this, gamma, 1, "gamma", "the normalized size")))
    return failure();
  int64_t last = input.getDimSize(input.getRank() - 1);
  if (ShapedType::isDynamic(last) || last != gamma.getDimSize(0))
    return emitOpError() << "gamma has " << dimString(gamma.getDimSize(0))
                         << " elements but the input's static last dimension "
                            "is "
                         << dimString(last);
  if (getResult().getType() != input)
    return emitOpError("result type must match the input type");
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError("epsilon must be positive");
  return success();
}

LogicalResult RopeOp::verify() {
  RankedTensorType input = getInput().getType();
  if (failed(checkRank(*this, input, 3, "input", "tokens x heads x head_dim")) ||
      failed(checkRank(*this, getPositions().getType(), 1, "positions",
                       "tokens")))
    return failure();
  int64_t headDim = input.getDimSize(2);
  if (ShapedType::isDynamic(headDim) || headDim % 2 != 0)
    return emitOpError() << "head_dim must be static and even, got "
                         << dimString(headDim);
  if (failed(checkSameDim(*this, getPositions().getType().getDimSize(0),
                          "the positions", input.getDimSize(0), "the input",
                          "tokens")))
    return failure();
  if (getResult().getType() != input)
    return emitOpError("result type must match the input type");
  if (!(getTheta().convertToFloat() > 0.0f))
    return emitOpError("theta must be positive");
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType query = getQuery().getType();
  RankedTensorType keys = getKeyCache().getType();
  if (failed(checkRank(*this, query, 3, "query", "tokens x heads x head_dim")) ||
      failed(checkRank(*this, keys, 3, "key cache",
                       "ctx x kv_heads x head_dim")))
    return failure();
  if (getValueCache().getType() != keys)
    return emitOpError("key and value caches must have the same type");
  if (!keys.hasStaticShape())
    return emitOpError("the caches must have a static shape");
  int64_t heads = query.getDimSize(1), kvHeads = keys.getDimSize(1);
  if (ShapedType::isDynamic(heads) || heads % kvHeads != 0)
    return emitOpError() << dimString(heads)
                         << " query heads are not a static multiple of "
                         << kvHeads << " KV heads";
  if (failed(checkSameDim(*this, query.getDimSize(2), "the query",
                          keys.getDimSize(2), "the caches", "head_dim")))
    return failure();
  if (getResult().getType() != query)
    return emitOpError("result type must match the query type");
  if (getScale() && !(getScale()->convertToFloat() > 0.0f))
    return emitOpError("scale must be positive");
  return success();
}
