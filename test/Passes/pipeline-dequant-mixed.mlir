// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu | FileCheck %s --check-prefix=PLAIN
// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s
// The mixed 2/4/16 GEMM's K loop (tiles of 32 columns, 8 in K = 256): the
// tile-group counts per precision are carried by the loop and advanced in
// the copy phase, so they run S - 1 tiles ahead with the copies; the
// precision switch is in the compute phase.

!w = !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>>

// Plain: 16 accumulators plus 2 tile-groups x 3 precisions of counts.
// PLAIN-LABEL: gpu.func @mixq_gemm_0
// PLAIN: scf.for {{.*}} -> (vector<2x2xf32>, {{.*}}, index, index, index, index, index, index) {
// PLAIN: llvm.inline_asm has_side_effects {mixq.stage = "copy"} "{{.*}}cp.async.ca.shared.global.L2::cache_hint [$0], [g], 8, $2, $3;
// PLAIN: nvvm.cp.async.commit.group {mixq.stage = "copy"}
// PLAIN: nvvm.cp.async.wait.group 0 {mixq.stage = "wait"}
// PLAIN: scf.index_switch {{.*}} -> vector<2xf16>, vector<2xf16>, vector<2xf16>, vector<2xf16>
// PLAIN: nvgpu.mma.sync({{.*}}) {mixq.stage = "compute", mmaShape = [16, 8, 16]}
// PLAIN: } {mixq.pipeline = 3 : i64}

// Pipelined: two tiles' copies (and counts) before the loop; in the loop
// wait for tile i, copy tile i + 2, then tile i's switches and mmas.
// CHECK-LABEL: gpu.func @mixq_gemm_0
// CHECK: cp.async.ca.shared.global.L2::cache_hint [$0], [g], 8, $2, $3;
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: nvgpu.mma.sync
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: nvgpu.mma.sync
// CHECK: cp.async.ca.shared.global.L2::cache_hint
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: cp.async
// CHECK: scf.index_switch
// CHECK: nvgpu.mma.sync
// CHECK: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NOT: cp.async
// CHECK: gpu.return
func.func @prefill(%x: tensor<64x256xf16>) -> tensor<64x64xf32> {
  %w = mixq.weight "mx" : !w
  %y = mixq.qmatmul %x, %w : tensor<64x256xf16>, !w -> tensor<64x64xf32>
  return %y : tensor<64x64xf32>
}
