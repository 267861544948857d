//===- CpuTasks.cpp - Stream table views and parallel tasks ---------------===//
//
// StreamTable: the package streams a compiled module reads, viewed as static
// memrefs over the pointers of the runtime's stream table.
// emitParallelFor: outlines a loop body into a task function and calls the
// runtime's parallel_for with it (runtime/ModuleABI.h).
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "model/Dequantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace mixq::cpu {

static FailureOr<StreamSpec> findSpec(const WeightInfo &w,
                                      llvm::StringRef stream) {
  auto specs = expectedStreams(w.layout, w.rows, w.cols);
  if (!specs) {
    llvm::consumeError(specs.takeError());
    return failure();
  }
  for (const StreamSpec &s : *specs)
    if (s.name == stream && s.bytes > 0)
      return s;
  return failure();
}

FailureOr<Value> StreamTable::view(OpBuilder &b, Location loc, Value table,
                                   const WeightInfo &w,
                                   llvm::StringRef stream) {
  FailureOr<StreamSpec> spec = findSpec(w, stream);
  if (failed(spec))
    return failure();
  std::string key = w.name + ":" + stream.str();
  auto [it, inserted] = index_.try_emplace(key, int64_t(names_.size()));
  if (inserted)
    names_.push_back(key);
  Type elem;
  switch (spec->type) {
  case StreamType::U8: elem = b.getI8Type(); break;
  case StreamType::U16: elem = b.getI16Type(); break;
  case StreamType::I32: elem = b.getI32Type(); break;
  case StreamType::F16: elem = b.getF16Type(); break;
  case StreamType::F32: elem = b.getF32Type(); break;
  }
  int64_t count = int64_t(spec->bytes / streamTypeSize(spec->type));
  Value ptr = loadPointerAt(b, loc, table, it->second);
  return memrefFromPointer(b, loc, ptr, MemRefType::get({count}, elem), {});
}

void emitParallelFor(
    IRB &r, FunctionEnv &env, Value n, ValueRange captures,
    ValueRange dynamicSizes, llvm::StringRef name,
    llvm::function_ref<void(IRB &, ValueRange, ValueRange, Value, Value)>
        body) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  int64_t slots = int64_t(captures.size() + dynamicSizes.size());

  // The task: void name(ptr args, i64 begin, i64 end).
  auto taskType = b.getFunctionType({ptrType, i64, i64}, {});
  std::string symbol = (name + "_" + llvm::Twine((*env.taskCounter)++)).str();
  func::FuncOp task;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(env.module.getBody());
    task = func::FuncOp::create(b, loc, symbol, taskType);
    task.setPrivate();
    // Not exported from the shared library.
    task->setAttr("llvm.linkage",
                  LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
    Block *entry = task.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value args = entry->getArgument(0);
    SmallVector<Value> sizes;
    for (size_t i = 0; i < dynamicSizes.size(); ++i)
      sizes.push_back(r.toIndex(
          loadI64At(b, loc, args, int64_t(captures.size() + i))));
    SmallVector<Value> rebuilt;
    for (auto [i, c] : llvm::enumerate(captures)) {
      Value ptr = loadPointerAt(b, loc, args, int64_t(i));
      auto captured = dyn_cast<MemRefType>(c.getType());
      if (!captured) {
        rebuilt.push_back(ptr);
        continue;
      }
      // Captured memrefs are contiguous; pointerOf includes their offset.
      auto type = MemRefType::get(captured.getShape(),
                                  captured.getElementType());
      // Every dynamic dimension of a captured memref is the row count M.
      SmallVector<Value> dims(type.getNumDynamicDims(), sizes.front());
      rebuilt.push_back(memrefFromPointer(b, loc, ptr, type, dims));
    }
    IRB tr{b, loc};
    body(tr, rebuilt, sizes, tr.toIndex(entry->getArgument(1)),
         tr.toIndex(entry->getArgument(2)));
    func::ReturnOp::create(b, loc);
  }

  // The call: parallel_for(rt->ctx, n, &task, args).
  Value count = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(slots));
  Value args = LLVM::AllocaOp::create(b, loc, ptrType, i64, count, 8);
  auto storeAt = [&](Value v, int64_t i) {
    Value addr = LLVM::GEPOp::create(b, loc, ptrType, i64, args,
                                     ArrayRef<LLVM::GEPArg>{int32_t(i)});
    LLVM::StoreOp::create(b, loc, v, addr);
  };
  for (auto [i, c] : llvm::enumerate(captures))
    storeAt(isa<MemRefType>(c.getType()) ? pointerOf(b, loc, c) : c,
            int64_t(i));
  for (auto [i, s] : llvm::enumerate(dynamicSizes))
    storeAt(s.getType().isIndex() ? r.toI64(s) : s,
            int64_t(captures.size() + i));
  Value rtCtx = loadPointerAt(b, loc, env.runtime, 0);
  Value parallelFor = loadPointerAt(b, loc, env.runtime, 1);
  Value fn = func::ConstantOp::create(b, loc, taskType,
                                      FlatSymbolRefAttr::get(ctx, symbol));
  Value fnPtr =
      UnrealizedConversionCastOp::create(b, loc, TypeRange{ptrType}, fn)
          .getResult(0);
  auto pfType = LLVM::LLVMFunctionType::get(
      LLVM::LLVMVoidType::get(ctx), {ptrType, i64, ptrType, ptrType});
  Value nI64 = n.getType().isIndex() ? r.toI64(n) : n;
  LLVM::CallOp::create(b, loc, pfType,
                       ValueRange{parallelFor, rtCtx, nI64, fnPtr, args});
}

} // namespace mixq::cpu
