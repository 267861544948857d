//===- MixQOps.td - mixq operations ------------------------*- tablegen -*-===//
//
// The ops of quantized Llama inference that upstream dialects lack: binding a
// packed weight, quantized matmul, dequantization, the sparse outlier part,
// QUIK's activation quantization, and the norm/RoPE/attention of a decoder.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_OPS_TD
#define MIXQ_OPS_TD

include "dialect/MixQTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MixQ_QWeight : Type<CPred<"::llvm::isa<::mixq::QWeightType>($_self)">,
                        "quantized weight", "::mixq::QWeightType">;

def MixQ_FloatTensor : RankedTensorOf<[F16, BF16, F32]>;

def MixQ_WeightOp : MixQ_Op<"weight", [Pure]> {
  let summary = "Binds a tensor of the package to a quantized weight value";
  let description = [{
    Names one weight of the mixq package the module is compiled against. The
    result type gives its shape and layout; the runtime checks both against
    the package's metadata when it loads the package.

    ```mlir
    %w = mixq.weight "layers.0.feed_forward.w1"
        : !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs MixQ_QWeight:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def MixQ_QMatmulOp : MixQ_Op<"qmatmul", [Pure]> {
  let summary = "Activations times the transpose of a quantized weight";
  let description = [{
    `result[m, n] = sum_k input[m, k] * W[n, k]` where W is the dequantized
    weight (N x K). The input is M x K (M may be dynamic), the result M x N.
    With `exclude_outliers` the CSR outliers of a `lut` weight are left out;
    `-mixq-split-outliers` sets it and adds them with `mixq.sparse_add`.
    For a `quik` weight whose layout quantizes activations, the input is
    quantized per token as the layout says.

    An optional `plan` (a `#mixq.plan`, set by `-mixq-plan`) names the kernel
    and its tiling. With K the weight's input features and M the input's
    first dimension, a plan must satisfy:
    - `tile[2]` (k) divides K, and is a multiple of the layout's `group`
      when the layout has one (group > 0), unless it equals K;
    - `gemv` needs a static M of at most 16;
    - `split_k` divides K / k.

    ```mlir
    %y = mixq.qmatmul %x, %w : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
        -> tensor<?x768xf32>
    %z = mixq.qmatmul %x1, %w {plan = #mixq.plan<target = x86, kernel = gemv,
        tile = [1, 16, 288], split_k = 1, stages = 1>} : tensor<1x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
        -> tensor<1x768xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$input, MixQ_QWeight:$weight,
                       UnitAttr:$exclude_outliers,
                       OptionalAttr<MixQ_PlanAttr>:$plan);
  let results = (outs MixQ_FloatTensor:$result);
  // Keeps create(b, loc, type, input, weight[, exclude_outliers]) working
  // without a plan (an OptionalAttr takes no default in the ODS builders).
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight,
                   CArg<"bool", "false">:$exclude_outliers), [{
      build($_builder, $_state, result, input, weight, exclude_outliers,
            ::mixq::PlanAttr());
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight)) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_QMatmulTileOp : MixQ_Op<"qmatmul_tile", [Pure]> {
  let summary = "One tile of a planned quantized product: a block of output features";
  let description = [{
    The product of `mixq.qmatmul` restricted to the output features
    (weight rows) `[row_offset, row_offset + row_count)` and the input
    features `[k_offset, k_offset + k_size)`:
    `result[m, j] = sum_{k in K slice} input[m, k] * W[row_offset + j, k]`.
    It is what `-mixq-tile` makes of a planned product: one per iteration of
    an `scf.forall` over the plan's N tiles (and K splits). The weight stays
    whole, so a tile of a mixed-precision weight reads its tile-groups at
    their place in the package streams; the row count of the last tile may
    be smaller than the plan's `tile[1]` (the result's second dimension is
    then dynamic). All input rows (M) are in the tile: the target's kernel
    blocks them itself (`tile[0]`), after it has decoded each weight row
    once.

    The plan is required; the tile must lie inside the weight, `k_size`
    times the plan's `split_k` must be K, and `k_size` a multiple of the
    plan's `tile[2]`.

    ```mlir
    %t = mixq.qmatmul_tile %x, %w rows[%n, %c16] k[%c0, 288]
        {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 288],
                           split_k = 1, stages = 1>}
        : tensor<1x288xf32>,
          !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
        -> tensor<1x16xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$input, MixQ_QWeight:$weight,
                       Index:$row_offset, Index:$row_count, Index:$k_offset,
                       I64Attr:$k_size, UnitAttr:$exclude_outliers,
                       MixQ_PlanAttr:$plan);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `rows` `[` $row_offset `,` $row_count `]`
    `k` `[` $k_offset `,` $k_size `]` attr-dict `:` type($input) `,`
    qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_DequantOp : MixQ_Op<"dequant", [Pure]> {
  let summary = "Expands a quantized weight to a dense tensor";
  let description = [{
    Produces the dense N x K weight exactly as the reference engine sees it
    (codes through scales, zeros, LUTs, plus every outlier). Meant for tests
    and reference paths; kernels never materialize it.

    ```mlir
    %d = mixq.dequant %w
        : !mixq.qweight<64x64, #mixq.layout<lut, bits = 3>> -> tensor<64x64xf32>
    ```
  }];
  let arguments = (ins MixQ_QWeight:$weight);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = "$weight attr-dict `:` qualified(type($weight)) `->` type($result)";
  let hasVerifier = 1;
}

def MixQ_SparseAddOp : MixQ_Op<"sparse_add", [Pure]> {
  let summary = "Adds the sparse outlier part of a weight to a product";
  let description = [{
    `result = acc + input * S^T`, where S is the N x K sparse matrix of the
    weight's CSR outliers. Together with
    `mixq.qmatmul {exclude_outliers}` it computes the full product.

    ```mlir
    %z = mixq.sparse_add %y, %x, %w : tensor<?x768xf32>, tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$acc, MixQ_FloatTensor:$input,
                       MixQ_QWeight:$weight);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $acc `,` $input `,` $weight attr-dict `:` type($acc) `,` type($input) `,`
    qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_ActQuantOp : MixQ_Op<"act_quant", [Pure]> {
  let summary = "Per-token activation quantization with the FP16 column split";
  let description = [{
    QUIK's input stage for a `quik` weight: the weight's `fp16_cols` outlier
    columns of the M x K input are copied out in floating point, and the other
    K - fp16_cols columns are quantized per token (row) to the layout's
    activation width, asymmetric or symmetric. Results: the codes (M x Kq, i8
    holding 4- or 8-bit values), the per-token scale and zero point (f32), and
    the outlier columns (M x fp16_cols, the input's element type).

    ```mlir
    %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<?x4096xf16>,
        !mixq.qweight<4096x4096, #mixq.layout<quik, bits = 4, fp16_cols = 256,
                                              act = <4, per_token, asym>>>
        -> tensor<?x3840xi8>, tensor<?xf32>, tensor<?xf32>, tensor<?x256xf16>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$input, MixQ_QWeight:$weight);
  let results = (outs RankedTensorOf<[I8]>:$codes,
                      RankedTensorOf<[F32]>:$scale,
                      RankedTensorOf<[F32]>:$zero,
                      MixQ_FloatTensor:$outlier_cols);
  let assemblyFormat = [{
    $input `for` $weight attr-dict `:` type($input) `,` qualified(type($weight)) `->`
    type($codes) `,` type($scale) `,` type($zero) `,` type($outlier_cols)
  }];
  let hasVerifier = 1;
}

def MixQ_EmbedOp : MixQ_Op<"embed", [Pure]> {
  let summary = "Looks up and dequantizes rows of an embedding table";
  let description = [{
    `result[m, :] = dequant(table)[tokens[m], :]` for M token ids (i32) and a
    V x D table in any layout; only the M rows read are dequantized. Ids
    outside [0, V) are the caller's to reject (the runtime checks them).

    ```mlir
    %x = mixq.embed %tokens, %table : tensor<?xi32>,
        !mixq.qweight<32000x288, #mixq.layout<dense, bits = 16>>
        -> tensor<?x288xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$tokens, MixQ_QWeight:$table);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` type($tokens) `,`
    qualified(type($table)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_RMSNormOp : MixQ_Op<"rms_norm", [Pure]> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `result = input / sqrt(mean(input^2) + epsilon) * gamma`, per row of the
    last dimension, as in Llama. `gamma` has the size of that dimension.

    ```mlir
    %n = mixq.rms_norm %x, %g {epsilon = 1.0e-05 : f32}
        : tensor<?x288xf32>, tensor<288xf32> -> tensor<?x288xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$input, MixQ_FloatTensor:$gamma,
                       F32Attr:$epsilon);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma attr-dict `:` type($input) `,` type($gamma) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_RopeOp : MixQ_Op<"rope", [Pure]> {
  let summary = "Rotary position embedding of queries or keys";
  let description = [{
    Rotates each pair of a head (see `#mixq.rope_style`) of the tokens x heads
    x head_dim input by angle `pos * theta^(-2i/head_dim)`, where `pos` is the
    token's position (an i32 or i64 per token).

    ```mlir
    %r = mixq.rope %q, %pos {theta = 10000.0 : f32,
                             style = #mixq.rope_style<adjacent>}
        : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$input,
                       RankedTensorOf<[I32, I64]>:$positions, F32Attr:$theta,
                       MixQ_RopeStyleAttr:$style);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def MixQ_AttentionOp : MixQ_Op<"attention", [Pure]> {
  let summary = "Causal grouped-query attention over a KV cache";
  let description = [{
    For M new tokens at positions `start` ... `start + M - 1`, each query head
    h attends to cache rows 0 ... its position of KV head
    h / (heads / kv_heads): `softmax(q k^T * scale) v`. The query is M x heads
    x head_dim; each cache is ctx x kv_heads x head_dim and already holds the
    new tokens' keys and values. `scale` defaults to 1/sqrt(head_dim).

    ```mlir
    %o = mixq.attention %q, %kc, %vc, %start
        : tensor<?x6x48xf32>, tensor<256x6x48xf32>, tensor<256x6x48xf32>,
          index -> tensor<?x6x48xf32>
    ```
  }];
  let arguments = (ins MixQ_FloatTensor:$query, MixQ_FloatTensor:$key_cache,
                       MixQ_FloatTensor:$value_cache, Index:$start,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs MixQ_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key_cache `,` $value_cache `,` $start attr-dict `:`
    type($query) `,` type($key_cache) `,` type($value_cache) `,`
    type($start) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MIXQ_OPS_TD
