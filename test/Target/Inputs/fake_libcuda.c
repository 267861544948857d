/* fake_libcuda.c - a stand-in for libcuda.so.1 on machines without a GPU:
 * the driver entry points mixq's runtime resolves (runtime/CudaDriver.h),
 * over host memory. Kernels do not run (a launch only counts), so logits
 * stay zero, but everything around them does: the module's constructor
 * loading its image, the weights' upload, the session's buffers, the
 * module's host code launching on its stream, the logits' copy back.
 * CUDA graphs: launches on a stream under capture are recorded into its
 * graph instead of running; an exec (instantiated or updated from a graph)
 * runs its recorded launches, in order, when launched. As in the driver,
 * during a capture a synchronization of the captured stream, cuMemAlloc,
 * cuMemFree or work on the legacy default stream fails and invalidates the
 * capture (cuStreamEndCapture then fails), and an update is refused when
 * the kernels differ.
 * Controlled by the environment:
 *   FAKE_CUDA_CC=90        compute capability (major*10 + minor; default 90)
 *   FAKE_CUDA_FAIL=load    cuModuleLoadDataEx fails with a JIT log
 *   FAKE_CUDA_FAIL=launch  the 5th kernel to run fails (kernels run at
 *                          cuLaunchKernel, or at cuGraphLaunch for those
 *                          captured)
 *   FAKE_CUDA_FAIL=graphlaunch  the 5th kernel run by cuGraphLaunch fails
 *   FAKE_CUDA_FAIL=nodevice cuInit reports no device
 *   FAKE_CUDA_FAIL=update  cuGraphExecUpdate_v2 refuses every update
 *   FAKE_CUDA_TRACE=a,b,...  one line a call to stderr, for each named:
 *     tensormap  cuTensorMapEncodeTiled and its arguments
 *     graph      the capture and graph calls
 *     kernels    each kernel as it runs (name, grid, block, shared bytes)
 * Build: clang-22 -shared -fPIC fake_libcuda.c -o libcuda.so.1
 * (-DFAKE_NO_TENSORMAP: a driver without cuTensorMapEncodeTiled, as before
 * CUDA 12; -DFAKE_NO_GRAPH: one without the CUDA graph calls;
 * -DFAKE_NO_EVENTS: one without events). Events time nothing: every
 * cuEventElapsedTime is 1 ms. */
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

static int traces(const char *what) {
  const char *t = getenv("FAKE_CUDA_TRACE");
  size_t n = strlen(what);
  while (t && *t) {
    const char *end = strchr(t, ',');
    size_t len = end ? (size_t)(end - t) : strlen(t);
    if (len == n && strncmp(t, what, n) == 0)
      return 1;
    t = end ? end + 1 : NULL;
  }
  return 0;
}

static int launches;

/* A kernel launch (functions are their interned names, see below). */
struct launch {
  void *f;
  unsigned grid[3], block[3], smem;
};
/* A graph or an exec: its launches in order. */
struct graph {
  int count, capacity;
  struct launch *launches;
};
/* The stream under capture (null: none), its graph so far, and whether a
   forbidden call invalidated it. */
static void *capturing;
static struct graph *captured;
static int captureInvalid;

/* Work the capture forbids: 900 CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
   906 CUDA_ERROR_STREAM_CAPTURE_IMPLICIT (the legacy default stream). */
static CUresult invalidate(CUresult why, const char *call) {
  captureInvalid = 1;
  if (traces("graph"))
    fprintf(stderr, "fake %s: not allowed during a capture\n", call);
  return why;
}

