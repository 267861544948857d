// RUN: mixq-opt %s | mixq-opt | FileCheck %s
// RUN: mixq-opt %s --mlir-print-op-generic | mixq-opt | FileCheck %s
// Round-trips every op and every form of #mixq.layout: keys in any order come
// back in canonical order, defaults are omitted, `bits` of a mixed layout
// stays a list.

// CHECK-LABEL: func.func @layouts
func.func @layouts() {
  // CHECK: mixq.weight "dense16" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 16>>
  %0 = mixq.weight "dense16" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 16>>
  // CHECK: mixq.weight "dense32" : !mixq.qweight<32x64, #mixq.layout<dense, bits = 32>>
  %1 = mixq.weight "dense32" : !mixq.qweight<32x64, #mixq.layout<dense, bits = [32]>>
  // CHECK: mixq.weight "u2" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 2, group = 32>>
  %2 = mixq.weight "u2" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 2, group = 32>>
  // CHECK: mixq.weight "u3" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 3, group = 64, asym>>
  %3 = mixq.weight "u3" : !mixq.qweight<32x64, #mixq.layout<uniform, asym, group = 64, bits = 3>>
  // CHECK: mixq.weight "u4" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 16, asym, scales = <4, 256>>>
  %4 = mixq.weight "u4" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 16, asym, scales = <4, 256>>>
  // CHECK: mixq.weight "u8" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 8>>
  %5 = mixq.weight "u8" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 8>>
  // CHECK: mixq.weight "mixed" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], asym, scales = <4, 256>, outliers = slots<1>>>
  %6 = mixq.weight "mixed" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], asym, scales = <4, 256>, outliers = slots<1>>>
  // CHECK: mixq.weight "mixed24" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4], group = 128, tile = 32, alloc = [1, 0]>>
  %7 = mixq.weight "mixed24" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4], group = 128, tile = 32, alloc = [1, 0], outliers = none>>
  // CHECK: mixq.weight "mixed216" : !mixq.qweight<16x64, #mixq.layout<mixed, bits = [2, 16], group = 32, tile = 16, alloc = [1, 1], outliers = slots<2>>>
  %8 = mixq.weight "mixed216" : !mixq.qweight<16x64, #mixq.layout<mixed, bits = [2, 16], group = 32, tile = 16, alloc = [1, 1], outliers = slots<2>>>
  // CHECK: mixq.weight "lut3" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3>>
  %9 = mixq.weight "lut3" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3>>
  // CHECK: mixq.weight "lut4" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 4, outliers = csr<10>>>
  %10 = mixq.weight "lut4" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 4, outliers = csr<10>>>
  // CHECK: mixq.weight "quik4" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  %11 = mixq.weight "quik4" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // CHECK: mixq.weight "quik8" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 8, act = <8, per_token, sym>>>
  %12 = mixq.weight "quik8" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 8, act = <8, per_token, sym>>>
  // CHECK: mixq.weight "quik16" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 4>>
  %13 = mixq.weight "quik16" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 4, act = <16, per_token, asym>>>
  return
}

// CHECK-LABEL: func.func @qmatmul
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf16>)
func.func @qmatmul(%x: tensor<?x64xf16>) -> tensor<?x32xf32> {
  // CHECK: %[[W:.*]] = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>>
  // CHECK: mixq.qmatmul %[[X]], %[[W]] : tensor<?x64xf16>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<?x32xf32>
  %y = mixq.qmatmul %x, %w : tensor<?x64xf16>, !mixq.qweight<32x64, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// CHECK-LABEL: func.func @split_outliers
func.func @split_outliers(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<12>>>
  // CHECK: %[[Y:.*]] = mixq.qmatmul %{{.*}}, %{{.*}} {exclude_outliers} : tensor<4x64xf32>
  %y = mixq.qmatmul %x, %w {exclude_outliers} : tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<12>>> -> tensor<4x32xf32>
  // CHECK: mixq.sparse_add %[[Y]], %{{.*}}, %{{.*}} : tensor<4x32xf32>, tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<12>>> -> tensor<4x32xf32>
  %z = mixq.sparse_add %y, %x, %w : tensor<4x32xf32>, tensor<4x64xf32>, !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<12>>> -> tensor<4x32xf32>
  return %z : tensor<4x32xf32>
}

// CHECK-LABEL: func.func @dequant
func.func @dequant() -> tensor<32x128xf16> {
  %w = mixq.weight "w" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], outliers = slots<1>>>
  // CHECK: mixq.dequant %{{.*}} : !mixq.qweight<32x128, {{.*}}> -> tensor<32x128xf16>
  %d = mixq.dequant %w : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], outliers = slots<1>>> -> tensor<32x128xf16>
  return %d : tensor<32x128xf16>
}

// CHECK-LABEL: func.func @act_quant
func.func @act_quant(%x: tensor<?x64xf16>) -> tensor<?x56xi8> {
  %w = mixq.weight "w" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} = mixq.act_quant %{{.*}} for %{{.*}} : tensor<?x64xf16>, !mixq.qweight<32x64, {{.*}}> -> tensor<?x56xi8>, tensor<?xf32>, tensor<?xf32>, tensor<?x8xf16>
  %q, %s, %z, %o = mixq.act_quant %x for %w : tensor<?x64xf16>, !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>> -> tensor<?x56xi8>, tensor<?xf32>, tensor<?xf32>, tensor<?x8xf16>
  return %q : tensor<?x56xi8>
}

