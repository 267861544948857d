//===- GpuCommon.cpp - Device-side helpers shared by the GPU kernels ------===//
//
// Stream argument types, kernel creation (attributes the bare-pointer ABI
// and the PTX backend need), thread indices, warp reductions, 16-byte
// activation and code loads, code extraction and the magic-number
// conversion of codes to floats, and scales; the advice on groups the
// kernels refuse. See GpuKernels.h.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

#include "model/Dequantize.h"
#include "model/QuantizedTensor.h"

using namespace mlir;

namespace mixq::device {

std::string groupAdvice(int64_t group, int64_t k,
                        llvm::StringRef quantizeOption) {
  std::string text = "this weight's group is " + std::to_string(group) +
                     " columns (K = " + std::to_string(k) + ")";
  // The largest multiple of 32 up to 128 that divides K, if any.
  for (int64_t g = 128; g >= 32; g -= 32)
    if (k % g == 0)
      return text + "; quantize with " + quantizeOption.str() + " " +
             std::to_string(g) + " for GPU targets";
  return text + ", and no multiple of 32 up to 128 divides K";
}

FailureOr<MemRefType> streamViewType(MLIRContext *ctx, const WeightInfo &w,
                                     llvm::StringRef stream) {
  auto specs = expectedStreams(w.layout, w.rows, w.cols);
  if (!specs) {
    llvm::consumeError(specs.takeError());
    return failure();
  }
  Builder b(ctx);
  for (const StreamSpec &s : *specs) {
    if (s.name != stream || s.bytes == 0)
      continue;
    bool packed = stream == "codes" || stream == "codes2" ||
                  stream == "codes4";
    if (s.type == StreamType::U8 && packed)
      return MemRefType::get({int64_t((s.bytes + 15) / 16 * 4)},
                             b.getI32Type());
    Type elem;
    switch (s.type) {
    case StreamType::U8: elem = b.getI8Type(); break;
    case StreamType::U16: elem = b.getI16Type(); break;
    case StreamType::I32: elem = b.getI32Type(); break;
    case StreamType::F16: elem = b.getF16Type(); break;
    case StreamType::F32: elem = b.getF32Type(); break;
    }
    return MemRefType::get({int64_t(s.bytes / streamTypeSize(s.type))}, elem);
  }
  return failure();
}

FailureOr<unsigned> KernelSignature::addStream(MLIRContext *ctx,
                                               const WeightInfo &w,
                                               llvm::StringRef stream) {
  std::string key = w.name + ":" + stream.str();
  for (auto [i, s] : llvm::enumerate(streams))
    if (s.key == key)
      return unsigned(i);
  FailureOr<MemRefType> type = streamViewType(ctx, w, stream);
  if (failed(type))
    return failure();
  // Streams come first, so the other arguments' indices never move.
  assert(others.empty() && "add streams before the other arguments");
  streams.push_back({key, *type});
  return unsigned(streams.size() - 1);
}

int KernelSignature::addStreamOrWhy(MLIRContext *ctx, const WeightInfo &w,
                                    llvm::StringRef stream, std::string &why) {
  FailureOr<unsigned> i = addStream(ctx, w, stream);
  if (failed(i)) {
    why = "the layout has no stream '" + stream.str() + "'";
    return -1;
  }
  return int(*i);
}

SmallVector<Type> KernelSignature::types() const {
  SmallVector<Type> all;
  for (const StreamArg &s : streams)
    all.push_back(s.type);
  all.append(others.begin(), others.end());
  return all;
}

gpu::GPUFuncOp createKernel(OpBuilder &b, Location loc,
                            gpu::GPUModuleOp module, llvm::StringRef name,
                            const KernelSignature &signature,
                            std::array<int64_t, 3> block,
                            ArrayRef<MemRefType> workgroup) {
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> wg(workgroup.begin(), workgroup.end());
  auto type = b.getFunctionType(signature.types(), {});
  auto func = gpu::GPUFuncOp::create(b, loc, name, type, wg);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
      {int32_t(block[0]), int32_t(block[1]), int32_t(block[2])}));
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    if (!isa<MemRefType>(type.getInput(i)))
      continue;
    func.setArgAttr(i, "llvm.align", b.getI64IntegerAttr(16));
    func.setArgAttr(i, "llvm.noalias", b.getUnitAttr());
  }
  for (unsigned i = 0; i < wg.size(); ++i)
    func.setWorkgroupAttributionAttr(i, "llvm.align",
                                     b.getI64IntegerAttr(16));
  b.setInsertionPointToStart(&func.getBody().front());
  return func;
}

