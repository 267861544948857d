// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.mlir > %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: %ptxas -arch=sm_90a %t.ptx -o %t.cubin
// The sm_90a prefill GEMM (passes/gpu/WgmmaGemmKernel.cpp) of uniform
// 2/3/4/8-bit weights through -mixq-gpu-pipeline: 384 threads (a producer
// warpgroup, two consumer warpgroups), the x stages 1024-byte aligned for
// the 128-byte swizzle, mbarriers (full: 33 arrivals, empty: 256), TMA
// loads of x completing on them, cp.async of the codes with an mbarrier
// arrive, the lop3 decode into register A fragments and wgmma.m64n64k16
// with A from registers; ptxas accepts it. No setmaxnreg: 384 threads at
// ptxas's 74-99 registers fit the register file as they are. Stages: as
// many of the plan's 4 as fit 48 KiB of static shared memory (2-bit: 4,
// 3- and 4-bit: 3, 8-bit: 2).

// 4-bit, group 32, FP16 scales, f32 activations (converted first).
// CHECK-LABEL: .visible .entry mixq_wgmma_0(
// CHECK: .maxntid 384, 1, 1
// CHECK: .shared .align 1024 .b8 __wg_mixq_wgmma_0_0[24576];
// CHECK: .shared .align 16 .b8 __wg_mixq_wgmma_0_1[12288];
// CHECK: .shared .align 16 .b8 __wg_mixq_wgmma_0_2[48];
// CHECK: mov.b32 {{.*}}, 33;
// CHECK: mbarrier.init.shared::cta.b64
// CHECK: mov.b32 {{.*}}, 256;
// CHECK: fence.mbarrier_init.release.cluster;
// CHECK: fence.proxy.async.shared::cta;
// CHECK: bar.sync 0;
// CHECK: mbarrier.try_wait.parity.shared::cta.b64
// CHECK: lop3.b32 {{.*}}, 0xEA;
// CHECK: wgmma.fence.sync.aligned;
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%r{{[0-9]+}}, {{.*}}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, 1, 1, 1, 0;
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK: wgmma.wait_group.sync.aligned 0;
// CHECK: mbarrier.arrive.shared::cta.b64
// CHECK: st.global.b32
// CHECK: createpolicy.fractional.L2::evict_first.b64
// CHECK: mbarrier.try_wait.parity.shared::cta.b64
// CHECK: mbarrier.arrive.expect_tx.shared::cta.b64 _, [%rd{{[0-9]+}}], %r{{[0-9]+}};
// CHECK: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd{{[0-9]+}}], [%rd{{[0-9]+}}, {%r{{[0-9]+}}, %r{{[0-9]+}}}], [%rd{{[0-9]+}}];
// CHECK: cp.async.cg.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 16, %rd{{[0-9]+}};
// CHECK: cp.async.mbarrier.arrive.noinc.shared::cta.b64
// CHECK: ret;
// CHECK: .visible .entry mixq_to_half_64x256(
func.func @u4(%x: tensor<64x256xf32>) -> tensor<64x512xf32> {
  %w = mixq.weight "u4" : !mixq.qweight<512x256, #mixq.layout<uniform, bits = 4, group = 32>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<512x256, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<64x512xf32>
  return %y : tensor<64x512xf32>
}

// 2-bit, asymmetric, f16 activations (no conversion), N = 100 and M = 80:
// a partial block in both (TMA zero-fills x rows 80..127 of the second
// block; the epilogue guards rows with M and weight rows with N = 100);
// 4 stages.
// CHECK-LABEL: .visible .entry mixq_wgmma_1(
// CHECK: .shared .align 1024 .b8 __wg_mixq_wgmma_1_0[32768];
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK: setp.gt.u64 {{.*}}, 99;
// CHECK: st.global.b32
// CHECK: cp.async.bulk.tensor.2d
// CHECK: ret;
func.func @u2(%x: tensor<80x256xf16>) -> tensor<80x100xf32> {
  %w = mixq.weight "u2" : !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>>
  %y = mixq.qmatmul %x, %w : tensor<80x256xf16>, !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>> -> tensor<80x100xf32>
  return %y : tensor<80x100xf32>
}

// 3-bit, second-order scales: a tile's code row is 24 bytes (8-byte .ca
// copies) and a pair may straddle two words (a 64-bit funnel).
// CHECK-LABEL: .visible .entry mixq_wgmma_2(
// CHECK: shr.u64
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK: cp.async.ca.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 8, %rd{{[0-9]+}};
// CHECK: ret;
func.func @u3(%x: tensor<128x256xf32>) -> tensor<128x128xf32> {
  %w = mixq.weight "u3" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>>
  %y = mixq.qmatmul %x, %w : tensor<128x256xf32>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>> -> tensor<128x128xf32>
  return %y : tensor<128x128xf32>
}

// 8-bit, one scale per row: 2 stages.
// CHECK-LABEL: .visible .entry mixq_wgmma_3(
// CHECK: .shared .align 1024 .b8 __wg_mixq_wgmma_3_0[16384];
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK: ret;
func.func @u8(%x: tensor<64x256xf32>) -> tensor<64x128xf32> {
  %w = mixq.weight "u8" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// One K tile (K = 64), group 16 (four scale slots a tile), M = 17, N = 33.
// CHECK-LABEL: .visible .entry mixq_wgmma_4(
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK-NOT: wgmma.mma_async
// CHECK: setp.gt.u64 {{.*}}, 32;
// CHECK: ret;
func.func @one_tile(%x: tensor<17x64xf16>) -> tensor<17x33xf32> {
  %w = mixq.weight "k64" : !mixq.qweight<33x64, #mixq.layout<uniform, bits = 4, group = 16, asym>>
  %y = mixq.qmatmul %x, %w : tensor<17x64xf16>, !mixq.qweight<33x64, #mixq.layout<uniform, bits = 4, group = 16, asym>> -> tensor<17x33xf32>
  return %y : tensor<17x33xf32>
}
