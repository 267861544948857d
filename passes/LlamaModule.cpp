//===- LlamaModule.cpp - Pieces both Llama lowerings share ----------------===//
//
// See LlamaModule.h.
//
//===----------------------------------------------------------------------===//
#include "passes/LlamaModule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

using namespace mlir;

namespace mixq {

LogicalResult readModelDims(ModuleOp module, ModelDims &d, StringRef pass) {
  auto model = module->getAttrOfType<DictionaryAttr>("mixq.model");
  if (!model)
    return module.emitError() << pass << " needs the 'mixq.model' attribute "
                                         "of a module built by `mixq compile`";
  auto get = [&](StringRef key, int64_t &out) {
    if (auto a = model.getAs<IntegerAttr>(key)) {
      out = a.getInt();
      return true;
    }
    return false;
  };
  if (!get("dim", d.dim) || !get("hidden_dim", d.hidden) ||
      !get("n_layers", d.layers) || !get("n_heads", d.heads) ||
      !get("n_kv_heads", d.kvHeads) || !get("vocab_size", d.vocab) ||
      !get("max_seq_len", d.seq))
    return module.emitError("'mixq.model' lacks a model dimension");
  if (d.heads <= 0 || d.kvHeads <= 0 || d.dim % d.heads != 0)
    return module.emitError("'mixq.model' has inconsistent head counts");
  if (auto a = model.getAs<FloatAttr>("rope_theta"))
    d.theta = float(a.getValueAsDouble());
  if (auto a = model.getAs<FloatAttr>("rms_eps"))
    d.eps = float(a.getValueAsDouble());
  return success();
}

int64_t LivenessArena::allocate(int64_t size, int64_t now, int64_t lastUse) {
  size = (std::max<int64_t>(size, 1) + alignment - 1) / alignment * alignment;
  llvm::erase_if(live, [&](const Range &r) { return r.lastUse < now; });
  llvm::sort(live,
             [](const Range &a, const Range &b) { return a.begin < b.begin; });
  int64_t at = 0;
  for (const Range &r : live) {
    if (r.begin - at >= size)
      break;
    at = std::max(at, r.begin + r.size);
  }
  live.push_back({at, size, lastUse});
  peak = std::max(peak, at + size);
  return at;
}

memref::GlobalOp buildRopeTable(OpBuilder &b, Location loc, const ModelDims &d,
                                int64_t alignment) {
  int64_t hd = d.headDim(), half = hd / 2;
  std::vector<float> table;
  table.reserve(size_t(d.seq * half * 2));
  for (int64_t p = 0; p < d.seq; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double freq = std::pow(double(d.theta), -double(2 * i) / double(hd));
      double angle = double(p) * freq;
      table.push_back(float(std::cos(angle)));
      table.push_back(float(std::sin(angle)));
    }
  auto type = MemRefType::get({d.seq, half, 2}, b.getF32Type());
  auto tensorType = RankedTensorType::get({d.seq, half, 2}, b.getF32Type());
  auto value = DenseElementsAttr::get(tensorType, ArrayRef<float>(table));
  return memref::GlobalOp::create(b, loc, "mixq_rope_table",
                                  b.getStringAttr("private"), type, value,
                                  /*constant=*/true,
                                  b.getI64IntegerAttr(alignment));
}

namespace {

/// A NUL-terminated string constant and its address.
Value stringAddress(OpBuilder &b, Location loc, ModuleOp module,
                    StringRef name, StringRef text) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  auto global = module.lookupSymbol<LLVM::GlobalOp>(name);
  if (!global) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    std::string data = text.str();
    data.push_back('\0');
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), data.size());
    global = LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                    LLVM::Linkage::Internal, name,
                                    b.getStringAttr(data));
  }
  return LLVM::AddressOfOp::create(b, loc, ptrType, global.getSymName());
}

/// Adds a public func.func `name` of `type` and returns a builder in it.
Block *addExport(OpBuilder &b, Location loc, ModuleOp module, StringRef name,
                 FunctionType type) {
  b.setInsertionPointToEnd(module.getBody());
  auto f = func::FuncOp::create(b, loc, name, type);
  Block *entry = f.addEntryBlock();
  b.setInsertionPointToStart(entry);
  return entry;
}

} // namespace

