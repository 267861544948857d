//===- GraphBuilder.h - A mixq package as an MLIR module --------*- C++ -*-===//
//
// buildLlamaModule() turns a package into a tensor-level module with two
// functions built by one routine (M = ? for prefill, 1 for decode; L layers,
// S = max_seq_len, KVH kv heads of HD, V vocab, D dim):
//
//   module attributes {mixq.package_sha256 = "<content hash>",
//                      mixq.model = {dim, hidden_dim, n_layers, n_heads,
//                                    n_kv_heads, vocab_size, max_seq_len,
//                                    rms_eps, rope_theta}} {
//     func.func @prefill(%tokens: tensor<?xi32>, %start: index,
//                        %kcache: tensor<LxSxKVHxHDxf32>, %vcache: (same))
//         -> (tensor<?xVxf32>, kcache, vcache)
//     func.func @decode(%token: tensor<1xi32>, %pos: index, %kcache, %vcache)
//         -> (tensor<1xVxf32>, kcache, vcache)
//   }
//
// Body: one `mixq.weight` per package tensor; x = mixq.embed; positions =
// start + iota (tensor.generate); per layer
//   rms_norm, qmatmul q/k/v, expand_shape to heads, rope q and k,
//   insert_slice k and v into the caches at [l, start, 0, 0],
//   attention over extract_slice [l] of both caches, collapse, qmatmul wo,
//   addf (residual); rms_norm, qmatmul w1 and w3, linalg.generic
//   silu(gate) * up, qmatmul w2, addf (residual);
// then rms_norm and the classifier qmatmul (output.weight, or tok_embeddings
// when tied). Norm gains are `mixq.dequant` of their 1 x D weight collapsed to
// D. The caches are updated functionally and returned, so that
// bufferization can update them in place. CSR outliers and QUIK activation
// quantization are left to later passes (plain qmatmul here).
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_CODEGEN_LLAMA_GRAPHBUILDER_H
#define MIXQ_CODEGEN_LLAMA_GRAPHBUILDER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/Support/Error.h"

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace mixq {

class PackageReader;

/// Adds the dialects the produced module uses (mixq, func, arith, math,
/// tensor, linalg) to `registry`.
void registerLlamaGraphDialects(mlir::DialectRegistry &registry);

/// Builds and verifies the module of `package`; the error names the package.
/// Loads the dialects it needs into `context`.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildLlamaModule(mlir::MLIRContext &context, const PackageReader &package);

} // namespace mixq

#endif // MIXQ_CODEGEN_LLAMA_GRAPHBUILDER_H
