// RUN: mixq-opt %s --mixq-tile --split-input-file --verify-diagnostics | FileCheck %s
// RUN: mixq-opt %s --mixq-tile --mixq-tile --split-input-file --verify-diagnostics | FileCheck %s
// -mixq-tile: each planned product becomes an scf.forall over its N tiles
// (and K splits) of mixq.qmatmul_tile; the pass is idempotent.

!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>

// A prefill product: dynamic M, tiles of 16 rows that divide N = 768.
// CHECK-LABEL: func.func @gemm
// CHECK-SAME: (%[[X:.*]]: tensor<?x288xf32>)
// CHECK: %[[W:.*]] = mixq.weight "w1"
// CHECK: %[[M:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x288xf32>
// CHECK: %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x768xf32>
// CHECK: %[[Y:.*]] = scf.forall (%[[N:.*]]) = (0) to (768) step (16) shared_outs(%[[O:.*]] = %[[E]]) -> (tensor<?x768xf32>) {
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[T:.*]] = mixq.qmatmul_tile %[[X]], %[[W]] rows[%[[N]], %[[C16]]] k[%[[C0]], 288] {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>} : tensor<?x288xf32>, !mixq.qweight<768x288, {{.*}}> -> tensor<?x16xf32>
// CHECK: scf.forall.in_parallel {
// CHECK-NEXT: tensor.parallel_insert_slice %[[T]] into %[[O]][0, %[[N]]] [%[[M]], 16] [1, 1] : tensor<?x16xf32> into tensor<?x768xf32>
// CHECK-NOT: mixq.qmatmul %
// CHECK: return %[[Y]]
func.func @gemm(%x: tensor<?x288xf32>) -> tensor<?x768xf32> {
  %w = mixq.weight "w1" : !u4
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>} : tensor<?x288xf32>, !u4 -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// -----

!odd = !mixq.qweight<100x64, #mixq.layout<uniform, bits = 4, group = 32>>

// N = 100 is not a multiple of the tile: the last tile has min(16, 100 - n)
// rows and the tile is dynamic.
// CHECK: #map = affine_map<(d0) -> (16, -d0 + 100)>
// CHECK-LABEL: func.func @partial
// CHECK: scf.forall (%[[N:.*]]) = (0) to (100) step (16)
// CHECK: %[[R:.*]] = affine.min #map(%[[N]])
// CHECK: %[[T:.*]] = mixq.qmatmul_tile %{{.*}}, %{{.*}} rows[%[[N]], %[[R]]] k[%{{.*}}, 64] {{.*}} -> tensor<1x?xf32>
// CHECK: tensor.parallel_insert_slice %[[T]] into %{{.*}}[0, %[[N]]] [1, %[[R]]] [1, 1] : tensor<1x?xf32> into tensor<1x100xf32>
func.func @partial(%x: tensor<1x64xf32>) -> tensor<1x100xf32> {
  %w = mixq.weight "w2" : !odd
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 64], split_k = 1, stages = 1>} : tensor<1x64xf32>, !odd -> tensor<1x100xf32>
  return %y : tensor<1x100xf32>
}

// -----

!big = !mixq.qweight<4096x11008, #mixq.layout<uniform, bits = 4, group = 128>>

// split_k = 2: a second forall dimension over the K halves, partial sums in
// a 2 x M x N tensor, added up by linalg.reduce.
// CHECK-LABEL: func.func @splitk
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x1x4096xf32>
// CHECK: %[[P:.*]] = scf.forall (%[[N:.*]], %[[S:.*]]) = (0, 0) to (4096, 2) step (64, 1) shared_outs(%[[O:.*]] = %[[E]]) -> (tensor<2x1x4096xf32>)
// CHECK-DAG: %[[HALF:.*]] = arith.constant 5504 : index
// CHECK: %[[K0:.*]] = arith.muli %[[S]], %[[HALF]] : index
// CHECK: %[[T:.*]] = mixq.qmatmul_tile %{{.*}}, %{{.*}} rows[%[[N]], %{{.*}}] k[%[[K0]], 5504] {{.*}}split_k = 2{{.*}} -> tensor<1x64xf32>
// CHECK: tensor.parallel_insert_slice %[[T]] into %[[O]][%[[S]], 0, %[[N]]] [1, 1, 64] [1, 1, 1] : tensor<1x64xf32> into tensor<2x1x4096xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x4096xf32>)
// CHECK: %[[R:.*]] = linalg.reduce ins(%[[P]] : tensor<2x1x4096xf32>) outs(%[[Z]] : tensor<1x4096xf32>) dimensions = [0]
// CHECK: arith.addf
// CHECK: return %[[R]]
func.func @splitk(%x: tensor<1x11008xf32>) -> tensor<1x4096xf32> {
  %w = mixq.weight "w3" : !big
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>} : tensor<1x11008xf32>, !big -> tensor<1x4096xf32>
  return %y : tensor<1x4096xf32>
}

// -----

!lut = !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>

// The dense part of a split product stays dense in its tiles; the sparse
// part is added to the tiled product's result.
// CHECK-LABEL: func.func @split_outliers
// CHECK: %[[Y:.*]] = scf.forall
// CHECK: mixq.qmatmul_tile {{.*}} {exclude_outliers, plan = {{.*}}}
// CHECK: mixq.sparse_add %[[Y]]
func.func @split_outliers(%x: tensor<?x288xf32>) -> tensor<?x768xf32> {
  %w = mixq.weight "w4" : !lut
  %d = mixq.qmatmul %x, %w {exclude_outliers, plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>} : tensor<?x288xf32>, !lut -> tensor<?x768xf32>
  %y = mixq.sparse_add %d, %x, %w : tensor<?x768xf32>, tensor<?x288xf32>, !lut -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// -----

!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>

func.func @unplanned(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "w5" : !u4
  // expected-error @+1 {{-mixq-tile: the product has no plan; run -mixq-plan first}}
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !u4 -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}
