// RUN: mixq-opt %s --mixq-plan | FileCheck %s --check-prefixes=CHECK,X86
// RUN: mixq-opt %s '--mixq-plan=target=x86' | FileCheck %s --check-prefixes=CHECK,X86
// RUN: mixq-opt %s '--mixq-plan=target=sm_80' | FileCheck %s --check-prefixes=CHECK,SM80
// RUN: mixq-opt %s '--mixq-plan=target=sm_90a' | FileCheck %s --check-prefixes=CHECK,SM90,WG90
// RUN: mixq-opt %s '--mixq-plan=target=sm_90a sm90-gemm=mma' | FileCheck %s --check-prefixes=CHECK,SM90,MMA90
// Idempotent: a second run (even for another target) keeps the first plans.
// RUN: mixq-opt %s --mixq-plan '--mixq-plan=target=sm_90a' | FileCheck %s --check-prefixes=CHECK,X86
// RUN: not mixq-opt %s '--mixq-plan=target=avx512' 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not mixq-opt %s '--mixq-plan=target=sm_90a sm90-gemm=fast' 2>&1 | FileCheck %s --check-prefix=BADGEMM
// Every mixq.qmatmul gets a #mixq.plan from M, N x K, the group and the
// target (rules: passes/Passes.td, docs/Compiler.md).

// BAD: error: -mixq-plan: unknown target 'avx512'; expected x86, sm_80 or sm_90a
// BADGEMM: error: -mixq-plan: unknown sm90-gemm 'fast'; expected wgmma or mma

!u4g128 = !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>

// Decode, M = 1, 4096x4096 uniform g128: gemv; K tile 512 on x86, 128 on GPUs.
// CHECK-LABEL: func.func @decode
func.func @decode(%x: tensor<1x4096xf16>) -> tensor<1x4096xf32> {
  %w = mixq.weight "wq" : !u4g128
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 512], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<1x4096xf16>, !u4g128 -> tensor<1x4096xf32>
  return %y : tensor<1x4096xf32>
}

// Decode of a long K (4096x11008): x86's K tile is 256 (512 and 384 do not
// divide 11008); on GPUs N <= 4096 and K >= 8192 split K in 2.
// CHECK-LABEL: func.func @decode_split_k
func.func @decode_split_k(%x: tensor<1x11008xf16>) -> tensor<1x4096xf32> {
  %w = mixq.weight "w2" : !mixq.qweight<4096x11008, #mixq.layout<uniform, bits = 4, group = 128>>
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 256], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 2, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<1x11008xf16>, !mixq.qweight<4096x11008, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<1x4096xf32>
  return %y : tensor<1x4096xf32>
}

// Prefill, dynamic M, 11008x4096 g128: gemm; the GPU K cap (64) is raised
// to the group (128). On sm_90a a uniform weight gets the wgmma kernel
// (sm90-gemm=mma: the mma.sync gemm).
// CHECK-LABEL: func.func @prefill
func.func @prefill(%x: tensor<?x4096xf16>) -> tensor<?x11008xf32> {
  %w = mixq.weight "w1" : !mixq.qweight<11008x4096, #mixq.layout<uniform, bits = 4, group = 128>>
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 512], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemm, tile = [64, 128, 128], split_k = 1, stages = 3>}
  // WG90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = wgmma, tile = [64, 128, 128], split_k = 1, stages = 4>}
  // MMA90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [64, 128, 128], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<?x4096xf16>, !mixq.qweight<11008x4096, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<?x11008xf32>
  return %y : tensor<?x11008xf32>
}

// What the wgmma kernel does not cover keeps the mma.sync gemm on sm_90a:
// K not a multiple of 64 (288, stories15M's dim), LUT codes.
// CHECK-LABEL: func.func @prefill_not_wgmma
func.func @prefill_not_wgmma(%x: tensor<?x288xf16>, %y: tensor<?x256xf16>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = mixq.weight "k288" : !mixq.qweight<64x288, #mixq.layout<uniform, bits = 4, group = 32>>
  %l = mixq.weight "lut" : !mixq.qweight<64x256, #mixq.layout<lut, bits = 4>>
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [64, 128, 32], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [64, 128, 64], split_k = 1, stages = 4>}
  %a = mixq.qmatmul %x, %w : tensor<?x288xf16>, !mixq.qweight<64x288, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<?x64xf32>
  %b = mixq.qmatmul %y, %l : tensor<?x256xf16>, !mixq.qweight<64x256, #mixq.layout<lut, bits = 4>> -> tensor<?x64xf32>
  return %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
}

// A mixed 2/4/16 layout with group 64, at M = 4 (gemv) and dynamic M (gemm).
!mixed = !mixq.qweight<256x1024, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [200, 48, 8], asym, scales = <4, 256>, outliers = slots<1>>>

// CHECK-LABEL: func.func @mixed
func.func @mixed(%x: tensor<4x1024xf16>, %p: tensor<?x1024xf16>) -> (tensor<4x256xf32>, tensor<?x256xf32>) {
  %w = mixq.weight "wm" : !mixed
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [4, 16, 512], split_k = 1, stages = 1>}
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 512], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemm, tile = [64, 128, 64], split_k = 1, stages = 3>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [64, 128, 64], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<4x1024xf16>, !mixed -> tensor<4x256xf32>
  %z = mixq.qmatmul %p, %w : tensor<?x1024xf16>, !mixed -> tensor<?x256xf32>
  return %y, %z : tensor<4x256xf32>, tensor<?x256xf32>
}

