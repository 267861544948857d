// RUN: mixq-opt %s --mixq-plan=target=sm_80 --mixq-split-outliers --mixq-tile --mixq-lower-gpu --split-input-file --verify-diagnostics | FileCheck %s
// -mixq-lower-gpu: each tiled decode product becomes a kernel in
// gpu.module @mixq_kernels and a gpu.launch_func in its function.

!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>

// Host side: the input as a buffer, the streams as external globals, the
// output allocated on the device, one launch of 48 blocks (16 rows each) of
// 128 threads, the result as a tensor; the forall is gone.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @uniform
// CHECK-SAME: (%[[X:.*]]: tensor<1x288xf32>)
// CHECK: %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<1x288xf32> to memref<1x288xf32>
// CHECK: %[[Y:.*]] = gpu.alloc () : memref<1x768xf32>
// CHECK: %[[C:.*]] = memref.get_global @__mixq_stream_0 : memref<27648xi32>
// CHECK: %[[S:.*]] = memref.get_global @__mixq_stream_1 : memref<6912xf16>
// CHECK-DAG: %[[C48:.*]] = arith.constant 48 : index
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_0 blocks in (%[[C48]], %{{.*}}, %{{.*}}) threads in (%[[C128]], %{{.*}}, %{{.*}}) args(%[[C]] : memref<27648xi32>, %[[S]] : memref<6912xf16>, %[[XB]] : memref<1x288xf32>, %[[Y]] : memref<1x768xf32>)
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[Y]] restrict : memref<1x768xf32> to tensor<1x768xf32>
// CHECK-NOT: scf.forall
// CHECK: return %[[T]]
// CHECK: memref.global "private" constant @__mixq_stream_0 : memref<27648xi32> {alignment = 16 : i64, mixq.stream = "w1:codes"}
// CHECK: memref.global "private" constant @__mixq_stream_1 : memref<6912xf16> {alignment = 16 : i64, mixq.stream = "w1:scales"}
// Kernel: lanes stride over 32-code chunks (9 in K = 288); per chunk a
// 16-byte load per row (4 rows), the scale, fmas; then butterfly shuffles
// 16..1 and lane 0 stores the rows inside N.
// CHECK: gpu.module @mixq_kernels
// CHECK: gpu.func @mixq_gemv_0(%{{.*}}: memref<27648xi32> {llvm.align = 16 : i64, llvm.noalias}, %{{.*}}: memref<6912xf16> {llvm.align = 16 : i64, llvm.noalias}, %{{.*}}: memref<1x288xf32> {llvm.align = 16 : i64, llvm.noalias}, %[[OUT:.*]]: memref<1x768xf32> {llvm.align = 16 : i64, llvm.noalias}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]], %{{.*}} : index
// CHECK: gpu.block_id x
// CHECK: gpu.block_id y
// CHECK: scf.for %{{.*}} = %[[LANE]] to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK-COUNT-4: vector.load %{{.*}} {alignment = 16 : i64} : memref<27648xi32>, vector<4xi32>
// CHECK: arith.ori %{{.*}}, %{{.*}} : i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: llvm.intr.fma
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK: scf.if
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.return
func.func @uniform(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "w1" : !u4
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !u4 -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}

// -----

!big = !mixq.qweight<256x8192, #mixq.layout<uniform, bits = 4, group = 128>>

