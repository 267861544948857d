// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// Uniform weights (2/3/4/8-bit; FP16 or second-order scales; zeros) through
// -mixq-gpu-pipeline: PTX for sm_80 and sm_90a that ptxas accepts, with
// 16-byte code loads, the magic-number conversion (or 0x4B000000, sub),
// f32 fmas and butterfly shuffles.

// SM80: .version 8.0
// SM80: .target sm_80
// SM90: .version 8.0
// SM90: .target sm_90a

// 4-bit, FP16 scales, M = 1: one 16-byte load of 32 codes per lane and row.
// PTX-LABEL: .visible .entry mixq_gemv_0(
// PTX-COUNT-4: .param .u64 .ptr .align 16
// PTX: .maxntid 128, 1, 1
// PTX: ld.global.nc.v4.b32
// PTX: or.b32 {{.*}}, 1258291200;
// PTX: {{sub|add}}.rn.f32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32 {{.*}}, 16, 31, -1;
// PTX: shfl.sync.bfly.b32 {{.*}}, 1, 31, -1;
// PTX: st.global
func.func @u4(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "u4" : !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>> -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}

// 2-bit with zeros, N = 100 (a partial last block): 64 codes per 16 bytes.
// PTX-LABEL: .visible .entry mixq_gemv_1(
// PTX-COUNT-5: .param .u64 .ptr .align 16
// PTX: ld.global.nc.v4.b32
// PTX: ld.global.nc.b8
// PTX: or.b32 {{.*}}, 1258291200;
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
func.func @u2(%x: tensor<1x256xf32>) -> tensor<1x100xf32> {
  %w = mixq.weight "u2" : !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mixq.qweight<100x256, #mixq.layout<uniform, bits = 2, group = 64, asym>> -> tensor<1x100xf32>
  return %y : tensor<1x100xf32>
}

// 3-bit, second-order scales, zeros, M = 4 f16 activations: three 4-byte
// code loads per chunk (codes cross words: shf funnel shifts).
// PTX-LABEL: .visible .entry mixq_gemv_2(
// PTX-COUNT-6: .param .u64 .ptr .align 16
// PTX: ld.global.nc.b32
// PTX: shf.l.wrap.b32
// PTX: cvt.f32.f16
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
func.func @u3(%x: tensor<4x256xf16>) -> tensor<4x128xf32> {
  %w = mixq.weight "u3" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>>
  %y = mixq.qmatmul %x, %w : tensor<4x256xf16>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>> -> tensor<4x128xf32>
  return %y : tensor<4x128xf32>
}

// 8-bit per-row scales: 16 codes per 16-byte load.
// PTX-LABEL: .visible .entry mixq_gemv_3(
// PTX: ld.global.nc.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
func.func @u8(%x: tensor<1x256xf32>) -> tensor<1x128xf32> {
  %w = mixq.weight "u8" : !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mixq.qweight<128x256, #mixq.layout<uniform, bits = 8>> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}
