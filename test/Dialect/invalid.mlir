// RUN: mixq-opt %s --split-input-file --verify-diagnostics
// One case per parser and verifier error of the mixq dialect: #mixq.layout
// (parser, then the scheme rules of model/Layout.cpp), !mixq.qweight (the
// layout must fit the shape) and every op.

func.func @f() {
  // expected-error @+1 {{unknown layout scheme 'nf4'; expected dense, uniform, mixed, lut or quik}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<nf4, bits = 4>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{unknown layout parameter 'grop'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, grop = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{duplicate layout parameter 'bits'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, bits = 4>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{#mixq.layout needs 'bits'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, group = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{expected outliers 'none', 'slots<k>' or 'csr<nnz>', got 'coo'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = coo<3>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{activation quantization is 'per_token', got 'per_tensor'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, act = <4, per_tensor, asym>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{expected 'asym' or 'sym', got 'signed'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, act = <4, per_token, signed>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'group' must not be negative, got -32}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = -32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'alloc' counts must not be negative, got [2, -1]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [2, -1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: second-order scales take 2 to 8 bits, got 12}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32, scales = <12, 256>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: second-order scale block must be at least 1, got 0}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32, scales = <4, 0>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: a scale block needs second-order scale bits}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32, scales = <0, 64>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'slots' outliers need at least one slot per group}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [2, 0], outliers = slots<0>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: activation quantization takes 4, 8 or 16 bits, got 6}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, act = <6, per_token, asym>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'dense' layouts take one bit width from {16, 32}, got [8]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 8>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'dense' layouts carry no outliers}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 16, outliers = csr<4>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'dense' layouts take no group (the scale is per row)}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 16, group = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'lut' layouts are symmetric and take no 'asym'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 4, asym>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'quik' layouts take no second-order 'scales'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, scales = <4, 16>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'tile' and 'alloc' belong to 'mixed' layouts, not 'uniform'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32, tile = 16>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'fp16_cols' belongs to 'quik' layouts, not 'lut'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, fp16_cols = 8>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'act' belongs to 'quik' layouts, not 'uniform'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 8, act = <8, per_token, sym>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'uniform' layouts take one bit width from {2, 3, 4, 8}, got [5]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 5, group = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'uniform' layouts carry no outliers}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32, outliers = csr<3>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'mixed' layouts take 2-bit plus 4 and/or 16-bit precisions in increasing order, got [4, 16]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [4, 16], group = 64, tile = 16, alloc = [1, 1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'mixed' layouts need a positive 'group'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], tile = 16, alloc = [1, 1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'mixed' layouts need a 'tile' that is a positive multiple of 16 rows, got 8}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 8, alloc = [1, 1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'alloc' needs one tile-group count per precision (3), got 2}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [1, 1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'mixed' layouts keep exclusive outliers in fixed 'slots', not 'csr'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [1, 1], outliers = csr<4>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 80 outlier slots exceed the group of 64}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [1, 1], outliers = slots<80>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'lut' layouts take one bit width from {3, 4}, got [2]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 2>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'lut' layouts keep outliers in 'csr', not 'slots'}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = slots<1>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'quik' layouts take one bit width from {4, 8}, got [3]}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 3>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{invalid #mixq.layout: 'quik' layouts keep outliers as 'fp16_cols', not as sparse outliers}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, outliers = csr<2>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{!mixq.qweight needs a 2-D shape N x K, got rank 1}}
  %w = mixq.weight "w" : !mixq.qweight<64, #mixq.layout<uniform, bits = 4, group = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 0x64 weight: weight shape 0x64 must be positive}}
  %w = mixq.weight "w" : !mixq.qweight<0x64, #mixq.layout<uniform, bits = 4, group = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 32x64 weight: group size 48 does not divide K = 64}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 48>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 40x64 weight: tile of 16 rows does not divide N = 40}}
  %w = mixq.weight "w" : !mixq.qweight<40x64, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [2, 0]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 32x128 weight: 'alloc' [1, 1, 1] covers 3 tile-groups, but a 32x128 weight has 4}}
  %w = mixq.weight "w" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [1, 1, 1]>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 4x4 weight: 17 CSR outliers exceed the 16 weights}}
  %w = mixq.weight "w" : !mixq.qweight<4x4, #mixq.layout<lut, bits = 3, outliers = csr<17>>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{layout does not fit the 32x64 weight: 65 FP16 columns exceed K = 64}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 65>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{storage of a 4611686018427387904x8 weight overflows 64 bits}}
  %w = mixq.weight "w" : !mixq.qweight<4611686018427387904x8, #mixq.layout<dense, bits = 32>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{expected static shape}}
  %w = mixq.weight "w" : !mixq.qweight<?x64, #mixq.layout<uniform, bits = 4>>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{expected a #mixq.layout attribute}}
  %w = mixq.weight "w" : !mixq.qweight<32x64, 4 : i64>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'mixq.weight' op needs a non-empty package tensor name}}
  %w = mixq.weight "" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4>>
  return
}

