//===- MixQAttrs.td - mixq attributes ----------------------*- tablegen -*-===//
//
// #mixq.layout: the storage format of one quantized weight. Its parameters
// mirror the plain C++ mixq::Layout (model/Layout.h), which verifies them and
// counts their storage; the attribute converts to and from it losslessly.
// #mixq.plan: the kernel chosen for one mixq.qmatmul (set by -mixq-plan).
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

// The C++ enums are PlanTarget and PlanKernel so that they cannot clash with
// names in model/; the IR spells the cases x86, sm_80, sm_90a and gemv, gemm,
// wgmma.
def MixQ_PlanTarget : I32EnumAttr<"PlanTarget", "target a plan is made for", [
    I32EnumAttrCase<"X86", 0, "x86">,
    I32EnumAttrCase<"Sm80", 1, "sm_80">,
    I32EnumAttrCase<"Sm90a", 2, "sm_90a">]> {
  let cppNamespace = "::mixq";
  let genSpecializedAttr = 0;
}

def MixQ_PlanKernel : I32EnumAttr<"PlanKernel", "kernel family of a plan", [
    I32EnumAttrCase<"Gemv", 0, "gemv">,
    I32EnumAttrCase<"Gemm", 1, "gemm">,
    I32EnumAttrCase<"Wgmma", 2, "wgmma">]> {
  let cppNamespace = "::mixq";
  let genSpecializedAttr = 0;
}

def MixQ_PlanAttr : AttrDef<MixQ_Dialect, "Plan"> {
  let mnemonic = "plan";
  let summary = "The kernel chosen for one quantized matmul";
  let description = [{
    The target, the kernel family and its tiling for one `mixq.qmatmul`;
    `-mixq-plan` attaches one to every product, `-mixq-tile` and the
    lowerings read it.

    - `target`: `x86`, `sm_80` or `sm_90a`.
    - `kernel`: `gemv` (decode: a static M of at most 16 rows; the kernel
      streams the weight once), `gemm` (prefill: tiles of M as well; the
      mma.sync kernel) or `wgmma` (prefill on `sm_90a` only: the Hopper
      kernel with TMA, mbarriers and wgmma).
    - `tile = [m, n, k]`: rows of the input (M), output features (N) and
      input features (K) one tile covers.
    - `split_k`: how many parts the K loop is split into, reduced at the end
      (1: not split).
    - `stages`: software-pipeline stages (shared-memory buffers in flight on
      a GPU; 1 on x86, which does not pipeline).

    Rules (the attribute verifier):
    - every size (`tile`, `split_k`, `stages`) is positive;
    - `gemv` has `tile[0]` (m) <= 16;
    - `x86` has `stages = 1`;
    - `wgmma` has target `sm_90a`;
    - `sm_80` and `sm_90a` have `stages >= 2` and `m`, `n` multiples of 16
      (the rows of one `mma` fragment).
    A planned `mixq.qmatmul` adds the rules that relate the plan to its
    shapes and layout (see the op).

    ```mlir
    #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>
    #mixq.plan<target = sm_80, kernel = gemm, tile = [128, 128, 64], split_k = 1, stages = 3>
    #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>
    #mixq.plan<target = sm_90a, kernel = wgmma, tile = [64, 128, 64], split_k = 1, stages = 4>
    ```
  }];
  let parameters = (ins
    AttrParameter<"::mixq::PlanTarget", "x86, sm_80 or sm_90a">:$target,
    AttrParameter<"::mixq::PlanKernel", "gemv, gemm or wgmma">:$kernel,
    AttrParameter<"int64_t", "input rows (M) per tile">:$tileM,
    AttrParameter<"int64_t", "output features (N) per tile">:$tileN,
    AttrParameter<"int64_t", "input features (K) per tile">:$tileK,
    AttrParameter<"int64_t", "parts the K loop is split into; 1 = none">:$splitK,
    AttrParameter<"int64_t", "software-pipeline stages; 1 on x86">:$stages
  );
  let assemblyFormat = [{
    `<` `target` `=` $target `,` `kernel` `=` $kernel `,`
    `tile` `=` `[` $tileM `,` $tileN `,` $tileK `]` `,`
    `split_k` `=` $splitK `,` `stages` `=` $stages `>`
  }];
  let genVerifyDecl = 1;
}

#endif // MIXQ_ATTRS_TD