// CHECK-LABEL: func.func @decoder_ops
func.func @decoder_ops(%x: tensor<?x288xf32>, %g: tensor<288xf32>, %q: tensor<?x6x48xf32>,
                       %pos: tensor<?xi32>, %kc: tensor<256x2x48xf32>, %vc: tensor<256x2x48xf32>,
                       %start: index) -> (tensor<?x288xf32>, tensor<?x6x48xf32>, tensor<?x6x48xf32>, tensor<?x6x48xf32>) {
  // CHECK: mixq.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : tensor<?x288xf32>, tensor<288xf32> -> tensor<?x288xf32>
  %n = mixq.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : tensor<?x288xf32>, tensor<288xf32> -> tensor<?x288xf32>
  // CHECK: mixq.rope %{{.*}}, %{{.*}} {style = #mixq.rope_style<adjacent>, theta = 1.000000e+04 : f32} : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
  %r = mixq.rope %q, %pos {theta = 10000.0 : f32, style = #mixq.rope_style<adjacent>} : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
  // CHECK: mixq.rope {{.*}}style = #mixq.rope_style<half>
  %h = mixq.rope %q, %pos {theta = 500000.0 : f32, style = #mixq.rope_style<half>} : tensor<?x6x48xf32>, tensor<?xi32> -> tensor<?x6x48xf32>
  // CHECK: mixq.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<?x6x48xf32>
  %a = mixq.attention %r, %kc, %vc, %start : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<?x6x48xf32>
  // CHECK: mixq.attention {{.*}} {scale = 1.250000e-01 : f32}
  %b = mixq.attention %r, %kc, %vc, %start {scale = 0.125 : f32} : tensor<?x6x48xf32>, tensor<256x2x48xf32>, tensor<256x2x48xf32>, index -> tensor<?x6x48xf32>
  return %n, %h, %a, %b : tensor<?x288xf32>, tensor<?x6x48xf32>, tensor<?x6x48xf32>, tensor<?x6x48xf32>
}

// CHECK-LABEL: func.func @embed
func.func @embed(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %e = mixq.weight "tok_embeddings.weight" : !mixq.qweight<100x64, #mixq.layout<dense, bits = 16>>
  // CHECK: mixq.embed %{{.*}}, %{{.*}} : tensor<?xi32>, !mixq.qweight<100x64, #mixq.layout<dense, bits = 16>> -> tensor<?x64xf32>
  %x = mixq.embed %t, %e : tensor<?xi32>, !mixq.qweight<100x64, #mixq.layout<dense, bits = 16>> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// #mixq.plan round-trips in each target and kernel, alone and on a qmatmul.
// CHECK-LABEL: func.func @plans
// CHECK-SAME: #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>
// CHECK-SAME: #mixq.plan<target = sm_80, kernel = gemm, tile = [128, 128, 64], split_k = 1, stages = 3>
// CHECK-SAME: #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>
func.func @plans() attributes {
    a = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>,
    b = #mixq.plan<target = sm_80, kernel = gemm, tile = [128, 128, 64], split_k = 1, stages = 3>,
    c = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>} {
  return
}

// CHECK-LABEL: func.func @planned_qmatmul
func.func @planned_qmatmul(%x: tensor<1x4096xf16>, %p: tensor<?x4096xf16>) -> (tensor<1x4096xf32>, tensor<?x4096xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
  // CHECK: mixq.qmatmul %{{.*}}, %{{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>} : tensor<1x4096xf16>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<1x4096xf32>
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>} : tensor<1x4096xf16>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<1x4096xf32>
  // CHECK: mixq.qmatmul %{{.*}}, %{{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [128, 256, 128], split_k = 1, stages = 4>} : tensor<?x4096xf16>
  %z = mixq.qmatmul %p, %w {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [128, 256, 128], split_k = 1, stages = 4>} : tensor<?x4096xf16>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<?x4096xf32>
  return %y, %z : tensor<1x4096xf32>, tensor<?x4096xf32>
}

// CHECK-LABEL: func.func @qmatmul_tile
func.func @qmatmul_tile(%x: tensor<?x4096xf32>, %n: index, %r: index, %k: index) -> (tensor<?x16xf32>, tensor<?x?xf32>) {
  %w = mixq.weight "w" : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
  %c0 = arith.constant 0 : index
  %c16 = arith.constant 16 : index
  // CHECK: mixq.qmatmul_tile %{{.*}}, %{{.*}} rows[%{{.*}}, %{{.*}}] k[%{{.*}}, 4096] {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 512], split_k = 1, stages = 1>} : tensor<?x4096xf32>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<?x16xf32>
  %t = mixq.qmatmul_tile %x, %w rows[%n, %c16] k[%c0, 4096] {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 512], split_k = 1, stages = 1>} : tensor<?x4096xf32>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<?x16xf32>
  // CHECK: mixq.qmatmul_tile %{{.*}}, %{{.*}} rows[%{{.*}}, %{{.*}}] k[%{{.*}}, 2048] {plan = {{.*}}split_k = 2{{.*}}} : {{.*}} -> tensor<?x?xf32>
  %p = mixq.qmatmul_tile %x, %w rows[%n, %r] k[%k, 2048] {plan = #mixq.plan<target = sm_80, kernel = gemm, tile = [128, 128, 64], split_k = 2, stages = 3>} : tensor<?x4096xf32>, !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<?x?xf32>
  return %t, %p : tensor<?x16xf32>, tensor<?x?xf32>
}
