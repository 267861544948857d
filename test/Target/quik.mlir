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

// Activations quantized at run time (act = 4, asymmetric): after the split,
// one block per row finds lo = min(min x, 0) and hi = max(max x, 0) by
// block reductions, then, exactly as the reference engine: scale = (hi -
// lo) / 15 and zero = rint(-lo / scale) by IEEE divisions (div.rn), each
// value rounded ties-to-even (cvt.rni), clamped to [0, 15], and written
// back dequantized, (q - zero) * scale, or unchanged where scale is not
// positive. The GEMVs then run as with act = 16.
// PTX-LABEL: .visible .entry mixq_quik_split_6(
// PTX-LABEL: .visible .entry mixq_quik_act_quant_7(
// PTX-COUNT-2: .param .u64 .ptr .align 16
// PTX: min.NaN.f32
// PTX: max.NaN.f32
// PTX: bar.sync
// PTX: div.rn.f32 {{.*}}, 0f41700000;
// PTX: div.rn.f32
// PTX: cvt.rni.f32.f32
// PTX: div.rn.f32
// PTX: cvt.rni.f32.f32
// PTX: add.rn.f32
// PTX: max.NaN.f32 {{.*}}, 0f00000000;
// PTX: min.NaN.f32 {{.*}}, 0f41700000;
// PTX: sub.rn.f32
// PTX: mul.rn.f32
// PTX: selp.f32
// PTX: st.global.b32
// PTX-LABEL: .visible .entry mixq_gemv_8(
// PTX: xor.b32 {{.*}}, 1258291208;
// PTX-LABEL: .visible .entry mixq_gemv_9(
func.func @quik_act4(%x: tensor<1x256xf32>) -> tensor<1x128xf32> {
  %w = mixq.weight "qa4" : !mixq.qweight<128x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mixq.qweight<128x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}

// Symmetric 8-bit activations and no FP16 columns (M = 3): no split; the
// kernel reads x (f16) directly, scale = max(hi, -lo) / 127, codes clamped
// to [-127, 127].
// PTX-LABEL: .visible .entry mixq_quik_act_quant_10(
// PTX: cvt.f32.f16
// PTX: neg.f32
// PTX: max.NaN.f32
// PTX: div.rn.f32 {{.*}}, 0f42FE0000;
// PTX: cvt.rni.f32.f32
// PTX: max.NaN.f32 {{.*}}, 0fC2FE0000;
// PTX: min.NaN.f32 {{.*}}, 0f42FE0000;
// PTX-LABEL: .visible .entry mixq_gemv_11(
// PTX-NOT: .entry mixq_quik_split
func.func @quik_act8(%x: tensor<3x256xf16>) -> tensor<3x64xf32> {
  %w = mixq.weight "qa8" : !mixq.qweight<64x256, #mixq.layout<quik, bits = 8, act = <8, per_token, sym>>>
  %y = mixq.qmatmul %x, %w : tensor<3x256xf16>, !mixq.qweight<64x256, #mixq.layout<quik, bits = 8, act = <8, per_token, sym>>> -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}

// Prefill (M = 64) with FP16 columns and 4-bit activations: the split, the
// integer GEMM over the 256 quantized columns (sm_80: mma.sync with 4-bit
// operands, m16n8k64.s4; sm_90a: the wgmma kernel on 8-bit activation
// codes through TMA, the weight codes widened to bytes in wgmma's A
// registers, dp4a for the rows' code sums, m64n64k32.s32.s8.s8), built
// before the activation codes it reads (launched first), then the FP16
// columns' GEMV in 4 chunks of 16 rows (grid z) adding onto it.
// PTX-LABEL: .visible .entry mixq_quik_split_12(
// SM80-LABEL: .visible .entry mixq_quik_igemm_13(
// SM80: cp.async.cg.shared.global.L2::cache_hint
// SM80: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// SM80: mma.sync.aligned.m16n8k64.row.col.satfinite.s32.s4.s4.s32
// SM90-LABEL: .visible .entry mixq_quik_iwgmma_13(
// SM90: mbarrier.try_wait.parity.shared::cta.b64
// SM90: dp4a.s32.s32
// SM90: wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8
// SM90: shfl.sync.bfly.b32
// PTX: cvt.rn.f32.s32
// SM90: cp.async.bulk.tensor.2d
// PTX-LABEL: .visible .entry mixq_quik_act_codes_14(
// PTX: cvt.rzi.s32.f32
// PTX-LABEL: .visible .entry mixq_gemv_15(
// PTX: %ctaid.z
func.func @quik_prefill(%x: tensor<64x288xf32>) -> tensor<64x128xf32> {
  %w = mixq.weight "qp" : !mixq.qweight<128x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>>
  %y = mixq.qmatmul %x, %w : tensor<64x288xf32>, !mixq.qweight<128x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// Prefill with FP16 activations: the f16 GEMM over the codes (sign bits
// flipped, lop3) after their f16 conversion; no FP16 columns.
// PTX-LABEL: .visible .entry mixq_gemm_16(
// PTX: xor.b32 {{.*}}, 136;
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-LABEL: .visible .entry mixq_to_half_64x256(
func.func @quik_prefill16(%x: tensor<64x256xf32>) -> tensor<64x128xf32> {
  %w = mixq.weight "qp16" : !mixq.qweight<128x256, #mixq.layout<quik, bits = 4, act = <16, per_token, asym>>>
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !mixq.qweight<128x256, #mixq.layout<quik, bits = 4, act = <16, per_token, asym>>> -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}
