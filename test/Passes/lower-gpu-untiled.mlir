// RUN: mixq-opt %s --mixq-lower-gpu --verify-diagnostics
// -mixq-lower-gpu takes tiled products only.

!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
func.func @untiled(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "w1" : !u4
  // expected-error @+1 {{-mixq-lower-gpu: the product is not tiled; run -mixq-tile first}}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 96], split_k = 1, stages = 4>} : tensor<1x288xf32>, !u4 -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}