FailureOr<MixedStreams> addMixedStreams(MLIRContext *ctx, const WeightInfo &w,
                                        KernelSignature &sig,
                                        std::string &why) {
  const Layout &l = w.layout;
  bool failedAny = false;
  auto stream = [&](llvm::StringRef s) -> int {
    FailureOr<unsigned> i = sig.addStream(ctx, w, s);
    if (failed(i)) {
      why = "the layout has no stream '" + s.str() + "'";
      failedAny = true;
      return -1;
    }
    return int(*i);
  };
  MixedStreams m;
  m.pmapArg = stream("pmap");
  m.offsetsArg = stream("offsets");
  int64_t rowGroups = 0, zeroBits = 0;
  for (size_t q = 0; q < l.bits.size(); ++q) {
    MixedStreams::Precision p;
    p.bits = unsigned(l.bits[q]);
    if (l.alloc[q])
      p.codesArg = stream("codes" + std::to_string(l.bits[q]));
    if (p.bits != 16) {
      p.rowGroupBase = rowGroups;
      p.zeroBitBase = zeroBits;
      rowGroups += l.alloc[q] * l.tile;
      zeroBits += l.alloc[q] * l.tile * l.bits[q];
    }
    if (p.bits == 2 && l.alloc[q])
      m.slotPrecision = int(q);
    m.precs.push_back(p);
  }
  if (rowGroups > 0) {
    if (l.scaleBits == 0) {
      m.scalesArg = stream("scales");
    } else {
      m.scaleCodesArg = stream("scale_codes");
      m.metaArg = stream("scale_meta");
    }
    if (l.asymmetric)
      m.zerosArg = stream("zeros");
  }
  if (l.outliers == OutlierKind::Slots && m.slotPrecision >= 0) {
    m.slotIndexArg = stream("slot_index");
    m.slotValueArg = stream("slot_value");
  } else {
    m.slotPrecision = -1;
  }
  if (failedAny)
    return failure();
  return m;
}

int64_t GemvSpec::cols() const {
  switch (part) {
  case Part::Whole:
    return w.cols;
  case Part::QuikCodes:
    return w.cols - w.layout.fp16Cols;
  case Part::QuikFp16Cols:
    return w.layout.fp16Cols;
  }
  return w.cols;
}

Value chunkRowBase(IRB &r, int64_t m, int64_t rowCap) {
  if (rowCap <= 0)
    return r.idx(0);
  return r.mulI(blockId(r, gpu::Dimension::z), m);
}

Value GemvSpec::rowBase(IRB &r) const { return chunkRowBase(r, m, rowCap); }

Value threadIdX(IRB &r) {
  return gpu::ThreadIdOp::create(r.b, r.loc, gpu::Dimension::x);
}

Value blockId(IRB &r, gpu::Dimension dim) {
  return gpu::BlockIdOp::create(r.b, r.loc, dim);
}

Value warpSum(IRB &r, Value v, int64_t width) {
  bool isFloat = isa<FloatType>(v.getType());
  for (int64_t off = width / 2; off >= 1; off /= 2) {
    auto sh = gpu::ShuffleOp::create(r.b, r.loc, v, int32_t(off),
                                     int32_t(kWarp), gpu::ShuffleMode::XOR);
    v = isFloat ? r.fadd(v, sh.getShuffleResult())
                : r.add(v, sh.getShuffleResult());
  }
  return v;
}

