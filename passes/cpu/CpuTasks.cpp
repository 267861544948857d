//===- CpuTasks.cpp - Stream table views and parallel tasks ---------------===//
//
// StreamTable: the package streams a compiled module reads, viewed as
// memrefs over the pointers of the runtime's stream table.
// WeightSource: a kernel's streams and per-weight integers, as constants of
// the calling function (InlineWeights) or as run-time task arguments
// (TaskArgs: loaded once at the task's entry, stored by each call site).
// emitParallelFor: outlines a loop body into a task function and calls the
// runtime's parallel_for with it (runtime/ModuleABI.h), or leaves the call
// to emitParallelBatch, which makes one call of several; the task is shared
// with every call whose body is the same (TaskRegistry),
// which is what makes the layers of a model share their kernels: nothing
// that differs between layers (stream table slots, stream sizes, where a
// mixed weight's precisions start) is a constant of a task body.
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuKernels.h"

#include "model/Dequantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OperationSupport.h"

using namespace mlir;

namespace mixq::cpu {

static Type elementType(MLIRContext *ctx, StreamType t) {
  Builder b(ctx);
  switch (t) {
  case StreamType::U8: return b.getI8Type();
  case StreamType::U16: return b.getI16Type();
  case StreamType::I32: return b.getI32Type();
  case StreamType::F16: return b.getF16Type();
  case StreamType::F32: return b.getF32Type();
  }
  return {};
}

FailureOr<StreamShape> streamShape(MLIRContext *ctx, const WeightInfo &w,
                                   llvm::StringRef stream) {
  auto specs = expectedStreams(w.layout, w.rows, w.cols);
  if (!specs) {
    llvm::consumeError(specs.takeError());
    return failure();
  }
  for (const StreamSpec &s : *specs)
    if (s.name == stream)
      return StreamShape{elementType(ctx, s.type),
                         int64_t(s.bytes / streamTypeSize(s.type))};
  return failure();
}

int64_t StreamTable::slot(const WeightInfo &w, llvm::StringRef stream) {
  std::string key = w.name + ":" + stream.str();
  auto [it, inserted] = index_.try_emplace(key, int64_t(names_.size()));
  if (inserted)
    names_.push_back(key);
  return it->second;
}

FailureOr<Value> StreamTable::view(OpBuilder &b, Location loc, Value table,
                                   const WeightInfo &w,
                                   llvm::StringRef stream) {
  FailureOr<StreamShape> shape = streamShape(b.getContext(), w, stream);
  if (failed(shape) || shape->count == 0)
    return failure();
  Value ptr = loadPointerAt(b, loc, table, slot(w, stream));
  return memrefFromPointer(b, loc, ptr,
                           MemRefType::get({shape->count}, shape->elem), {});
}

FailureOr<Value> InlineWeights::stream(IRB &r, const WeightInfo &w,
                                       llvm::StringRef name, bool mayBeEmpty) {
  FailureOr<StreamShape> shape = streamShape(r.b.getContext(), w, name);
  if (failed(shape) || (shape->count == 0 && !mayBeEmpty))
    return failure();
  if (shape->count > 0)
    return table.view(r.b, r.loc, tablePtr, w, name);
  // Never read: a null memref<?xT> of no elements.
  Value null = LLVM::ZeroOp::create(r.b, r.loc,
                                    LLVM::LLVMPointerType::get(r.b.getContext()));
  return memrefFromPointer(
      r.b, r.loc, null, MemRefType::get({ShapedType::kDynamic}, shape->elem),
      ValueRange{r.idx(0)});
}

Value InlineWeights::index(IRB &r, int64_t v) { return r.idx(v); }

Value TaskArgs::load(Location loc, bool pointer) {
  OpBuilder b(entry->getParentOp()->getContext());
  if (lastLoad)
    b.setInsertionPointAfter(lastLoad);
  else
    b.setInsertionPointToStart(entry);
  int64_t slot = nextSlot++;
  Value v = pointer ? loadPointerAt(b, loc, args, slot)
                    : loadI64At(b, loc, args, slot);
  lastLoad = &*std::prev(b.getInsertionPoint());
  return v;
}

FailureOr<Value> TaskArgs::stream(IRB &r, const WeightInfo &w,
                                  llvm::StringRef name, bool mayBeEmpty) {
  FailureOr<StreamShape> shape = streamShape(r.b.getContext(), w, name);
  if (failed(shape) || (shape->count == 0 && !mayBeEmpty))
    return failure();
  // The call's pointer (null for an empty stream).
  StreamTable *table = env.table;
  Value streams = env.streams;
  WeightInfo weight = w;
  std::string stream = name.str();
  int64_t count = shape->count;
  callValues.push_back([=](IRB &c) -> Value {
    if (count == 0)
      return LLVM::ZeroOp::create(c.b, c.loc,
                                  LLVM::LLVMPointerType::get(c.b.getContext()));
    return loadPointerAt(c.b, c.loc, streams, table->slot(weight, stream));
  });
  Value ptr = load(r.loc, /*pointer=*/true);
  // A stream sized by the weight's data also passes its element count: a
  // memref<?xT>. The others keep the static size their shape and layout
  // parameters give, the same in every layer.
  Value size;
  if (mayBeEmpty) {
    callValues.push_back([count](IRB &c) { return c.i64(count); });
    size = load(r.loc, /*pointer=*/false);
  }
  // The memref's ops go with the loads, at the entry.
  OpBuilder b(r.b.getContext());
  b.setInsertionPointAfter(lastLoad);
  Value view =
      size ? memrefFromPointer(
                 b, r.loc, ptr,
                 MemRefType::get({ShapedType::kDynamic}, shape->elem),
                 ValueRange{size})
           : memrefFromPointer(b, r.loc, ptr,
                               MemRefType::get({count}, shape->elem), {});
  lastLoad = &*std::prev(b.getInsertionPoint());
  return view;
}

Value TaskArgs::index(IRB &r, int64_t v) {
  callValues.push_back([v](IRB &c) { return c.i64(v); });
  Value word = load(r.loc, /*pointer=*/false);
  OpBuilder b(r.b.getContext());
  b.setInsertionPointAfter(lastLoad);
  IRB e{b, r.loc};
  Value i = e.toIndex(word);
  lastLoad = &*std::prev(b.getInsertionPoint());
  return i;
}

/// parallel_for(rt->ctx, n, task, args) through the runtime's table.
static void callParallelFor(IRB &r, FunctionEnv &env, Value n, Value task,
                            Value args) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Value rtCtx = loadPointerAt(b, loc, env.runtime, 0);
  Value parallelFor = loadPointerAt(b, loc, env.runtime, 1);
  auto pfType = LLVM::LLVMFunctionType::get(
      LLVM::LLVMVoidType::get(ctx), {ptrType, b.getI64Type(), ptrType, ptrType});
  LLVM::CallOp::create(b, loc, pfType,
                       ValueRange{parallelFor, rtCtx, n, task, args});
}

