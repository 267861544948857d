//===- GraphLowering.cpp - The Llama graph on the GPU ---------------------===//
//
// Whole-graph mode of -mixq-lower-gpu (GraphLowering.h). Each tensor op of
// @prefill / @decode becomes kernel launches (passes/gpu/: the decode GEMVs
// for every product, LayerKernels.cpp for the rest) in the ABI functions
// `mixq_prefill` / `mixq_decode`, which take device pointers:
//
//   - memory is planned here, as the CPU lowering does: every intermediate
//     tensor gets a region of the runtime's scratch buffer (first fit by
//     liveness; views share their root's region). Tensors with one row per
//     token are planned at full capacity (`cap` rows: 1 for decode,
//     max_seq_len rounded up to 16 for prefill), so the scratch size is one
//     constant and every kernel argument has a static shape;
//   - the KV caches are updated in place (insert_slice: a store kernel into
//     the layer's rows; extract_slice: a view of the layer);
//   - prefill products of uniform, LUT and mixed weights and QUIK's codes
//     (FP16 activations) run the tensor-core GEMM
//     (MmaGemmKernel.cpp) on x converted to f16; the other schemes run the
//     decode GEMV on chunks of 16 rows, chunk z in grid z;
//   - all launches go on one stream created at entry (gpu.wait async) and
//     synchronized before returning (gpu.wait);
//   - kernels are shared between ops of the same shape and layout (the
//     weight's streams are arguments).
//
//===----------------------------------------------------------------------===//
#include "passes/LlamaModule.h"
#include "passes/gpu/GraphLowering.h"
#include "passes/gpu/LayerKernels.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <map>

using namespace mlir;

namespace mixq::device {

namespace {

constexpr int64_t kAlign = 256;

int64_t roundUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// A device buffer: a pointer and the static shape the kernels see.
struct Buf {
  Value ptr;
  SmallVector<int64_t> shape;
  Type elem;
};

QMatmulTileOp tileOf(scf::ForallOp forall) {
  for (Operation &op : forall.getBody()->without_terminator())
    if (auto tile = dyn_cast<QMatmulTileOp>(op))
      return tile;
  return {};
}

/// State shared by both functions: the kernel module, the kernel cache and
/// the stream table.
struct ModuleState {
  ModuleOp module;
  gpu::GPUModuleOp kernels;
  memref::GlobalOp ropeTable;
  ModelDims dims;
  std::map<std::string, KernelLaunch> cache;
  std::vector<std::string> streamNames;
  std::map<std::string, int64_t> streamIndex;
  int64_t counter = 0;

  int64_t streamSlot(const std::string &key) {
    auto [it, inserted] =
        streamIndex.emplace(key, int64_t(streamNames.size()));
    if (inserted)
      streamNames.push_back(key);
    return it->second;
  }
};

class FunctionLowering {
public:
  FunctionLowering(ModuleState &st, func::FuncOp src, func::FuncOp dst,
                   bool decode)
      : st(st), src(src), dst(dst), decode(decode), b(src.getContext()),
        r{b, src.getLoc()} {
    cap = decode ? 1 : roundUp(st.dims.seq, kChunkRows);
  }

  LogicalResult run(int64_t &scratchBytes);

private:
  LogicalResult lowerOp(Operation *op, int64_t index);
  LogicalResult lowerProduct(Operation *op, QMatmulTileOp tile, Value input,
                             Value weight, PlanAttr plan, int64_t kSize,
                             bool exclude, Value result, int64_t index);
  LogicalResult lowerGemm(Operation *op, const WeightInfo &w, PlanAttr plan,
                          bool exclude, const Buf &x, const Buf &out,
                          int64_t index, bool quikCodes = false);
  LogicalResult lowerQuikIntGemm(Operation *op, const WeightInfo &w,
                                 PlanAttr plan, const Buf &xq, Type xElem,
                                 const Buf &out, int64_t index);
  LogicalResult lowerSparseAdd(SparseAddOp op, int64_t index);
  LogicalResult lowerElementwise(Operation *op, ValueRange ins, Block *body,
                                 int64_t index);

