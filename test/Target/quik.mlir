// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// QUIK weights with floating-point activations (act = 16) through
// -mixq-gpu-pipeline: a kernel splits the activations into the quantized
// and the FP16 columns, the GEMV of the signed codes (sign bit flipped, then
// the magic-number conversion) runs on the first, the GEMV of the FP16
// columns adds the second.

// SM80: .target sm_80
// SM90: .target sm_90a

// PTX-LABEL: .visible .entry mixq_quik_split_0(
// PTX-COUNT-4: .param .u64 .ptr .align 16
// PTX: ld.global.nc.{{(v4.)?}}b32
// PTX: setp.lt.s32
// PTX: cvt.f32.f16
// PTX: st.global.b32
// PTX-LABEL: .visible .entry mixq_gemv_1(
// PTX-COUNT-4: .param .u64 .ptr .align 16
// PTX: ld.global.nc.v4.b32
// (code ^ 8) | 0x4B000000, folded into one xor with 0x4B000008:
// PTX: xor.b32 {{.*}}, 1258291208;
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX-LABEL: .visible .entry mixq_gemv_2(
// PTX-COUNT-4: .param .u64 .ptr .align 16
// PTX: ld.global.nc.v4.b32
// PTX: cvt.f32.f16
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: ld.global.nc.b32
// PTX: add.rn.f32
// PTX: st.global.b32
func.func @quik(%x: tensor<1x256xf16>) -> tensor<1x256xf32> {
  %w = mixq.weight "q" : !mixq.qweight<256x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <16, per_token, asym>>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf16>, !mixq.qweight<256x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <16, per_token, asym>>> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// 8-bit codes, M = 2.
// PTX-LABEL: .visible .entry mixq_quik_split_3(
// PTX-LABEL: .visible .entry mixq_gemv_4(
// PTX: ld.global.nc.v4.b32
// PTX: fma.rn.f32
// PTX-LABEL: .visible .entry mixq_gemv_5(
func.func @quik8(%x: tensor<2x288xf32>) -> tensor<2x128xf32> {
  %w = mixq.weight "q8" : !mixq.qweight<128x288, #mixq.layout<quik, bits = 8, fp16_cols = 32, act = <16, per_token, asym>>>
  %y = mixq.qmatmul %x, %w : tensor<2x288xf32>, !mixq.qweight<128x288, #mixq.layout<quik, bits = 8, fp16_cols = 32, act = <16, per_token, asym>>> -> tensor<2x128xf32>
  return %y : tensor<2x128xf32>
}
