// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// A product the plan splits over K (N <= 4096, K >= 8192): the GEMV writes
// partial sums and a second kernel adds the splits.

// SM80: .target sm_80
// SM90: .target sm_90a

// PTX-LABEL: .visible .entry mixq_gemv_0(
// PTX: mov.u32 {{.*}}, %ctaid.y;
// PTX: ld.global.nc.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX-LABEL: .visible .entry mixq_split_reduce_2x1x256(
// PTX-COUNT-2: .param .u64 .ptr .align 16
// PTX: .maxntid 256, 1, 1
// PTX-COUNT-2: ld.global.nc.b32
// PTX: add.rn.f32
// PTX: st.global.b32
func.func @splitk(%x: tensor<1x8192xf32>) -> tensor<1x256xf32> {
  %w = mixq.weight "big" : !mixq.qweight<256x8192, #mixq.layout<uniform, bits = 4, group = 128>>
  %y = mixq.qmatmul %x, %w : tensor<1x8192xf32>, !mixq.qweight<256x8192, #mixq.layout<uniform, bits = 4, group = 128>> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}
