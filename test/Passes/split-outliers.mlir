// RUN: mixq-opt %s --mixq-split-outliers --split-input-file | FileCheck %s
// A product with CSR outliers becomes the dense product without them plus
// the sparse part; other products are left as they are.

!lut = !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>

// CHECK-LABEL: func.func @csr
// CHECK-SAME: (%[[X:.*]]: tensor<?x288xf32>)
func.func @csr(%x: tensor<?x288xf32>) -> tensor<?x768xf32> {
  // CHECK: %[[W:.*]] = mixq.weight "w1"
  %w = mixq.weight "w1" : !lut
  // CHECK-NEXT: %[[D:.*]] = mixq.qmatmul %[[X]], %[[W]] {exclude_outliers} : tensor<?x288xf32>, !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>> -> tensor<?x768xf32>
  // CHECK-NEXT: %[[Y:.*]] = mixq.sparse_add %[[D]], %[[X]], %[[W]] : tensor<?x768xf32>, tensor<?x288xf32>, !mixq.qweight<768x288, {{.*}}> -> tensor<?x768xf32>
  // CHECK-NEXT: return %[[Y]]
  %y = mixq.qmatmul %x, %w : tensor<?x288xf32>, !lut -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// -----

!lut = !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>

// Already split: running the pass again changes nothing.
// CHECK-LABEL: func.func @idempotent
// CHECK-COUNT-1: mixq.qmatmul
// CHECK-COUNT-1: mixq.sparse_add
// CHECK-NOT: mixq.sparse_add
func.func @idempotent(%x: tensor<4x288xf32>) -> tensor<4x768xf32> {
  %w = mixq.weight "w1" : !lut
  %d = mixq.qmatmul %x, %w {exclude_outliers} : tensor<4x288xf32>, !lut -> tensor<4x768xf32>
  %y = mixq.sparse_add %d, %x, %w : tensor<4x768xf32>, tensor<4x288xf32>, !lut -> tensor<4x768xf32>
  return %y : tensor<4x768xf32>
}

// -----

// No CSR outliers (dense LUT, mixed slots, uniform): untouched.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: sparse_add
// CHECK-NOT: exclude_outliers
func.func @untouched(%x: tensor<4x128xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %a = mixq.weight "a" : !mixq.qweight<32x128, #mixq.layout<lut, bits = 4>>
  %b = mixq.weight "b" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [3, 1], outliers = slots<2>>>
  %c = mixq.weight "c" : !mixq.qweight<32x128, #mixq.layout<uniform, bits = 4, group = 32>>
  %ya = mixq.qmatmul %x, %a : tensor<4x128xf32>, !mixq.qweight<32x128, #mixq.layout<lut, bits = 4>> -> tensor<4x32xf32>
  %yb = mixq.qmatmul %x, %b : tensor<4x128xf32>, !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 16, alloc = [3, 1], outliers = slots<2>>> -> tensor<4x32xf32>
  %yc = mixq.qmatmul %x, %c : tensor<4x128xf32>, !mixq.qweight<32x128, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<4x32xf32>
  return %ya, %yb, %yc : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

!lut = !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>

// A planned product: the dense part keeps the plan (-mixq-tile needs it).
// CHECK-LABEL: func.func @planned
// CHECK: mixq.qmatmul {{.*}} {exclude_outliers, plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>}
// CHECK-NEXT: mixq.sparse_add
func.func @planned(%x: tensor<?x288xf32>) -> tensor<?x768xf32> {
  %w = mixq.weight "w1" : !lut
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>} : tensor<?x288xf32>, !lut -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}
