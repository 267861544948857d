//===- Passes.td - mixq passes -----------------------------*- tablegen -*-===//
//
// Every mixq pass: one def here, one implementation file beside it.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_TD
#define MIXQ_PASSES_TD

include "mlir/Pass/PassBase.td"

def MixQStorageReport : Pass<"mixq-storage-report", "::mlir::ModuleOp"> {
  let summary = "Reports the exact storage and bits per weight of every weight";
  let description = [{
    Emits one remark per `mixq.weight`: its shape, layout, the exact storage
    in bits split by kind (codes, scales, zeros, maps, LUTs, outlier indices,
    outlier values) and the bits per weight; then one remark on the module
    with the totals over all weights. The IR is left unchanged.

    Input:
    ```mlir
    %w = mixq.weight "wq"
        : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
    ```
    Remark:
    ```
    remark: 'wq' 4096x4096 <uniform, bits = 4, group = 128>: 69206016 bits
    (codes 67108864, scales 2097152, zeros 0, maps 0, luts 0,
    outlier index 0, outlier values 0) = 4.1250 bits/weight
    ```
  }];
  let dependentDialects = ["::mixq::MixQDialect"];
}

def MixQSplitOutliers : Pass<"mixq-split-outliers"> {
  let summary = "Splits the CSR outliers of a weight off its dense product";
  let description = [{
    Rewrites every `mixq.qmatmul` whose weight keeps CSR outliers (the `lut`
    scheme's dense-and-sparse decomposition) into the dense product without
    them, `mixq.qmatmul {exclude_outliers}`, followed by `mixq.sparse_add`,
    which adds `input * S^T` for the sparse part S. Kernels then handle a
    regular dense part and a separate sparse part. Weights without CSR
    outliers (including `mixq` slots, which kernels apply in registers) are
    left alone, as are products already split. The dense product keeps the
    original's `plan`. Runs on any op.

    Input:
    ```mlir
    %y = mixq.qmatmul %x, %w : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    ```
    Output:
    ```mlir
    %d = mixq.qmatmul %x, %w {exclude_outliers} : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    %y = mixq.sparse_add %d, %x, %w : tensor<?x768xf32>, tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<lut, bits = 3, outliers = csr<1100>>>
        -> tensor<?x768xf32>
    ```
  }];
  let dependentDialects = ["::mixq::MixQDialect"];
}

def MixQPlan : Pass<"mixq-plan"> {
  let summary = "Chooses the kernel and tiling of every quantized matmul";
  let description = [{
    Attaches a `#mixq.plan` to every `mixq.qmatmul` that has none, chosen from
    M (the input's first dimension), the weight's N x K, its layout's group
    and the `target` option (`x86`, the default, `sm_80` or `sm_90a`; any
    other value is an error). Products that already carry a plan are left
    alone, so the pass is idempotent. Runs on any op.

    Kernel: `gemv` when M is static and at most 16 (decode), else `gemm`;
    on `sm_90a` the prefill kernel is `wgmma` (TMA, mbarriers, wgmma with
    the weight in registers) where it covers the weight: uniform 2, 3, 4 or
    8-bit codes, K a multiple of 64 and a group of a multiple of 16 columns
    that divides K (or per-row scales); QUIK 4-bit codes with activations
    quantized to 4 or 8 bits whose K - fp16_cols quantized columns fill
    128-code tiles (s8 wgmma). `sm90-gemm=mma` keeps the mma.sync
    `gemm` kernel on `sm_90a` for every weight (the A/B switch and the
    fallback while the wgmma kernel is unproven on a GPU).

    K tile: the largest multiple of the layout's group (of 32 for per-row
    layouts, group 0) that is at most the target's cap and divides K; when
    the group exceeds the cap, the cap is the group; when no multiple divides
    K, the whole K. Caps: 512 on x86, 128 for a GPU gemv, 64 for a GPU gemm.

    | target   | kernel | tile [m, n, k]     | split_k | stages |
    |----------|--------|--------------------|---------|--------|
    | `x86`    | gemv   | [M, 16, k <= 512]  | 1       | 1      |
    | `x86`    | gemm   | [4, 16, k <= 512]  | 1       | 1      |
    | `sm_80`  | gemv   | [16, 64, k <= 128] | 2 if N <= 4096, K >= 8192 and K/k even; else 1 | 4 |
    | `sm_80`  | gemm   | [64, 128, k <= 64] | 1       | 3      |
    | `sm_90a` | gemv   | as `sm_80`         | as `sm_80` | 4   |
    | `sm_90a` | gemm or wgmma | [64, 128, k <= 64] | 1 | 4      |

    Input (`-mixq-plan{target=x86}`):
    ```mlir
    %y = mixq.qmatmul %x, %w : tensor<1x4096xf16>,
        !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
        -> tensor<1x4096xf32>
    ```
    Output:
    ```mlir
    %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemv,
        tile = [1, 16, 512], split_k = 1, stages = 1>} : tensor<1x4096xf16>,
        !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
        -> tensor<1x4096xf32>
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"x86\"",
           "the target to plan for: x86, sm_80 or sm_90a">,
    Option<"sm90Gemm", "sm90-gemm", "std::string", /*default=*/"\"wgmma\"",
           "the prefill GEMM on sm_90a: wgmma (the Hopper kernel where it "
           "covers the weight) or mma (the mma.sync kernel everywhere)">
  ];
  let dependentDialects = ["::mixq::MixQDialect"];
}

def MixQTile : Pass<"mixq-tile"> {
  let summary = "Distributes every planned quantized matmul over its N tiles and K splits";
  let description = [{
    Rewrites every `mixq.qmatmul` (which must carry a `#mixq.plan`; run
    `-mixq-plan` first, an unplanned product is an error) into an
    `scf.forall` over the units a target runs in parallel: tiles of
    `tile[1]` output features (the weight rows one CPU task or one GPU
    thread block streams) and, when `split_k` > 1, the K splits. Each
    iteration computes one `mixq.qmatmul_tile` and inserts it into the
    shared output with `tensor.parallel_insert_slice`. When the tile does
    not divide N, the last tile's row count is an `affine.min` and the tile
    is dynamic. Split products write their partial sums into a
    `split_k x M x N` tensor that a `linalg.reduce` adds up.

    M is not tiled here: every tile keeps all input rows, and the target's
    kernel blocks them itself (`tile[0]`: register blocks on x86, the M
    fragment of a GPU tile), so a tile decodes each weight row once. Runs on
    any op; products already tiled are gone, so it is idempotent.

    Input:
    ```mlir
    %y = mixq.qmatmul %x, %w {plan = #mixq.plan<target = x86, kernel = gemm,
        tile = [4, 16, 288], split_k = 1, stages = 1>} : tensor<?x288xf32>,
        !mixq.qweight<768x288, #mixq.layout<uniform, bits = 4, group = 32>>
        -> tensor<?x768xf32>
    ```
    Output:
    ```mlir
    %m = tensor.dim %x, %c0 : tensor<?x288xf32>
    %e = tensor.empty(%m) : tensor<?x768xf32>
    %y = scf.forall (%n) = (0) to (768) step (16) shared_outs(%o = %e)
        -> (tensor<?x768xf32>) {
      %t = mixq.qmatmul_tile %x, %w rows[%n, %c16] k[%c0, 288]
          {plan = #mixq.plan<...>} : tensor<?x288xf32>, !mixq.qweight<...>
          -> tensor<?x16xf32>
      scf.forall.in_parallel {
        tensor.parallel_insert_slice %t into %o[0, %n] [%m, 16] [1, 1]
            : tensor<?x16xf32> into tensor<?x768xf32>
      }
    }
    ```
  }];
  let dependentDialects = [
    "::mixq::MixQDialect", "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"
  ];
}

