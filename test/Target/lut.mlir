// REQUIRES: ptxas
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_80 -o %t.80.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.80.mlir > %t.80.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM80 < %t.80.ptx
// RUN: %ptxas -arch=sm_80 %t.80.ptx -o %t.80.cubin
// RUN: mixq-opt %s --mixq-gpu-pipeline=chip=sm_90a -o %t.90.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.90.mlir > %t.90.ptx
// RUN: FileCheck %s --check-prefixes=PTX,SM90 < %t.90.ptx
// RUN: %ptxas -arch=sm_90a %t.90.ptx -o %t.90.cubin
// A SqueezeLLM weight (3-bit per-row LUT, CSR outliers) through
// -mixq-gpu-pipeline: the dense part looks its codes up in tables staged
// in shared memory; the outliers are a second kernel after it.

// SM80: .target sm_80
// SM90: .target sm_90a

// PTX-LABEL: .visible .entry mixq_gemv_0(
// PTX-COUNT-4: .param .u64 .ptr .align 16
// PTX: .shared .align 16 .b8 __wg_mixq_gemv_0_0[512];
// PTX: st.shared.b32
// PTX: bar.sync 0;
// PTX: ld.global.nc.b32
// PTX: ld.shared.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32

// The CSR part: rowptr, col, value, x, acc, out.
// PTX-LABEL: .visible .entry mixq_sparse_add_1(
// PTX-COUNT-6: .param .u64 .ptr .align 16
// PTX: ld.global.nc.b32
// PTX: ld.global.nc.b16
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: st.global.b32
func.func @lut(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "lut" : !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>> -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}
