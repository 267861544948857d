//===- LowerGpu.cpp - -mixq-lower-gpu ---------------------------------------===//
//
// Turns every tiled decode product (the scf.forall of mixq.qmatmul_tile
// that -mixq-tile makes of a GPU-planned mixq.qmatmul) into a kernel of the
// module's `gpu.module @mixq_kernels` and a host-side gpu.launch_func in
// its function; split-K products get a second, reduction kernel, and the
// mixq.sparse_add of a lowered LUT product a CSR kernel. The kernels live
// in passes/gpu/; this file is the driver: it finds the products, builds
// the kernels and their launches, and rewires the tensors. A whole Llama
// graph (a module from `mixq compile`) goes to gpu/GraphLowering.cpp
// instead. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/gpu/GpuKernels.h"
#include "passes/gpu/GraphLowering.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseSet.h"

#include <limits>
#include <map>

namespace mixq {
#define GEN_PASS_DEF_MIXQLOWERGPU
#include "passes/Passes.h.inc"
} // namespace mixq

using namespace mlir;
using namespace mixq;
using namespace mixq::device;

namespace {

constexpr llvm::StringLiteral kKernelModule = "mixq_kernels";

bool isGpuTarget(PlanAttr plan) {
  return plan && plan.getTarget() != PlanTarget::X86;
}

/// The mixq.qmatmul_tile directly inside `forall`, if any.
QMatmulTileOp tileOf(scf::ForallOp forall) {
  for (Operation &op : forall.getBody()->without_terminator())
    if (auto tile = dyn_cast<QMatmulTileOp>(op))
      return tile;
  return {};
}

class Lowering {
public:
  Lowering(ModuleOp module) : module(module), b(module.getContext()) {}

  LogicalResult run() {
    SmallVector<scf::ForallOp> products;
    bool failedAny = false;
    module.walk([&](Operation *op) {
      if (auto forall = dyn_cast<scf::ForallOp>(op)) {
        QMatmulTileOp tile = tileOf(forall);
        if (tile && isGpuTarget(tile.getPlan()))
          products.push_back(forall);
      } else if (auto qm = dyn_cast<QMatmulOp>(op)) {
        if (isGpuTarget(qm.getPlanAttr())) {
          qm.emitOpError("-mixq-lower-gpu: the product is not tiled; run "
                         "-mixq-tile first");
          failedAny = true;
        }
      }
    });
    if (failedAny)
      return failure();
    if (products.empty())
      return success();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModule);
    if (!kernels) {
      b.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModule);
    }
    for (scf::ForallOp forall : products)
      if (failed(lowerProduct(forall)))
        return failure();
    SmallVector<SparseAddOp> sparse;
    module.walk([&](SparseAddOp op) {
      if (Operation *def = op.getAcc().getDefiningOp())
        if (lowered.contains(def))
          sparse.push_back(op);
    });
    for (SparseAddOp op : sparse)
      if (failed(lowerSparseAdd(op)))
        return failure();
    return success();
  }

