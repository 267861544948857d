//===- CpuBuilder.cpp - Small IR builders shared by the CPU lowering ------===//
//
// See CpuBuilder.h.
//
//===----------------------------------------------------------------------===//
#include "passes/cpu/CpuBuilder.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

namespace mixq::cpu {

Value IRB::idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
Value IRB::i64(int64_t v) {
  return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
}
Value IRB::i32(int64_t v) {
  return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
}
Value IRB::f32(double v) {
  return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                        APFloat(float(v)));
}
Value IRB::splatF32(double v, int64_t lanes) {
  auto type = VectorType::get({lanes}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(float(v))));
}
Value IRB::splatI32(int64_t v, int64_t lanes) {
  auto type = VectorType::get({lanes}, b.getI32Type());
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getI32IntegerAttr(v)));
}
Value IRB::toIndex(Value integer) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), integer);
}
Value IRB::toI64(Value index) {
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
}
Value IRB::add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
Value IRB::mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
Value IRB::sub(Value a, Value c) { return arith::SubIOp::create(b, loc, a, c); }
Value IRB::divI(Value a, int64_t c) {
  return arith::DivUIOp::create(b, loc, a, idx(c));
}
Value IRB::remI(Value a, int64_t c) {
  return arith::RemUIOp::create(b, loc, a, idx(c));
}
Value IRB::minI(Value a, Value c) {
  return arith::MinUIOp::create(b, loc, a, c);
}
Value IRB::fadd(Value a, Value c) { return arith::AddFOp::create(b, loc, a, c); }
Value IRB::fmul(Value a, Value c) { return arith::MulFOp::create(b, loc, a, c); }

Value IRB::load(Value memref, ValueRange indices) {
  return memref::LoadOp::create(b, loc, memref, indices);
}
void IRB::store(Value value, Value memref, ValueRange indices) {
  memref::StoreOp::create(b, loc, value, memref, indices);
}

Value IRB::loadF32(Value memref, ValueRange indices) {
  Value v = load(memref, indices);
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value IRB::loadIndexU(Value memref, ValueRange indices) {
  Value v = load(memref, indices);
  if (v.getType().getIntOrFloatBitWidth() < 32)
    v = arith::ExtUIOp::create(b, loc, b.getI32Type(), v);
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), v);
}

Value IRB::vloadF32(Value memref, ValueRange indices, int64_t lanes) {
  Type elem = cast<MemRefType>(memref.getType()).getElementType();
  auto type = VectorType::get({lanes}, elem);
  Value v = vector::LoadOp::create(b, loc, type, memref, indices);
  if (elem.isF32())
    return v;
  return arith::ExtFOp::create(b, loc,
                               VectorType::get({lanes}, b.getF32Type()), v);
}

Value IRB::loadBitsScalar(Value bytes, Value bitIndex, unsigned bits) {
  auto type = cast<MemRefType>(bytes.getType());
  Value byte = divI(bitIndex, 8);
  Value shift = remI(bitIndex, 8);
  Value lo = arith::ExtUIOp::create(b, loc, b.getI32Type(), load(bytes, byte));
  Value field = lo;
  if (bits > 1) {
    // A field crosses into the next byte only when shift + bits > 8, which
    // never happens at the stream's last byte; clamp the read there.
    // The last byte's index: static, or from the memref (a task's streams).
    Value after = addI(byte, 1);
    Value lastByte =
        type.isDynamicDim(0)
            ? sub(memref::DimOp::create(b, loc, bytes, 0).getResult(), idx(1))
            : idx(type.getDimSize(0) - 1);
    Value next = minI(after, lastByte);
    Value hi = arith::ExtUIOp::create(b, loc, b.getI32Type(), load(bytes, next));
    hi = arith::ShLIOp::create(b, loc, hi, i32(8));
    field = arith::OrIOp::create(b, loc, lo, hi);
  }
  Value sh = arith::IndexCastOp::create(b, loc, b.getI32Type(), shift);
  field = arith::ShRUIOp::create(b, loc, field, sh);
  return arith::AndIOp::create(b, loc, field, i32((1 << bits) - 1));
}

scf::ForOp IRB::forLoop(Value lo, Value hi, int64_t step,
                        llvm::function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, loc, lo, hi, idx(step));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
  return loop;
}

Value IRB::forReduce(Value lo, Value hi, int64_t step, Value init,
                     llvm::function_ref<Value(Value, Value)> body) {
  auto loop = scf::ForOp::create(b, loc, lo, hi, idx(step), ValueRange{init});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value next = body(loop.getInductionVar(), loop.getRegionIterArgs()[0]);
  scf::YieldOp::create(b, loc, next);
  return loop.getResult(0);
}

SmallVector<Value>
IRB::forReduceN(Value lo, Value hi, int64_t step, ValueRange inits,
                llvm::function_ref<SmallVector<Value>(Value, ValueRange)>
                    body) {
  auto loop = scf::ForOp::create(b, loc, lo, hi, idx(step), inits);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> next =
      body(loop.getInductionVar(), loop.getRegionIterArgs());
  scf::YieldOp::create(b, loc, next);
  return SmallVector<Value>(loop.getResults());
}

