// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s '--mixq-gpu-pipeline=chip=sm_90a sm90-gemm=mma' -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// The prefill GEMM (M > 16) on tensor cores for uniform 2/3/4/8-bit, LUT and mixed 2/4/16 weights,
// through -mixq-gpu-pipeline (-mixq-pipeline-dequant included): the
// activations converted to f16, then cp.async stages (weights with an L2
// evict-first policy), ldmatrix.x4, the lop3 decode and
// mma.sync.m16n8k16 with f32 accumulation; the pipelined loop waits for
// all but S-2 groups (S = 3 on sm_80, 4 on sm_90a). ptxas accepts both.
// On sm_90a the uniform weights would get the wgmma kernel (wgmma.mlir):
// sm90-gemm=mma keeps this kernel there, the A/B switch and fallback.

// SM80: .target sm_80
// SM90: .target sm_90a

// 4-bit, group 32, FP16 scales, f32 activations (converted first).
// PTX-LABEL: .visible .entry mixq_gemm_0(
// PTX: createpolicy.fractional.L2::evict_first.b64
// PTX: cp.async.cg.shared.global [%rd{{[0-9]+}}], [g], 16, %r{{[0-9]+}};
// PTX: cp.async.cg.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 16, %rd{{[0-9]+}};
// PTX: cp.async.commit_group;
// SM80: cp.async.wait_group 1;
// SM90: cp.async.wait_group 2;
// PTX: bar.sync 0;
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: lop3.b32 {{.*}}, 0xEA;
// PTX: {{add|sub}}.rn.f16x2
// PTX: mul.rn.f16x2
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: cp.async.wait_group 0;
// PTX: st.global.v2.b32
// PTX: ret;
func.func @u4(%x: tensor<64x256xf32>) -> tensor<64x512xf32> {
  %w = mixq.weight "u4" : !mixq.qweight<512x256, #mixq.layout<uniform, bits = 4, group = 32>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<512x256, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<64x512xf32>
  return %y : tensor<64x512xf32>
}

// 2-bit, asymmetric, f16 activations (no conversion), N = 100 and M = 80:
// a partial block in both; column guards in the epilogue.
// PTX-LABEL: .visible .entry mixq_gemm_1(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: setp.{{.*}}100
// PTX: ret;
func.func @u2(%x: tensor<80x256xf16>) -> tensor<80x100xf32> {
  %w = mixq.weight "u2" : !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>>
  %y = mixq.qmatmul %x, %w : tensor<80x256xf16>, !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>> -> tensor<80x100xf32>
  return %y : tensor<80x100xf32>
}

// 3-bit, second-order scales: the code rows of a tile (24 bytes at K = 64
// a tile on sm_80, 12 at 32 on sm_90a, where 4 stages must fit) go as 8- or
// 4-byte copies (.ca: .cg takes 16 bytes only); pairs straddling two words
// are read as one 64-bit funnel.
// PTX-LABEL: .visible .entry mixq_gemm_2(
// SM80: cp.async.ca.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 8, %rd{{[0-9]+}};
// SM90: cp.async.ca.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 4, %rd{{[0-9]+}};
// PTX: shr.u64
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
func.func @u3(%x: tensor<128x256xf32>) -> tensor<128x128xf32> {
  %w = mixq.weight "u3" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>>
  %y = mixq.qmatmul %x, %w : tensor<128x256xf32>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>> -> tensor<128x128xf32>
  return %y : tensor<128x128xf32>
}

// 8-bit, one scale per row.
// PTX-LABEL: .visible .entry mixq_gemm_3(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
func.func @u8(%x: tensor<64x256xf32>) -> tensor<64x128xf32> {
  %w = mixq.weight "u8" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// One K tile (K = 64): too short to pipeline, the plain loop waits for
// everything.
// PTX-LABEL: .visible .entry mixq_gemm_4(
// PTX-NOT: cp.async.wait_group 1;
// PTX-NOT: cp.async.wait_group 2;
// PTX: cp.async.wait_group 0;
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
func.func @short(%x: tensor<64x64xf16>) -> tensor<64x128xf32> {
  %w = mixq.weight "s4" : !mixq.qweight<128x64, #mixq.layout<uniform, bits = 4, group = 64>>
  %y = mixq.qmatmul %x, %w : tensor<64x64xf16>, !mixq.qweight<128x64, #mixq.layout<uniform, bits = 4, group = 64>> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// LUT 3-bit (SqueezeLLM without outliers): the block's 128 codebooks staged
// in shared memory as f16 before the K loop; a code pair is two table reads
// packed as f16x2; no scale phase.
// PTX-LABEL: .visible .entry mixq_gemm_5(
// PTX: ld.global.nc.b16
// PTX: st.shared.b16
// PTX: bar.sync 0;
// PTX: cp.async.ca.shared.global.L2::cache_hint
// PTX: ld.shared.b16
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
func.func @lut(%x: tensor<80x256xf32>) -> tensor<80x200xf32> {
  %w = mixq.weight "l3" : !mixq.qweight<200x256, #mixq.layout<lut, bits = 3>>
  %y = mixq.qmatmul %x, %w : tensor<80x256xf32>, !mixq.qweight<200x256, #mixq.layout<lut, bits = 3>> -> tensor<80x200xf32>
  return %y : tensor<80x200xf32>
}

// Mixed 2/4/16 (tile-groups of 16 rows, groups of 64, second-order scales,
// zeros, one outlier slot per 2-bit row): K tiles of 32 columns; each lane
// copies its row's run of the tile in its precision's stream as eight
// 8-byte cp.async whose source size is 0 past the run; per tile-group and
// k16 step one warp-uniform switch on the precision; 2-bit rows add their
// slots in registers; FP16 pairs are 32-bit shared loads.
// PTX-LABEL: .visible .entry mixq_gemm_6(
// PTX: cp.async.ca.shared.global.L2::cache_hint [%rd{{[0-9]+}}], [g], 8, %r{{[0-9]+}}, %rd{{[0-9]+}};
// SM80: cp.async.wait_group 1;
// SM90: cp.async.wait_group 1;
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: lop3.b32
// PTX: add.rn.f16x2
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: ret;
func.func @mixed(%x: tensor<64x256xf32>) -> tensor<64x64xf32> {
  %w = mixq.weight "mx" : !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>> -> tensor<64x64xf32>
  return %y : tensor<64x64xf32>
}