// -----

func.func @f(%x: tensor<2x4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op input must be M x K (rank 2), got rank 3}}
  %y = mixq.qmatmul %x, %w : tensor<2x4x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op result must be M x N (rank 2), got rank 1}}
  %y = mixq.qmatmul %x, %w : tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x48xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op the input has K = 48 but the weight has K = 64}}
  %y = mixq.qmatmul %x, %w : tensor<4x48xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op the result has N = 16 but the weight has N = 32}}
  %y = mixq.qmatmul %x, %w : tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op the result has M = 4 but the input has M = ?}}
  %y = mixq.qmatmul %x, %w : tensor<?x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op 'exclude_outliers' needs a weight with CSR outliers}}
  %y = mixq.qmatmul %x, %w {exclude_outliers} : tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xi8>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.qmatmul' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float values}}
  %y = mixq.qmatmul %x, %w : tensor<4x64xi8>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f() {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.dequant' op result must have the weight's static shape 32x64}}
  %d = mixq.dequant %w : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<64x32xf32>
  return
}

// -----

func.func @f(%a: tensor<4x32xf32>, %x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.sparse_add' op the weight has no CSR outliers to add}}
  %z = mixq.sparse_add %a, %x, %w : tensor<4x32xf32>, tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return
}

// -----

func.func @f(%a: tensor<4x32xf32>, %x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<5>>>
  // expected-error @+1 {{'mixq.sparse_add' op accumulator and result types must match}}
  %z = mixq.sparse_add %a, %x, %w : tensor<4x32xf32>, tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<5>>> -> tensor<4x32xf16>
  return
}

// -----

