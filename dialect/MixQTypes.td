//===- MixQTypes.td - mixq types ---------------------------*- tablegen -*-===//
//
// !mixq.qweight: a handle to the packed data of one quantized weight.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TYPES_TD
#define MIXQ_TYPES_TD

include "dialect/MixQAttrs.td"

def MixQ_QWeightType : TypeDef<MixQ_Dialect, "QWeight"> {
  let mnemonic = "qweight";
  let summary = "A quantized N x K weight in a given layout";
  let description = [{
    A handle to the packed streams (codes, scales, zeros, maps, LUTs,
    outliers) of one weight of N output and K input features. The shape is
    static; the layout must fit it (its group divides K, its tile divides N,
    its allocation covers every tile-group, its counts fit the weight).

    ```mlir
    !mixq.qweight<4096x11008, #mixq.layout<uniform, bits = 4, group = 128>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "the static shape N x K">:$shape,
    "::mixq::LayoutAttr":$layout
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getN() const { return getShape()[0]; }
    int64_t getK() const { return getShape()[1]; }
    /// Exact storage bits and bits per weight, all streams counted.
    ::mixq::StorageBits getStorageBits() const;
    double getBitsPerWeight() const;
  }];
}

#endif // MIXQ_TYPES_TD