def MixQLowerCpu : Pass<"mixq-lower-cpu", "::mlir::ModuleOp"> {
  let summary = "Lowers the planned Llama graph to x86 kernels behind the C ABI";
  let description = [{
    Takes the module `mixq compile` builds (after `-mixq-plan`,
    `-mixq-split-outliers` and, optionally, `-mixq-tile`) to the CPU form of
    runtime/ModuleABI.h:

    - `@prefill` / `@decode` become `@mixq_prefill` / `@mixq_decode` on raw
      pointers (runtime, stream table, KV caches, tokens, position, logits,
      scratch) returning a status; bad arguments (a token outside the
      vocabulary, a position past `max_seq_len`) return 1 before anything
      is written;
    - every `mixq.weight` stream is a static memref over its pointer in the
      stream table; the table's order is recorded in `mixq.streams` and
      exported by `mixq_stream_name`;
    - every intermediate tensor gets a region of the scratch buffer, planned
      by liveness (regions of M-row tensors scale with M), the KV caches are
      updated in place and the classifier writes the logits buffer;
    - each `mixq.qmatmul`, or the `scf.forall` of its `mixq.qmatmul_tile`s
      that `-mixq-tile` made, becomes a task for the runtime's
      `parallel_for` over its N tiles (the forall's step, else the plan's
      `tile[1]`; products reading the same input, such as q, k and v, share
      one `parallel_for` through a `mixq_batch_<k>` task), each task running all M rows in register blocks after
      decoding each weight row once (a split-K forall is refused: the x86
      plan never splits K): codes unpacked in vector registers
      (byte shuffles, shifts, masks), LUT entries gathered, scales and zeros
      (second-order scales dequantized) applied once per group, FMA
      accumulation; mixed weights dispatch on the precision map once per
      tile-group and add their outlier slots; QUIK quantizes activations per
      token and takes integer dot products on blocks of 4- or 8-bit
      codes: AVX-512 VNNI `vpdpbusd` on 64 bytes when the `features`
      option has `+avx512vnni` and `+avx512bw`, else AVX-VNNI's `vpdpbusd`
      on 32 bytes (`+avxvnni`), else AVX2's `vpmaddubsw`/`vpmaddwd`
      (`+avx2`); i32 multiply-adds for the rest;
    - `embed`, `rms_norm`, `rope` (a compile-time cos/sin table),
      `attention` (parallel over token x head), `sparse_add` and the
      element-wise ops become loops; element-wise bodies run on vectors of
      16 (or 8) lanes where rows are whole vectors, and every `math.exp`
      (SwiGLU, softmax) becomes MLIR's polynomial approximation instead of
      a libm call per element.

    The exports `mixq_abi_version`, `mixq_package_sha256`, `mixq_target`
    ("x86-64:" + the `cpu` option), `mixq_get_model_dims`,
    `mixq_stream_count`, `mixq_stream_name` and `mixq_scratch_bytes` are
    generated from the module's attributes.

    Input (abridged):
    ```mlir
    module attributes {mixq.model = {...}, mixq.package_sha256 = "9f2c..."} {
      func.func @decode(%tok: tensor<1xi32>, %pos: index, %kc: tensor<...>,
                        %vc: tensor<...>) -> (tensor<1x32000xf32>, ...) {
        ...
        %y = mixq.qmatmul %x, %w {plan = #mixq.plan<...>} : ...
      }
    }
    ```
    Output (abridged):
    ```mlir
    func.func @mixq_decode(%rt: !llvm.ptr, %streams: !llvm.ptr, ...,
                           %scratch: !llvm.ptr) -> i32
    func.func private @mixq_qmatmul_0(%args: !llvm.ptr, %begin: i64, %end: i64)
    func.func @mixq_scratch_bytes(%max_tokens: i64) -> i64
    ```
  }];
  let options = [
    Option<"cpu", "cpu", "std::string", /*default=*/"\"generic\"",
           "the CPU name recorded in mixq_target (\"x86-64:<cpu>\")">,
    Option<"features", "features", "std::string", /*default=*/"\"\"",
           "the target's features (\"+avx512vnni,...\"): QUIK's integer dot "
           "products use AVX-512 VNNI (+avx512vnni and +avx512bw), AVX-VNNI "
           "(+avxvnni) or AVX2 (+avx2), the first the list has; the last "
           "+f or -f of a feature wins">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
    "::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def MixQLowerGpu : Pass<"mixq-lower-gpu", "::mlir::ModuleOp"> {
  let summary = "Lowers the Llama graph, or tiled decode products, to NVIDIA GPU kernels and launches";
  let description = [{
    **Whole graph.** On a module built by `mixq compile` (attribute
    `mixq.model`, functions `@prefill` and `@decode`, products planned for
    `sm_80`/`sm_90a` and tiled), every op becomes kernel launches and the two
    functions become `mixq_prefill` / `mixq_decode` of runtime/ModuleABI.h
    on device pointers, with the module's exports (`mixq_target` is the
    plans' chip, `mixq_gpu_abi_version` is 1):

    - `mixq.embed` (dense tables copied, uniform and LUT tables decoded with
      the GEMV's chunk decoders), `mixq.rms_norm` (sum of squares in f64),
      `mixq.rope` (the (cos, sin) table of the CPU path as a global of the
      kernel module), the KV-cache `tensor.insert_slice` (a store kernel into
      the layer's rows) and `tensor.extract_slice` (a view), `mixq.attention`
      (one block per token and head, causal, softmax sum in f64), the
      element-wise `arith.addf|mulf|subf` and `linalg.generic` (its body
      cloned into the kernel), `mixq.sparse_add`, and every product: the
      decode GEMV kernels below; prefill (`gemm` plans, M dynamic) of
      uniform, LUT, mixed and QUIK (codes) weights runs the tensor-core GEMM
      below over ceil(M / 64)
      row blocks (QUIK with quantized activations the integer GEMM below),
      other schemes the GEMV on chunks of 16 rows in grid z;
    - memory: the runtime's scratch buffer holds every intermediate tensor
      (first fit by liveness), tensors with one row per token planned for
      `max_seq_len` rows rounded up to 16, so every kernel argument has a
      static shape; the caches are updated in place;
    - all launches of a call go on one stream (`gpu.wait async` at entry,
      `gpu.launch_func async`, `gpu.wait` before returning).

    ```mlir
    // @decode after -mixq-lower-gpu (abridged):
    func.func @mixq_decode(%rt: !llvm.ptr, %streams: !llvm.ptr, %kc: !llvm.ptr,
        %vc: !llvm.ptr, %token: i32, %pos: i64, %logits: !llvm.ptr,
        %scratch: !llvm.ptr) -> i32 {
      ...
      %s0 = gpu.wait async
      %s1 = gpu.launch_func async [%s0] @mixq_kernels::@mixq_embed_0
          blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1)
          args(%table : memref<274x32xf16>, %token : i32, %x : memref<1x32xf32>)
      ...
      gpu.wait [%sN]
      return %c0_i32 : i32
    }
    ```

    **Products only.** On any other module, takes every `scf.forall` of `mixq.qmatmul_tile` that `-mixq-tile` made of
    a `mixq.qmatmul` planned for `sm_80` or `sm_90a` with the `gemv` kernel
    (decode: a static M of at most 16 rows) and replaces it with

    - a kernel (`gpu.func`, `known_block_size`, every memref argument
      `llvm.align = 16` and `llvm.noalias`) in the module's
      `gpu.module @mixq_kernels`: the weight's streams, then the activations
      `memref<M x K x f16|f32>` and the output `memref<M x N x f32>`, all
      static shapes (so `convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=1}`
      passes one pointer each);
    - host code before the forall: `bufferization.to_buffer` of the input,
      one `memref.get_global` per stream of an external declaration
      `@__mixq_stream_<i> {mixq.stream = "<weight>:<stream>"}` (the runtime
      binds them to its device copies of the package streams, each 16-byte
      aligned and padded to 16 bytes), `gpu.alloc` of the output,
      `gpu.launch_func`, and `bufferization.to_tensor` of the result.

    Kernels, per scheme (docs/Compiler.md has the exact thread mapping):

    - dense FP16/FP32, uniform 2/3/4/8-bit (FP16 or second-order scales,
      optional zeros) and LUT 3/4-bit: the row-streaming GEMV, 4 warps of
      4 rows each per block of 16 rows; lanes stride over 16-byte chunks of
      each row (codes converted with the magic-number trick, LUTs staged in
      shared memory), accumulate in f32 with fmas and reduce with butterfly
      shuffles;
    - mixed 2/4/16: one warp per tile-group (16 or 32 rows x one K-group)
      at a time, so the precision switch is uniform across the warp; the
      row block's 4 warps split its groups, outlier slots are added in
      registers, warps are summed through shared memory;
    - `split_k` > 1: the GEMV writes partial sums to a `S x M x N` buffer and
      a second kernel adds them in split order (deterministic; no atomics);
      the `linalg.reduce` of the tiled form goes away;
    - `mixq.sparse_add` of a lowered LUT product (CSR outliers after
      `-mixq-split-outliers`): a third kernel, one warp per output row,
      writing `acc + x * S^T` into a new buffer.

    - QUIK: a kernel splits x into its quantized and FP16 columns; where
      the layout quantizes activations (`act` 4 or 8) a second kernel, one
      block per row, quantizes the first as the reference engine does
      (block min/max, IEEE divisions, `cvt.rni`) and writes it back
      dequantized; the GEMV of the signed codes (one scale per row) runs on
      it, a GEMV of the FP16 columns adds the second (the plan's K split is
      not used).
    - QUIK prefill (`kernel = gemm|wgmma`, static M): the split, then with
      `act` 4 or 8 the activation codes (signed 4- or 8-bit integers, each
      row's scale and zero) and the integer GEMM: mma.sync m16n8k64.s4 on
      sm_80 where weight and activations are 4-bit, else m16n8k32.s8
      (sm_90a has no 4-bit MMA; 4-bit weight codes widened in registers),
      the zero's correction from MMAs with an all-ones A, an s32 epilogue
      times both scales, its K loop tagged for `-mixq-pipeline-dequant`;
      with `kernel = wgmma` the Hopper kernel below on 8-bit activation
      codes (TMA, `wgmma.mma_async` m64n64k32.s32.s8.s8 with the widened
      weight codes in A registers, dp4a row sums for the zero);
      with `act` 16 (or where the integer GEMM does not take the weight)
      the f16 GEMM over the codes; the FP16 columns' GEMV in 16-row chunks
      adds the rest (M a multiple of 16 when there are FP16 columns).

    - prefill (`kernel = gemm`, static M) of uniform 2/3/4/8-bit, LUT
      3/4-bit and mixed 2/4/16 weights:
      a kernel converting x to f16, then the tensor-core GEMM (cp.async
      stages, ldmatrix, lop3 decode, mma.sync m16n8k16; 64 x 128 blocks),
      its K loop tagged for `-mixq-pipeline-dequant`.
    - prefill with `kernel = wgmma` (sm_90a, uniform 2/3/4/8-bit, K a
      multiple of 64): x converted to f16, host code making x's TMA tensor
      map (`nvgpu.tma.create.descriptor`, 64 x 64 box, 128-byte swizzle,
      zero fill; a call of `mgpuTensorMapEncodeTiledMemref` once lowered),
      then the Hopper GEMM: 384 threads, a producer warp issuing the TMA
      loads of x and cp.async of the codes into an S-stage ring guarded by
      full/empty mbarriers, two consumer warpgroups decoding the codes
      (lop3) into wgmma's A fragments in registers and running
      `wgmma.mma_async` m64n64k16 with x as B from shared memory. It
      pipelines itself; `-mixq-pipeline-dequant` leaves it alone.

    The prefill GEMM of other schemes is an error for now (a whole graph
    runs those on the chunked GEMV); products planned for x86 are left
    alone.

    Input (after `-mixq-plan{target=sm_80} -mixq-tile`):
    ```mlir
    %y = scf.forall (%n) = (0) to (768) step (64) shared_outs(%o = %e)
        -> (tensor<1x768xf32>) {
      %t = mixq.qmatmul_tile %x, %w rows[%n, %c64] k[%c0, 288]
          {plan = #mixq.plan<target = sm_80, kernel = gemv, tile = [16, 64, 96],
                             split_k = 1, stages = 4>}
          : tensor<1x288xf32>, !mixq.qweight<768x288, #mixq.layout<uniform,
            bits = 4, group = 32>> -> tensor<1x64xf32>
      scf.forall.in_parallel {
        tensor.parallel_insert_slice %t into %o[0, %n] [1, 64] [1, 1]
            : tensor<1x64xf32> into tensor<1x768xf32>
      }
    }
    ```
    Output:
    ```mlir
    %xb = bufferization.to_buffer %x read_only
        : tensor<1x288xf32> to memref<1x288xf32>
    %codes = memref.get_global @__mixq_stream_0 : memref<27648xi32>
    %scales = memref.get_global @__mixq_stream_1 : memref<6912xf16>
    %yb = gpu.alloc () : memref<1x768xf32>
    gpu.launch_func @mixq_kernels::@mixq_gemv_0 blocks in (%c48, %c1, %c1)
        threads in (%c128, %c1, %c1)
        args(%codes : memref<27648xi32>, %scales : memref<6912xf16>,
             %xb : memref<1x288xf32>, %yb : memref<1x768xf32>)
    %y = bufferization.to_tensor %yb restrict : memref<1x768xf32>
        to tensor<1x768xf32>
    ...
    gpu.module @mixq_kernels {
      gpu.func @mixq_gemv_0(%codes: memref<27648xi32> {llvm.align = 16 : i64,
          llvm.noalias}, ...) kernel attributes {known_block_size =
          array<i32: 128, 1, 1>} { ... }
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect"
  ];
}

def MixQPipelineDequant : Pass<"mixq-pipeline-dequant", "::mlir::ModuleOp"> {
  let summary = "Software-pipelines the tensor-core GEMM's K loop: cp.async "
                "stages, scale dequantization one tile ahead";
  let description = [{
    `-mixq-lower-gpu` builds the prefill GEMM (passes/gpu/MmaGemmKernel.cpp)
    with its K loop in the plain, one-tile-at-a-time order, every op of the
    loop body tagged `mixq.stage` with its phase and the loop tagged
    `mixq.pipeline = S` (the plan's `stages`):

    | phase     | what it does for tile i                                   |
    |-----------|-----------------------------------------------------------|
    | `copy`    | cp.async of tile i (x: zero-filled past M; codes: L2      |
    |           | evict-first) into slot i mod S, commit; raw scale words   |
    |           | into registers                                            |
    | `scales`  | second-order scales dequantized (min + code * step), scale|
    |           | and 1024 + zero as f16x2                                  |
    | `wait`    | `cp.async.wait_group 0`, barrier                          |
    | `compute` | ldmatrix, codes decoded with lop3, mma.sync m16n8k16      |

    That loop is correct as it stands. This pass turns it into the
    S-stage pipeline of the 2/4/16 paper's asynchronous dequantization
    (upstream `scf` loop pipelining with this schedule):

    ```
    prologue: copy(0) .. copy(S-2), scales(0)       (S-1 groups in flight)
    loop i:   wait_group(S-2); barrier              (tile i has landed)
              copy(i+S-1)                           (into the slot tile i-1 used)
              scales(i+1)                           (overlaps the copies)
              compute(i)
    epilogue: the last S-1 tiles, wait_group(0)
    ```

    i.e. stage 0 = `copy`, stage S-2 = `scales`, stage S-1 = `wait` and
    `compute` (so with S = 2 the scales share stage 0). The pass then
    drops the `mixq.stage` and `mixq.pipeline` attributes. A loop with
    fewer than S tiles keeps its plain (correct) order. Anything else in
    the module is left alone.

    Example (S = 3), inside the kernel after the pass:
    ```mlir
    nvvm.cp.async.commit.group          // prologue: tiles 0 and 1
    ...
    nvvm.cp.async.commit.group
    %r:... = scf.for %i = %c0 to %c62 step %c1 iter_args(...) {
      nvvm.cp.async.wait.group 1
      gpu.barrier
      llvm.inline_asm has_side_effects "...cp.async.cg.shared.global.L2::cache_hint..."
      nvvm.cp.async.commit.group
      %s = arith.addf %min, %ms : f32                 // scales of tile i+1
      %fa = nvgpu.ldmatrix %xs[...] {numTiles = 4 : i32, transpose = false}
      %h = llvm.inline_asm "lop3.b32 $0, $1, $2, $3, 0xEA;" ...
      %d = nvgpu.mma.sync(%fa, %fb, %acc) {mmaShape = [16, 8, 16]} ...
      scf.yield ...
    }
    nvvm.cp.async.wait.group 0          // epilogue
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::NVVM::NVVMDialect"
  ];
}

#endif // MIXQ_PASSES_TD