// split_k = 2: the GEMV's grid has a split dimension and writes partial
// sums; a second kernel adds them; the linalg.reduce is gone.
// CHECK-LABEL: func.func @splitk
// CHECK: %[[P:.*]] = gpu.alloc () : memref<2x1x256xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_0 blocks in (%{{.*}}, %[[C2:.*]], %{{.*}}) {{.*}} %[[P]] : memref<2x1x256xf32>)
// CHECK: %[[Y:.*]] = gpu.alloc () : memref<1x256xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_split_reduce_2x1x256 {{.*}} args(%[[P]] : memref<2x1x256xf32>, %[[Y]] : memref<1x256xf32>)
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[Y]]
// CHECK-NOT: linalg.reduce
// CHECK: return %[[T]]
// CHECK: gpu.func @mixq_gemv_0({{.*}}memref<2x1x256xf32>
// CHECK: gpu.func @mixq_split_reduce_2x1x256(%[[PART:.*]]: memref<2x1x256xf32> {{.*}}, %[[O:.*]]: memref<1x256xf32> {{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK: memref.load %[[PART]]
// CHECK: memref.load %[[PART]]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[O]]
func.func @splitk(%x: tensor<1x8192xf32>) -> tensor<1x256xf32> {
  %w = mixq.weight "big" : !big
  %y = mixq.qmatmul %x, %w : tensor<1x8192xf32>, !big -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

!lut = !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>

// LUT: the tables of the block's 16 rows in shared memory (16 x 8 f32),
// staged before a barrier; the CSR outliers are a second kernel reading
// the first one's output.
// CHECK-LABEL: func.func @lut
// CHECK: %[[Y:.*]] = gpu.alloc () : memref<1x768xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_0 {{.*}} %[[Y]] : memref<1x768xf32>)
// CHECK: %[[Z:.*]] = gpu.alloc () : memref<1x768xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_sparse_add_1 {{.*}} args(%{{.*}} : memref<769xi32>, %{{.*}} : memref<1100xi16>, %{{.*}} : memref<1100xf16>, %{{.*}} : memref<1x288xf32>, %[[Y]] : memref<1x768xf32>, %[[Z]] : memref<1x768xf32>)
// CHECK-NOT: mixq.sparse_add
// CHECK: gpu.func @mixq_gemv_0({{.*}}) workgroup(%[[TAB:.*]] : memref<128xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: memref.store %{{.*}}, %[[TAB]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.load %[[TAB]]
// CHECK: gpu.func @mixq_sparse_add_1
// CHECK: scf.for
// CHECK: gpu.shuffle xor
func.func @lut(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "lut" : !lut
  %y = mixq.qmatmul %x, %w : tensor<1x288xf32>, !lut -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}

// -----

!mx = !mixq.qweight<64x256, #mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = [12, 3, 1], asym, scales = <4, 256>, outliers = slots<1>>>

// Mixed: one block per 16-row block; the warp first counts the earlier
// tile-groups of each precision (strided over lanes, summed by shuffles),
// then walks its groups with one switch per tile-group; the lanes of a row
// are summed (xor 1) and the warps through shared memory.
// CHECK-LABEL: func.func @mixed
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_0 blocks in (%[[C4:.*]], %{{.*}}, %{{.*}}) threads in (%[[C128:.*]], %{{.*}}, %{{.*}})
// CHECK: gpu.func @mixq_gemv_0(%{{.*}}: memref<4xi8> {{.*}}, %{{.*}}: memref<12xi32> {{.*}}, %{{.*}}: memref<768xi32> {{.*}}, %{{.*}}: memref<384xi32> {{.*}}, %{{.*}}: memref<1024xf16> {{.*}}, %{{.*}}: memref<120xi8> {{.*}}, %{{.*}}: memref<2xf16> {{.*}}, %{{.*}}: memref<72xi8> {{.*}}, %{{.*}}: memref<192xi8> {{.*}}, %{{.*}}: memref<192xf16> {{.*}}, %{{.*}}: memref<1x256xf32> {{.*}}, %{{.*}}: memref<1x64xf32> {{.*}}) workgroup(%[[RED:.*]] : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: scf.for {{.*}} -> (i32, i32, i32)
// CHECK: gpu.shuffle xor %{{.*}}, %c16_i32{{.*}}, %c32_i32{{.*}} : i32
// CHECK: scf.for {{.*}} -> (f32, i32, i32, i32)
// CHECK: scf.index_switch %{{.*}} -> f32
// CHECK: case 0 {
// CHECK: vector.load %{{.*}} {alignment = 8 : i64} : memref<768xi32>, vector<2xi32>
// CHECK: case 1 {
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<384xi32>, vector<4xi32>
// CHECK: case 2 {
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<1024xf16>, vector<8xf16>
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32{{.*}}, %c32_i32{{.*}} : f32
// CHECK: memref.store %{{.*}}, %[[RED]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[RED]]
func.func @mixed(%x: tensor<1x256xf32>) -> tensor<1x64xf32> {
  %w = mixq.weight "mx" : !mx
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !mx -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

!q = !mixq.qweight<256x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <16, per_token, asym>>>

// QUIK with floating-point activations: split x into the 224 quantized and
// 32 FP16 columns, the codes' GEMV on the first, the FP16 columns' GEMV
// accumulating onto its result.
// CHECK-LABEL: func.func @quik
// CHECK: %[[XB:.*]] = bufferization.to_buffer
// CHECK: %[[XQ:.*]] = gpu.alloc () : memref<1x224xf32>
// CHECK: %[[XO:.*]] = gpu.alloc () : memref<1x32xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_quik_split_0 {{.*}} args(%{{.*}} : memref<32xi32>, %[[XB]] : memref<1x256xf32>, %[[XQ]] : memref<1x224xf32>, %[[XO]] : memref<1x32xf32>)
// CHECK: %[[Y:.*]] = gpu.alloc () : memref<1x256xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_1 {{.*}} args(%{{.*}} : memref<7168xi32>, %{{.*}} : memref<256xf16>, %[[XQ]] : memref<1x224xf32>, %[[Y]] : memref<1x256xf32>)
// CHECK: %[[Z:.*]] = gpu.alloc () : memref<1x256xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_2 {{.*}} args(%{{.*}} : memref<8192xf16>, %[[XO]] : memref<1x32xf32>, %[[Y]] : memref<1x256xf32>, %[[Z]] : memref<1x256xf32>)
// CHECK: bufferization.to_tensor %[[Z]]
// CHECK: gpu.func @mixq_quik_split_0
// CHECK: scf.for {{.*}} -> (index, i32)
// CHECK: scf.if
// CHECK: } else {
// CHECK: gpu.func @mixq_gemv_1
// CHECK: arith.xori
// CHECK: gpu.func @mixq_gemv_2
func.func @quik(%x: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %w = mixq.weight "q" : !q
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !q -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

// Products planned for x86 are left alone.
// CHECK-LABEL: func.func @cpu
// CHECK: mixq.qmatmul_tile
// CHECK-NOT: gpu.launch_func
!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
func.func @cpu(%x: tensor<1x288xf32>) -> tensor<1x768xf32> {
  %w = mixq.weight "w1" : !u4
  %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv, tile = [1, 16, 288], split_k = 1, stages = 1>} : tensor<1x288xf32>, !u4 -> tensor<1x768xf32>
  return %y : tensor<1x768xf32>
}

// -----

// Prefill (M = 64 > 16, kernel = gemm): x converted to f16 by one kernel
// (1024 elements a block), then the tensor-core GEMM over blocks of 128
// weight rows and 64 rows of x, with M as its last argument.
!g4 = !mixq.qweight<512x256, #mixq.layout<uniform, bits = 4, group = 32>>
// CHECK-LABEL: func.func @gemm
// CHECK: %[[XB:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<64x256xf32> to memref<64x256xf32>
// CHECK: %[[M:.*]] = arith.constant 64 : index
// CHECK: %[[H:.*]] = gpu.alloc () : memref<64x256xf16>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_to_half_64x256 blocks in (%c16, %{{.*}}) threads in (%c256, %{{.*}}) args(%[[XB]] : memref<64x256xf32>, %[[H]] : memref<64x256xf16>, %[[M]] : index)
// CHECK: %[[Y:.*]] = gpu.alloc () : memref<64x512xf32>
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemm_{{[0-9]+}} blocks in (%c4, %c1{{.*}}, %c1{{.*}}) threads in (%c128, %{{.*}}) args(%{{.*}} : memref<16384xi32>, %{{.*}} : memref<4096xf16>, %[[H]] : memref<64x256xf16>, %[[Y]] : memref<64x512xf32>, %[[M]] : index)
// CHECK: bufferization.to_tensor %[[Y]] restrict : memref<64x512xf32> to tensor<64x512xf32>
// CHECK: gpu.func @mixq_gemm_{{[0-9]+}}({{.*}}) workgroup(%{{.*}} : memref<3x64x72xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<3x128x12xi32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: } {mixq.pipeline = 3 : i64}
func.func @gemm(%x: tensor<64x256xf32>) -> tensor<64x512xf32> {
  %w = mixq.weight "g" : !g4
  %y = mixq.qmatmul %x, %w : tensor<64x256xf32>, !g4 -> tensor<64x512xf32>
  return %y : tensor<64x512xf32>
}

// -----

!u4 = !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
func.func @prefill(%x: tensor<?x288xf32>) -> tensor<?x768xf32> {
  %w = mixq.weight "w1" : !u4
  // expected-error @+1 {{-mixq-lower-gpu: a product on its own needs a static M and an f32 result (a whole graph handles a run-time M)}}
  %y = mixq.qmatmul %x, %w : tensor<?x288xf32>, !u4 -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// -----

// QUIK with 4-bit activations: the split, then one block per row
// quantizing the 224 quantized columns into a new buffer, which the codes'
// GEMV reads; the FP16 columns' GEMV adds the rest.
!q = !mixq.qweight<256x256, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>>
// CHECK-LABEL: func.func @quik
// CHECK: %[[XQ:.*]] = gpu.alloc () : memref<1x224xf32>
// CHECK: %[[XO:.*]] = gpu.alloc () : memref<1x32xf32>
// CHECK: gpu.launch_func @mixq_kernels::@[[SPLIT:mixq_quik_split_[0-9]+]] {{.*}} args({{.*}}, %[[XQ]] : memref<1x224xf32>, %[[XO]] : memref<1x32xf32>)
// CHECK: %[[XA:.*]] = gpu.alloc () : memref<1x224xf32>
// CHECK: gpu.launch_func @mixq_kernels::@[[QUANT:mixq_quik_act_quant_[0-9]+]] blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[XQ]] : memref<1x224xf32>, %[[XA]] : memref<1x224xf32>)
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_{{[0-9]+}} {{.*}} args({{.*}}, %[[XA]] : memref<1x224xf32>, %[[Y:.*]] : memref<1x256xf32>)
// CHECK: gpu.launch_func @mixq_kernels::@mixq_gemv_{{[0-9]+}} {{.*}} args({{.*}}, %[[XO]] : memref<1x32xf32>, %[[Y]] : memref<1x256xf32>, %{{.*}} : memref<1x256xf32>)
// CHECK: gpu.func @[[QUANT]]({{.*}}memref<1x224xf32>{{.*}}memref<1x224xf32>{{.*}}) workgroup({{.*}}memref<128xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-3: gpu.barrier
func.func @quik(%x: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %w = mixq.weight "q" : !q
  %y = mixq.qmatmul %x, %w : tensor<1x256xf32>, !q -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

// QUIK at prefill on its own: the FP16 columns' GEMV runs in 16-row
// chunks, so M must be a multiple of 16 (a whole graph pads its rows).
!qp = !mixq.qweight<128x288, #mixq.layout<quik, bits = 4, fp16_cols = 32, act = <4, per_token, asym>>>
func.func @quik_prefill_rows(%x: tensor<65x288xf32>) -> tensor<65x128xf32> {
  %w = mixq.weight "qp" : !qp
  // expected-error @+1 {{-mixq-lower-gpu: 'qp': the GEMV of its 32 FP16 columns runs in chunks of 16 rows; a product on its own needs M (65) to be a multiple of them}}
  %y = mixq.qmatmul %x, %w : tensor<65x288xf32>, !qp -> tensor<65x128xf32>
  return %y : tensor<65x128xf32>
}