/// A task function `void name(ptr args, i64 begin, i64 end)`, private and
/// internal (not exported from the shared library), at the end of
/// `module`, with the builder at the start of its entry block (the caller
/// keeps an insertion guard).
static func::FuncOp createTaskFunction(OpBuilder &b, Location loc,
                                       ModuleOp module, llvm::StringRef name) {
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  b.setInsertionPointToEnd(module.getBody());
  auto task = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType({ptrType, i64, i64}, {}));
  task.setPrivate();
  task->setAttr("llvm.linkage",
                LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
  b.setInsertionPointToStart(task.addEntryBlock());
  return task;
}

/// The address of task `symbol`, as parallel_for takes it.
static Value taskPointer(OpBuilder &b, Location loc, llvm::StringRef symbol) {
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  Value fn = func::ConstantOp::create(
      b, loc, b.getFunctionType({ptrType, i64, i64}, {}),
      FlatSymbolRefAttr::get(ctx, symbol));
  return UnrealizedConversionCastOp::create(b, loc, TypeRange{ptrType}, fn)
      .getResult(0);
}

/// A stack array of 8-byte slots holding `values` (pointers or i64), for a
/// task's arguments.
static Value slotArray(OpBuilder &b, Location loc, ArrayRef<Value> values) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Type i64 = b.getI64Type();
  Value count = LLVM::ConstantOp::create(
      b, loc, i64, b.getI64IntegerAttr(int64_t(values.size())));
  Value array = LLVM::AllocaOp::create(b, loc, ptrType, i64, count, 8);
  for (auto [i, v] : llvm::enumerate(values)) {
    Value addr = LLVM::GEPOp::create(b, loc, ptrType, i64, array,
                                     ArrayRef<LLVM::GEPArg>{int32_t(i)});
    LLVM::StoreOp::create(b, loc, v, addr);
  }
  return array;
}

