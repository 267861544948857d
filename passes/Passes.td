//===- Passes.td - mixq passes -----------------------------*- tablegen -*-===//
//
// Every mixq pass: one def here, one implementation file beside it.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_TD
#define MIXQ_PASSES_TD

include "mlir/Pass/PassBase.td"

def MixQStorageReport : Pass<"mixq-storage-report", "::mlir::ModuleOp"> {
  let summary = "Reports the exact storage and bits per weight of every weight";
  let description = [{
    Emits one remark per `mixq.weight`: its shape, layout, the exact storage
    in bits split by kind (codes, scales, zeros, maps, LUTs, outlier indices,
    outlier values) and the bits per weight; then one remark on the module
    with the totals over all weights. The IR is left unchanged.

    Input:
    ```mlir
    %w = mixq.weight "wq"
        : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
    ```
    Remark:
    ```
    remark: 'wq' 4096x4096 <uniform, bits = 4, group = 128>: 69206016 bits
    (codes 67108864, scales 2097152, zeros 0, maps 0, luts 0,
    outlier index 0, outlier values 0) = 4.1250 bits/weight
    ```
  }];
  let dependentDialects = ["::mixq::MixQDialect"];
}

def MixQSplitOutliers : Pass<"mixq-split-outliers"> {
  let summary = "Splits the CSR outliers of a weight off its dense product";
  let description = [{
    Rewrites every `mixq.qmatmul` whose weight keeps CSR outliers (the `lut`
    scheme's dense-and-sparse decomposition) into the dense product without
    them, `mixq.qmatmul {exclude_outliers}`, followed by `mixq.sparse_add`,
    which adds `input * S^T` for the sparse part S. Kernels then handle a
    regular dense part and a separate sparse part. Weights without CSR
    outliers (including `mixq` slots, which kernels apply in registers) are
    left alone, as are products already split. Runs on any op.

    Input:
    ```mlir
    %y = mixq.qmatmul %x, %w : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    ```
    Output:
    ```mlir
    %d = mixq.qmatmul %x, %w {exclude_outliers} : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    %y = mixq.sparse_add %d, %x, %w : tensor<?x768xf32>, tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    ```
  }];
  let dependentDialects = ["::mixq::MixQDialect"];
}

#endif // MIXQ_PASSES_TD
