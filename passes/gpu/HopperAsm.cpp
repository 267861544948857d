//===- HopperAsm.cpp - sm_90a PTX the wgmma GEMM needs -------------------===//
//
// The Hopper instructions of the wgmma GEMM (WgmmaGemmKernel.cpp), each one
// llvm.inline_asm (GpuKernels.h, "Hopper PTX"): mbarrier init / arrive /
// expect_tx / try_wait.parity, the 2-D TMA load (cp.async.bulk.tensor) that
// completes on an mbarrier, cp.async's mbarrier arrive, the proxy and
// barrier-init fences, and wgmma with A from registers (fence, mma_async,
// commit_group, wait_group). NVVM has ops for most of these, but not for
// wgmma with a register A operand; spelling them all as PTX keeps the
// kernel's schedule readable in one dialect and in the lit tests. Shared
// addresses are 64-bit shared-window addresses (byteAddress).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/GpuKernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <string>

using namespace mlir;

namespace mixq::device {

namespace {

Value toI32(IRB &r, Value v) {
  if (v.getType().isIndex())
    return arith::IndexCastOp::create(r.b, r.loc, r.b.getI32Type(), v);
  return v;
}

} // namespace

void mbarrierInit(IRB &r, Value bar, int64_t count) {
  inlinePtx(r, Type(), {bar, r.i32(count)},
            "mbarrier.init.shared::cta.b64 [$0], $1;", "l,r",
            /*sideEffects=*/true);
}

void mbarrierInitFence(IRB &r) {
  // The inits visible to the TMA unit (async proxy) and to the cluster.
  inlinePtx(
      r, Type(), {},
      "fence.mbarrier_init.release.cluster;\nfence.proxy.async.shared::cta;",
      "", /*sideEffects=*/true);
}

void mbarrierArrive(IRB &r, Value bar) {
  inlinePtx(r, Type(), {bar},
            "{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [$0];\n}",
            "l", /*sideEffects=*/true);
}

void mbarrierArriveExpectTx(IRB &r, Value bar, int64_t bytes) {
  inlinePtx(r, Type(), {bar, r.i32(bytes)},
            "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "l,r",
            /*sideEffects=*/true);
}

void mbarrierWaitParity(IRB &r, Value bar, Value parity) {
  // Labels inside { } are local to the block, so the asm may be repeated.
  inlinePtx(r, Type(), {bar, toI32(r, parity)},
            "{\n.reg .pred p;\nMIXQ_WAIT:\n"
            "mbarrier.try_wait.parity.shared::cta.b64 p, [$0], $1;\n"
            "@!p bra MIXQ_WAIT;\n}",
            "l,r", /*sideEffects=*/true);
}

void cpAsyncMbarrierArrive(IRB &r, Value bar) {
  inlinePtx(r, Type(), {bar},
            "cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$0];", "l",
            /*sideEffects=*/true);
}

void tmaLoad2d(IRB &r, Value dst, Value tensorMap, Value c0, Value c1,
               Value bar) {
  inlinePtx(r, Type(), {dst, tensorMap, toI32(r, c0), toI32(r, c1), bar},
            "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::"
            "complete_tx::bytes [$0], [$1, {$2, $3}], [$4];",
            "l,l,r,r,l", /*sideEffects=*/true);
}

void wgmmaFence(IRB &r) {
  inlinePtx(r, Type(), {}, "wgmma.fence.sync.aligned;", "",
            /*sideEffects=*/true);
}

void wgmmaCommit(IRB &r) {
  inlinePtx(r, Type(), {}, "wgmma.commit_group.sync.aligned;", "",
            /*sideEffects=*/true);
}

void wgmmaWait(IRB &r, int64_t pending) {
  inlinePtx(r, Type(), {},
            "wgmma.wait_group.sync.aligned " + std::to_string(pending) + ";",
            "", /*sideEffects=*/true);
}

SmallVector<Value> wgmmaRegA(IRB &r, int64_t n, ArrayRef<Value> acc,
                             ArrayRef<Value> a, Value descB, bool s8) {
  OpBuilder &b = r.b;
  const int64_t nAcc = n / 2;
  assert(int64_t(acc.size()) == nAcc && a.size() == 4 && "wgmma operands");
  std::string text = "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) +
                     (s8 ? "k32.s32.s8.s8 {" : "k16.f32.f16.f16 {");
  std::string constraints;
  for (int64_t i = 0; i < nAcc; ++i) {
    text += (i ? ", $" : "$") + std::to_string(i);
    constraints += s8 ? "=r," : "=f,";
  }
  text += "}, {";
  for (int64_t i = 0; i < 4; ++i)
    text += (i ? ", $" : "$") + std::to_string(nAcc + i);
  // scale-d 1 (accumulate); f16: scale-a 1, scale-b 1, B not transposed
  // (K-major: x rows are K-contiguous; integer operands are K-major only).
  text += "}, $" + std::to_string(nAcc + 4) + (s8 ? ", 1;" : ", 1, 1, 1, 0;");
  constraints += "r,r,r,r,l";
  for (int64_t i = 0; i < nAcc; ++i)
    constraints += "," + std::to_string(i);
  SmallVector<Value> operands(a.begin(), a.end());
  operands.push_back(descB);
  operands.append(acc.begin(), acc.end());
  SmallVector<Type> fields(nAcc, s8 ? Type(b.getI32Type()) : b.getF32Type());
  auto type = LLVM::LLVMStructType::getLiteral(b.getContext(), fields);
  Value out =
      inlinePtx(r, type, operands, text, constraints, /*sideEffects=*/true);
  SmallVector<Value> next;
  for (int64_t i = 0; i < nAcc; ++i)
    next.push_back(
        LLVM::ExtractValueOp::create(b, r.loc, out, ArrayRef<int64_t>{i}));
  return next;
}

Value wgmmaDescriptor128B(IRB &r, Value sharedAddr, int64_t sbo) {
  // Bits 0-13: address >> 4; 16-29: leading byte offset >> 4 (unused for
  // K-major swizzled tiles: 1); 32-45: stride byte offset >> 4 (between
  // 8-row core-matrix groups); 62-63: 1 = 128-byte swizzle.
  OpBuilder &b = r.b;
  Value addr = arith::AndIOp::create(b, r.loc, sharedAddr, r.i64(0x3FFFF));
  addr = arith::ShRUIOp::create(b, r.loc, addr, r.i64(4));
  int64_t fixed = (int64_t(1) << 16) | ((sbo >> 4) << 32) | (int64_t(1) << 62);
  return arith::OrIOp::create(b, r.loc, addr, r.i64(fixed));
}

} // namespace mixq::device
