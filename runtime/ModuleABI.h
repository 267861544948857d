/*===- ModuleABI.h - The C interface of a compiled mixq module ----*- C -*-===*\
|*                                                                            *|
|* A compiled model (`mixq compile PKG -o model.so`) is a shared library that *|
|* exports the functions below with C linkage. The runtime (runtime/) dlopens *|
|* it, checks it against the package it is given, hands it the package's      *|
|* streams (mmapped, never copied), owns the KV caches and the scratch        *|
|* memory, and lends it a thread pool through `mixq_runtime`.                 *|
|*                                                                            *|
|* Conventions: all pointers are host pointers for CPU modules and device     *|
|* pointers for GPU modules (the target string tells which); every function   *|
|* returning int32_t returns 0 on success and a nonzero MIXQ_STATUS_* code    *|
|* otherwise, never aborting; strings are NUL-terminated and static.          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef MIXQ_RUNTIME_MODULEABI_H
#define MIXQ_RUNTIME_MODULEABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header. */
#define MIXQ_ABI_VERSION 2

#define MIXQ_STATUS_OK 0
#define MIXQ_STATUS_BAD_ARGUMENT 1 /* token id, position or count out of range */
#define MIXQ_STATUS_INTERNAL 2

/* A unit of parallel work: process [begin, end) of a range. */
typedef void (*mixq_task_fn)(void *args, int64_t begin, int64_t end);

/* What the runtime lends a module. parallel_for runs fn over [0, n) split
 * into contiguous chunks on the runtime's threads (the calling thread takes
 * part) and returns when every chunk is done; chunks never overlap. */
typedef struct mixq_runtime {
  void *ctx;
  void (*parallel_for)(void *ctx, int64_t n, mixq_task_fn fn, void *args);
} mixq_runtime;

/* The model's shape, as the module was compiled for it. */
typedef struct mixq_model_dims {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim;
  int64_t vocab_size, max_seq_len;
} mixq_model_dims;

/* Exported by every module. */
int32_t mixq_abi_version(void);
/* content_sha256 of the package the module was compiled for (64 hex). */
const char *mixq_package_sha256(void);
/* "x86-64:<cpu>" or "x86-64:<cpu>:+f1,+f2" (the vector extensions the
   module was compiled with) for CPU modules; "sm_80" or "sm_90a" for GPU
   modules. */
const char *mixq_target(void);
void mixq_get_model_dims(mixq_model_dims *dims);

/* The streams the module reads, in the order of the table passed to
 * prefill/decode: names "<tensor>:<stream>" as in the package. */
int64_t mixq_stream_count(void);
const char *mixq_stream_name(int64_t index);

/* Scratch bytes prefill needs for up to `max_tokens` tokens (decode needs
 * the value for 1). The runtime allocates it 64-byte aligned. */
int64_t mixq_scratch_bytes(int64_t max_tokens);

/* Runs tokens[0..n) at positions pos..pos+n-1: writes their keys/values into
 * the caches ([n_layers][max_seq_len][n_kv_heads][head_dim] f32 each) and
 * the logits of tokens first_logit..n-1 to those rows of logits
 * ([n][vocab_size] f32; the rows before first_logit are unspecified, and a
 * module may skip their classifier: a prompt needs only its last token's
 * logits, perplexity needs all). 0 <= first_logit < n. Positions 0..pos-1
 * must already be in the caches. (Version 2: first_logit is new.) */
int32_t mixq_prefill(const mixq_runtime *rt, const void *const *streams,
                     float *kcache, float *vcache, const int32_t *tokens,
                     int64_t n, int64_t pos, int64_t first_logit,
                     float *logits, void *scratch);

/* mixq_prefill for one token, with logits [vocab_size]. */
int32_t mixq_decode(const mixq_runtime *rt, const void *const *streams,
                    float *kcache, float *vcache, int32_t token, int64_t pos,
                    float *logits, void *scratch);

/* ---- GPU modules (mixq_target() is "sm_80" or "sm_90a") ------------------
 *
 * Same exports and signatures as above (mixq_abi_version() is 2), plus
 * mixq_gpu_abi_version(), which returns MIXQ_GPU_ABI_VERSION: the contract
 * below, implemented by runtime/ (CudaDriver, GpuRuntimeABI, GpuSession;
 * see runtime/README.md). Not yet run on a device.
 *
 * Pointers. `rt` is unused (may be NULL). `streams` is a HOST array of
 * mixq_stream_count() DEVICE pointers, one per package stream, each 16-byte
 * aligned and readable 16 bytes past its end (pad every stream to a multiple
 * of 16 bytes): kernels load 16 bytes at a time. kcache, vcache, tokens
 * (prefill), logits and scratch are DEVICE pointers, at least 16-byte
 * aligned (cuMemAlloc's 256 is fine). Token ids are not checked by the
 * module (a bad id reads a clamped row): the runtime checks them, as it
 * does today. pos and n are checked on the host (MIXQ_STATUS_BAD_ARGUMENT).
 *
 * Scratch. mixq_scratch_bytes(n) is one constant for every n: buffers are
 * planned for max_seq_len tokens (rounded up to 16).
 *
 * Execution. Each call creates one stream (mgpuStreamCreate), launches
 * every kernel on it in order, and synchronizes and destroys it before
 * returning; the caches and logits are complete when the call returns.
 *
 * Imports. The library leaves these symbols undefined; the process must
 * provide them (global symbols of the executable, or a library loaded
 * RTLD_GLOBAL) before it dlopens the module. Their signatures are those of
 * MLIR's CUDA runtime wrappers (CUmodule, CUfunction and CUstream as
 * void *):
 *
 *   void *mgpuModuleLoad(void *cubin, size_t size);     kernels as cubin
 *   void *mgpuModuleLoadJIT(void *ptx, int opt_level);  kernels as PTX
 *   void  mgpuModuleUnload(void *module);
 *   void *mgpuModuleGetFunction(void *module, const char *name);
 *   void *mgpuStreamCreate(void);
 *   void  mgpuStreamSynchronize(void *stream);
 *   void  mgpuStreamDestroy(void *stream);
 *   void  mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
 *                          intptr_t gridZ, intptr_t blockX, intptr_t blockY,
 *                          intptr_t blockZ, int32_t smem, void *stream,
 *                          void **params, void **extra, size_t paramCount);
 *
 * A cubin module (compiled where ptxas was found) imports mgpuModuleLoad, a
 * PTX module mgpuModuleLoadJIT. The kernel image is embedded in the library
 * and loaded by a constructor when the library is loaded (dlopen), unloaded
 * by a destructor: a CUDA context must be current, or made current by the
 * mgpu* functions themselves (as MLIR's wrappers do with the primary
 * context), at dlopen time and on every call. Kernel parameters are one
 * device pointer per buffer and 64-bit integers (bare-pointer ABI);
 * mgpuModuleGetFunction is called with the kernel's name before each
 * launch (cache it). */
#define MIXQ_GPU_ABI_VERSION 1
int32_t mixq_gpu_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MIXQ_RUNTIME_MODULEABI_H */