static CUresult runLaunch(const struct launch *l) {
  if (++launches == 5 && fails("launch"))
    return 719;
  if (traces("kernels"))
    fprintf(stderr, "fake kernel %s grid %u,%u,%u block %u,%u,%u smem %u\n",
            (const char *)l->f, l->grid[0], l->grid[1], l->grid[2],
            l->block[0], l->block[1], l->block[2], l->smem);
  return 0;
}

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
  case 900: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; return 0;
  case 901: *s = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; return 0;
  case 906: *s = "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"; return 0;
  case 910: *s = "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE"; return 0;
  }
  return 1;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
  switch (r) {
  case 100: *s = "no CUDA-capable device is detected"; return 0;
  case 218: *s = "a PTX JIT compilation failed"; return 0;
  case 719: *s = "unspecified launch failure"; return 0;
  case 900: *s = "operation not permitted when stream is capturing"; return 0;
  case 901: *s = "operation failed due to a previous error during capture";
    return 0;
  case 906: *s = "operation would make the legacy stream depend on a "
                 "capturing blocking stream";
    return 0;
  case 910: *s = "the graph update was not performed because it included "
                 "changes which violated constraints specific to instantiated "
                 "graph update";
    return 0;
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
  if (capturing)
    return invalidate(900, "cuMemAlloc_v2");
  void *m = calloc(1, bytes + 256);
  if (!m)
    return 2;
  *p = (CUdeviceptr)(uintptr_t)m;
  return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  if (capturing)
    return invalidate(900, "cuMemFree_v2");
  free((void *)(uintptr_t)p);
  return 0;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *h, size_t n) {
  if (capturing)
    return invalidate(906, "cuMemcpyHtoD_v2");
  memcpy((void *)(uintptr_t)d, h, n);
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *h, CUdeviceptr d, size_t n) {
  if (capturing)
    return invalidate(906, "cuMemcpyDtoH_v2");
  memcpy(h, (const void *)(uintptr_t)d, n);
  return 0;
}
CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, void *st) {
  (void)st;
  memcpy((void *)(uintptr_t)d, (const void *)(uintptr_t)s, n);
  return 0;
}
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
  if (capturing)
    return invalidate(906, "cuMemsetD32_v2");
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
  (void)extra;
  if (!f || !params || !gx || !gy || !gz || !bx || !by || !bz ||
      bx * by * bz > 1024)
    return 1;
  struct launch l = {f, {gx, gy, gz}, {bx, by, bz}, smem};
  if (capturing && !stream)
    return invalidate(906, "cuLaunchKernel (legacy default stream)");
  if (!capturing || stream != capturing)
    return runLaunch(&l);
  if (captured->count == captured->capacity) {
    int capacity = captured->capacity ? 2 * captured->capacity : 64;
    struct launch *more = (struct launch *)realloc(
        captured->launches, (size_t)capacity * sizeof(struct launch));
    if (!more)
      return 2;
    captured->launches = more;
    captured->capacity = capacity;
  }
  captured->launches[captured->count++] = l;
  return 0;
}
CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  *s = malloc(1);
  return 0;
}
CUresult cuStreamSynchronize(void *s) {
  if (capturing && (s == capturing || !s))
    return invalidate(900, "cuStreamSynchronize");
  return 0;
}
CUresult cuStreamDestroy_v2(void *s) {
  if (s && s == capturing)
    return invalidate(900, "cuStreamDestroy_v2");
  free(s);
  return 0;
}

