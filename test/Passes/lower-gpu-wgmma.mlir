// RUN: mixq-opt %s --mixq-plan=target=sm_90a --mixq-tile --mixq-lower-gpu | FileCheck %s
// RUN: mixq-opt %s --mixq-plan=target=sm_90a --mixq-tile --mixq-lower-gpu --mixq-pipeline-dequant | FileCheck %s
// RUN: mixq-opt %s '--mixq-plan=target=sm_90a sm90-gemm=mma' --mixq-tile --mixq-lower-gpu | FileCheck %s --check-prefix=MMA
// The schedule of the sm_90a GEMM (passes/gpu/WgmmaGemmKernel.cpp) for a
// 4-bit asymmetric weight with second-order scales, N = 200 (a partial
// block), M = 80 (a partial block), K = 256 (4 tiles of 64 through S = 3
// stages: 3 x (8 KiB of x + 4 KiB of codes) fits 48 KiB, 4 would not).
// The kernel pipelines itself with mbarriers, so -mixq-pipeline-dequant
// leaves it as it is.

// Host: x's TMA tensor map (64 x 64 box, 128-byte swizzle, zero fill), then
// 2 x 2 blocks of 384 threads with the map in place of x.
// CHECK-LABEL: func.func @prefill
// CHECK: %[[U:.*]] = memref.cast %{{.*}} : memref<80x256xf16> to memref<*xf16>
// CHECK: %[[D:.*]] = nvgpu.tma.create.descriptor %[[U]] box[%{{.*}}, %{{.*}}] : memref<*xf16> -> <tensor = memref<64x64xf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
// CHECK: %[[P:.*]] = builtin.unrealized_conversion_cast %[[D]] {{.*}} to !llvm.ptr
// CHECK: gpu.launch_func @mixq_kernels::@mixq_wgmma_0 blocks in (%c2, %c1, %c2{{.*}}) threads in (%c384,
// CHECK-SAME: %[[P]] : !llvm.ptr

// Kernel: x stages 1024-byte aligned (the swizzle's period), 3 full
// barriers of 33 arrivals (expect_tx + 32 cp.async lanes) and 3 empty ones
// of 256 (the consumer threads), initialized by thread 0 and fenced.
// CHECK-LABEL: gpu.func @mixq_wgmma_0(
// CHECK-SAME: workgroup(%{{.*}} : memref<3x64x64xf16, #gpu.address_space<workgroup>> {llvm.align = 1024 : i64}, %{{.*}} : memref<3x128x8xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<6xi64, #gpu.address_space<workgroup>>
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK-COUNT-3: mbarrier.init.shared::cta.b64 [$0], $1;", "l,r" %{{.*}}, %c{{(33|256)}}_i32
// CHECK-COUNT-3: mbarrier.init.shared::cta.b64
// CHECK-NEXT: fence.mbarrier_init.release.cluster;\0Afence.proxy.async.shared::cta;
// CHECK: gpu.barrier

// Producer (warp 0 of warpgroup 0), per tile: wait for the slot's empty
// barrier with the flipped parity (the first round passes), lane 0 arms the
// full barrier with 8192 bytes and issues the TMA load of x's 64 x 64 tile
// onto it, every lane copies its share of the 128 code rows (8 x 16 bytes,
// L2 evict-first) and arrives on the full barrier when they land.
// CHECK: scf.for
// CHECK: %[[FLIP:.*]] = arith.xori %{{.*}}, %c1{{.*}} : index
// CHECK: mbarrier.try_wait.parity.shared::cta.b64 p, [$0], $1;\0A@!p bra
// CHECK: scf.if
// CHECK: mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "l,r" %{{.*}}, %c8192_i32
// CHECK: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3}], [$4];
// CHECK: }
// CHECK-COUNT-8: cp.async.cg.shared.global.L2::cache_hint [$0], [g], 16, $2;
// CHECK-NOT: cp.async.cg
// CHECK: cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];
// CHECK-NEXT: }

// Consumers (warpgroups 1 and 2), per tile: the scale words load before
// the full-barrier wait (parity (i / 3) mod 2), the lop3 decode of all four
// k16 steps' A fragments after it; then wgmma.fence, four register-A
// wgmma.m64n64k16 (no decode in between), commit, wait_group 0, and one
// arrive on the slot's empty barrier that frees it for the producer.
// CHECK: } else {
// CHECK: scf.for %{{.*}} iter_args(
// CHECK: memref.load %{{.*}} : memref<14xf16>
// CHECK-NOT: lop3.b32
// CHECK: mbarrier.try_wait.parity.shared::cta.b64
// CHECK-COUNT-16: lop3.b32 $0, $1, $2, $3, 0xEA;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-NOT: lop3.b32
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {$0, {{.*}}}, {$32, $33, $34, $35}, $36, 1, 1, 1, 0;
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: wgmma.wait_group.sync.aligned 0;
// CHECK: mbarrier.arrive.shared::cta.b64 st, [$0];
// CHECK-NEXT: scf.yield

// Epilogue: D[n][m] to out[m][n] under m < M and n < N (200).
// CHECK: arith.cmpi ult, %{{.*}}, %arg6 : index
// CHECK: arith.cmpi ult, %{{.*}}, %c200 : index
// CHECK: memref.store %{{.*}}#0, %{{.*}} : memref<80x200xf32>
// CHECK: gpu.return

// sm90-gemm=mma: the mma.sync GEMM, no tensor map.
// MMA-NOT: nvgpu.tma.create.descriptor
// MMA: gpu.func @mixq_gemm_0(
// MMA-NOT: wgmma
func.func @prefill(%x: tensor<80x256xf16>) -> tensor<80x200xf32> {
  %w = mixq.weight "w" : !mixq.qweight<200x256, #mixq.layout<uniform, bits = 4, group = 32, asym, scales = <4, 256>>>
  %y = mixq.qmatmul %x, %w : tensor<80x256xf16>, !mixq.qweight<200x256, #mixq.layout<uniform, bits = 4, group = 32, asym, scales = <4, 256>>> -> tensor<80x200xf32>
  return %y : tensor<80x200xf32>
}