func::FuncOp createEntryPoint(OpBuilder &b, Location loc, ModuleOp module,
                              bool decode) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  SmallVector<Type> args{ptrType, ptrType, ptrType, ptrType};
  if (decode)
    args.append({i32, i64, ptrType, ptrType});
  else
    args.append({ptrType, i64, i64, i64, ptrType, ptrType});
  b.setInsertionPointToEnd(module.getBody());
  return func::FuncOp::create(b, loc, decode ? "mixq_decode" : "mixq_prefill",
                              b.getFunctionType(args, {i32}));
}

void buildModuleExports(
    OpBuilder &b, Location loc, ModuleOp module, const ModelDims &d,
    StringRef sha, StringRef target, ArrayRef<std::string> streams,
    function_ref<Value(cpu::IRB &, Value)> scratchBytes,
    std::optional<int32_t> gpuAbiVersion) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  cpu::IRB r{b, loc};

  addExport(b, loc, module, "mixq_abi_version", b.getFunctionType({}, {i32}));
  func::ReturnOp::create(b, loc, ValueRange{r.i32(kModuleAbiVersion)});
  if (gpuAbiVersion) {
    addExport(b, loc, module, "mixq_gpu_abi_version",
              b.getFunctionType({}, {i32}));
    func::ReturnOp::create(b, loc, ValueRange{r.i32(*gpuAbiVersion)});
  }

  addExport(b, loc, module, "mixq_package_sha256",
            b.getFunctionType({}, {ptrType}));
  func::ReturnOp::create(
      b, loc, stringAddress(b, loc, module, "mixq_sha_text", sha));
  addExport(b, loc, module, "mixq_target", b.getFunctionType({}, {ptrType}));
  func::ReturnOp::create(
      b, loc, stringAddress(b, loc, module, "mixq_target_text", target));

  Block *dimsBlock = addExport(b, loc, module, "mixq_get_model_dims",
                               b.getFunctionType({ptrType}, {}));
  int64_t values[] = {d.dim,     d.hidden,    d.layers, d.heads,
                      d.kvHeads, d.headDim(), d.vocab,  d.seq};
  for (auto [i, v] : llvm::enumerate(values)) {
    Value addr = LLVM::GEPOp::create(b, loc, ptrType, i64,
                                     dimsBlock->getArgument(0),
                                     ArrayRef<LLVM::GEPArg>{int32_t(i)});
    LLVM::StoreOp::create(b, loc, r.i64(v), addr);
  }
  func::ReturnOp::create(b, loc);

  addExport(b, loc, module, "mixq_stream_count", b.getFunctionType({}, {i64}));
  func::ReturnOp::create(b, loc, ValueRange{r.i64(int64_t(streams.size()))});

  // mixq_stream_name(i): a switch over the stream names (NULL outside).
  Block *nameBlock = addExport(b, loc, module, "mixq_stream_name",
                               b.getFunctionType({i64}, {ptrType}));
  Value i = r.toIndex(nameBlock->getArgument(0));
  SmallVector<int64_t> cases;
  for (size_t k = 0; k < streams.size(); ++k)
    cases.push_back(int64_t(k));
  auto sw = scf::IndexSwitchOp::create(b, loc, TypeRange{ptrType}, i, cases,
                                       cases.size());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&sw.getDefaultRegion().emplaceBlock());
    scf::YieldOp::create(b, loc,
                         ValueRange{LLVM::ZeroOp::create(b, loc, ptrType)});
  }
  for (size_t k = 0; k < streams.size(); ++k) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&sw.getCaseRegions()[k].emplaceBlock());
    scf::YieldOp::create(
        b, loc,
        ValueRange{stringAddress(b, loc, module,
                                 ("mixq_stream_" + llvm::Twine(k)).str(),
                                 streams[k])});
  }
  func::ReturnOp::create(b, loc, sw.getResults());

  Block *scratchBlock = addExport(b, loc, module, "mixq_scratch_bytes",
                                  b.getFunctionType({i64}, {i64}));
  func::ReturnOp::create(b, loc,
                         scratchBytes(r, scratchBlock->getArgument(0)));
}

} // namespace mixq