SmallVector<Value> loadFloats(IRB &r, Value x, ValueRange prefix, Value k,
                              int64_t count) {
  auto type = cast<MemRefType>(x.getType());
  Type elem = type.getElementType();
  Type f32 = r.b.getF32Type();
  int64_t lanes = elem.isF32() ? 4 : 8; // 16 bytes
  SmallVector<Value> out;
  int64_t done = 0;
  while (done < count) {
    int64_t n = count - done >= lanes ? lanes : 1;
    SmallVector<Value> at(prefix);
    at.push_back(r.addI(k, done));
    if (n == 1) {
      out.push_back(r.loadF32(x, at));
    } else {
      auto vt = VectorType::get({n}, elem);
      Value v = vector::LoadOp::create(r.b, r.loc, vt, x, at,
                                       /*nontemporal=*/false,
                                       llvm::MaybeAlign(16));
      if (!elem.isF32())
        v = arith::ExtFOp::create(r.b, r.loc, VectorType::get({n}, f32), v);
      for (int64_t i = 0; i < n; ++i)
        out.push_back(vector::ExtractOp::create(r.b, r.loc, v,
                                                ArrayRef<int64_t>{i}));
    }
    done += n;
  }
  return out;
}

SmallVector<Value> loadWords(IRB &r, Value words, Value index, int64_t count) {
  SmallVector<Value> out;
  if (count == 4 || count == 2) {
    auto vt = VectorType::get({count}, r.b.getI32Type());
    Value v = vector::LoadOp::create(r.b, r.loc, vt, words, ValueRange{index},
                                     /*nontemporal=*/false,
                                     llvm::MaybeAlign(count * 4));
    for (int64_t i = 0; i < count; ++i)
      out.push_back(
          vector::ExtractOp::create(r.b, r.loc, v, ArrayRef<int64_t>{i}));
    return out;
  }
  if (count % 4 == 0) {
    for (int64_t q = 0; q < count; q += 4)
      out.append(loadWords(r, words, r.addI(index, q), 4));
    return out;
  }
  for (int64_t i = 0; i < count; ++i)
    out.push_back(r.load(words, r.addI(index, i)));
  return out;
}

Value extractCode(IRB &r, ArrayRef<Value> words, int64_t bit, unsigned bits) {
  int64_t w = bit / 32, s = bit % 32;
  Value v = words[w];
  if (s)
    v = arith::ShRUIOp::create(r.b, r.loc, v, r.i32(s));
  if (s + bits > 32) {
    Value hi = arith::ShLIOp::create(r.b, r.loc, words[w + 1], r.i32(32 - s));
    v = arith::OrIOp::create(r.b, r.loc, v, hi);
  }
  // A code ending exactly at bit 32 has nothing above it after the shift.
  if (s + bits != 32)
    v = arith::AndIOp::create(r.b, r.loc, v, r.i32((1 << bits) - 1));
  return v;
}

Value codeMinusZero(IRB &r, Value code, Value zeroMagic) {
  Value bitsV = arith::OrIOp::create(r.b, r.loc, code, r.i32(0x4B000000));
  Value f = arith::BitcastOp::create(r.b, r.loc, r.b.getF32Type(), bitsV);
  return arith::SubFOp::create(r.b, r.loc, f, zeroMagic);
}

Value zeroMagicOf(IRB &r, Value zeroI32) {
  Value bitsV = arith::OrIOp::create(r.b, r.loc, zeroI32, r.i32(0x4B000000));
  return arith::BitcastOp::create(r.b, r.loc, r.b.getF32Type(), bitsV);
}

Value zeroMagicConst(IRB &r, int64_t zero) {
  return r.f32(8388608.0 + double(zero));
}

Value fma(IRB &r, Value a, Value b, Value c) {
  return LLVM::FMAOp::create(r.b, r.loc, a, b, c);
}

Value dotAcc(IRB &r, ArrayRef<Value> w, ArrayRef<Value> x, Value acc) {
  for (auto [wi, xi] : llvm::zip_equal(w, x))
    acc = fma(r, wi, xi, acc);
  return acc;
}


} // namespace mixq::device
