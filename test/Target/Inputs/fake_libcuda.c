/* fake_libcuda.c - a stand-in for libcuda.so.1 on machines without a GPU:
 * the driver entry points mixq's runtime resolves (runtime/CudaDriver.h),
 * over host memory. Kernels do not run (a launch only counts), so logits
 * stay zero, but everything around them does: the module's constructor
 * loading its image, the weights' upload, the session's buffers, the
 * module's host code launching on its stream, the logits' copy back.
 * Controlled by the environment:
 *   FAKE_CUDA_CC=90        compute capability (major*10 + minor; default 90)
 *   FAKE_CUDA_FAIL=load    cuModuleLoadDataEx fails with a JIT log
 *   FAKE_CUDA_FAIL=launch  the 5th cuLaunchKernel fails
 *   FAKE_CUDA_FAIL=nodevice cuInit reports no device
 *   FAKE_CUDA_TRACE=tensormap  cuTensorMapEncodeTiled prints its arguments
 *                          to stderr (one line a call)
 * Build: clang-22 -shared -fPIC fake_libcuda.c -o libcuda.so.1
 * (-DFAKE_NO_TENSORMAP: a driver without cuTensorMapEncodeTiled, as before
 * CUDA 12) */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static int fails(const char *what) {
  const char *f = getenv("FAKE_CUDA_FAIL");
  return f && strcmp(f, what) == 0;
}

static int launches;

CUresult cuInit(unsigned flags) {
  (void)flags;
  return fails("nodevice") ? 100 : 0;
}
CUresult cuDriverGetVersion(int *v) { *v = 13000; return 0; }
CUresult cuGetErrorName(CUresult r, const char **s) {
  switch (r) {
  case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
  case 218: *s = "CUDA_ERROR_INVALID_PTX"; return 0;
  case 719: *s = "CUDA_ERROR_LAUNCH_FAILED"; return 0;
  }
  return 1;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
  switch (r) {
  case 100: *s = "no CUDA-capable device is detected"; return 0;
  case 218: *s = "a PTX JIT compilation failed"; return 0;
  case 719: *s = "unspecified launch failure"; return 0;
  }
  return 1;
}
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int i) { *d = i; return 0; }
CUresult cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  const char *cc = getenv("FAKE_CUDA_CC");
  int n = cc ? atoi(cc) : 90;
  *v = attr == 75 ? n / 10 : attr == 76 ? n % 10 : 0;
  return 0;
}
CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  strncpy(name, "mixq fake GPU", (size_t)len);
  return 0;
}
static int context;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  (void)d;
  *ctx = &context;
  return 0;
}
CUresult cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &context ? 0 : 201; }
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuMemGetInfo_v2(size_t *free_, size_t *total) {
  *free_ = *total = (size_t)1 << 34;
  return 0;
}
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  void *m = calloc(1, bytes + 256);
  if (!m)
    return 2;
  *p = (CUdeviceptr)(uintptr_t)m;
  return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) { free((void *)(uintptr_t)p); return 0; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *h, size_t n) {
  memcpy((void *)(uintptr_t)d, h, n);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *h, CUdeviceptr d, size_t n) {
  memcpy(h, (const void *)(uintptr_t)d, n);
  return 0;
}
CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, void *st) {
  (void)st;
  memcpy((void *)(uintptr_t)d, (const void *)(uintptr_t)s, n);
  return 0;
}
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
  unsigned *p = (unsigned *)(uintptr_t)d;
  for (size_t i = 0; i < n; ++i)
    p[i] = v;
  return 0;
}
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void *s) {
  (void)s;
  return cuMemsetD32_v2(d, v, n);
}
CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n,
                          void *s) {
  (void)s;
  unsigned short *p = (unsigned short *)(uintptr_t)d;
  for (size_t i = 0; i < n; ++i)
    p[i] = v;
  return 0;
}
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n,
                            int *options, void **values) {
  if (!image)
    return 1;
  if (fails("load")) {
    for (unsigned i = 0; i < n; ++i)
      if (options[i] == 5)
        strcpy((char *)values[i], "ptxas fatal: line 1: bad\nline 2: worse\n");
    return 218;
  }
  *m = malloc(16);
  return 0;
}
CUresult cuModuleUnload(void *m) { free(m); return 0; }
/* Function handles are interned names in a static table: nothing to free,
   so LeakSanitizer has nothing to report in the sanitized suite. */
static char functionNames[256][128];
static int functionCount;
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  (void)m;
  for (int i = 0; i < functionCount; ++i)
    if (strcmp(functionNames[i], name) == 0) {
      *f = functionNames[i];
      return 0;
    }
  if (functionCount == 256 || strlen(name) >= sizeof(functionNames[0]))
    return 1; /* CUDA_ERROR_INVALID_VALUE */
  strcpy(functionNames[functionCount], name);
  *f = functionNames[functionCount++];
  return 0;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  (void)smem, (void)stream, (void)extra;
  if (!f || !params || !gx || !gy || !gz || !bx || !by || !bz ||
      bx * by * bz > 1024)
    return 1;
  if (++launches == 5 && fails("launch"))
    return 719;
  return 0;
}
CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  *s = malloc(1);
  return 0;
}
CUresult cuStreamSynchronize(void *s) { (void)s; return 0; }
CUresult cuStreamDestroy_v2(void *s) { free(s); return 0; }

#ifndef FAKE_NO_TENSORMAP
/* The map's 128 bytes hold the arguments (so equal arguments give equal
   maps, which the runtime caches by their bytes). */
CUresult cuTensorMapEncodeTiled(void *map, int type, unsigned rank,
                                void *address, const unsigned long long *dim,
                                const unsigned long long *strides,
                                const unsigned *box, const unsigned *estrides,
                                int interleave, int swizzle, int l2, int oob) {
  if (!map || !address || rank < 1 || rank > 5)
    return 1;
  unsigned long long *words = (unsigned long long *)map;
  memset(map, 0, 128);
  words[0] = (unsigned long long)(uintptr_t)address;
  words[1] = (unsigned long long)type | (unsigned long long)rank << 8 |
             (unsigned long long)swizzle << 16 | (unsigned long long)oob << 24;
  for (unsigned i = 0; i < rank; ++i) {
    words[2 + i] = dim[i];
    words[7 + i] = (unsigned long long)box[i] << 32 | estrides[i];
    if (i + 1 < rank)
      words[12 + i] = strides[i];
  }
  const char *trace = getenv("FAKE_CUDA_TRACE");
  if (trace && strcmp(trace, "tensormap") == 0) {
    fprintf(stderr, "fake cuTensorMapEncodeTiled: type %d rank %u dims [",
            type, rank);
    for (unsigned i = 0; i < rank; ++i)
      fprintf(stderr, i ? ", %llu" : "%llu", dim[i]);
    fprintf(stderr, "] strides [");
    for (unsigned i = 0; i + 1 < rank; ++i)
      fprintf(stderr, i ? ", %llu" : "%llu", strides[i]);
    fprintf(stderr, "] box [");
    for (unsigned i = 0; i < rank; ++i)
      fprintf(stderr, i ? ", %u" : "%u", box[i]);
    fprintf(stderr, "] elementStrides [");
    for (unsigned i = 0; i < rank; ++i)
      fprintf(stderr, i ? ", %u" : "%u", estrides[i]);
    fprintf(stderr, "] interleave %d swizzle %d l2 %d oob %d aligned %d\n",
            interleave, swizzle, l2, oob,
            (int)((uintptr_t)address % 16 == 0));
  }
  return 0;
}
#endif
