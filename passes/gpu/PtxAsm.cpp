//===- PtxAsm.cpp - PTX instructions MLIR has no op for ----------------===//
//
// The few PTX instructions the tensor-core GEMM needs that neither the
// nvgpu nor the NVVM dialect of MLIR 22 spells: cp.async with an L2 cache
// policy (evict-first for weights, read once) or a zero-filling source
// size (activation rows past M), createpolicy, lop3 and the byte
// addresses those copies take. Each is one llvm.inline_asm with side
// effects where it has them, made by inlinePtx, which the other kernels
// share (the wgmma and mbarrier instructions of HopperAsm.cpp, ex2 and
// sqrt of the layer kernels, cvt.rni of QUIK's activation quantization).
// See GpuKernels.h.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace mixq::device {

Value inlinePtx(IRB &r, Type result, ValueRange operands,
                llvm::StringRef text, llvm::StringRef constraints,
                bool sideEffects) {
  auto op = LLVM::InlineAsmOp::create(
      r.b, r.loc, result, operands, text, constraints, sideEffects,
      /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr(), ArrayAttr());
  return result ? op.getResult(0) : Value();
}

Value roundToNearestEven(IRB &r, Value v) {
  return inlinePtx(r, r.b.getF32Type(), {v}, "cvt.rni.f32.f32 $0, $1;",
                   "=f,f", /*sideEffects=*/false);
}

Value byteAddress(IRB &r, Value memref, Value byteOffset) {
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(r.b, r.loc,
                                                              memref);
  return r.toI64(r.add(base, byteOffset));
}

Value evictFirstPolicy(IRB &r) {
  return inlinePtx(r, r.b.getI64Type(), {},
               "createpolicy.fractional.L2::evict_first.b64 $0, 1.0;", "=l",
               /*sideEffects=*/false);
}

void cpAsyncEvictFirst(IRB &r, Value shared, Value global, int64_t bytes,
                       Value policy) {
  // .cg (L2 only) takes 16-byte copies; smaller ones go through .ca.
  std::string text = "{\n.reg .u64 g;\ncvta.to.global.u64 g, $1;\n"
                     "cp.async." +
                     std::string(bytes == 16 ? "cg" : "ca") +
                     ".shared.global.L2::cache_hint [$0], [g], " +
                     std::to_string(bytes) + ", $2;\n}";
  inlinePtx(r, Type(), {shared, global, policy}, text, "l,l,l",
        /*sideEffects=*/true);
}

void cpAsyncEvictFirstZeroFill(IRB &r, Value shared, Value global,
                               int64_t bytes, Value srcBytes, Value policy) {
  std::string text = "{\n.reg .u64 g;\ncvta.to.global.u64 g, $1;\n"
                     "cp.async." +
                     std::string(bytes == 16 ? "cg" : "ca") +
                     ".shared.global.L2::cache_hint [$0], [g], " +
                     std::to_string(bytes) + ", $2, $3;\n}";
  inlinePtx(r, Type(), {shared, global, srcBytes, policy}, text, "l,l,r,l",
        /*sideEffects=*/true);
}

void cpAsyncZeroFill(IRB &r, Value shared, Value global, Value srcBytes) {
  inlinePtx(r, Type(), {shared, global, srcBytes},
        "{\n.reg .u64 g;\ncvta.to.global.u64 g, $1;\n"
        "cp.async.cg.shared.global [$0], [g], 16, $2;\n}",
        "l,l,r", /*sideEffects=*/true);
}

void cpAsyncCommit(IRB &r) { NVVM::CpAsyncCommitGroupOp::create(r.b, r.loc); }

void cpAsyncWait(IRB &r, int64_t pending) {
  NVVM::CpAsyncWaitGroupOp::create(r.b, r.loc, uint32_t(pending));
}

Value lop3(IRB &r, Value a, Value b, Value c, uint8_t lut) {
  char text[48];
  snprintf(text, sizeof(text), "lop3.b32 $0, $1, $2, $3, 0x%02X;",
           unsigned(lut));
  return inlinePtx(r, r.b.getI32Type(), {a, b, c}, text, "=r,r,r,r",
               /*sideEffects=*/false);
}

} // namespace mixq::device
