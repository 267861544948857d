// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// Dense FP16 and FP32 weights through -mixq-gpu-pipeline: 16-byte weight
// loads converted to f32, f32 fmas, butterfly shuffles; PTX that ptxas
// accepts for sm_80 and sm_90a.

// SM80: .target sm_80
// SM90: .target sm_90a

// FP16 weights, f32 activations: 8 weights per 16-byte load.
// PTX-LABEL: .visible .entry mixq_gemv_0(
// PTX-COUNT-3: .param .u64 .ptr .align 16
// PTX: .maxntid 128, 1, 1
// PTX: ld.global.nc.v4.b32
// PTX: cvt.f32.f16
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
func.func @d16(%x: tensor<1x256xf32>) -> tensor<1x128xf32> {
  %w = mixq.weight "d16" : !mixq.qweight<128x256, #mixq.layout<dense, bits = 16>>
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mixq.qweight<128x256, #mixq.layout<dense, bits = 16>> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}

// FP32 weights, M = 2 f16 activations.
// PTX-LABEL: .visible .entry mixq_gemv_1(
// PTX: ld.global.nc.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
func.func @d32(%x: tensor<2x256xf16>) -> tensor<2x128xf32> {
  %w = mixq.weight "d32" : !mixq.qweight<128x256, #mixq.layout<dense, bits = 32>>
  %y = mixq.qmatmul %x, %w : tensor<2x256xf16>, !mixq.qweight<128x256, #mixq.layout<dense, bits = 32>> -> tensor<2x128xf32>
  return %y : tensor<2x128xf32>
}
