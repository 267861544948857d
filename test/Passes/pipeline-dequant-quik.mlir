// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu | FileCheck %s --check-prefix=PLAIN
// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s
// RUN: mixq-opt %s '--mixq-plan=target=sm_90a sm90-gemm=mma' --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s --check-prefix=S8
// RUN: mixq-opt %s --mixq-plan=target=sm_90a --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s --check-prefix=WG
// QUIK's integer GEMM at prefill (4-bit weights, 4-bit asymmetric
// activations, K = 1024: 8 tiles of 128 codes): the activation codes
// first, then the GEMM, whose K loop -mixq-pipeline-dequant schedules like
// the f16 GEMM's (copies S - 1 tiles ahead; no scale phase: the scales are
// the epilogue's).

!w = !mixq.qweight<256x1024, #mixq.layout<quik, bits = 4, act = <4, per_token, asym>>>

// Launch order and operands: codes (64 rows of 1024 / 8 words) and the
// rows' scale and zero, then the GEMM over them.
// PLAIN-LABEL: func.func @quik_int
// PLAIN: gpu.launch_func @mixq_kernels::@mixq_quik_act_codes_1 {{.*}} args({{.*}} : memref<64x1024xf32>, %[[CODES:.*]] : memref<64x128xi32>, %[[PARAMS:.*]] : memref<64x2xf32>)
// PLAIN: gpu.launch_func @mixq_kernels::@mixq_quik_igemm_0 {{.*}} args({{.*}} : memref<32768xi32>, {{.*}} : memref<256xf16>, %[[PARAMS]] : memref<64x2xf32>, %[[CODES]] : memref<64x128xi32>, {{.*}} : memref<64x256xf32>, {{.*}} : index)

// One tile unpipelined: copies (x codes zero-filled past M, weight codes
// evict-first), commit, wait, barrier, then per 64-code step ldmatrix of
// the activation codes (as f16 pairs, reinterpreted as s4), the raw code
// words of the weight, 16 s4 MMAs and 4 with the all-ones A that sum each
// weight row's codes.
// PLAIN-LABEL: gpu.func @mixq_quik_igemm_0
// PLAIN-SAME: workgroup(%{{.*}} : memref<3x64x40xf16, #gpu.address_space<workgroup>> {{.*}}, %{{.*}} : memref<3x128x20xi32, #gpu.address_space<workgroup>>
// PLAIN: scf.for
// PLAIN: cp.async.cg.shared.global [$0], [g], 16, $2;
// PLAIN: cp.async.cg.shared.global.L2::cache_hint [$0], [g], 16, $2;
// PLAIN: nvvm.cp.async.commit.group {mixq.stage = "copy"}
// PLAIN-NOT: mixq.stage = "scales"
// PLAIN: nvvm.cp.async.wait.group 0 {mixq.stage = "wait"}
// PLAIN-NEXT: gpu.barrier {mixq.stage = "wait"}
// PLAIN: nvgpu.ldmatrix {{.*}} {mixq.stage = "compute", numTiles = 4 : i32, transpose = false}
// PLAIN: vector.bitcast {{.*}} : vector<2xf16> to vector<8xi4>
// PLAIN: memref.load {{.*}} {mixq.stage = "compute"} : memref<3x128x20xi32, #gpu.address_space<workgroup>>
// PLAIN-COUNT-16: nvgpu.mma.sync({{.*}}) {mixq.stage = "compute", mmaShape = [16, 8, 64]} : (vector<4x8xi4>, vector<2x8xi4>, vector<2x2xi32>) -> vector<2x2xi32>
// PLAIN-NEXT: %[[ONES:.*]] = arith.constant {mixq.stage = "compute"} dense<1> : vector<4x8xi4>
// PLAIN-COUNT-4: nvgpu.mma.sync(%[[ONES]], {{.*}}) {mixq.stage = "compute", mmaShape = [16, 8, 64]}
// PLAIN: } {mixq.pipeline = 3 : i64}
// Epilogue: acc - zero * rowsum in s32, one conversion, times the row's
// scale and the weight row's FP16 scale.
// PLAIN: arith.muli {{.*}} : i32
// PLAIN-NEXT: arith.subi {{.*}} : i32
// PLAIN-NEXT: arith.sitofp {{.*}} : i32 to f32
// PLAIN: arith.mulf
// PLAIN: arith.mulf

// Pipelined, 3 stages: two tiles in flight before the loop; in it, wait
// until one group is left, barrier, copy tile i + 2, then tile i's MMAs.
// CHECK-LABEL: gpu.func @mixq_quik_igemm_0
// CHECK-NOT: mixq.stage
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: nvgpu.mma.sync
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvgpu.ldmatrix
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 64]}
// CHECK: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 64]}
// CHECK: arith.sitofp

// sm_90a has no 4-bit MMA. With --sm90-gemm=mma: 8-bit activation codes
// (1024 / 4 words a row) and s8 MMAs, each 4-bit weight code moved to the
// top of its byte (nibble i shifted left by 4 i + 4); the epilogue divides
// by 16.
// S8: gpu.launch_func @mixq_kernels::@mixq_quik_act_codes_1 {{.*}} memref<64x256xi32>
// S8-LABEL: gpu.func @mixq_quik_igemm_0
// S8-NOT: vector<4x8xi4>
// S8: scf.for
// S8: arith.shli {{.*}}, %c4_i32
// S8: arith.shli {{.*}}, %c8_i32
// S8: arith.shli {{.*}}, %c12_i32
// S8: arith.shli {{.*}}, %c16_i32
// S8: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// S8: scf.yield
// S8: arith.mulf {{.*}}, %cst{{.*}} : f32
// By default the wgmma kernel: the codes' bytes viewed as f16 pairs for
// the TMA tensor map, s8 wgmma with the widened codes in A registers; it
// pipelines itself (no mixq.pipeline loop).
// WG: %[[BYTES:.*]] = gpu.alloc () : memref<65536xi8>
// WG: %[[CODES:.*]] = memref.view %[[BYTES]][%{{.*}}][] : memref<65536xi8> to memref<64x256xi32>
// WG: gpu.launch_func @mixq_kernels::@mixq_quik_act_codes_1 {{.*}}, %[[CODES]] : memref<64x256xi32>,
// WG: memref.view %[[BYTES]][%{{.*}}][] : memref<65536xi8> to memref<64x512xf16>
// WG: nvgpu.tma.create.descriptor {{.*}} box[%{{.*}}, %{{.*}}] : memref<*xf16> -> <tensor = memref<64x64xf16, 3>, swizzle = swizzle_128b
// WG: gpu.launch_func @mixq_kernels::@mixq_quik_iwgmma_0 blocks in ({{.*}}) threads in (%c384
// WG-LABEL: gpu.func @mixq_quik_iwgmma_0
// WG-NOT: mixq.pipeline
// WG: dp4a.s32.s32
// WG: wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8
// WG: arith.sitofp
func.func @quik_int(%x: tensor<64x1024xf32>) -> tensor<64x256xf32> {
  %w = mixq.weight "q4" : !w
  %y = mixq.qmatmul %x, %w : tensor<64x1024xf32>, !w -> tensor<64x256xf32>
  return %y : tensor<64x256xf32>
}