void emitParallelFor(
    IRB &r, FunctionEnv &env, Value n, ValueRange captures,
    ValueRange dynamicSizes, llvm::StringRef name,
    llvm::function_ref<void(IRB &, TaskArgs &, ValueRange, ValueRange, Value,
                            Value)>
        body) {
  OpBuilder &b = r.b;
  Location loc = r.loc;
  int64_t fixedSlots = int64_t(captures.size() + dynamicSizes.size());

  // The task: void name(ptr args, i64 begin, i64 end).
  func::FuncOp task;
  std::vector<std::function<Value(IRB &)>> callValues;
  {
    OpBuilder::InsertionGuard guard(b);
    task = createTaskFunction(b, loc, env.module, (name + "_new").str());
    Block *entry = &task.getBody().front();
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
    TaskArgs taskArgs(env, entry, args, fixedSlots);
    Value begin = tr.toIndex(entry->getArgument(1));
    Value end = tr.toIndex(entry->getArgument(2));
    body(tr, taskArgs, rebuilt, sizes, begin, end);
    func::ReturnOp::create(b, loc);
    callValues = std::move(taskArgs.callValues);
  }
  // Another layer's task with this body, or this one under its final name.
  std::string symbol = env.tasks->intern(task, name);

  // The call: parallel_for(rt->ctx, n, &task, args).
  SmallVector<Value> slots;
  for (Value c : captures)
    slots.push_back(isa<MemRefType>(c.getType()) ? pointerOf(b, loc, c) : c);
  for (Value s : dynamicSizes)
    slots.push_back(s.getType().isIndex() ? r.toI64(s) : s);
  for (auto &value : callValues)
    slots.push_back(value(r));
  Value args = slotArray(b, loc, slots);
  Value fnPtr = taskPointer(b, loc, symbol);
  Value nI64 = n.getType().isIndex() ? r.toI64(n) : n;
  if (env.batch) {
    env.batch->push_back({fnPtr, args, nI64});
    return;
  }
  callParallelFor(r, env, nI64, fnPtr, args);
}

void emitParallelBatch(IRB &r, FunctionEnv &env,
                       llvm::ArrayRef<DeferredParallelFor> calls) {
  if (calls.empty())
    return;
  if (calls.size() == 1) {
    callParallelFor(r, env, calls[0].n, calls[0].task, calls[0].args);
    return;
  }
  OpBuilder &b = r.b;
  Location loc = r.loc;
  MLIRContext *ctx = b.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i64 = b.getI64Type();
  const int64_t k = int64_t(calls.size());
  // The batch task, once per module and size: (task, args, n) per call.
  std::string name = "mixq_batch_" + std::to_string(k);
  if (!env.module.lookupSymbol<func::FuncOp>(name)) {
    OpBuilder::InsertionGuard guard(b);
    func::FuncOp task = createTaskFunction(b, loc, env.module, name);
    Block *entry = &task.getBody().front();
    Value table = entry->getArgument(0);
    Value begin = entry->getArgument(1), end = entry->getArgument(2);
    auto callType = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                                {ptrType, i64, i64});
    Value first = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
    for (int64_t i = 0; i < k; ++i) {
      Value fn = loadPointerAt(b, loc, table, 3 * i);
      Value args = loadPointerAt(b, loc, table, 3 * i + 1);
      Value n = loadI64At(b, loc, table, 3 * i + 2);
      Value last = arith::AddIOp::create(b, loc, first, n);
      // This call's blocks [first, last) within the range [begin, end).
      Value lo = arith::MaxSIOp::create(b, loc, begin, first);
      Value hi = arith::MinSIOp::create(b, loc, end, last);
      Value some = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                         lo, hi);
      auto ifSome = scf::IfOp::create(b, loc, some, /*withElse=*/false);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(ifSome.thenBlock());
        LLVM::CallOp::create(
            b, loc, callType,
            ValueRange{fn, args, arith::SubIOp::create(b, loc, lo, first),
                       arith::SubIOp::create(b, loc, hi, first)});
      }
      first = last;
    }
    func::ReturnOp::create(b, loc);
  }
  SmallVector<Value> slots;
  for (const DeferredParallelFor &c : calls)
    slots.append({c.task, c.args, c.n});
  Value table = slotArray(b, loc, slots);
  Value total;
  for (const DeferredParallelFor &c : calls)
    total = total ? arith::AddIOp::create(b, loc, total, c.n).getResult()
                  : c.n;
  Value fnPtr = taskPointer(b, loc, name);
  callParallelFor(r, env, total, fnPtr, table);
}

/// A hash of a task's body: every op's name, attributes, properties and
/// result types, in order (the values are compared by intern).
static size_t bodyHash(func::FuncOp task) {
  llvm::hash_code h = llvm::hash_value(task.getFunctionType().getAsOpaquePointer());
  task.getBody().walk([&](Operation *op) {
    h = llvm::hash_combine(
        h, OperationEquivalence::computeHash(
               op, OperationEquivalence::ignoreHashValue,
               OperationEquivalence::ignoreHashValue,
               OperationEquivalence::IgnoreLocations));
  });
  return size_t(h);
}

std::string TaskRegistry::intern(func::FuncOp task, llvm::StringRef prefix) {
  size_t h = bodyHash(task);
  std::vector<func::FuncOp> &same = byHash[h];
  for (func::FuncOp other : same) {
    if (other.getFunctionType() == task.getFunctionType() &&
        OperationEquivalence::isRegionEquivalentTo(
            &other.getBody(), &task.getBody(),
            OperationEquivalence::IgnoreLocations)) {
      task.erase();
      return other.getSymName().str();
    }
  }
  std::string symbol = (prefix + "_" + llvm::Twine(count++)).str();
  task.setSymName(symbol);
  same.push_back(task);
  return symbol;
}

} // namespace mixq::cpu
