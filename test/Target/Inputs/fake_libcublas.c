/* fake_libcublas.c - a stand-in for libcublas.so for `mixq bench`'s FP16
 * baseline (tools/mixq/BenchCublas.h) on machines without a GPU: the four
 * entry points it resolves. cublasGemmEx computes nothing; it checks the
 * call that Y[M][N] = X[M][K] W[N][K]^T must be in column-major terms
 * (op(A) = W^T with lda = K, B = X with ldb = K, C with ldc = N, FP16
 * A/B/C, FP32 compute, the default algorithm, a handle with a stream) and
 * fails with CUBLAS_STATUS_INVALID_VALUE (7) otherwise.
 * FAKE_CUBLAS_FAIL=create: cublasCreate_v2 fails (NOT_INITIALIZED, 1).
 * Build: clang-22 -shared -fPIC fake_libcublas.c -o libcublas.so */
#include <stdlib.h>
#include <string.h>

struct handle {
  void *stream;
};

int cublasCreate_v2(struct handle **h) {
  const char *f = getenv("FAKE_CUBLAS_FAIL");
  if (f && strcmp(f, "create") == 0)
    return 1;
  *h = (struct handle *)calloc(1, sizeof(struct handle));
  return *h ? 0 : 3; /* CUBLAS_STATUS_ALLOC_FAILED */
}
int cublasDestroy_v2(struct handle *h) {
  free(h);
  return 0;
}
int cublasSetStream_v2(struct handle *h, void *stream) {
  if (!h)
    return 1;
  h->stream = stream;
  return 0;
}
const char *cublasGetStatusName(int status) {
  switch (status) {
  case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
  case 7: return "CUBLAS_STATUS_INVALID_VALUE";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
int cublasGemmEx(struct handle *h, int transa, int transb, int m, int n,
                 int k, const void *alpha, const void *a, int atype, int lda,
                 const void *b, int btype, int ldb, const void *beta, void *c,
                 int ctype, int ldc, int compute, int algo) {
  if (!h || !h->stream || !alpha || !beta || !a || !b || !c)
    return 7;
  if (*(const float *)alpha != 1.0f || *(const float *)beta != 0.0f)
    return 7;
  if (transa != 1 || transb != 0 || m < 1 || n < 1 || k < 1 || lda != k ||
      ldb != k || ldc != m)
    return 7;
  if (atype != 2 || btype != 2 || ctype != 2 || compute != 68 || algo != -1)
    return 7;
  return 0;
}
