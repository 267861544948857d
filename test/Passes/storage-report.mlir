// RUN: mixq-opt %s --mixq-storage-report --verify-diagnostics | FileCheck %s
// The expected numbers are computed by hand from the stream rules of
// model/Layout.h (the arithmetic is in the comments), not by the code.

// The pass leaves the IR alone.
// CHECK: mixq.weight "wq"
// CHECK: mixq.weight "mixed"

// expected-remark @+1 {{total: 4 weights, 16785408 parameters, 69255560 bits = 4.1259 bits/weight}}
module {
  func.func @weights() {
    // codes 4096*4096*4 = 67108864; scales 4096*(4096/128)*16 = 2097152.
    // expected-remark @+1 {{'wq' 4096x4096 <uniform, bits = 4, group = 128>: 69206016 bits (codes 67108864, scales 2097152, zeros 0, maps 0, luts 0, outlier index 0, outlier values 0) = 4.1250 bits/weight}}
    %0 = mixq.weight "wq" : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
    // 4 tile-groups of 16x64: codes 2*1024*2 + 1024*4 + 1024*16 = 24576;
    // 48 quantized row-groups: scales 48*4 + one block * 32 = 224;
    // zeros 32*2 + 16*4 = 128; maps 4*2 = 8 (one byte) + 2 row-blocks * 3
    // offsets * 32 = 200; slots 32 * (8-bit index, 16-bit value).
    // expected-remark @+1 {{'mixed' 32x128 <mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], asym, scales = <4, 256>, outliers = slots<1>>: 25896 bits (codes 24576, scales 224, zeros 128, maps 200, luts 0, outlier index 256, outlier values 512) = 6.3223 bits/weight}}
    %1 = mixq.weight "mixed" : !mixq.qweight<32x128, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [2, 1, 1], asym, scales = <4, 256>, outliers = slots<1>>>
    // codes 32*64*3 = 6144; LUTs 32 rows * 8 entries * 16 = 4096;
    // CSR: 33 row pointers * 32 + 10 columns * 16 = 1216; values 10 * 16.
    // expected-remark @+1 {{'lut' 32x64 <lut, bits = 3, outliers = csr<10>>: 11616 bits (codes 6144, scales 0, zeros 0, maps 0, luts 4096, outlier index 1216, outlier values 160) = 5.6719 bits/weight}}
    %2 = mixq.weight "lut" : !mixq.qweight<32x64, #mixq.layout<lut, bits = 3, outliers = csr<10>>>
    // codes 32*56*4 = 7168; scales 32*16; 8 FP16 columns 32*8*16 = 4096 with
    // 8 column indices * 32.
    // expected-remark @+1 {{'quik' 32x64 <quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>: 12032 bits (codes 7168, scales 512, zeros 0, maps 0, luts 0, outlier index 256, outlier values 4096) = 5.8750 bits/weight}}
    %3 = mixq.weight "quik" : !mixq.qweight<32x64, #mixq.layout<quik, bits = 4, fp16_cols = 8, act = <4, per_token, asym>>>
    return
  }
}
