// One decoder layer of stories15M (dim 288, 6 heads of 48, FFN 768) written
// by hand in the mixq dialect, each linear in a different scheme. Used by
// scripts/demo.sh and checked by test/Dialect/example.mlir.
!wq = !mixq.qweight<288x288, #mixq.layout<mixed, bits = [2, 4, 16], group = 32, tile = 16, alloc = [140, 18, 4], asym, scales = <4, 64>, outliers = slots<1>>>
!wk = !mixq.qweight<288x288, #mixq.layout<uniform, bits = 3, group = 32, asym>>
!wv = !mixq.qweight<288x288, #mixq.layout<uniform, bits = 4, group = 32>>
!wo = !mixq.qweight<288x288, #mixq.layout<lut, bits = 3, outliers = csr<415>>>
!w1 = !mixq.qweight<768x288, #mixq.layout<quik, bits = 4, fp16_cols = 16, act = <8, per_token, asym>>>
!w2 = !mixq.qweight<288x768, #mixq.layout<uniform, bits = 2, group = 64, asym, scales = <4, 128>>>
!w3 = !mixq.qweight<768x288, #mixq.layout<quik, bits = 4, fp16_cols = 16, act = <8, per_token, asym>>>

func.func @layer0(%x: tensor<?x288xf32>, %pos: tensor<?xi32>, %start: index,
                  %kc: tensor<256x6x48xf32>, %vc: tensor<256x6x48xf32>,
                  %g_att: tensor<288xf32>, %g_ffn: tensor<288xf32>) -> tensor<?x288xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x288xf32>
  %wq = mixq.weight "layers.0.attention.wq.weight" : !wq
  %wk = mixq.weight "layers.0.attention.wk.weight" : !wk
  %wv = mixq.weight "layers.0.attention.wv.weight" : !wv
  %wo = mixq.weight "layers.0.attention.wo.weight" : !wo
  %w1 = mixq.weight "layers.0.feed_forward.w1.weight" : !w1
  %w2 = mixq.weight "layers.0.feed_forward.w2.weight" : !w2
  %w3 = mixq.weight "layers.0.feed_forward.w3.weight" : !w3

  %h = mixq.rms_norm %x, %g_att {epsilon = 1.0e-5 : f32} : tensor<?x288xf32>, tensor<288xf32> -> tensor<?x288xf32>
  %q = mixq.qmatmul %h, %wq : tensor<?x288xf32>, !wq -> tensor<?x288xf32>
  %k = mixq.qmatmul %h, %wk : tensor<?x288xf32>, !wk -> tensor<?x288xf32>
  %v = mixq.qmatmul %h, %wv : tensor<?x288xf32>, !wv -> tensor<?x288xf32>
  %q3 = tensor.expand_shape %q [[0], [1, 2]] output_shape [%m, 6, 48] : tensor<?x288xf32> into tensor<?x6x48xf32>
  %k3 = tensor.expand_shape %k [[0], [1, 2]] output_shape [%m, 6, 48] : tensor<?x288xf32> into tensor<?x6x48xf32>
  %v3 = tensor.expand_shape %v [[0], [1, 2]] output_shape [%m, 6, 48] : tensor<?x288xf32> into tensor<?x6x48xf32>
  %qr = mixq.rope %q3, %pos {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
  %kr = mixq.rope %k3, %pos {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
  %kc1 = tensor.insert_slice %kr into %kc[%start, 0, 0] [%m, 6, 48] [1, 1, 1] : tensor<?x6x48xf32> into tensor<256x6x48xf32>
  %vc1 = tensor.insert_slice %v3 into %vc[%start, 0, 0] [%m, 6, 48] [1, 1, 1] : tensor<?x6x48xf32> into tensor<256x6x48xf32>
  %att = mixq.attention %qr, %kc1, %vc1, %start : tensor<?x6x48xf32>, tensor<256x6x48xf32>, tensor<256x6x48xf32>, index -> tensor<?x6x48xf32>
  %att2 = tensor.collapse_shape %att [[0], [1, 2]] : tensor<?x6x48xf32> into tensor<?x288xf32>
  %o = mixq.qmatmul %att2, %wo {exclude_outliers} : tensor<?x288xf32>, !wo -> tensor<?x288xf32>
  %o2 = mixq.sparse_add %o, %att2, %wo : tensor<?x288xf32>, tensor<?x288xf32>, !wo -> tensor<?x288xf32>
  %r1 = arith.addf %x, %o2 : tensor<?x288xf32>

  %f = mixq.rms_norm %r1, %g_ffn {epsilon = 1.0e-5 : f32} : tensor<?x288xf32>, tensor<288xf32> -> tensor<?x288xf32>
  %gate = mixq.qmatmul %f, %w1 : tensor<?x288xf32>, !w1 -> tensor<?x768xf32>
  %up = mixq.qmatmul %f, %w3 : tensor<?x288xf32>, !w3 -> tensor<?x768xf32>
  %neg = arith.negf %gate : tensor<?x768xf32>
  %e = math.exp %neg : tensor<?x768xf32>
  %c1 = arith.constant 1.0 : f32
  %empty = tensor.empty(%m) : tensor<?x768xf32>
  %ones = linalg.fill ins(%c1 : f32) outs(%empty : tensor<?x768xf32>) -> tensor<?x768xf32>
  %den = arith.addf %ones, %e : tensor<?x768xf32>
  %silu = arith.divf %gate, %den : tensor<?x768xf32>
  %prod = arith.mulf %silu, %up : tensor<?x768xf32>
  %down = mixq.qmatmul %prod, %w2 : tensor<?x768xf32>, !w2 -> tensor<?x288xf32>
  %out = arith.addf %r1, %down : tensor<?x288xf32>
  return %out : tensor<?x288xf32>
}
