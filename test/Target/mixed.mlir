// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// A 2/4/16 mixed weight (second-order scales, zeros, one outlier slot per
// 2-bit row-group) through -mixq-gpu-pipeline: one warp per tile-group,
// the precision switch uniform across the warp (bra.uni), warps summed
// through shared memory.

// SM80: .target sm_80
// SM90: .target sm_90a

// Streams: pmap, offsets, codes2, codes4, codes16, scale_codes, scale_meta,
// zeros, slot_index, slot_value; then x and y.
// PTX-LABEL: .visible .entry mixq_gemv_0(
// PTX-COUNT-12: .param .u64 .ptr .align 16
// PTX: .maxntid 128, 1, 1
// PTX: .shared .align 16 .b8 __wg_mixq_gemv_0_0[256];
// PTX: shfl.sync.bfly.b32
// PTX: bra.uni
// PTX: ld.global.nc.v4.b32
// PTX: or.b32 {{.*}}, 1258291200;
// PTX: fma.rn.f32
// PTX: st.shared.b32
// PTX: bar.sync 0;
// PTX: ld.shared.b32
// PTX: st.global.b32
func.func @mixed(%x: tensor<1x256xf32>) -> tensor<1x64xf32> {
  %w = mixq.weight "mx" : !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
