//===- GpuExports.cpp - The exported queries of a GPU module --------------===//
//
// mixq_abi_version, mixq_gpu_abi_version, mixq_package_sha256, mixq_target,
// mixq_get_model_dims, mixq_stream_count, mixq_stream_name and
// mixq_scratch_bytes as func.func definitions (runtime/ModuleABI.h). The
// scratch size of a GPU module does not depend on the token count: its
// buffers are planned for max_seq_len rows.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GraphLowering.h"
#include "passes/cpu/CpuBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace mixq::device {

namespace {

/// The address of a NUL-terminated string constant `name`.
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

Block *addExport(OpBuilder &b, Location loc, ModuleOp module, StringRef name,
                 FunctionType type) {
  b.setInsertionPointToEnd(module.getBody());
  auto f = func::FuncOp::create(b, loc, name, type);
  Block *entry = f.addEntryBlock();
  b.setInsertionPointToStart(entry);
  return entry;
}

} // namespace

void buildGpuExports(OpBuilder &b, Location loc, ModuleOp module,
                     const GraphDims &d, StringRef sha, StringRef target,
                     const std::vector<std::string> &streams,
                     int64_t scratchBytes) {
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  cpu::IRB r{b, loc};

  addExport(b, loc, module, "mixq_abi_version", b.getFunctionType({}, {i32}));
  func::ReturnOp::create(b, loc, ValueRange{r.i32(1)});
  addExport(b, loc, module, "mixq_gpu_abi_version",
            b.getFunctionType({}, {i32}));
  func::ReturnOp::create(b, loc, ValueRange{r.i32(1)});

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

  // mixq_stream_name(i): a switch over the names (NULL outside).
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

  addExport(b, loc, module, "mixq_scratch_bytes",
            b.getFunctionType({i64}, {i64}));
  func::ReturnOp::create(b, loc, ValueRange{r.i64(scratchBytes)});
}

} // namespace mixq::device
