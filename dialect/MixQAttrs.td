//===- MixQAttrs.td - mixq attributes ----------------------*- tablegen -*-===//
//
// #mixq.layout: the storage format of one quantized weight. Its parameters
// mirror the plain C++ mixq::Layout (model/Layout.h), which verifies them and
// counts their storage; the attribute converts to and from it losslessly.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_ATTRS_TD
#define MIXQ_ATTRS_TD

include "dialect/MixQBase.td"
include "mlir/IR/EnumAttr.td"

// The C++ enum is RopePairing so that it can sit beside model/LlamaConfig.h's
// mixq::RopeStyle in one translation unit; the IR spells it rope_style.
def MixQ_RopePairing : I32EnumAttr<"RopePairing", "pairs rotated by RoPE", [
    I32EnumAttrCase<"Adjacent", 0, "adjacent">,
    I32EnumAttrCase<"Half", 1, "half">]> {
  let cppNamespace = "::mixq";
  let genSpecializedAttr = 0;
}

def MixQ_RopeStyleAttr : EnumAttr<MixQ_Dialect, MixQ_RopePairing, "rope_style"> {
  let assemblyFormat = "`<` $value `>`";
  let summary = "Which elements RoPE rotates together";
  let description = [{
    `adjacent`: elements 2i and 2i+1 of a head form a pair (Meta's layout, used
    by llama2.c checkpoints and GGUF files of the `llama` architecture).
    `half`: elements i and i + head_dim/2 form a pair ("rotate half", Hugging
    Face's layout after its q/k row permutation).

    ```mlir
    #mixq.rope_style<adjacent>
    ```
  }];
}

def MixQ_LayoutAttr : AttrDef<MixQ_Dialect, "Layout"> {
  let mnemonic = "layout";
  let summary = "The storage format of one quantized weight";
  let description = [{
    A layout describes how an N x K weight (N output features, K input
    features) is stored. The first keyword is the scheme; `key = value`
    entries and flags follow in any order; each may appear once.

    | scheme    | bits            | what is stored |
    |-----------|-----------------|----------------|
    | `dense`   | 16 or 32        | plain FP16 / FP32 values |
    | `uniform` | 2, 3, 4 or 8    | codes; a scale per `group` (0 or absent: per row), zero points with `asym`, second-order `scales` optional |
    | `mixed`   | [2, 4, 16] (2 plus 4 and/or 16) | tile-groups of `tile` rows x `group` columns at one precision each, counted by `alloc`; exclusive outliers in fixed `slots` inside 2-bit groups |
    | `lut`     | 3 or 4          | codes into a per-row FP16 lookup table; optional `csr` outliers |
    | `quik`    | 4 or 8          | symmetric per-row codes; `fp16_cols` outlier input columns in FP16; run-time activation quantization `act` |

    Entries:
    - `bits = B` or `bits = [B, ...]`: code widths (`mixed` lists its precisions).
    - `group = G`: K-elements sharing a scale (must divide K).
    - `tile = T`: rows of a tile-group (`mixed`; multiple of 16).
    - `alloc = [n2, n4, n16]`: tile-groups at each precision (`mixed`; they
      cover all (N/T)·(K/G) tile-groups).
    - `asym`: weights carry zero points (stored at their code width).
    - `scales = <b, blk>`: second-order scales: b-bit scale codes, one FP16
      scale and one FP16 minimum per block of `blk` scales.
    - `outliers = slots<k>` (`mixed`: k fixed slots per 2-bit row-group, an
      8-bit index + FP16 value each) or `outliers = csr<nnz>` (`lut`: FP16
      values in CSR: 32-bit row pointers, 16-bit column indices).
    - `fp16_cols = C` (`quik`): input columns kept in FP16.
    - `act = <b, per_token, asym|sym>` (`quik`): activations quantized per
      token to b = 4 or 8 bits at run time (16: not quantized).

    A mixed layout's tile-groups, as the GPU kernel consumes them (T = 16):
    ```
            K -->   group 0     group 1     group 2
    rows 0-15     [ 2-bit    ][ 4-bit    ][ 2-bit    ]   one precision per
    rows 16-31    [ 2-bit    ][ 2-bit    ][ FP16     ]   tile-group: a warp
    ...                                                  never branches per
    each 2-bit row-group: codes | scale | zero | slots   element
    ```

    `getStorageBits(shape)` returns the exact storage (model/Layout.h gives
    every stream); docs/Layouts.md works an example of each scheme. Worked
    example: a 4096x4096 `uniform, bits = 4, group = 128` weight stores
    4096·4096·4 bits of codes and 4096·32 FP16 scales: 67,108,864 +
    2,097,152 bits, 4.125 bits per weight.

    ```mlir
    #mixq.layout<uniform, bits = 4, group = 128>
    #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>
    #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16,
                 alloc = [3600, 400, 96], asym, scales = <4, 256>,
                 outliers = slots<1>>
    #mixq.layout<lut, bits = 3, outliers = csr<8389>>
    #mixq.layout<quik, bits = 4, fp16_cols = 256, act = <4, per_token, asym>>
    #mixq.layout<dense, bits = 16>
    ```
  }];
  let parameters = (ins
    AttrParameter<"::mixq::Scheme",
                  "the scheme: dense, uniform, mixed, lut or quik">:$scheme,
    ArrayRefParameter<"int64_t",
                      "code widths in bits (mixed: one per precision)">:$bits,
    AttrParameter<"int64_t", "K-elements per scale group; 0 = per row">:$group,
    AttrParameter<"bool", "whether weights carry zero points">:$asym,
    AttrParameter<"int64_t",
                  "second-order scale width in bits; 0 = FP16 scales">:$scaleBits,
    AttrParameter<"int64_t",
                  "scales per FP16 scale-of-scales block">:$scaleBlock,
    AttrParameter<"::mixq::OutlierKind",
                  "how outliers are kept: none, slots or csr">:$outliers,
    AttrParameter<"int64_t", "mixed: outlier slots per 2-bit row-group">:$slots,
    AttrParameter<"int64_t", "lut: number of CSR outliers">:$nnz,
    AttrParameter<"int64_t", "mixed: rows per tile-group">:$tile,
    ArrayRefParameter<"int64_t",
                      "mixed: tile-groups at each precision">:$alloc,
    AttrParameter<"int64_t", "quik: FP16 outlier input columns">:$fp16Cols,
    AttrParameter<"int64_t",
                  "quik: run-time activation bits (4, 8; 16 = none)">:$actBits,
    AttrParameter<"bool", "quik: asymmetric activation quantization">:$actAsym
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilder<(ins "const ::mixq::Layout &":$layout)>
  ];
  let skipDefaultBuilders = 1;
  let extraClassDeclaration = [{
    /// The plain C++ form of this layout.
    ::mixq::Layout toLayout() const;
    /// Exact storage of a weight of `shape` (N x K) in this layout.
    ::llvm::Expected<::mixq::StorageBits>
    getStorageBits(::llvm::ArrayRef<int64_t> shape) const;
  }];
}

#endif // MIXQ_ATTRS_TD