Value memrefFromPointer(OpBuilder &b, Location loc, Value ptr, MemRefType type,
                        ValueRange dynamicSizes) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  int64_t rank = type.getRank();
  auto arrayType = LLVM::LLVMArrayType::get(i64, rank);
  auto descType = LLVM::LLVMStructType::getLiteral(
      ctx, {ptrType, ptrType, i64, arrayType, arrayType});
  Value desc = LLVM::PoisonOp::create(b, loc, descType);
  desc = LLVM::InsertValueOp::create(b, loc, desc, ptr, ArrayRef<int64_t>{0});
  desc = LLVM::InsertValueOp::create(b, loc, desc, ptr, ArrayRef<int64_t>{1});
  auto c64 = [&](int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
  };
  desc = LLVM::InsertValueOp::create(b, loc, desc, c64(0), ArrayRef<int64_t>{2});
  SmallVector<Value> sizes;
  unsigned dyn = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (type.isDynamicDim(d)) {
      Value s = dynamicSizes[dyn++];
      if (s.getType().isIndex())
        s = arith::IndexCastOp::create(b, loc, i64, s);
      sizes.push_back(s);
    } else {
      sizes.push_back(c64(type.getDimSize(d)));
    }
  }
  // Row-major strides: stride[d] = prod(sizes[d+1..]).
  SmallVector<Value> strides(rank);
  Value stride = c64(1);
  for (int64_t d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    if (d > 0)
      stride = LLVM::MulOp::create(b, loc, stride, sizes[d]);
  }
  for (int64_t d = 0; d < rank; ++d) {
    desc = LLVM::InsertValueOp::create(b, loc, desc, sizes[d],
                                       ArrayRef<int64_t>{3, d});
    desc = LLVM::InsertValueOp::create(b, loc, desc, strides[d],
                                       ArrayRef<int64_t>{4, d});
  }
  return UnrealizedConversionCastOp::create(b, loc, TypeRange{type},
                                            ValueRange{desc})
      .getResult(0);
}

Value pointerOf(OpBuilder &b, Location loc, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  unsigned eltBytes = type.getElementTypeBitWidth() / 8;
  IRB r{b, loc};
  Value addr = r.add(base, r.mulI(meta.getOffset(), eltBytes));
  Value word = r.toI64(addr);
  return LLVM::IntToPtrOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()),
                                  word);
}

static Value loadWordAt(OpBuilder &b, Location loc, Value base, int64_t index,
                        Type type) {
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value addr = LLVM::GEPOp::create(b, loc, ptrType, type, base,
                                   ArrayRef<LLVM::GEPArg>{int32_t(index)});
  return LLVM::LoadOp::create(b, loc, type, addr);
}

Value loadPointerAt(OpBuilder &b, Location loc, Value base, int64_t index) {
  return loadWordAt(b, loc, base, index,
                    LLVM::LLVMPointerType::get(b.getContext()));
}

Value loadI64At(OpBuilder &b, Location loc, Value base, int64_t index) {
  return loadWordAt(b, loc, base, index, b.getI64Type());
}

ScaleSource::Raw ScaleSource::load(IRB &r, Value i) const {
  Raw raw;
  if (scaleBits == 0) {
    raw.scale = r.loadF32(scales, i);
    return raw;
  }
  Value block = r.divI(i, scaleBlock);
  raw.step = r.loadF32(meta, r.mulI(block, 2));
  raw.min = r.loadF32(meta, r.addI(r.mulI(block, 2), 1));
  raw.scale = r.loadBitsScalar(codes, r.mulI(i, scaleBits), scaleBits);
  return raw;
}

Value ScaleSource::dequant(IRB &r, const Raw &raw) const {
  if (scaleBits == 0)
    return raw.scale;
  Value f = arith::UIToFPOp::create(r.b, r.loc, r.b.getF32Type(), raw.scale);
  return r.fadd(raw.min, r.fmul(f, raw.step));
}

Value reduceAdd4(IRB &r, ArrayRef<Value> v) {
  assert(v.size() == 4 && "four vectors");
  auto half = [&](Value x, int64_t from, int64_t n) {
    SmallVector<int64_t> idx;
    for (int64_t i = 0; i < n; ++i)
      idx.push_back(from + i);
    return vector::ShuffleOp::create(r.b, r.loc, x, x, idx).getResult();
  };
  auto fold = [&](Value x) {
    int64_t n = cast<VectorType>(x.getType()).getNumElements();
    for (; n > 8; n /= 2)
      x = r.fadd(half(x, 0, n / 2), half(x, n / 2, n / 2));
    return x;
  };
  // hadd(a, b) per 128-bit lane: [a0+a1, a2+a3, b0+b1, b2+b3, a4+a5, ...].
  auto hadd = [&](Value a, Value b) {
    Value even = vector::ShuffleOp::create(
        r.b, r.loc, a, b, ArrayRef<int64_t>{0, 2, 8, 10, 4, 6, 12, 14});
    Value odd = vector::ShuffleOp::create(
        r.b, r.loc, a, b, ArrayRef<int64_t>{1, 3, 9, 11, 5, 7, 13, 15});
    return r.fadd(even, odd);
  };
  Value t = hadd(hadd(fold(v[0]), fold(v[1])), hadd(fold(v[2]), fold(v[3])));
  return r.fadd(half(t, 0, 4), half(t, 4, 4));
}

} // namespace mixq::cpu