  SmallVector<int64_t> capShape(Type tensorType) {
    SmallVector<int64_t> shape(cast<RankedTensorType>(tensorType).getShape());
    for (int64_t &d : shape)
      if (ShapedType::isDynamic(d))
        d = cap;
    return shape;
  }
  Value bytePtr(Value base, int64_t offset) {
    auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
    return LLVM::GEPOp::create(b, r.loc, ptrType, b.getI8Type(), base,
                               ArrayRef<LLVM::GEPArg>{offset});
  }
  Buf scratchBuf(ArrayRef<int64_t> shape, int64_t index, int64_t lastUse) {
    int64_t bytes = 4;
    for (int64_t d : shape)
      bytes *= d;
    int64_t off = arena.allocate(bytes, index, lastUse);
    return Buf{bytePtr(scratch, off), SmallVector<int64_t>(shape),
               b.getF32Type()};
  }
  Buf newBuffer(Value tensor, int64_t index) {
    Value root = roots.lookup(tensor) ? roots.lookup(tensor) : tensor;
    return scratchBuf(capShape(tensor.getType()), index, lastUse.lookup(root));
  }
  Value memref(const Buf &buf) {
    return cpu::memrefFromPointer(b, r.loc, buf.ptr,
                                  MemRefType::get(buf.shape, buf.elem), {});
  }
  Value streamPtr(const std::string &key) {
    return cpu::loadPointerAt(b, r.loc, streams, st.streamSlot(key));
  }
  /// The kernel `key` from the cache, or built by `make`.
  /// (`report` false: a kernel that cannot be built fails silently, for
  /// kernels with a fallback.)
  FailureOr<KernelLaunch>
  kernel(Operation *diag, const std::string &key, StringRef kind,
         llvm::function_ref<FailureOr<KernelLaunch>(StringRef, std::string &)>
             make,
         bool report = true) {
    auto it = st.cache.find(key);
    if (it != st.cache.end())
      return it->second;
    std::string name = ("mixq_" + kind + "_" + Twine(st.counter++)).str();
    std::string why;
    FailureOr<KernelLaunch> k;
    {
      OpBuilder::InsertionGuard guard(b);
      k = make(name, why);
    }
    if (failed(k)) {
      if (auto f = st.kernels.lookupSymbol<gpu::GPUFuncOp>(name))
        f.erase();
      if (!report)
        return failure();
      return diag->emitOpError() << "-mixq-lower-gpu: " << why;
    }
    st.cache.emplace(key, *k);
    return k;
  }
  Value ceilDiv(Value v, int64_t d) { return r.divI(r.addI(v, d - 1), d); }
  /// gpu.launch_func of `k` on the function's stream: the streams of
  /// `weight` (the kernel's stream keys re-keyed to it), then `others`.
  void launch(const KernelLaunch &k, StringRef weight, ValueRange others,
              Value gridX = {}, Value gridZ = {}) {
    SmallVector<Value> operands;
    for (const StreamArg &s : k.signature.streams) {
      std::string key = s.key;
      if (!weight.empty())
        key = weight.str() + key.substr(key.rfind(':'));
      operands.push_back(cpu::memrefFromPointer(b, r.loc, streamPtr(key),
                                                s.type, {}));
    }
    operands.append(others.begin(), others.end());
    gpu::KernelDim3 grid{gridX ? gridX : r.idx(k.grid[0]), r.idx(k.grid[1]),
                         gridZ ? gridZ : r.idx(k.grid[2])};
    gpu::KernelDim3 block{r.idx(k.block[0]), r.idx(k.block[1]),
                          r.idx(k.block[2])};
    auto op = gpu::LaunchFuncOp::create(
        b, r.loc, k.func, grid, block, Value(), operands,
        gpu::AsyncTokenType::get(b.getContext()), ValueRange{stream});
    stream = op.getAsyncToken();
  }

