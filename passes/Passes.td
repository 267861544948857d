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

#endif // MIXQ_PASSES_TD