#ifndef FAKE_NO_GRAPH
static void freeGraph(struct graph *g) {
  if (g)
    free(g->launches);
  free(g);
}
/* A copy of `g` (an exec instantiated from it); null when out of memory. */
static struct graph *copyGraph(const struct graph *g) {
  struct graph *c = (struct graph *)calloc(1, sizeof(struct graph));
  if (!c)
    return NULL;
  c->count = c->capacity = g->count;
  c->launches =
      (struct launch *)malloc((size_t)(g->count + 1) * sizeof(struct launch));
  if (!c->launches) {
    free(c);
    return NULL;
  }
  if (g->count)
    memcpy(c->launches, g->launches, (size_t)g->count * sizeof(struct launch));
  return c;
}
CUresult cuStreamBeginCapture_v2(void *s, int mode) {
  if (!s || capturing)
    return 1;
  captured = (struct graph *)calloc(1, sizeof(struct graph));
  if (!captured)
    return 2;
  capturing = s;
  captureInvalid = 0;
  if (traces("graph"))
    fprintf(stderr, "fake cuStreamBeginCapture_v2 mode %d\n", mode);
  return 0;
}
CUresult cuStreamEndCapture(void *s, void **graph) {
  if (!capturing || s != capturing)
    return 1;
  capturing = NULL;
  if (captureInvalid) {
    freeGraph(captured);
    captured = NULL;
    *graph = NULL;
    if (traces("graph"))
      fprintf(stderr, "fake cuStreamEndCapture: invalidated\n");
    return 901; /* CUDA_ERROR_STREAM_CAPTURE_INVALIDATED */
  }
  *graph = captured;
  if (traces("graph"))
    fprintf(stderr, "fake cuStreamEndCapture: %d launches\n",
            captured->count);
  captured = NULL;
  return 0;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                     unsigned long long flags) {
  if (!exec || !graph || flags)
    return 1;
  *exec = copyGraph((const struct graph *)graph);
  if (!*exec)
    return 2;
  if (traces("graph"))
    fprintf(stderr, "fake cuGraphInstantiateWithFlags: %d launches\n",
            ((struct graph *)graph)->count);
  return 0;
}
/* cuda.h's CUgraphExecUpdateResultInfo. */
struct updateInfo {
  int result;
  void *errorNode, *errorFromNode;
};
CUresult cuGraphExecUpdate_v2(void *exec, void *graph,
                              struct updateInfo *info) {
  struct graph *e = (struct graph *)exec, *g = (struct graph *)graph;
  if (!e || !g || !info)
    return 1;
  memset(info, 0, sizeof(*info));
  /* 2 CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, 4 ..._FUNCTION_CHANGED */
  int refused = fails("update") ? 2 : e->count != g->count ? 2 : 0;
  for (int i = 0; !refused && i < g->count; ++i)
    if (e->launches[i].f != g->launches[i].f)
      refused = 4;
  if (refused) {
    info->result = refused;
    if (traces("graph"))
      fprintf(stderr, "fake cuGraphExecUpdate_v2: refused (%d)\n", refused);
    return 910; /* CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE */
  }
  if (g->count)
    memcpy(e->launches, g->launches, (size_t)g->count * sizeof(struct launch));
  if (traces("graph"))
    fprintf(stderr, "fake cuGraphExecUpdate_v2: %d launches\n", g->count);
  return 0;
}
CUresult cuGraphLaunch(void *exec, void *s) {
  struct graph *e = (struct graph *)exec;
  if (!e || capturing)
    return 1;
  (void)s;
  if (traces("graph"))
    fprintf(stderr, "fake cuGraphLaunch: %d launches\n", e->count);
  static int graphLaunches;
  for (int i = 0; i < e->count; ++i) {
    if (++graphLaunches == 5 && fails("graphlaunch"))
      return 719;
    CUresult r = runLaunch(&e->launches[i]);
    if (r)
      return r;
  }
  return 0;
}
CUresult cuGraphDestroy(void *graph) {
  if (!graph)
    return 1;
  freeGraph((struct graph *)graph);
  if (traces("graph"))
    fprintf(stderr, "fake cuGraphDestroy\n");
  return 0;
}
CUresult cuGraphExecDestroy(void *exec) {
  if (!exec)
    return 1;
  freeGraph((struct graph *)exec);
  if (traces("graph"))
    fprintf(stderr, "fake cuGraphExecDestroy\n");
  return 0;
}
#endif

#ifndef FAKE_NO_EVENTS
CUresult cuEventCreate(void **event, unsigned flags) {
  (void)flags;
  *event = malloc(1);
  return *event ? 0 : 2;
}
CUresult cuEventRecord(void *event, void *s) {
  (void)s;
  return event ? 0 : 1;
}
CUresult cuEventSynchronize(void *event) { return event ? 0 : 1; }
CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
  if (!start || !end)
    return 1;
  *ms = 1.0f;
  return 0;
}
CUresult cuEventDestroy_v2(void *event) {
  free(event);
  return 0;
}
#endif

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
  if (traces("tensormap")) {
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