  ModuleState &st;
  func::FuncOp src, dst;
  bool decode;
  OpBuilder b;
  cpu::IRB r;
  int64_t cap = 1;
  LivenessArena arena{kAlign};
  Value m, pos, scratch, streams, kcache, vcache, logits, tokens, stream;
  Value logitsValue;
  DenseMap<Value, Buf> bufs;
  DenseMap<Value, WeightInfo> weights;
  DenseMap<Value, Value> cacheRoot, roots;
  DenseMap<Value, int64_t> lastUse;
};

/// Prefill on tensor cores, where the weight has a GEMM kernel: x to f16
/// (a scratch buffer live for this op only), then the GEMM over
/// ceil(M / 64) row blocks (grid z). Fails quietly otherwise; the caller
/// then runs the GEMV on 16-row chunks.
LogicalResult FunctionLowering::lowerGemm(Operation *op, const WeightInfo &w,
                                          PlanAttr plan, bool exclude,
                                          const Buf &x, const Buf &out,
                                          int64_t index, bool quikCodes) {
  const int64_t N = w.rows;
  const int64_t K = quikCodes ? w.cols - w.layout.fp16Cols : w.cols;
  bool wgmma = plan.getKernel() == PlanKernel::Wgmma;
  if ((plan.getKernel() != PlanKernel::Gemm && !wgmma) || !x.elem.isF32() ||
      K % 4)
    return failure();
  GemmSpec spec;
  spec.w = w;
  spec.rowCap = cap;
  spec.stages = plan.getStages();
  spec.excludeOutliers = exclude;
  spec.quikCodes = quikCodes;
  auto gemmKernel = [&](bool hopper) {
    std::string key;
    {
      llvm::raw_string_ostream os(key);
      os << (hopper ? "wgmma|" : "gemm|") << formatLayout(w.layout) << "|"
         << N << "x" << K << "|" << cap << "|" << spec.stages << "|"
         << exclude << "|" << quikCodes;
    }
    return kernel(
        op, key, hopper ? "wgmma" : "gemm",
        [&](StringRef name, std::string &why) {
          return hopper ? buildWgmmaGemmKernel(b, r.loc, st.kernels, name,
                                               spec, why)
                        : buildMmaGemmKernel(b, r.loc, st.kernels, name, spec,
                                             why);
        },
        /*report=*/false);
  };
  FailureOr<KernelLaunch> gemm = gemmKernel(wgmma);
  // A weight the wgmma kernel turns down (shapes the plan let through)
  // still gets the mma.sync kernel before the GEMV.
  if (failed(gemm) && wgmma) {
    wgmma = false;
    gemm = gemmKernel(false);
  }
  if (failed(gemm))
    return failure();
  FailureOr<KernelLaunch> half = kernel(
      op, "to_half|" + std::to_string(cap) + "x" + std::to_string(K),
      "to_half", [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
        return buildToHalfKernel(b, r.loc, st.kernels, name, cap, K);
      });
  if (failed(half))
    return failure();
  // cap x K f16 in the f32 arena: cap x K/2 words.
  Buf x16 = scratchBuf({cap, (K + 1) / 2}, index, index);
  x16.shape = {cap, K};
  x16.elem = b.getF16Type();
  launch(*half, "", {memref(x), memref(x16), m},
         ceilDiv(r.mulI(m, K), 1024));
  if (wgmma) {
    // The tensor map's rows end at M: TMA reads rows past it as zeros.
    Value rows = cpu::memrefFromPointer(
        b, r.loc, x16.ptr,
        MemRefType::get({ShapedType::kDynamic, K}, b.getF16Type()), {m});
    launch(*gemm, w.name,
           {createActivationTensorMap(b, r.loc, rows), memref(out), m},
           Value(), ceilDiv(m, kGemmBlockM));
    return success();
  }
  launch(*gemm, w.name, {memref(x16), memref(out), m}, Value(),
         ceilDiv(m, kGemmBlockM));
  return success();
}

/// QUIK's prefill with quantized activations on integer tensor cores,
/// where the integer GEMM takes the weight: the activation codes (4-bit
/// operands on sm_80 where weight and activations are 4-bit and the
/// columns fill 64-code steps, else 8-bit: sm_90a has no 4-bit MMA), then
/// the GEMM: the s8 wgmma kernel where the plan says wgmma and it takes the
/// weight, else mma.sync. Fails quietly otherwise.
LogicalResult FunctionLowering::lowerQuikIntGemm(Operation *op,
                                                 const WeightInfo &w,
                                                 PlanAttr plan, const Buf &xq,
                                                 Type xElem, const Buf &out,
                                                 int64_t index) {
  if (plan.getKernel() != PlanKernel::Gemm &&
      plan.getKernel() != PlanKernel::Wgmma)
    return failure();
  const Layout &l = w.layout;
  const int64_t N = w.rows, Q = w.cols - l.fp16Cols;
  GemmSpec spec;
  spec.w = w;
  spec.rowCap = cap;
  spec.stages = plan.getStages();
  spec.quikCodes = true;
  std::string key;
  FailureOr<KernelLaunch> gemm = failure();
  int64_t opBits = 0;
  bool wgmma = plan.getKernel() == PlanKernel::Wgmma;
  if (wgmma) {
    opBits = 8;
    llvm::raw_string_ostream(key)
        << formatLayout(l) << "|" << N << "x" << w.cols << "|" << cap << "|"
        << spec.stages << "|wgmma";
    gemm = kernel(
        op, "quik_iwgmma|" + key, "quik_iwgmma",
        [&](StringRef name, std::string &why) {
          return buildWgmmaGemmKernel(b, r.loc, st.kernels, name, spec, why);
        },
        /*report=*/false);
    wgmma = succeeded(gemm);
  }
  for (int64_t bits :
       quikOperandBits(l, plan.getTarget() == PlanTarget::Sm80)) {
    if (wgmma)
      break;
    opBits = bits;
    key.clear();
    llvm::raw_string_ostream(key)
        << formatLayout(l) << "|" << N << "x" << w.cols << "|" << cap << "|"
        << spec.stages << "|s" << opBits;
    gemm = kernel(
        op, "quik_igemm|" + key, "quik_igemm",
        [&](StringRef name, std::string &why) {
          return buildQuikIntGemmKernel(b, r.loc, st.kernels, name, spec,
                                        opBits, why);
        },
        /*report=*/false);
    if (succeeded(gemm))
      break;
  }
  if (failed(gemm))
    return failure();
  std::string xKey;
  llvm::raw_string_ostream(xKey) << "|" << xElem;
  FailureOr<KernelLaunch> quant = kernel(
      op, "quik_act_codes|" + key + xKey, "quik_act_codes",
      [&](StringRef name, std::string &why) {
        return buildQuikActQuantKernel(b, r.loc, st.kernels, name, w,
                                       kChunkRows, xElem, why, cap, opBits);
      });
  if (failed(quant))
    return failure();
  // Codes (whole K tiles of b-bit codes a row, zeros past Q; Q itself on
  // wgmma) and per-row scale and zero.
  const int64_t P = quikCodeColumns(Q, opBits);
  Buf codes = scratchBuf({cap, P * opBits / 32}, index, index);
  codes.elem = b.getI32Type();
  Buf params = scratchBuf({cap, 2}, index, index);
  launch(*quant, w.name, {memref(xq), memref(codes), memref(params)}, Value(),
         ceilDiv(m, kChunkRows));
  if (wgmma) {
    // The codes as f16 pairs, rows ending at M: the tensor map's box and
    // swizzle are those of the f16 activations.
    Value rows = cpu::memrefFromPointer(
        b, r.loc, codes.ptr,
        MemRefType::get({ShapedType::kDynamic, P * opBits / 16},
                        b.getF16Type()),
        {m});
    launch(*gemm, w.name,
           {memref(params), createActivationTensorMap(b, r.loc, rows),
            memref(out), m},
           Value(), ceilDiv(m, kGemmBlockM));
    return success();
  }
  launch(*gemm, w.name, {memref(params), memref(codes), memref(out), m},
         Value(), ceilDiv(m, kGemmBlockM));
  return success();
}

LogicalResult FunctionLowering::lowerProduct(Operation *op,
                                             QMatmulTileOp tile, Value input,
                                             Value weight, PlanAttr plan,
                                             int64_t kSize, bool exclude,
                                             Value result, int64_t index) {
  if (!weights.count(weight))
    return op->emitOpError("-mixq-lower-gpu: the weight must come from "
                           "mixq.weight");
  const WeightInfo &w = weights[weight];
  if (!plan || plan.getTarget() == PlanTarget::X86)
    return op->emitOpError("-mixq-lower-gpu: the product has no GPU plan");
  auto it = bufs.find(input);
  if (it == bufs.end())
    return op->emitOpError("-mixq-lower-gpu: product input without a buffer");
  Buf x = it->second;
  const int64_t N = w.rows, K = w.cols;
  GemvSpec spec;
  spec.w = w;
  spec.xElem = x.elem;
  spec.excludeOutliers = exclude;
  Value chunks;
  if (decode) {
    spec.m = cap;
    spec.splitK = plan.getSplitK();
    spec.kSize = spec.splitK > 1 ? kSize : K;
  } else {
    // Prefill: the GEMV over chunks of 16 rows (grid z), no K split.
    spec.m = kChunkRows;
    spec.rowCap = cap;
    spec.splitK = 1;
    spec.kSize = K;
    chunks = ceilDiv(m, kChunkRows);
  }
  // The product's M x N output, also when `result` is the forall of a
  // split-K product (S x M x N partial sums, reduced by the kernels).
  Value root = roots.lookup(result) ? roots.lookup(result) : result;
  Buf out = decode && result == logitsValue
                ? Buf{logits, {cap, N}, b.getF32Type()}
                : scratchBuf({cap, N}, index, lastUse.lookup(root));
  bufs[result] = out;
  std::string key;
  {
    llvm::raw_string_ostream os(key);
    os << formatLayout(w.layout) << "|" << N << "x" << K << "|" << spec.m
       << "|" << cap << "|" << spec.xElem << "|" << spec.kSize << "|"
       << spec.splitK << "|" << exclude;
  }
  if (!decode && succeeded(lowerGemm(op, w, plan, exclude, x, out, index)))
    return success();
  if (w.layout.scheme != Scheme::Quik) {
    FailureOr<KernelLaunch> k =
        kernel(op, "gemv|" + key, "gemv", [&](StringRef name, std::string &why) {
          FailureOr<KernelLaunch> made =
              w.layout.scheme == Scheme::Mixed
                  ? buildMixedGemvKernel(b, r.loc, st.kernels, name, spec, why)
                  : buildGemvKernel(b, r.loc, st.kernels, name, spec, why);
          if (failed(made))
            why = "'" + w.name + "': " + why;
          return made;
        });
    if (failed(k))
      return failure();
    const int64_t S = spec.splitK;
    if (S == 1) {
      launch(*k, w.name, {memref(x), memref(out)}, Value(), chunks);
      return success();
    }
    Buf part = scratchBuf({S, spec.m, N}, index, index);
    launch(*k, w.name, {memref(x), memref(part)});
    FailureOr<KernelLaunch> red = kernel(
        op, "reduce|" + std::to_string(S) + "|" + std::to_string(N), "reduce",
        [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
          return buildSplitReduceKernel(b, r.loc, st.kernels, name, S, spec.m,
                                        N);
        });
    if (failed(red))
      return failure();
    launch(*red, "", {memref(part), memref(out)});
    return success();
  }

  // QUIK: split, activation quantization (act 4 or 8), codes GEMV (or
  // GEMM), FP16 columns.
  const int64_t C = w.layout.fp16Cols, Q = K - C;
  GemvSpec codes = spec;
  codes.part = GemvSpec::Part::QuikCodes;
  codes.splitK = 1;
  codes.kSize = Q;
  Buf xq = x, xo;
  if (C > 0) {
    FailureOr<KernelLaunch> split = kernel(
        op, "quik_split|" + key, "quik_split",
        [&](StringRef name, std::string &why) {
          return buildQuikSplitKernel(b, r.loc, st.kernels, name, w, spec.m,
                                      spec.xElem, why, spec.rowCap);
        });
    if (failed(split))
      return failure();
    xq = scratchBuf({cap, Q}, index, index);
    xo = scratchBuf({cap, C}, index, index);
    launch(*split, w.name, {memref(x), memref(xq), memref(xo)}, Value(),
           chunks);
    codes.xElem = b.getF32Type();
  }
  Buf y = C > 0 ? scratchBuf({cap, N}, index, index) : out;
  // Prefill with quantized activations: the integer GEMM where it takes
  // the weight; else the activations dequantized for the f16 GEMM or the
  // GEMV.
  const bool integer =
      !decode && w.layout.act.bits < 16 &&
      succeeded(lowerQuikIntGemm(op, w, plan, xq, codes.xElem, y, index));
  if (!integer && w.layout.act.bits < 16) {
    FailureOr<KernelLaunch> quant = kernel(
        op, "quik_act_quant|" + key, "quik_act_quant",
        [&](StringRef name, std::string &why) {
          return buildQuikActQuantKernel(b, r.loc, st.kernels, name, w, spec.m,
                                         codes.xElem, why, spec.rowCap);
        });
    if (failed(quant))
      return failure();
    Buf xa = scratchBuf({cap, Q}, index, index);
    launch(*quant, w.name, {memref(xq), memref(xa)}, Value(), chunks);
    xq = xa;
    codes.xElem = b.getF32Type();
  }
  // Prefill: the codes on tensor cores where the GEMM takes them.
  if (!integer && (decode || failed(lowerGemm(op, w, plan, exclude, xq, y,
                                             index, /*quikCodes=*/true)))) {
    FailureOr<KernelLaunch> k = kernel(
        op, "quik_codes|" + key + "|" + std::to_string(C), "gemv",
        [&](StringRef name, std::string &why) {
          return buildGemvKernel(b, r.loc, st.kernels, name, codes, why);
        });
    if (failed(k))
      return failure();
    launch(*k, w.name, {memref(xq), memref(y)}, Value(), chunks);
  }
  if (C == 0)
    return success();
  GemvSpec cols = codes;
  cols.part = GemvSpec::Part::QuikFp16Cols;
  cols.kSize = C;
  cols.accumulate = true;
  FailureOr<KernelLaunch> kc = kernel(
      op, "quik_cols|" + key + "|" + std::to_string(C), "gemv",
      [&](StringRef name, std::string &why) {
        return buildGemvKernel(b, r.loc, st.kernels, name, cols, why);
      });
  if (failed(kc))
    return failure();
  launch(*kc, w.name, {memref(xo), memref(y), memref(out)}, Value(), chunks);
  return success();
}

LogicalResult FunctionLowering::lowerSparseAdd(SparseAddOp op, int64_t index) {
  const WeightInfo &w = weights[op.getWeight()];
  Buf x = bufs.lookup(op.getInput()), acc = bufs.lookup(op.getAcc());
  if (!x.ptr || !acc.ptr)
    return op.emitOpError("-mixq-lower-gpu: sparse_add operand without a "
                          "buffer");
  Buf out = newBuffer(op.getResult(), index);
  bufs[op.getResult()] = out;
  int64_t mm = decode ? cap : kChunkRows;
  FailureOr<KernelLaunch> k = kernel(
      op,
      "sparse|" + w.name + "|" + std::to_string(mm) + "|" + std::to_string(cap),
      "sparse_add", [&](StringRef name, std::string &why) {
        return buildSparseAddKernel(b, r.loc, st.kernels, name, w, mm, x.elem,
                                    why, decode ? 0 : cap);
      });
  if (failed(k))
    return failure();
  launch(*k, w.name, {memref(x), memref(acc), memref(out)}, Value(),
         decode ? Value() : ceilDiv(m, kChunkRows));
  return success();
}

LogicalResult FunctionLowering::lowerElementwise(Operation *op, ValueRange ins,
                                                 Block *body, int64_t index) {
  Value result = op->getResult(0);
  SmallVector<int64_t> shape = capShape(result.getType());
  if (shape.size() != 2)
    return op->emitOpError("-mixq-lower-gpu: element-wise ops must be 2-D");
  SmallVector<Value> operands;
  for (Value v : ins) {
    auto it = bufs.find(v);
    if (it == bufs.end() || it->second.shape != shape)
      return op->emitOpError("-mixq-lower-gpu: element-wise operand without "
                             "a buffer of the result's shape");
    operands.push_back(memref(it->second));
  }
  Buf out = newBuffer(result, index);
  bufs[result] = out;
  operands.push_back(memref(out));
  operands.push_back(m);
  std::string key;
  {
    llvm::raw_string_ostream os(key);
    os << "ew|" << shape[0] << "x" << shape[1] << "|";
    if (body) {
      for (Operation &inner : *body)
        inner.print(os, OpPrintingFlags().skipRegions());
    } else {
      os << op->getName();
    }
  }
  FailureOr<KernelLaunch> k = kernel(
      op, key, "elementwise",
      [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
        return buildElementwiseKernel(
            b, r.loc, st.kernels, name, shape[0], shape[1], ins.size(),
            [&](cpu::IRB &kr, ValueRange loaded) -> Value {
              if (body) {
                IRMapping map;
                for (auto [arg, v] : llvm::zip(body->getArguments(), loaded))
                  map.map(arg, v);
                for (Operation &inner : body->without_terminator()) {
                  // Constants hoisted out of the body are cloned in.
                  for (Value operand : inner.getOperands())
                    if (!map.contains(operand))
                      if (auto c = operand.getDefiningOp<arith::ConstantOp>())
                        map.map(operand, kr.b.clone(*c)->getResult(0));
                  if (auto e = dyn_cast<math::ExpOp>(inner);
                      e && e.getType().isF32()) {
                    map.map(e.getResult(),
                            expF32(kr, map.lookup(e.getOperand())));
                    continue;
                  }
                  kr.b.clone(inner, map);
                }
                return map.lookup(body->getTerminator()->getOperand(0));
              }
              OperationState state(op->getLoc(), op->getName());
              state.addOperands(loaded);
              state.addTypes(kr.b.getF32Type());
              state.addAttributes(op->getAttrs());
              return kr.b.create(state)->getResult(0);
            });
      });
  if (failed(k))
    return failure();
  launch(*k, "", operands, ceilDiv(r.mulI(m, shape[1]), kElementThreads));
  return success();
}

LogicalResult FunctionLowering::lowerOp(Operation *op, int64_t index) {
  r.loc = op->getLoc();
  const ModelDims &d = st.dims;
  if (auto w = dyn_cast<WeightOp>(op)) {
    auto type = cast<QWeightType>(w.getType());
    weights[w.getResult()] = WeightInfo{
        w.getName().str(), type.getLayout().toLayout(), type.getN(),
        type.getK()};
    return success();
  }
  // Scalars and shapes: the positions are pos + i inside the kernels.
  if (isa<arith::ConstantOp, tensor::DimOp, tensor::EmptyOp,
          tensor::GenerateOp, linalg::FillOp>(op))
    return success();
  if (auto e = dyn_cast<EmbedOp>(op)) {
    const WeightInfo &w = weights[e.getTable()];
    Buf out = newBuffer(e.getResult(), index);
    bufs[e.getResult()] = out;
    FailureOr<KernelLaunch> k = kernel(
        op, "embed|" + w.name + "|" + std::to_string(cap), "embed",
        [&](StringRef name, std::string &why) {
          return buildEmbedKernel(b, r.loc, st.kernels, name, w, cap, decode,
                                  why);
        });
    if (failed(k))
      return failure();
    Value tok = decode ? tokens
                       : cpu::memrefFromPointer(
                             b, r.loc, tokens,
                             MemRefType::get({cap}, b.getI32Type()), {});
    launch(*k, w.name, {tok, memref(out)}, m);
    return success();
  }
  if (auto dq = dyn_cast<DequantOp>(op)) {
    const WeightInfo &w = weights[dq.getWeight()];
    FailureOr<MemRefType> type =
        streamViewType(b.getContext(), w, "values");
    if (w.layout.scheme != Scheme::Dense || failed(type))
      return op->emitOpError() << "-mixq-lower-gpu: only dense weights can "
                                  "be read whole; '"
                               << w.name << "' is "
                               << schemeName(w.layout.scheme);
    bufs[dq.getResult()] = Buf{streamPtr(w.name + ":values"),
                               {w.rows, w.cols}, type->getElementType()};
    return success();
  }
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op)) {
    auto it = bufs.find(op->getOperand(0));
    if (it == bufs.end())
      return op->emitOpError("-mixq-lower-gpu: reshape of an unknown value");
    Buf view = it->second;
    view.shape = capShape(op->getResult(0).getType());
    bufs[op->getResult(0)] = view;
    return success();
  }
  if (auto n = dyn_cast<RMSNormOp>(op)) {
    Buf x = bufs.lookup(n.getInput()), gain = bufs.lookup(n.getGamma());
    if (!x.ptr || !gain.ptr)
      return op->emitOpError("-mixq-lower-gpu: rms_norm operand without a "
                             "buffer");
    Buf out = newBuffer(n.getResult(), index);
    bufs[n.getResult()] = out;
    int64_t D = x.shape[1];
    float eps = n.getEpsilon().convertToFloat();
    auto gainType = MemRefType::get({D}, gain.elem);
    std::string key;
    llvm::raw_string_ostream(key) << "rms|" << cap << "|" << D << "|"
                                  << gain.elem << "|" << eps;
    FailureOr<KernelLaunch> k = kernel(
        op, key, "rms_norm",
        [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
          return buildRmsNormKernel(b, r.loc, st.kernels, name, cap, D,
                                    gainType, eps);
        });
    if (failed(k))
      return failure();
    Value g = cpu::memrefFromPointer(b, r.loc, gain.ptr, gainType, {});
    launch(*k, "", {memref(x), g, memref(out)}, m);
    return success();
  }
  if (auto forall = dyn_cast<scf::ForallOp>(op)) {
    QMatmulTileOp tile = tileOf(forall);
    if (!tile)
      return op->emitOpError("-mixq-lower-gpu: only the scf.forall of a "
                             "tiled product is supported");
    return lowerProduct(op, tile, tile.getInput(), tile.getWeight(),
                        tile.getPlan(), tile.getKSize(),
                        tile.getExcludeOutliers(), forall.getResult(0), index);
  }
  if (auto q = dyn_cast<QMatmulOp>(op)) {
    PlanAttr plan = q.getPlanAttr();
    int64_t K = cast<QWeightType>(q.getWeight().getType()).getK();
    int64_t kSize = plan ? K / plan.getSplitK() : K;
    return lowerProduct(op, {}, q.getInput(), q.getWeight(), plan, kSize,
                        q.getExcludeOutliers(), q.getResult(), index);
  }
  if (auto red = dyn_cast<linalg::ReduceOp>(op)) {
    // The split-K sum of a product: the product's kernels already reduced.
    auto it = bufs.find(red.getInputs()[0]);
    if (it == bufs.end() ||
        !red.getInputs()[0].getDefiningOp<scf::ForallOp>())
      return op->emitOpError("-mixq-lower-gpu: only the split-K reduction "
                             "of a tiled product is supported");
    bufs[red.getResult(0)] = it->second;
    return success();
  }
  if (auto rope = dyn_cast<RopeOp>(op)) {
    if (rope.getTheta().convertToFloat() != d.theta)
      return op->emitOpError("-mixq-lower-gpu: RoPE theta differs from the "
                             "model's rope_theta");
    if (!rope.getPositions().getDefiningOp<tensor::GenerateOp>())
      return op->emitOpError("-mixq-lower-gpu: RoPE positions must be the "
                             "graph's start + i");
    Buf x = bufs.lookup(rope.getInput());
    if (!x.ptr)
      return op->emitOpError("-mixq-lower-gpu: rope of an unknown value");
    Buf out = newBuffer(rope.getResult(), index);
    bufs[rope.getResult()] = out;
    bool adjacent = rope.getStyle() == RopePairing::Adjacent;
    int64_t H = x.shape[1], HD = x.shape[2];
    std::string key = "rope|" + std::to_string(cap) + "|" + std::to_string(H) +
                      "|" + std::to_string(HD) + "|" + (adjacent ? "a" : "h");
    FailureOr<KernelLaunch> k = kernel(
        op, key, "rope",
        [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
          return buildRopeKernel(b, r.loc, st.kernels, name, cap, H, HD,
                                 adjacent, st.ropeTable);
        });
    if (failed(k))
      return failure();
    launch(*k, "", {memref(x), memref(out), m, pos},
           ceilDiv(r.mulI(m, H * (HD / 2)), kRowThreads));
    return success();
  }
  const int64_t layerBytes = d.seq * d.kvHeads * d.headDim() * 4;
  if (auto ins = dyn_cast<tensor::InsertSliceOp>(op)) {
    Value cache = cacheRoot.lookup(ins.getDest());
    Buf srcBuf = bufs.lookup(ins.getSource());
    std::optional<int64_t> l = kvCacheLayer(ins.getStaticOffsets());
    if (!cache || !srcBuf.ptr || !l)
      return op->emitOpError("-mixq-lower-gpu: only the KV-cache updates of "
                             "the Llama graph are supported");
    Buf layer{bytePtr(cache, *l * layerBytes),
              {d.seq, d.kvHeads, d.headDim()},
              b.getF32Type()};
    FailureOr<KernelLaunch> k = kernel(
        op, "kv|" + std::to_string(cap), "kv_store",
        [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
          return buildKvStoreKernel(b, r.loc, st.kernels, name, cap, d.seq,
                                    d.kvHeads, d.headDim());
        });
    if (failed(k))
      return failure();
    launch(*k, "", {memref(srcBuf), memref(layer), m, pos},
           ceilDiv(r.mulI(m, d.kvHeads * d.headDim()), kElementThreads));
    cacheRoot[ins.getResult()] = cache;
    return success();
  }
  if (auto ex = dyn_cast<tensor::ExtractSliceOp>(op)) {
    Value cache = cacheRoot.lookup(ex.getSource());
    std::optional<int64_t> l = kvCacheLayer(ex.getStaticOffsets());
    if (!cache || !l)
      return op->emitOpError("-mixq-lower-gpu: only per-layer KV-cache "
                             "slices are supported");
    bufs[ex.getResult()] = Buf{bytePtr(cache, *l * layerBytes),
                               {d.seq, d.kvHeads, d.headDim()},
                               b.getF32Type()};
    return success();
  }
  if (auto at = dyn_cast<AttentionOp>(op)) {
    Buf q = bufs.lookup(at.getQuery()), kc = bufs.lookup(at.getKeyCache()),
        vc = bufs.lookup(at.getValueCache());
    if (!q.ptr || !kc.ptr || !vc.ptr)
      return op->emitOpError("-mixq-lower-gpu: attention operand without a "
                             "buffer");
    Buf out = newBuffer(at.getResult(), index);
    bufs[at.getResult()] = out;
    float scale = at.getScale()
                      ? at.getScale()->convertToFloat()
                      : float(1.0 / std::sqrt(double(d.headDim())));
    int64_t H = q.shape[1];
    std::string key;
    llvm::raw_string_ostream(key) << "attn|" << cap << "|" << H << "|"
                                  << scale;
    FailureOr<KernelLaunch> k = kernel(
        op, key, "attention", [&](StringRef name, std::string &why) {
          return buildAttentionKernel(b, r.loc, st.kernels, name, cap, H,
                                      d.headDim(), d.seq, d.kvHeads, scale,
                                      why);
        });
    if (failed(k))
      return failure();
    launch(*k, "", {memref(q), memref(kc), memref(vc), memref(out), pos},
           r.mulI(m, H));
    return success();
  }
  if (auto sp = dyn_cast<SparseAddOp>(op))
    return lowerSparseAdd(sp, index);
  if (isa<arith::AddFOp, arith::MulFOp, arith::SubFOp>(op))
    return lowerElementwise(op, op->getOperands(), nullptr, index);
  if (auto g = dyn_cast<linalg::GenericOp>(op)) {
    for (AffineMap map : g.getIndexingMapsArray())
      if (!map.isIdentity())
        return op->emitOpError("-mixq-lower-gpu: only element-wise "
                               "generics");
    return lowerElementwise(op, g.getDpsInputs(), g.getBody(), index);
  }
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    Buf out = bufs.lookup(ret.getOperand(0));
    if (!out.ptr)
      return op->emitOpError("-mixq-lower-gpu: logits without a buffer");
    if (out.ptr == logits)
      return success();
    int64_t V = out.shape[1];
    FailureOr<KernelLaunch> k = kernel(
        op, "copy|" + std::to_string(cap) + "|" + std::to_string(V), "copy",
        [&](StringRef name, std::string &) -> FailureOr<KernelLaunch> {
          return buildElementwiseKernel(
              b, r.loc, st.kernels, name, cap, V, 1,
              [](cpu::IRB &, ValueRange in) { return in[0]; });
        });
    if (failed(k))
      return failure();
    Buf dstBuf{logits, out.shape, out.elem};
    launch(*k, "", {memref(out), memref(dstBuf), m},
           ceilDiv(r.mulI(m, V), kElementThreads));
    return success();
  }
  return op->emitOpError("-mixq-lower-gpu: no GPU lowering for this op in "
                         "the graph");
}