func.func @f(%a: tensor<4x16xf32>, %x: tensor<4x64xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<5>>>
  // expected-error @+1 {{'mixq.sparse_add' op the accumulator has N = 16 but the weight has N = 32}}
  %z = mixq.sparse_add %a, %x, %w : tensor<4x16xf32>, tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<5>>> -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.act_quant' op needs a 'quik' weight, got 'uniform'}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x56xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8>>
  // expected-error @+1 {{'mixq.act_quant' op the weight's layout keeps activations in 16 bits; there is nothing to quantize}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8>> -> tensor<4x56xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x60xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op the input has K = 60 but the weight has K = 64}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x60xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x56xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op codes must be M x (K - fp16_cols) (rank 2), got rank 1}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<224xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op scale must be M (rank 1), got rank 2}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x56xi8>, tensor<4x1xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op the codes has K = 64 but the quantized part has K = 56}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x64xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op the outlier columns has fp16_cols = 4 but the layout has fp16_cols = 8}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x56xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x4xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op the scale has M = 2 but the input has M = 4}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x56xi8>, tensor<2xf32>, tensor<4xf32>, tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x64xf16>) {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // expected-error @+1 {{'mixq.act_quant' op outlier columns must keep the input's element type}}
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<4x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<4x56xi8>, tensor<4xf32>, tensor<4xf32>, tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'mixq.rms_norm' op input must have at least one dimension}}
  %n = mixq.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : tensor<f32>, tensor<8xf32> -> tensor<f32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %g: tensor<1x8xf32>) {
  // expected-error @+1 {{'mixq.rms_norm' op gamma must be the normalized size (rank 1), got rank 2}}
  %n = mixq.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : tensor<4x8xf32>, tensor<1x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{'mixq.rms_norm' op gamma has 6 elements but the input's static last dimension is 8}}
  %n = mixq.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : tensor<4x8xf32>, tensor<6xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'mixq.rms_norm' op result type must match the input type}}
  %n = mixq.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf16>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'mixq.rms_norm' op epsilon must be positive}}
  %n = mixq.rms_norm %x, %g {epsilon = 0.0 : f32} : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x48xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'mixq.rope' op input must be tokens x heads x head_dim (rank 3), got rank 2}}
  %r = mixq.rope %x, %p {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<4x48xf32>, tensor<4xi32> -> tensor<4x48xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x48xf32>, %p: tensor<4x1xi32>) {
  // expected-error @+1 {{'mixq.rope' op positions must be tokens (rank 1), got rank 2}}
  %r = mixq.rope %x, %p {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<4x6x48xf32>, tensor<4x1xi32> -> tensor<4x6x48xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x47xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'mixq.rope' op head_dim must be static and even, got 47}}
  %r = mixq.rope %x, %p {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<4x6x47xf32>, tensor<4xi32> -> tensor<4x6x47xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x48xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{'mixq.rope' op the positions has tokens = 3 but the input has tokens = 4}}
  %r = mixq.rope %x, %p {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<4x6x48xf32>, tensor<3xi32> -> tensor<4x6x48xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x48xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'mixq.rope' op result type must match the input type}}
  %r = mixq.rope %x, %p {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<4x6x48xf32>, tensor<4xi32> -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x48xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'mixq.rope' op theta must be positive}}
  %r = mixq.rope %x, %p {theta = -1.0 : f32, style = #mixq.rope_style<half>} : tensor<4x6x48xf32>, tensor<4xi32> -> tensor<4x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x288xf32>, %k: tensor<256x2x48xf32>, %v: tensor<256x2x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op query must be tokens x heads x head_dim (rank 3), got rank 2}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x288xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<?x288xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x96xf32>, %v: tensor<256x96xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op key cache must be ctx x kv_heads x head_dim (rank 3), got rank 2}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<256x96xf32>, tensor<256x96xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x2x48xf32>, %v: tensor<128x2x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op key and value caches must have the same type}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<128x2x48xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<?x2x48xf32>, %v: tensor<?x2x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op the caches must have a static shape}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<?x2x48xf32>, tensor<?x2x48xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x4x48xf32>, %v: tensor<256x4x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op 6 query heads are not a static multiple of 4 KV heads}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<256x4x48xf32>, tensor<256x4x48xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x2x32xf32>, %v: tensor<256x2x32xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op the query has head_dim = 48 but the caches has head_dim = 32}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<256x2x32xf32>, tensor<256x2x32xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x2x48xf32>, %v: tensor<256x2x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op result type must match the query type}}
  %o = mixq.attention %q, %k, %v, %s : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<4x6x48xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x48xf32>, %k: tensor<256x2x48xf32>, %v: tensor<256x2x48xf32>, %s: index) {
  // expected-error @+1 {{'mixq.attention' op scale must be positive}}
  %o = mixq.attention %q, %k, %v, %s {scale = 0.0 : f32} : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<?x6x48xf32>
  return
}

// -----

func.func @f(%t: tensor<4x1xi32>) {
  %e = mixq.weight "e" : !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.embed' op tokens must be M (rank 1), got rank 2}}
  %x = mixq.embed %t, %e : tensor<4x1xi32>, !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x64xf32>
  return
}

// -----

func.func @f(%t: tensor<4xi32>) {
  %e = mixq.weight "e" : !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.embed' op result must be M x D (rank 2), got rank 1}}
  %x = mixq.embed %t, %e : tensor<4xi32>, !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<64xf32>
  return
}

// -----

func.func @f(%t: tensor<4xi32>) {
  %e = mixq.weight "e" : !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.embed' op the result has M = 3 but the tokens has M = 4}}
  %x = mixq.embed %t, %e : tensor<4xi32>, !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<3x64xf32>
  return
}

