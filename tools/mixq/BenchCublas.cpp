//===- BenchCublas.cpp - cuBLAS FP16 baseline of `mixq bench` -------------===//
//
// See BenchCublas.h.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchCublas.h"
#include "tools/mixq/Cublas.h"

#include "runtime/GpuContext.h"
#include "runtime/GpuMemory.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;
using namespace mixq::cuda;

namespace {

constexpr int64_t kMs[] = {1, 4, 16, 256, 512, 1024, 2048, 4096};
constexpr size_t kRotateBytes = size_t(256) << 20;
constexpr int kBatches = 5;

struct Shape {
  int64_t n, k;
};
// N x K: wq/wk/wv/wo, fused QKV, w1/w3, w2 of Llama-2-7B.
constexpr Shape kShapes[] = {
    {4096, 4096}, {12288, 4096}, {11008, 4096}, {4096, 11008}};

std::string label(int64_t n, int64_t k) { return formatv("{0}x{1}", n, k); }

/// The handle, stream and events of one run, released on every path.
struct Timer {
  GpuContext &gpu;
  const Cublas &blas;
  cublas::Handle handle = nullptr;
  CUstream stream = nullptr;
  CUevent start = nullptr, stop = nullptr;

  ~Timer() {
    const CudaDriver &d = gpu.driver();
    if (handle)
      (void)blas.destroy(handle);
    if (start)
      (void)d.eventDestroy(start);
    if (stop)
      (void)d.eventDestroy(stop);
    if (stream)
      (void)d.streamDestroy(stream);
  }

  Error init() {
    const CudaDriver &d = gpu.driver();
    if (Error e = blas.check(blas.create(&handle), "cublasCreate_v2"))
      return e;
    if (Error e = gpu.check(d.streamCreate(&stream, CU_STREAM_DEFAULT),
                            "cuStreamCreate"))
      return e;
    if (Error e = blas.check(blas.setStream(handle, stream),
                             "cublasSetStream_v2"))
      return e;
    if (Error e = gpu.check(d.eventCreate(&start, CU_EVENT_DEFAULT),
                            "cuEventCreate"))
      return e;
    return gpu.check(d.eventCreate(&stop, CU_EVENT_DEFAULT), "cuEventCreate");
  }

