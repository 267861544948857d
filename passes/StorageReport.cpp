//===- StorageReport.cpp - -mixq-storage-report ---------------------------===//
//
// Reports the exact storage of every mixq.weight as remarks (see Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "llvm/Support/FormatVariadic.h"

namespace mixq {
#define GEN_PASS_DEF_MIXQSTORAGEREPORT
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;

namespace {

struct StorageReportPass
    : public mixq::impl::MixQStorageReportBase<StorageReportPass> {
  void runOnOperation() override {
    uint64_t totalBits = 0, totalWeights = 0, tensors = 0;
    getOperation().walk([&](WeightOp op) {
      auto type = llvm::cast<QWeightType>(op.getResult().getType());
      StorageBits s = type.getStorageBits();
      uint64_t weights = static_cast<uint64_t>(type.getN()) * type.getK();
      op.emitRemark() << "'" << op.getName() << "' " << type.getN() << "x"
                      << type.getK() << " <"
                      << formatLayout(type.getLayout().toLayout())
                      << ">: " << s.total() << " bits (codes " << s.codes
                      << ", scales " << s.scales << ", zeros " << s.zeros
                      << ", maps " << s.maps << ", luts " << s.luts
                      << ", outlier index " << s.outlierIndex
                      << ", outlier values " << s.outlierValue << ") = "
                      << llvm::formatv("{0:F4}", type.getBitsPerWeight()).str()
                      << " bits/weight";
      totalBits += s.total();
      totalWeights += weights;
      ++tensors;
    });
    if (tensors == 0)
      return;
    getOperation().emitRemark()
        << "total: " << tensors << " weights, " << totalWeights
        << " parameters, " << totalBits << " bits = "
        << llvm::formatv("{0:F4}", double(totalBits) / double(totalWeights)).str()
        << " bits/weight";
  }
};

} // namespace