// Tile-groups of 32 rows: the x86 N tile is rounded up to 32 so that a
// tile holds whole tile-groups; the GPU tiles already do.
!mixed32 = !mixq.qweight<256x1024, #mixq.layout<mixed, bits = [2, 4], group = 64, tile = 32, alloc = [100, 28]>>

// CHECK-LABEL: func.func @mixed_tile32
func.func @mixed_tile32(%x: tensor<1x1024xf16>) -> tensor<1x256xf32> {
  %w = mixq.weight "wm32" : !mixed32
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 32, 512], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<1x1024xf16>, !mixed32 -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// A per-row QUIK layout (no group: K tiles are multiples of 32), M = 8.
// CHECK-LABEL: func.func @quik
func.func @quik(%x: tensor<8x4096xf16>) -> tensor<8x4096xf32> {
  %w = mixq.weight "wk" : !mixq.qweight<4096x4096, #mixq.layout<quik, bits = 4, fp16_cols = 256, act = <4, per_token, asym>>>
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [8, 16, 512], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 128], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<8x4096xf16>, !mixq.qweight<4096x4096, #mixq.layout<quik, bits = 4, fp16_cols = 256, act = <4, per_token, asym>>> -> tensor<8x4096xf32>
  return %y : tensor<8x4096xf32>
}

// K not divisible by 512: K = 288 with group 32 (x86: all of K; GPU gemv:
// 96; GPU gemm: 32), and a per-row LUT with K = 100, which no multiple of 32
// divides (the whole K).
// CHECK-LABEL: func.func @odd_k
func.func @odd_k(%x: tensor<1x288xf32>, %p: tensor<?x288xf32>, %s: tensor<1x100xf32>) -> (tensor<1x768xf32>, tensor<?x768xf32>, tensor<1x64xf32>) {
  %w = mixq.weight "w3" : !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
  %l = mixq.weight "wl" : !mixq.qweight<64x100, #mixq.layout<lut, bits = 3>>
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 288], split_k = 1, stages = 1>}
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemm, tile = [4, 16, 288], split_k = 1, stages = 1>}
  // X86: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 100], split_k = 1, stages = 1>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 96], split_k = 1, stages = 4>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemm, tile = [64, 128, 32], split_k = 1, stages = 3>}
  // SM80: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 100], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 96], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm, tile = [64, 128, 32], split_k = 1, stages = 4>}
  // SM90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemv, tile = [16, 64, 100], split_k = 1, stages = 4>}
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<1x768xf32>
  %z = mixq.qmatmul %p, %w : tensor<?x288xf32>, !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<?x768xf32>
  %v = mixq.qmatmul %s, %l : tensor<1x100xf32>, !mixq.qweight<64x100, #mixq.layout<lut, bits = 3>> -> tensor<1x64xf32>
  return %y, %z, %v : tensor<1x768xf32>, tensor<?x768xf32>, tensor<1x64xf32>
}

// A product that already has a plan keeps it, whatever the target.
// CHECK-LABEL: func.func @planned
func.func @planned(%x: tensor<1x4096xf16>) -> tensor<1x4096xf32> {
  %w = mixq.weight "wq" : !u4g128
  // CHECK: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 128, 256], split_k = 4, stages = 2>}
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 128, 256], split_k = 4, stages = 2>} : tensor<1x4096xf16>, !u4g128 -> tensor<1x4096xf32>
  return %y : tensor<1x4096xf32>
}

// QUIK on sm_90a: 4-bit codes with quantized activations whose quantized
// columns (K - fp16_cols) fill 128-code tiles get the s8 wgmma kernel;
// 8-bit codes, FP16 activations and other column counts keep gemm.
// CHECK-LABEL: func.func @quik_sm90
func.func @quik_sm90(%x: tensor<?x288xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %a = mixq.weight "qa" : !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>>
  %b = mixq.weight "qb" : !mixq.qweight<64x288, #mixq.layout<quik, bits = 8, fp16_cols = 32, act = <4, per_token, asym>>>
  %c = mixq.weight "qc" : !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <16, per_token, asym>>>
  %d = mixq.weight "qd" : !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 64, act = <8, per_token, sym>>>
  // WG90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = wgmma,
  // WG90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm,
  // WG90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm,
  // WG90: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm,
  // MMA90-COUNT-4: mixq.qmatmul {{.*}} {plan = #mixq.plan<target = sm_90a, kernel = gemm,
  %ya = mixq.qmatmul %x, %a : tensor<?x288xf32>, !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>> -> tensor<?x64xf32>
  %yb = mixq.qmatmul %x, %b : tensor<?x288xf32>, !mixq.qweight<64x288, #mixq.layout<quik, bits = 8, fp16_cols = 32, act = <4, per_token, asym>>> -> tensor<?x64xf32>
  %yc = mixq.qmatmul %x, %c : tensor<?x288xf32>, !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <16, per_token, asym>>> -> tensor<?x64xf32>
  %yd = mixq.qmatmul %x, %d : tensor<?x288xf32>, !mixq.qweight<64x288, #mixq.layout<quik, bits = 4, fp16_cols = 64, act = <8, per_token, sym>>> -> tensor<?x64xf32>
  return %ya, %yb, %yc, %yd : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