LogicalResult FunctionLowering::run(int64_t &scratchBytes) {
  Block *entry = dst.addEntryBlock();
  b.setInsertionPointToStart(entry);
  // ABI arguments: rt, streams, kcache, vcache, tokens|token, [n], pos,
  // [first_logit], logits, scratch (device pointers but rt and streams, see
  // ModuleABI.h). The classifier runs on every row: first_logit is only
  // checked (the rows before it are unspecified).
  streams = entry->getArgument(1);
  kcache = entry->getArgument(2);
  vcache = entry->getArgument(3);
  unsigned a = 4;
  tokens = entry->getArgument(a++);
  Value nArg = decode ? Value() : entry->getArgument(a++);
  Value posArg = entry->getArgument(a++);
  Value firstArg = decode ? Value() : entry->getArgument(a++);
  logits = entry->getArgument(a++);
  scratch = entry->getArgument(a++);

  // BAD_ARGUMENT (1) unless 0 <= pos, 1 <= n, pos + n <= max_seq_len and
  // 0 <= first_logit < n.
  auto cmpI = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, r.loc, p, x, y);
  };
  Value n = decode ? r.i64(1) : nArg;
  Value ok = arith::AndIOp::create(
      b, r.loc, cmpI(arith::CmpIPredicate::sge, posArg, r.i64(0)),
      cmpI(arith::CmpIPredicate::sge, n, r.i64(1)));
  Value end = arith::AddIOp::create(b, r.loc, posArg, n);
  ok = arith::AndIOp::create(
      b, r.loc, ok, cmpI(arith::CmpIPredicate::sle, end, r.i64(st.dims.seq)));
  if (!decode)
    ok = arith::AndIOp::create(
        b, r.loc, ok,
        arith::AndIOp::create(
            b, r.loc, cmpI(arith::CmpIPredicate::sge, firstArg, r.i64(0)),
            cmpI(arith::CmpIPredicate::slt, firstArg, nArg)));
  Block *body = b.createBlock(&dst.getBody());
  Block *bad = b.createBlock(&dst.getBody());
  b.setInsertionPointToEnd(entry);
  cf::CondBranchOp::create(b, r.loc, ok, body, bad);
  b.setInsertionPointToStart(bad);
  func::ReturnOp::create(b, r.loc, ValueRange{r.i32(1)});
  b.setInsertionPointToStart(body);

  m = r.toIndex(n);
  pos = r.toIndex(posArg);
  stream = gpu::WaitOp::create(b, r.loc,
                               gpu::AsyncTokenType::get(b.getContext()),
                               ValueRange{})
               .getAsyncToken();
  Block &srcBody = src.getBody().front();
  auto ret = cast<func::ReturnOp>(srcBody.getTerminator());
  logitsValue = ret.getOperand(0);
  cacheRoot[srcBody.getArgument(2)] = kcache;
  cacheRoot[srcBody.getArgument(3)] = vcache;

  // Liveness: the last op index that reads a value, through views.
  int64_t index = 0;
  for (Operation &op : srcBody) {
    op.walk([&](Operation *user) {
      for (Value operand : user->getOperands()) {
        Value base = roots.lookup(operand) ? roots.lookup(operand) : operand;
        lastUse[base] = index;
      }
    });
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, linalg::ReduceOp>(
            op)) {
      Value in = op.getOperand(0);
      roots[op.getResult(0)] = roots.lookup(in) ? roots.lookup(in) : in;
    }
    ++index;
  }
  for (auto [view, base] : roots)
    lastUse[base] = std::max(lastUse[base], lastUse.lookup(view));

  index = 0;
  for (Operation &op : srcBody)
    if (failed(lowerOp(&op, index++)))
      return failure();
  gpu::WaitOp::create(b, r.loc, Type(), ValueRange{stream});
  func::ReturnOp::create(b, r.loc, ValueRange{r.i32(0)});
  scratchBytes = arena.peak;
  return success();
}

} // namespace

