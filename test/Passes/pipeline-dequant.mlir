// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu | FileCheck %s --check-prefix=PLAIN
// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s
// RUN: mixq-opt %s '--mixq-plan=target=sm_90a sm90-gemm=mma' --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s --check-prefix=S4
// The prefill GEMM's K loop (4-bit codes, asymmetric, second-order scales;
// K = 256): -mixq-lower-gpu emits it one tile at a time with its phases
// tagged; -mixq-pipeline-dequant makes the S-stage schedule of KERNELS.md.

!w = !mixq.qweight<256x256, #mixq.layout<uniform, bits = 4, group = 64, asym, scales = <4, 256>>>

// Plain: per tile copy (x zero-filled past M, codes evict-first), commit,
// scale dequantization, wait for everything, barrier, compute.
// PLAIN-LABEL: gpu.func @mixq_gemm_0
// PLAIN: createpolicy.fractional.L2::evict_first.b64
// PLAIN: scf.for %{{.*}} = %{{.*}} to %c4{{.*}} step
// PLAIN: llvm.inline_asm has_side_effects {mixq.stage = "copy"} "{{.*}}cp.async.cg.shared.global [$0], [g], 16, $2;
// PLAIN: llvm.inline_asm has_side_effects {mixq.stage = "copy"} "{{.*}}cp.async.cg.shared.global.L2::cache_hint [$0], [g], 16, $2;
// PLAIN: nvvm.cp.async.commit.group {mixq.stage = "copy"}
// PLAIN: arith.uitofp {{.*}} {mixq.stage = "scales"}
// PLAIN: nvvm.cp.async.wait.group 0 {mixq.stage = "wait"}
// PLAIN-NEXT: gpu.barrier {mixq.stage = "wait"}
// PLAIN: nvgpu.ldmatrix {{.*}} {mixq.stage = "compute", numTiles = 4 : i32, transpose = false}
// PLAIN: llvm.inline_asm {mixq.stage = "compute"} "lop3.b32 $0, $1, $2, $3, 0xEA;"
// PLAIN: nvgpu.mma.sync({{.*}}) {mixq.stage = "compute", mmaShape = [16, 8, 16]}
// PLAIN: } {mixq.pipeline = 3 : i64}

// Pipelined, 3 stages (sm_80): tiles 0 and 1 in flight before the loop and
// the scales of tile 0 dequantized; in the loop wait until one group is
// left (tile i has landed), barrier, copy tile i + 2 into the slot tile
// i - 1 used, dequantize the scales of tile i + 1, then tile i's ldmatrix,
// lop3 decode and mma.sync; the epilogue drains the last two tiles.
// CHECK-LABEL: gpu.func @mixq_gemm_0
// CHECK-NOT: mixq.stage
// CHECK: createpolicy.fractional.L2::evict_first.b64
// CHECK: cp.async.cg.shared.global [$0], [g], 16, $2;
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: arith.uitofp
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK-NOT: nvgpu.mma.sync
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: nvgpu.mma.sync
// CHECK: cp.async.cg.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: arith.uitofp %arg
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK-NOT: cp.async
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: "lop3.b32 $0, $1, $2, $3, 0xEA;"
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]}
// CHECK-NOT: cp.async
// CHECK: scf.yield
// CHECK-NOT: cache_hint
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.mma.sync
// CHECK-NOT: cache_hint
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.mma.sync
// CHECK-NOT: cp.async
// CHECK: gpu.return

// Four stages (sm_90a with sm90-gemm=mma: the mma.sync kernel): three tiles in flight, wait until two are left.
// S4-LABEL: gpu.func @mixq_gemm_0
// S4-COUNT-3: nvvm.cp.async.commit.group
// S4: scf.for
// S4-NEXT: nvvm.cp.async.wait.group 2
// S4-NEXT: gpu.barrier
// S4: scf.yield
// S4-COUNT-3: nvvm.cp.async.wait.group 0
// S4-NOT: cp.async
// S4: gpu.return
func.func @prefill(%x: tensor<64x256xf16>) -> tensor<64x256xf32> {
  %w = mixq.weight "w" : !w
  %y = mixq.qmatmul %x, %w : tensor<64x256xf16>, !w -> tensor<64x256xf32>
  return %y : tensor<64x256xf32>
}