// -----

func.func @f(%t: tensor<?xi32>) {
  %e = mixq.weight "e" : !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // expected-error @+1 {{'mixq.embed' op the result has D = 32 but the table has D = 64}}
  %x = mixq.embed %t, %e : tensor<?xi32>, !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<?x32xf32>
  return
}

// -----

// expected-error @+1 {{#mixq.plan tile sizes must be positive, got [1, 0, 512]}}
func.func @f() attributes {p = #mixq.plan<target = x86, kernel = gemv, tile = [1, 0, 512], split_k = 1, stages = 1>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan split_k must be positive, got 0}}
func.func @f() attributes {p = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 0, stages = 1>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan stages must be positive, got 0}}
func.func @f() attributes {p = #mixq.plan<target = sm_80, kernel = gemm, tile = [128, 128, 64], split_k = 1, stages = 0>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan gemv tiles at most 16 rows, got tile m = 32}}
func.func @f() attributes {p = #mixq.plan<target = x86, kernel = gemv, tile = [32, 16, 512], split_k = 1, stages = 1>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan for x86 has stages = 1, got 3}}
func.func @f() attributes {p = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 512], split_k = 1, stages = 3>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan kernel wgmma needs target sm_90a}}
func.func @f() attributes {p = #mixq.plan<target = sm_80, kernel = wgmma, tile = [64, 128, 64], split_k = 1, stages = 4>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan for sm_90a pipelines at least 2 stages, got 1}}
func.func @f() attributes {p = #mixq.plan<target = sm_90a, kernel = gemm, tile = [128, 256, 64], split_k = 1, stages = 1>} {
  return
}

// -----

// expected-error @+1 {{#mixq.plan for sm_80 needs tile m and n multiples of 16, got [16, 40, 128]}}
func.func @f() attributes {p = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 40, 128], split_k = 1, stages = 4>} {
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  // expected-error @+1 {{'mixq.qmatmul' op plan tile k = 96 must divide the weight's K = 256}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 96], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x32xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  // expected-error @+1 {{'mixq.qmatmul' op plan tile k = 32 must be a multiple of the layout's group = 64 (or equal K = 256)}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 32], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x32xf32>
  return
}

// -----

func.func @f(%x: tensor<?x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  // expected-error @+1 {{'mixq.qmatmul' op a gemv plan needs a static M <= 16, got M = ?}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<?x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<?x32xf32>
  return
}

// -----

func.func @f(%x: tensor<32x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  // expected-error @+1 {{'mixq.qmatmul' op a gemv plan needs a static M <= 16, got M = 32}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [16, 16, 64], split_k = 1, stages = 1>} : tensor<32x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<32x32xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  // expected-error @+1 {{'mixq.qmatmul' op plan split_k = 3 must divide K / tile k = 4}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 3, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x32xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  // expected-error @+1 {{'mixq.qmatmul_tile' op a tile of 32 rows exceeds the plan's tile n = 16 or the weight's N = 32}}
  %t = mixq.qmatmul_tile %x, %w rows[%c0, %c16] k[%c0, 256] {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x32xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  // expected-error @+1 {{'mixq.qmatmul_tile' op k_size = 128 times the plan's split_k = 1 must be K = 256}}
  %t = mixq.qmatmul_tile %x, %w rows[%c0, %c16] k[%c0, 128] {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x16xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  %c24 = arith.constant 24 : index
  // expected-error @+1 {{'mixq.qmatmul_tile' op rows [24, 40) leave the weight's 32 rows}}
  %t = mixq.qmatmul_tile %x, %w rows[%c24, %c16] k[%c0, 256] {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x16xf32>
  return
}

// -----

func.func @f(%x: tensor<1x256xf32>, %n: index) {
  %w = mixq.weight "w" : !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>>
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  // expected-error @+1 {{'mixq.qmatmul_tile' op row_count = 8 differs from the result's 16 rows}}
  %t = mixq.qmatmul_tile %x, %w rows[%n, %c8] k[%c0, 256] {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<1x256xf32>, !mixq.qweight<32x256, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<1x16xf32>
  return
}