bool isLlamaGraph(ModuleOp module) {
  return module->hasAttr("mixq.model") &&
         module.lookupSymbol<func::FuncOp>("prefill") &&
         module.lookupSymbol<func::FuncOp>("decode");
}

LogicalResult lowerLlamaGraph(ModuleOp module) {
  ModuleState st;
  st.module = module;
  if (failed(readModelDims(module, st.dims, "-mixq-lower-gpu")))
    return failure();
  auto sha = module->getAttrOfType<StringAttr>("mixq.package_sha256");
  if (!sha)
    return module.emitError("-mixq-lower-gpu needs the "
                            "'mixq.package_sha256' attribute of a module "
                            "built by `mixq compile`");
  // The chip: the target of the products' plans.
  std::optional<PlanTarget> chip;
  module.walk([&](Operation *op) {
    PlanAttr plan;
    if (auto q = dyn_cast<QMatmulOp>(op))
      plan = q.getPlanAttr();
    else if (auto t = dyn_cast<QMatmulTileOp>(op))
      plan = t.getPlan();
    if (plan && !chip)
      chip = plan.getTarget();
  });
  if (!chip || *chip == PlanTarget::X86)
    return module.emitError("-mixq-lower-gpu: the graph's products are not "
                            "planned for a GPU (run -mixq-plan{target=sm_80|"
                            "sm_90a})");
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = module.getLoc();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  b.setInsertionPointToEnd(module.getBody());
  st.kernels = gpu::GPUModuleOp::create(b, loc, "mixq_kernels");
  b.setInsertionPointToStart(st.kernels.getBody());
  st.ropeTable = buildRopeTable(b, loc, st.dims, /*alignment=*/16);

  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  auto decodeFn = module.lookupSymbol<func::FuncOp>("decode");
  int64_t scratchBytes = 0;
  for (bool isDecode : {false, true}) {
    func::FuncOp src = isDecode ? decodeFn : prefill;
    func::FuncOp dst = createEntryPoint(b, src.getLoc(), module, isDecode);
    FunctionLowering lowering(st, src, dst, isDecode);
    int64_t bytes = 0;
    if (failed(lowering.run(bytes)))
      return failure();
    scratchBytes = std::max(scratchBytes, bytes);
  }
  prefill.erase();
  decodeFn.erase();
  // GPU buffers are planned for max_seq_len rows: one size for any count.
  buildModuleExports(
      b, loc, module, st.dims, sha.getValue(), stringifyPlanTarget(*chip),
      st.streamNames,
      [&](cpu::IRB &r, Value) -> Value { return r.i64(scratchBytes); },
      /*gpuAbiVersion=*/1);
  SmallVector<Attribute> names;
  for (const std::string &n : st.streamNames)
    names.push_back(b.getStringAttr(n));
  module->setAttr("mixq.streams", b.getArrayAttr(names));
  return success();
}

} // namespace mixq::device