  /// Microseconds per Y[m][n] = X[m][k] W[n][k]^T: the median of kBatches
  /// batches after one warm-up batch.
  Expected<double> time(Shape s, int64_t m) {
    const CudaDriver &d = gpu.driver();
    const size_t wBytes = size_t(s.n * s.k) * 2;
    const size_t copies = std::max<size_t>(1, kRotateBytes / wBytes + 1);
    auto fill = [&](DeviceBuffer &b, size_t bytes, unsigned pair,
                    const char *what) -> Error {
      Expected<DeviceBuffer> a = DeviceBuffer::allocate(gpu, bytes, what);
      if (!a)
        return a.takeError();
      b = std::move(*a);
      return gpu.check(d.memsetD32(b.address(), pair, bytes / 4),
                       "cuMemsetD32");
    };
    // FP16 0.1 weights and 1.0 inputs: sums stay far from FP16's range.
    DeviceBuffer w, x, y;
    if (Error e = fill(w, wBytes * copies, 0x2E662E66u, "cuBLAS weights"))
      return std::move(e);
    if (Error e = fill(x, size_t(m * s.k) * 2, 0x3C003C00u, "cuBLAS inputs"))
      return std::move(e);
    if (Error e = fill(y, size_t(m * s.n) * 2, 0, "cuBLAS outputs"))
      return std::move(e);
    const float alpha = 1.0f, beta = 0.0f;
    const int reps = m <= 16 ? 50 : 5;
    std::string call = formatv("cublasGemmEx (N x K = {0}, M = {1})",
                               label(s.n, s.k), m);
    size_t next = 0;
    std::vector<double> us;
    for (int batch = 0; batch <= kBatches; ++batch) {
      if (Error e = gpu.check(d.eventRecord(start, stream), "cuEventRecord"))
        return std::move(e);
      for (int r = 0; r < reps; ++r) {
        const char *weights =
            static_cast<const char *>(w.get()) + (next++ % copies) * wBytes;
        // Column-major: Y^T (N x M) = op(W) (W row-major is K x N column-
        // major, so transposed) times X^T (K x M, X row-major).
        if (Error e = blas.check(
                blas.gemmEx(handle, cublas::CUBLAS_OP_T, cublas::CUBLAS_OP_N,
                            int(s.n), int(m), int(s.k), &alpha, weights,
                            cublas::CUDA_R_16F, int(s.k), x.get(),
                            cublas::CUDA_R_16F, int(s.k), &beta, y.get(),
                            cublas::CUDA_R_16F, int(s.n),
                            cublas::CUBLAS_COMPUTE_32F,
                            cublas::CUBLAS_GEMM_DEFAULT),
                call))
          return std::move(e);
      }
      if (Error e = gpu.check(d.eventRecord(stop, stream), "cuEventRecord"))
        return std::move(e);
      if (Error e = gpu.check(d.eventSynchronize(stop), "cuEventSynchronize"))
        return std::move(e);
      float ms = 0;
      if (Error e = gpu.check(d.eventElapsedTime(&ms, start, stop),
                              "cuEventElapsedTime"))
        return std::move(e);
      if (batch > 0) // the first batch warms up
        us.push_back(double(ms) * 1000.0 / reps);
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  }
};

double weightGbs(const CublasTiming &t) {
  return double(t.n * t.k) * 2 / (t.us * 1e3);
}
double tflops(const CublasTiming &t) {
  return 2.0 * double(t.m * t.n * t.k) / (t.us * 1e6);
}

} // namespace

CublasBench mixq::cli::benchCublasFp16(const LlamaConfig &config) {
  CublasBench b;
  Expected<GpuContext &> gpu = GpuContext::get();
  if (!gpu) {
    b.skipped = "no GPU: " + toString(gpu.takeError());
    return b;
  }
  b.device = gpu->description();
  if (std::string missing = gpu->driver().missingEventCall();
      !missing.empty()) {
    b.skipped = missing + " (CUDA events time the products)";
    return b;
  }
  Expected<Cublas> blas = Cublas::load();
  if (!blas) {
    b.skipped = toString(blas.takeError());
    return b;
  }
  b.library = blas->library;
  Timer timer{*gpu, *blas};
  if (Error e = timer.init()) {
    b.skipped = toString(std::move(e));
    return b;
  }
  for (Shape s : kShapes)
    for (int64_t m : kMs) {
      Expected<double> us = timer.time(s, m);
      if (!us) {
        b.skipped = toString(us.takeError());
        return b;
      }
      b.timings.push_back({s.n, s.k, m, *us});
    }
  // One decode step's products: per layer wq, wk, wv, wo (dim x dim; the
  // 7B config has as many KV heads as heads), w1, w3 (hidden x dim), w2
  // (dim x hidden); then the classifier (vocab x dim).
  const int64_t kvDim = config.dim / config.nHeads * config.nKvHeads;
  const Shape layer[] = {{config.dim, config.dim},       {kvDim, config.dim},
                         {kvDim, config.dim},            {config.dim, config.dim},
                         {config.hiddenDim, config.dim}, {config.hiddenDim, config.dim},
                         {config.dim, config.hiddenDim}};
  double step = 0;
  for (Shape s : layer) {
    Expected<double> us = timer.time(s, 1);
    if (!us) {
      b.skipped = toString(us.takeError());
      return b;
    }
    step += *us * double(config.nLayers);
  }
  Expected<double> head = timer.time({config.vocabSize, config.dim}, 1);
  if (!head) {
    b.skipped = toString(head.takeError());
    return b;
  }
  b.decodeStepUs = step + *head;
  return b;
}

json::Value
mixq::cli::toJSON(const CublasBench &b,
                  ArrayRef<std::pair<std::string, double>> decodeTps) {
  json::Object o;
  if (!b.skipped.empty())
    o["skipped"] = b.skipped;
  if (!b.library.empty())
    o["library"] = b.library;
  if (!b.device.empty())
    o["device"] = b.device;
  json::Array shapes;
  for (const CublasTiming &t : b.timings)
    shapes.push_back(json::Object{{"shape", label(t.n, t.k)},
                                  {"n", t.n},
                                  {"k", t.k},
                                  {"m", t.m},
                                  {"us", t.us},
                                  {"weight_gbs", weightGbs(t)},
                                  {"tflops", tflops(t)}});
  if (!shapes.empty())
    o["shapes"] = std::move(shapes);
  if (b.decodeStepUs) {
    o["decode_step_us"] = *b.decodeStepUs;
    json::Object ratios;
    for (const auto &[format, tps] : decodeTps)
      if (tps > 0)
        ratios[format] = *b.decodeStepUs / (1e6 / tps);
    o["decode_vs_cublas"] = std::move(ratios);
  }
  return json::Value(std::move(o));
}

void mixq::cli::printCublas(const CublasBench &b,
                            ArrayRef<std::pair<std::string, double>> decodeTps,
                            raw_ostream &os) {
  os << "\ncuBLAS FP16 (cublasGemmEx, FP32 compute)";
  if (!b.library.empty())
    os << formatv(": {0} on {1}", b.library, b.device);
  os << "\n";
  if (!b.timings.empty()) {
    os << formatv("{0,-11} {1,5} {2,10} {3,10} {4,8}\n", "N x K", "M", "us",
                  "weight GB/s", "TFLOP/s");
    for (const CublasTiming &t : b.timings)
      os << formatv("{0,-11} {1,5} {2,10:f1} {3,10:f1} {4,8:f1}\n",
                    label(t.n, t.k), t.m, t.us, weightGbs(t), tflops(t));
  }
  if (b.decodeStepUs) {
    os << formatv("FP16 decode step, cuBLAS products only: {0:f1} us\n",
                  *b.decodeStepUs);
    for (const auto &[format, tps] : decodeTps)
      if (tps > 0)
        os << formatv("  {0,-10} decode step {1:f1} us: {2:f2}x cuBLAS "
                      "FP16\n",
                      format, 1e6 / tps, *b.decodeStepUs / (1e6 / tps));
  }
  if (!b.skipped.empty())
    os << "skipped: " << b.skipped << "\n";
}