private:
  /// The host-side value of a stream argument: memref.get_global of an
  /// external declaration `@__mixq_stream_<i>` {mixq.stream = "<key>"}.
  Value streamValue(Location loc, const StreamArg &s) {
    auto it = globals.find(s.key);
    if (it == globals.end()) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(kernels);
      std::string sym = "__mixq_stream_" + std::to_string(globals.size());
      auto global = memref::GlobalOp::create(
          b, loc, sym, b.getStringAttr("private"), s.type, Attribute(),
          /*constant=*/true, b.getI64IntegerAttr(16));
      global->setAttr("mixq.stream", b.getStringAttr(s.key));
      it = globals.emplace(s.key, global).first;
    }
    return memref::GetGlobalOp::create(b, loc, it->second.getType(),
                                       it->second.getSymName());
  }

  Value indexConst(Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }

  /// gpu.launch_func of `k` with `streams` followed by `others`.
  void launch(Location loc, const KernelLaunch &k, ValueRange others) {
    SmallVector<Value> operands;
    for (const StreamArg &s : k.signature.streams)
      operands.push_back(streamValue(loc, s));
    operands.append(others.begin(), others.end());
    gpu::KernelDim3 grid{indexConst(loc, k.grid[0]), indexConst(loc, k.grid[1]),
                         indexConst(loc, k.grid[2])};
    gpu::KernelDim3 block{indexConst(loc, k.block[0]),
                          indexConst(loc, k.block[1]),
                          indexConst(loc, k.block[2])};
    gpu::LaunchFuncOp::create(b, loc, k.func, grid, block, Value(), operands);
  }

  Value deviceAlloc(Location loc, MemRefType type) {
    return gpu::AllocOp::create(b, loc, type, Type(), ValueRange{},
                                ValueRange{}, ValueRange{})
        .getMemref();
  }

  /// The activations as a buffer the kernels read (decode: at most
  /// `maxRows` rows).
  FailureOr<Value> inputBuffer(Operation *diag, Value x,
                               int64_t maxRows = 16) {
    auto type = cast<RankedTensorType>(x.getType());
    if (!type.hasStaticShape() || type.getDimSize(0) > maxRows) {
      diag->emitOpError("-mixq-lower-gpu: the decode kernels need a static "
                        "M of at most 16 rows");
      return failure();
    }
    auto mt = MemRefType::get(type.getShape(), type.getElementType());
    return bufferization::ToBufferOp::create(b, diag->getLoc(), mt, x,
                                             /*read_only=*/true)
        .getResult();
  }

  FailureOr<WeightInfo> weightOf(Operation *diag, Value weight) {
    auto op = weight.getDefiningOp<WeightOp>();
    if (!op) {
      diag->emitOpError("-mixq-lower-gpu: the weight must come from "
                        "mixq.weight");
      return failure();
    }
    auto type = cast<QWeightType>(weight.getType());
    WeightInfo w;
    w.name = op.getName().str();
    w.layout = type.getLayout().toLayout();
    w.rows = type.getN();
    w.cols = type.getK();
    return w;
  }

  LogicalResult lowerProduct(scf::ForallOp forall) {
    QMatmulTileOp tile = tileOf(forall);
    PlanAttr plan = tile.getPlan();
    Location loc = forall.getLoc();
    if (plan.getKernel() == PlanKernel::Gemm ||
        plan.getKernel() == PlanKernel::Wgmma)
      return lowerGemmProduct(forall, tile);
    FailureOr<WeightInfo> w = weightOf(tile, tile.getWeight());
    if (failed(w))
      return failure();
    auto outType = cast<RankedTensorType>(forall.getResult(0).getType());
    if (!outType.getElementType().isF32())
      return tile.emitOpError("-mixq-lower-gpu: the decode kernels write f32");
    auto xType = cast<RankedTensorType>(tile.getInput().getType());
    GemvSpec spec;
    spec.w = *w;
    spec.m = xType.getDimSize(0);
    spec.xElem = xType.getElementType();
    spec.kSize = tile.getKSize();
    spec.splitK = plan.getSplitK();
    spec.excludeOutliers = tile.getExcludeOutliers();
    if (ShapedType::isDynamic(spec.m))
      return tile.emitOpError("-mixq-lower-gpu: the decode kernels need a "
                              "static M");

    b.setInsertionPoint(forall);
    FailureOr<Value> x = inputBuffer(tile, tile.getInput());
    if (failed(x))
      return failure();
    const int64_t M = spec.m, N = w->rows, S = spec.splitK;
    Type f32 = b.getF32Type();
    FailureOr<Value> y = w->layout.scheme == Scheme::Quik
                             ? lowerQuik(tile, spec, *x)
                             : lowerGemv(tile, spec, *x);
    if (failed(y))
      return failure();
    Operation *reduce = nullptr;
    if (S > 1) {
      // -mixq-tile sums the splits with a linalg.reduce of the forall.
      for (Operation *user : forall.getResult(0).getUsers())
        if (isa<linalg::ReduceOp>(user))
          reduce = user;
      if (!reduce)
        return tile.emitOpError("-mixq-lower-gpu: a split-K product must be "
                                "summed by the linalg.reduce -mixq-tile makes");
    }
    auto result = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get({M, N}, f32), *y, /*restrict=*/true);
    lowered.insert(result);
    if (reduce) {
      Value init = reduce->getOperand(1);
      reduce->getResult(0).replaceAllUsesWith(result.getResult());
      reduce->erase();
      eraseIfDead(init.getDefiningOp());
    } else {
      forall.getResult(0).replaceAllUsesWith(result.getResult());
    }
    Value init = forall.getOutputs()[0];
    forall.erase();
    eraseIfDead(init.getDefiningOp());
    return success();
  }

  /// A prefill product (kernel = gemm or wgmma, static M): x converted to
  /// f16 when it is f32, then the tensor-core GEMM (mma.sync: its K loop
  /// left for -mixq-pipeline-dequant; wgmma: x read through a TMA tensor
  /// map made by the host code). QUIK weights: lowerQuikGemm.
  LogicalResult lowerGemmProduct(scf::ForallOp forall, QMatmulTileOp tile) {
    PlanAttr plan = tile.getPlan();
    Location loc = forall.getLoc();
    FailureOr<WeightInfo> w = weightOf(tile, tile.getWeight());
    if (failed(w))
      return failure();
    auto xType = cast<RankedTensorType>(tile.getInput().getType());
    auto outType = cast<RankedTensorType>(forall.getResult(0).getType());
    if (!xType.hasStaticShape() || !outType.getElementType().isF32())
      return tile.emitOpError("-mixq-lower-gpu: a product on its own needs a "
                              "static M and an f32 result (a whole graph "
                              "handles a run-time M)");
    const int64_t M = xType.getDimSize(0), N = w->rows;
    GemmSpec spec;
    spec.w = *w;
    spec.rowCap = M;
    spec.stages = plan.getStages();
    spec.excludeOutliers = tile.getExcludeOutliers();
    b.setInsertionPoint(forall);
    FailureOr<Value> x =
        inputBuffer(tile, tile.getInput(), std::numeric_limits<int64_t>::max());
    if (failed(x))
      return failure();
    FailureOr<Value> y =
        w->layout.scheme == Scheme::Quik
            ? lowerQuikGemm(tile, spec, *x, xType.getElementType())
            : tensorCoreGemm(tile, spec, *x,
                             plan.getKernel() == PlanKernel::Wgmma);
    if (failed(y))
      return failure();
    auto result = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get({M, N}, b.getF32Type()), *y,
        /*restrict=*/true);
    lowered.insert(result);
    forall.getResult(0).replaceAllUsesWith(result.getResult());
    Value init = forall.getOutputs()[0];
    forall.erase();
    eraseIfDead(init.getDefiningOp());
    return success();
  }

  /// The f16 tensor-core GEMM of `spec` over x (rowCap x cols(), f16 or
  /// f32, converted to f16 first); returns the M x N result buffer.
  FailureOr<Value> tensorCoreGemm(QMatmulTileOp tile, const GemmSpec &spec,
                                  Value x, bool wgmma) {
    Location loc = tile.getLoc();
    const int64_t M = spec.rowCap, K = spec.cols(), N = spec.w.rows;
    std::string name = kernelName(wgmma ? "wgmma" : "gemm");
    FailureOr<KernelLaunch> k =
        build(tile, spec.w.name, name, [&](std::string &why) {
          return wgmma
                     ? buildWgmmaGemmKernel(b, loc, kernels, name, spec, why)
                     : buildMmaGemmKernel(b, loc, kernels, name, spec, why);
        });
    if (failed(k))
      return failure();
    Value mValue = indexConst(loc, M);
    Value x16 = x;
    if (!cast<MemRefType>(x.getType()).getElementType().isF16()) {
      if (K % 4)
        return tile.emitOpError("-mixq-lower-gpu: the f16 conversion of the "
                                "GEMM's activations needs K % 4 == 0");
      std::string half = "mixq_to_half_" + std::to_string(M) + "x" +
                         std::to_string(K);
      auto it = reduceKernels.find(half);
      if (it == reduceKernels.end()) {
        OpBuilder::InsertionGuard guard(b);
        it = reduceKernels
                 .emplace(half, buildToHalfKernel(b, loc, kernels, half, M, K))
                 .first;
      }
      x16 = deviceAlloc(loc, MemRefType::get({M, K}, b.getF16Type()));
      launch(loc, it->second, {x, x16, mValue});
    }
    Value y = deviceAlloc(loc, MemRefType::get({M, N}, b.getF32Type()));
    if (wgmma)
      launch(loc, *k, {createActivationTensorMap(b, loc, x16), y, mValue});
    else
      launch(loc, *k, {x16, y, mValue});
    return y;
  }

  /// QUIK at prefill (static M): the split (with FP16 columns); with
  /// quantized activations their integer codes and the integer GEMM (4-bit
  /// operands on sm_80 where weight and activations are 4-bit, else 8-bit),
  /// or, where it does not take the weight, the dequantized rows and the
  /// f16 GEMM over the codes, as with FP16 activations; then the FP16
  /// columns' GEMV in 16-row chunks (M a multiple of 16) accumulated onto
  /// it.
  FailureOr<Value> lowerQuikGemm(QMatmulTileOp tile, GemmSpec spec, Value x,
                                 Type xElem) {
    Location loc = tile.getLoc();
    const WeightInfo &w = spec.w;
    const Layout &l = w.layout;
    const int64_t M = spec.rowCap, N = w.rows, C = l.fp16Cols,
                  Q = w.cols - C;
    Type f32 = b.getF32Type();
    if (C > 0 && M % kChunkRows)
      return tile.emitOpError()
             << "-mixq-lower-gpu: '" << w.name << "': the GEMV of its " << C
             << " FP16 columns runs in chunks of " << kChunkRows
             << " rows; a product on its own needs M (" << M
             << ") to be a multiple of them";
    spec.quikCodes = true;
    Value xq = x, xo;
    if (C > 0) {
      std::string name = kernelName("quik_split");
      FailureOr<KernelLaunch> split =
          build(tile, w.name, name, [&](std::string &why) {
            return buildQuikSplitKernel(b, loc, kernels, name, w, M, xElem,
                                        why);
          });
      if (failed(split))
        return failure();
      xq = deviceAlloc(loc, MemRefType::get({M, Q}, f32));
      xo = deviceAlloc(loc, MemRefType::get({M, C}, f32));
      launch(loc, *split, {x, xq, xo});
      xElem = f32;
    }
    Value y;
    if (l.act.bits < 16) {
      // Candidates: the s8 wgmma kernel (kind 0, wgmma plans), then the
      // mma.sync operand widths.
      SmallVector<int64_t> kinds;
      if (tile.getPlan().getKernel() == PlanKernel::Wgmma)
        kinds.push_back(0);
      kinds.append(quikOperandBits(
          l, tile.getPlan().getTarget() == PlanTarget::Sm80));
      for (int64_t kind : kinds) {
        const int64_t bits = kind ? kind : 8;
        // Codes a row: whole K tiles (Q itself on wgmma), zeros past Q.
        const int64_t P = quikCodeColumns(Q, bits);
        std::string name = kernelName(kind ? "quik_igemm" : "quik_iwgmma");
        FailureOr<KernelLaunch> gemm = build(
            tile, w.name, name,
            [&](std::string &why) {
              return kind ? buildQuikIntGemmKernel(b, loc, kernels, name,
                                                   spec, bits, why)
                          : buildWgmmaGemmKernel(b, loc, kernels, name, spec,
                                                 why);
            },
            /*report=*/false);
        if (failed(gemm))
          continue;
        std::string qname = kernelName("quik_act_codes");
        FailureOr<KernelLaunch> quant =
            build(tile, w.name, qname, [&](std::string &why) {
              return buildQuikActQuantKernel(b, loc, kernels, qname, w, M,
                                             xElem, why, 0, bits);
            });
        if (failed(quant))
          return failure();
        // One buffer of codes, as words for the quantization and the
        // mma.sync kernel, as f16 pairs for wgmma's tensor map.
        Value bytes = deviceAlloc(
            loc, MemRefType::get({M * P * bits / 8}, b.getI8Type()));
        auto view = [&](MemRefType type) -> Value {
          return memref::ViewOp::create(b, loc, type, bytes,
                                        indexConst(loc, 0), ValueRange{});
        };
        Value codes =
            view(MemRefType::get({M, P * bits / 32}, b.getI32Type()));
        Value params = deviceAlloc(loc, MemRefType::get({M, 2}, f32));
        launch(loc, *quant, {xq, codes, params});
        y = deviceAlloc(loc, MemRefType::get({M, N}, f32));
        Value operand =
            kind ? codes
                 : createActivationTensorMap(
                       b, loc,
                       view(MemRefType::get({M, P * bits / 16},
                                            b.getF16Type())));
        launch(loc, *gemm, {params, operand, y, indexConst(loc, M)});
        break;
      }
      if (!y) {
        std::string name = kernelName("quik_act_quant");
        FailureOr<KernelLaunch> quant =
            build(tile, w.name, name, [&](std::string &why) {
              return buildQuikActQuantKernel(b, loc, kernels, name, w, M,
                                             xElem, why);
            });
        if (failed(quant))
          return failure();
        Value xa = deviceAlloc(loc, MemRefType::get({M, Q}, f32));
        launch(loc, *quant, {xq, xa});
        xq = xa;
      }
    }
    if (!y) {
      FailureOr<Value> g = tensorCoreGemm(tile, spec, xq, /*wgmma=*/false);
      if (failed(g))
        return failure();
      y = *g;
    }
    if (C == 0)
      return y;
    GemvSpec cols;
    cols.w = w;
    cols.m = kChunkRows;
    cols.rowCap = M;
    cols.xElem = f32;
    cols.part = GemvSpec::Part::QuikFp16Cols;
    cols.kSize = C;
    cols.accumulate = true;
    std::string name = kernelName("gemv");
    FailureOr<KernelLaunch> kc =
        build(tile, w.name, name, [&](std::string &why) {
          return buildGemvKernel(b, loc, kernels, name, cols, why);
        });
    if (failed(kc))
      return failure();
    kc->grid[2] = M / kChunkRows;
    Value out = deviceAlloc(loc, MemRefType::get({M, N}, f32));
    launch(loc, *kc, {xo, y, out});
    return out;
  }

  /// Builds a kernel or reports why not (and drops what was half built;
  /// `report` false: fails silently, for kernels with a fallback).
  FailureOr<KernelLaunch>
  build(Operation *diag, llvm::StringRef weight, llvm::StringRef name,
        llvm::function_ref<FailureOr<KernelLaunch>(std::string &)> make,
        bool report = true) {
    std::string why;
    FailureOr<KernelLaunch> k;
    {
      OpBuilder::InsertionGuard guard(b);
      k = make(why);
    }
    if (failed(k)) {
      if (auto f = kernels.lookupSymbol<gpu::GPUFuncOp>(name))
        f.erase();
      if (!report)
        return failure();
      return diag->emitOpError()
             << "-mixq-lower-gpu: '" << weight << "': " << why;
    }
    return k;
  }

  std::string kernelName(llvm::StringRef kind) {
    return ("mixq_" + kind + "_" + llvm::Twine(counter++)).str();
  }

  /// Dense, uniform, LUT and mixed weights: the GEMV (and the split-K
  /// reduction); returns the M x N result buffer.
  FailureOr<Value> lowerGemv(QMatmulTileOp tile, const GemvSpec &spec,
                             Value x) {
    Location loc = tile.getLoc();
    std::string name = kernelName("gemv");
    FailureOr<KernelLaunch> k =
        build(tile, spec.w.name, name, [&](std::string &why) {
          return spec.w.layout.scheme == Scheme::Mixed
                     ? buildMixedGemvKernel(b, loc, kernels, name, spec, why)
                     : buildGemvKernel(b, loc, kernels, name, spec, why);
        });
    if (failed(k))
      return failure();
    const int64_t M = spec.m, N = spec.w.rows, S = spec.splitK;
    Type f32 = b.getF32Type();
    if (S == 1) {
      Value y = deviceAlloc(loc, MemRefType::get({M, N}, f32));
      launch(loc, *k, {x, y});
      return y;
    }
    Value part = deviceAlloc(loc, MemRefType::get({S, M, N}, f32));
    launch(loc, *k, {x, part});
    Value y = deviceAlloc(loc, MemRefType::get({M, N}, f32));
    launch(loc, splitReduce(loc, S, M, N), {part, y});
    return y;
  }

  /// QUIK: the split kernel compacts x into the quantized and the outlier
  /// columns; where the layout quantizes activations (act 4 or 8) a kernel
  /// quantizes each row of the first; the GEMV of the codes runs on it, the
  /// GEMV of the FP16 columns on the second, accumulated onto it. The K
  /// split of the plan is not used (one kernel takes all columns).
  FailureOr<Value> lowerQuik(QMatmulTileOp tile, const GemvSpec &whole,
                             Value x) {
    Location loc = tile.getLoc();
    const WeightInfo &w = whole.w;
    const int64_t M = whole.m, N = w.rows, C = w.layout.fp16Cols,
                  Q = w.cols - C;
    Type f32 = b.getF32Type();
    Value xq = x, xo;
    GemvSpec codes = whole;
    codes.part = GemvSpec::Part::QuikCodes;
    codes.splitK = 1;
    codes.kSize = Q;
    if (C > 0) {
      std::string name = kernelName("quik_split");
      FailureOr<KernelLaunch> split =
          build(tile, w.name, name, [&](std::string &why) {
            return buildQuikSplitKernel(b, loc, kernels, name, w, M,
                                        whole.xElem, why);
          });
      if (failed(split))
        return failure();
      xq = deviceAlloc(loc, MemRefType::get({M, Q}, f32));
      xo = deviceAlloc(loc, MemRefType::get({M, C}, f32));
      launch(loc, *split, {x, xq, xo});
      codes.xElem = f32;
    }
    if (w.layout.act.bits < 16) {
      std::string name = kernelName("quik_act_quant");
      FailureOr<KernelLaunch> quant =
          build(tile, w.name, name, [&](std::string &why) {
            return buildQuikActQuantKernel(b, loc, kernels, name, w, M,
                                           codes.xElem, why);
          });
      if (failed(quant))
        return failure();
      Value xa = deviceAlloc(loc, MemRefType::get({M, Q}, f32));
      launch(loc, *quant, {xq, xa});
      xq = xa;
      codes.xElem = f32;
    }
    std::string name = kernelName("gemv");
    FailureOr<KernelLaunch> k =
        build(tile, w.name, name, [&](std::string &why) {
          return buildGemvKernel(b, loc, kernels, name, codes, why);
        });
    if (failed(k))
      return failure();
    Value y = deviceAlloc(loc, MemRefType::get({M, N}, f32));
    launch(loc, *k, {xq, y});
    if (C == 0)
      return y;
    GemvSpec cols = codes;
    cols.part = GemvSpec::Part::QuikFp16Cols;
    cols.kSize = C;
    cols.accumulate = true;
    name = kernelName("gemv");
    FailureOr<KernelLaunch> kc =
        build(tile, w.name, name, [&](std::string &why) {
          return buildGemvKernel(b, loc, kernels, name, cols, why);
        });
    if (failed(kc))
      return failure();
    Value out = deviceAlloc(loc, MemRefType::get({M, N}, f32));
    launch(loc, *kc, {xo, y, out});
    return out;
  }

  /// Erases `op` and, recursively, the operands it leaves unused.
  void eraseIfDead(Operation *op) {
    if (!op || !isOpTriviallyDead(op))
      return;
    SmallVector<Value> operands(op->getOperands());
    op->erase();
    for (Value v : operands)
      eraseIfDead(v.getDefiningOp());
  }

  KernelLaunch splitReduce(Location loc, int64_t s, int64_t m, int64_t n) {
    std::string name = "mixq_split_reduce_" + std::to_string(s) + "x" +
                       std::to_string(m) + "x" + std::to_string(n);
    auto it = reduceKernels.find(name);
    if (it != reduceKernels.end())
      return it->second;
    OpBuilder::InsertionGuard guard(b);
    KernelLaunch k = buildSplitReduceKernel(b, loc, kernels, name, s, m, n);
    reduceKernels.emplace(name, k);
    return k;
  }

  LogicalResult lowerSparseAdd(SparseAddOp op) {
    Location loc = op.getLoc();
    FailureOr<WeightInfo> w = weightOf(op, op.getWeight());
    if (failed(w))
      return failure();
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    std::string name = kernelName("sparse_add");
    FailureOr<KernelLaunch> k =
        build(op, w->name, name, [&](std::string &why) {
          return buildSparseAddKernel(b, loc, kernels, name, *w,
                                      xType.getDimSize(0),
                                      xType.getElementType(), why);
        });
    if (failed(k))
      return failure();
    b.setInsertionPoint(op);
    FailureOr<Value> x = inputBuffer(op, op.getInput());
    if (failed(x))
      return failure();
    auto accTensor = op.getAcc().getDefiningOp<bufferization::ToTensorOp>();
    Value acc = accTensor.getBuffer();
    auto type = cast<MemRefType>(acc.getType());
    Value out = deviceAlloc(loc, type);
    launch(loc, *k, {*x, acc, out});
    auto result = bufferization::ToTensorOp::create(
        b, loc, op.getType(), out, /*restrict=*/true);
    op.getResult().replaceAllUsesWith(result.getResult());
    op.erase();
    return success();
  }

  ModuleOp module;
  OpBuilder b;
  gpu::GPUModuleOp kernels;
  std::map<std::string, memref::GlobalOp> globals;
  std::map<std::string, KernelLaunch> reduceKernels;
  llvm::DenseSet<Operation *> lowered;
  int64_t counter = 0;
};

struct LowerGpuPass : public mixq::impl::MixQLowerGpuBase<LowerGpuPass> {
  void runOnOperation() override {
    if (isLlamaGraph(getOperation())) {
      if (failed(lowerLlamaGraph(getOperation())))
        signalPassFailure();
      return;
    }
    Lowering lowering(getOperation());
    if (failed(lowering.run()))
      signalPassFailure();
  }
};

} // namespace
