//===- CpuBuilder.h - Small IR builders shared by the CPU lowering -*- C++ -*-===//
//
// Helpers for -mixq-lower-cpu: constants, memrefs over raw pointers (the C
// ABI hands the module plain pointers; the lowering views them as memrefs
// with the static shapes it knows), scalar bit-field reads from packed
// streams, and scalar/vector loads with F16 -> F32 conversion.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_PASSES_CPU_CPUBUILDER_H
#define MIXQ_PASSES_CPU_CPUBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mixq::cpu {

/// An OpBuilder with a fixed location and shorthands for constants.
struct IRB {
  mlir::OpBuilder &b;
  mlir::Location loc;

  mlir::Value idx(int64_t v);
  mlir::Value i64(int64_t v);
  mlir::Value i32(int64_t v);
  mlir::Value f32(double v);
  mlir::Value splatF32(double v, int64_t lanes);
  mlir::Value splatI32(int64_t v, int64_t lanes);
  mlir::Value toIndex(mlir::Value integer);
  mlir::Value toI64(mlir::Value index);
  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value sub(mlir::Value a, mlir::Value c);
  mlir::Value addI(mlir::Value a, int64_t c) { return add(a, idx(c)); }
  mlir::Value mulI(mlir::Value a, int64_t c) { return mul(a, idx(c)); }
  mlir::Value divI(mlir::Value a, int64_t c);
  mlir::Value remI(mlir::Value a, int64_t c);
  mlir::Value minI(mlir::Value a, mlir::Value c);
  mlir::Value fadd(mlir::Value a, mlir::Value c);
  mlir::Value fmul(mlir::Value a, mlir::Value c);
  mlir::Value load(mlir::Value memref, mlir::ValueRange indices);
  void store(mlir::Value value, mlir::Value memref, mlir::ValueRange indices);
  /// Loads one element and converts F16/F32 to F32, I8/I16 (unsigned) and
  /// I32 to index.
  mlir::Value loadF32(mlir::Value memref, mlir::ValueRange indices);
  mlir::Value loadIndexU(mlir::Value memref, mlir::ValueRange indices);
  /// vector<lanes x f32> from F16 or F32 memory at `indices` (last dim).
  mlir::Value vloadF32(mlir::Value memref, mlir::ValueRange indices,
                       int64_t lanes);
  /// The `bits`-bit unsigned field at bit `bitIndex` (index) of a packed
  /// byte stream (memref<Bxi8>), LSB-first, as an i32. Never reads past the
  /// stream's last byte.
  mlir::Value loadBitsScalar(mlir::Value bytes, mlir::Value bitIndex,
                             unsigned bits);
  /// for (i = lo; i < hi; i += step) body(i); returns the loop.
  mlir::scf::ForOp forLoop(mlir::Value lo, mlir::Value hi, int64_t step,
                           llvm::function_ref<void(mlir::Value)> body);
  /// Reduction loop with several carried values.
  llvm::SmallVector<mlir::Value>
  forReduceN(mlir::Value lo, mlir::Value hi, int64_t step,
             mlir::ValueRange inits,
             llvm::function_ref<llvm::SmallVector<mlir::Value>(
                 mlir::Value, mlir::ValueRange)>
                 body);
  /// Reduction loop with one f32/vector carried value.
  mlir::Value forReduce(mlir::Value lo, mlir::Value hi, int64_t step,
                        mlir::Value init,
                        llvm::function_ref<mlir::Value(mlir::Value, mlir::Value)>
                            body);
};

/// The sums of 4 vectors of 8 or more lanes (a power of 2) as one
/// vector<4xf32>, transposed as they are reduced: each vector folded to 8
/// lanes, then two rounds of pairwise adds across vectors (vhaddps) leave
/// vector j's lower and upper halves in lanes j and 4 + j, and one more add
/// folds those. 7 adds and 8 shuffles where 4 reductions took 28 dependent
/// instructions and 4 scalar stores.
mlir::Value reduceAdd4(IRB &r, llvm::ArrayRef<mlir::Value> v);

/// The memref of `type` over the raw pointer `ptr` (!llvm.ptr), contiguous
/// and row-major, with `dynamicSizes` for its `?` dimensions. Built as an
/// LLVM memref descriptor cast to the memref type, which the memref-to-LLVM
/// conversion folds away.
mlir::Value memrefFromPointer(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value ptr, mlir::MemRefType type,
                              mlir::ValueRange dynamicSizes);

/// The aligned base pointer of a memref as !llvm.ptr.
mlir::Value pointerOf(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value memref);

/// Loads the i-th 64-bit word (as !llvm.ptr or i64) of the array at `base`.
mlir::Value loadPointerAt(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value base, int64_t index);
mlir::Value loadI64At(mlir::OpBuilder &b, mlir::Location loc, mlir::Value base,
                      int64_t index);

/// The scales of uniform and mixed weights, as both the CPU and the GPU
/// kernels read them: FP16 (`scales`), or second-order codes dequantized as
/// min + code * step of their block (`codes`, `meta`).
struct ScaleSource {
  mlir::Value scales, codes, meta;
  int64_t scaleBits = 0, scaleBlock = 0;
  /// A scale's words as loaded: the FP16 scale (as f32), or the
  /// second-order code (i32) with its block's step and min (f32).
  struct Raw {
    mlir::Value scale, step, min;
  };
  /// The scale of group `i`.
  mlir::Value at(IRB &r, mlir::Value i) const { return dequant(r, load(r, i)); }
  /// The loads of at(), and its arithmetic (the GPU GEMM issues the loads a
  /// pipeline stage before it needs the values).
  Raw load(IRB &r, mlir::Value i) const;
  mlir::Value dequant(IRB &r, const Raw &raw) const;
};

} // namespace mixq::cpu

#endif // MIXQ_PASSES_CPU_CPUBUILDER_H
