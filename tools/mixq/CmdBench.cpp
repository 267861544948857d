//===- CmdBench.cpp - `mixq bench`: CPU kernels and end-to-end speed ------===//
//
//   mixq bench [--threads N] [--json FILE|-] [--work DIR] [--keep]
//              [--formats f16,uniform-4,...] [--decode-steps N] [--skip-7b]
//              [--model stories15M.bin] [--package PKG] [--tokenizer FILE]
//              [--llama-bench PATH --llama-model A.gguf,B.gguf]
//              [--target sm_80|sm_90a]
//
// Speeds are measured in one process and reported against baselines
// measured in the same run:
//   1. memory read bandwidth (BenchBandwidth.h), the ceiling of a GEMV,
//      measured at the start (best of 5) and again before each of a
//      format's CPU decode steps (one pass); a format's shares of the
//      bandwidth are against the median of those passes;
//      and where unpacking makes a GEMV compute-bound, the ceiling its
//      instruction count allows (BenchPeak.h: each AVX2 kernel family's
//      per-weight sequence timed from L1 on the same threads), shown
//      per shape as "peak" GB/s and the kernel's share of it. The peaks
//      are measured at the start, and again after each of a format's
//      decode steps (one run of each sequence); a format's peak is the
//      median of those, beside its kernels' medians over the same steps (a
//      shared VM's speed moves by a third within minutes, so a peak from
//      the start of the run compared a kernel with another moment's
//      machine);
//   2. for each weight format (BenchWeights.h), a synthetic Llama-2-7B-shaped
//      package of 2 layers is written to the work directory, compiled
//      (CompilePackage.h) and run: a warm-up prefill, a timed 64-token
//      prefill, then --decode-steps decode steps with the session's profile
//      on. A decode step runs 8 parallel sections per layer (wq, wk, wv,
//      attention, wo, w1, w3, w2)
//      and the classifier; each weight shape's time is the median over steps
//      and weights, reported with its bytes, GB/s and share of the bandwidth,
//      and as a speedup over the fp32 and f16 baselines;
//   3. stories15M: a compiled --package against the fp32 reference engine on
//      the llama2.c checkpoint (--model), prefill 64 and decode 128 tokens
//      per round, each round's timed prefill after a warm-up one (as
//      llama-bench warms up before each test, and a round follows
//      llama.cpp's run, which leaves the caches cold);
//      on the CPU each decode step is split by the session profile into the
//      decoder's products, attention, the classifier and the time outside
//      the parallel sections;
//   4. optionally llama.cpp's llama-bench on GGUF files, side by side with
//      mixq's stories15M numbers.
// --target=sm_80|sm_90a compiles the stories15M package and the
// Llama-2-7B-shaped packages for that NVIDIA GPU and times them there
// (runtime/Session.h runs GPU modules): end-to-end prefill (after a warm-up
// prefill that uploads the weights) and decode tokens/s per format, beside
// the f16 and fp32 packages compiled the same way. The per-shape GEMV times
// (2.) attribute time to the CPU module's parallel sections and are CPU
// only (on a GPU, per-kernel times come from nsys or ncu); beside them,
// cuBLAS FP16 products on the Llama-2-7B shapes, timed with CUDA events in
// the same run, and each format's decode step against cuBLAS's
// (BenchCublas.h; "cublas": {"skipped": ...} without a GPU or cuBLAS).
// A table goes to stdout (progress to stderr); --json FILE writes the same
// results as JSON (atomically), --json - prints the JSON instead of the
// table.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/BenchBandwidth.h"
#include "tools/mixq/BenchCublas.h"
#include "tools/mixq/BenchPeak.h"
#include "tools/mixq/BenchWeights.h"
#include "tools/mixq/Command.h"
#include "tools/mixq/CompilePackage.h"
#include "tools/mixq/Fetch.h"
#include "tools/mixq/ReferenceModel.h"

#include "model/MappedFile.h"
#include "model/Package.h"
#include "runtime/CompiledModule.h"
#include "runtime/Session.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <thread>

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand benchCommand("bench",
                            "Benchmark kernels and end-to-end decode");
cl::opt<unsigned> threads("threads",
                          cl::desc("Threads (0 = one per hardware thread)"),
                          cl::init(2), cl::sub(benchCommand),
                          cl::cat(category()));
cl::opt<std::string> jsonPath("json",
                              cl::desc("Write the results as JSON to FILE "
                                       "('-': print JSON instead of the "
                                       "table)"),
                              cl::value_desc("file"), cl::init(""),
                              cl::sub(benchCommand), cl::cat(category()));
cl::opt<std::string> workPath("work",
                              cl::desc("Directory for the synthetic packages "
                                       "and modules (default: a new one in "
                                       "the temp directory, removed at the "
                                       "end)"),
                              cl::value_desc("dir"), cl::init(""),
                              cl::sub(benchCommand), cl::cat(category()));
cl::opt<bool> keepFiles("keep",
                        cl::desc("Keep the packages and modules written to "
                                 "the work directory"),
                        cl::init(false), cl::sub(benchCommand),
                        cl::cat(category()));
cl::opt<int> decodeSteps("decode-steps",
                         cl::desc("Decode steps per Llama-2-7B-shaped format"),
                         cl::init(32), cl::sub(benchCommand),
                         cl::cat(category()));
cl::opt<std::string> modelPath("model",
                               cl::desc("llama2.c stories15M.bin (default: "
                                        "$MIXQ_HOME/stories15M.bin, else "
                                        "~/.cache/mixq/stories15M.bin)"),
                               cl::value_desc("path"), cl::init(""),
                               cl::sub(benchCommand), cl::cat(category()));
cl::opt<std::string> packagePath("package",
                                 cl::desc("A mixq package of stories15M to "
                                          "compile and time"),
                                 cl::value_desc("path"), cl::init(""),
                                 cl::sub(benchCommand), cl::cat(category()));
cl::opt<std::string> tokenizerPath("tokenizer",
                                   cl::desc("Tokenizer embedded in the "
                                            "synthetic packages and used with "
                                            "--model (default: tokenizer.bin "
                                            "beside --model)"),
                                   cl::value_desc("path"), cl::init(""),
                                   cl::sub(benchCommand), cl::cat(category()));
cl::opt<std::string> llamaBenchPath("llama-bench",
                                    cl::desc("llama.cpp's llama-bench, run "
                                             "on each --llama-model"),
                                    cl::value_desc("path"), cl::init(""),
                                    cl::sub(benchCommand),
                                    cl::cat(category()));
cl::list<std::string> llamaModels("llama-model",
                                  cl::desc("GGUF file(s) for llama-bench "
                                           "(repeat or comma-separate)"),
                                  cl::value_desc("gguf"), cl::CommaSeparated,
                                  cl::ZeroOrMore, cl::sub(benchCommand),
                                  cl::cat(category()));
cl::opt<int> rounds("rounds",
                    cl::desc("stories15M: rounds of (mixq, llama.cpp) runs, "
                             "alternating; medians are reported"),
                    cl::init(3), cl::sub(benchCommand), cl::cat(category()));
cl::list<std::string> formatList("formats",
                                 cl::desc("Weight formats to run (default: "
                                          "all): fp32, f16, uniform-4, "
                                          "uniform-3, uniform-2, mixed, "
                                          "lut-3, quik-4"),
                                 cl::value_desc("list"), cl::CommaSeparated,
                                 cl::ZeroOrMore, cl::sub(benchCommand),
                                 cl::cat(category()));
cl::opt<bool> skip7b("skip-7b",
                     cl::desc("Skip the Llama-2-7B-shaped kernels"),
                     cl::init(false), cl::sub(benchCommand),
                     cl::cat(category()));

cl::opt<std::string> benchTarget(
    "target",
    cl::desc("cpu (default), or sm_80|sm_90a: compile the stories15M "
             "--package and the Llama-2-7B-shaped models for that NVIDIA GPU "
             "and time them there, end to end (the per-shape GEMV timings "
             "are CPU only)"),
    cl::value_desc("target"), cl::init("cpu"), cl::sub(benchCommand),
    cl::cat(category()));

cl::opt<std::string> benchCpuFeatures(
    "cpu-features",
    cl::desc("Extra x86 features of the compiled CPU modules, as mixq "
             "compile's (e.g. -avx512f: on an AVX-512 host, the AVX2 kernels, "
             "the ones the instruction-count peaks measure)"),
    cl::value_desc("features"), cl::init(""), cl::sub(benchCommand),
    cl::cat(category()));

cl::opt<unsigned> layers7b(
    "layers-7b",
    cl::desc("Layers of the synthetic Llama-2-7B-shaped models (default 2; "
             "32 is the real model's depth, ~2.5 GB per package at 2.91 bpw)"),
    cl::init(2), cl::sub(benchCommand), cl::cat(category()));
/// The CPU the modules are compiled for: this host's, with --cpu-features.
HostTarget cpuTarget() { return HostTarget{"native", benchCpuFeatures}; }

/// Whether modules compiled for `target` use AVX-512 (the last of its
/// features that names avx512f says).
Expected<bool> targetUsesAvx512(const HostTarget &target) {
  auto resolved = resolveHostTarget(target);
  if (!resolved)
    return resolved.takeError();
  return featureIsOn(resolved->features, "avx512f");
}

/// Tokens of every prefill, decode steps of the stories15M runs.
constexpr int64_t kPrefillTokens = 64;
constexpr int64_t kStoriesDecode = 128;
/// Seed of the synthetic weights.
constexpr uint64_t kWeightSeed = 20240601;

/// A decode step's parallel sections per layer, in order, as -mixq-lower-cpu
/// makes them: each names the linear roles it computes ("layers.<l>." +
/// role + ".weight"); attention computes none.
struct Section {
  const char *name;
  std::vector<const char *> roles;
};
using SectionLayout = std::vector<Section>;
/// Products that read one input run as one section (emitParallelBatch):
/// q, k and v; gate and up.
const SectionLayout kBatchedSections = {
    {"wq+wk+wv", {"attention.wq", "attention.wk", "attention.wv"}},
    {"attention", {}},
    {"wo", {"attention.wo"}},
    {"w1+w3", {"feed_forward.w1", "feed_forward.w3"}},
    {"w2", {"feed_forward.w2"}},
};
/// One section a product, where something runs between them (a LUT
/// product's CSR outliers, mixq.sparse_add).
const SectionLayout kSeparateSections = {
    {"wq", {"attention.wq"}},    {"wk", {"attention.wk"}},
    {"wv", {"attention.wv"}},    {"attention", {}},
    {"wo", {"attention.wo"}},    {"w1", {"feed_forward.w1"}},
    {"w3", {"feed_forward.w3"}}, {"w2", {"feed_forward.w2"}},
};

/// The layout under which a step of `layers` layers runs `sections`
/// parallel sections (the classifier last), or null.
const SectionLayout *sectionLayout(size_t sections, int64_t layers) {
  for (const SectionLayout *l : {&kBatchedSections, &kSeparateSections})
    if (sections == l->size() * size_t(layers) + 1)
      return l;
  return nullptr;
}

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

Error benchError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

void progress(const Twine &message) {
  errs() << "bench: " << message << "\n";
  errs().flush();
}

void warn(const Twine &message) {
  WithColor::warning(errs(), "mixq") << message << "\n";
}

/// The CPU's marketing name from /proc/cpuinfo, else LLVM's CPU name.
std::string cpuName() {
  auto buffer = MemoryBuffer::getFileAsStream("/proc/cpuinfo");
  if (buffer) {
    SmallVector<StringRef, 0> lines;
    (*buffer)->getBuffer().split(lines, '\n');
    for (StringRef line : lines)
      if (line.starts_with("model name")) {
        auto [key, value] = line.split(':');
        if (!value.trim().empty())
          return value.trim().str();
      }
  }
  return sys::getHostCPUName().str();
}

std::string utcDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

/// The work directory: files written there are removed at the end (and the
/// directory too when bench created it) unless --keep.
class WorkDir {
public:
  static Expected<std::unique_ptr<WorkDir>> create(StringRef requested,
                                                   bool keep) {
    std::unique_ptr<WorkDir> w(new WorkDir());
    w->keep_ = keep;
    if (requested.empty()) {
      SmallString<256> dir;
      if (std::error_code ec = sys::fs::createUniqueDirectory("mixq-bench",
                                                              dir))
        return benchError("cannot create a work directory in the temp "
                          "directory: " +
                          ec.message());
      w->path_ = dir.str().str();
      w->created_ = true;
    } else {
      if (std::error_code ec = sys::fs::create_directories(requested))
        return fileError(requested, "cannot create the work directory: " +
                                        ec.message());
      w->path_ = requested.str();
    }
    return std::move(w);
  }
  ~WorkDir() {
    if (keep_)
      return;
    for (const std::string &f : files_)
      sys::fs::remove(f);
    if (created_)
      sys::fs::remove_directories(path_);
  }
  const std::string &path() const { return path_; }
  /// A path in the directory, removed at the end unless --keep.
  std::string file(StringRef name) {
    SmallString<256> p(path_);
    sys::path::append(p, name);
    files_.push_back(p.str().str());
    return files_.back();
  }
  /// Removes `file` now (unless --keep), to bound the disk space used.
  void release(StringRef file) {
    if (!keep_)
      sys::fs::remove(file);
  }
  bool keep() const { return keep_; }

private:
  WorkDir() = default;
  std::string path_;
  bool created_ = false, keep_ = false;
  std::vector<std::string> files_;
};

/// Reads one byte per page of every stream, so that timing starts with the
/// package mapped in.
volatile uint8_t touchSink = 0;
void touchPackage(const PackageReader &package) {
  uint8_t sum = 0;
  for (const PackageTensorView &t : package.tensors())
    for (const auto &s : t.streams)
      for (size_t i = 0; i < s.bytes.size(); i += 4096)
        sum += s.bytes[i];
  touchSink = touchSink + sum;
}

int argmax(ArrayRef<float> v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}

/// The prefill prompt: BOS, then ids 2, 3, ... (any valid ids will do).
std::vector<int> prefillTokens(int64_t n, int64_t vocab) {
  std::vector<int> tokens(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    tokens[size_t(i)] = int(i == 0 ? 1 : (i + 1) % vocab);
  return tokens;
}

// Llama-2-7B-shaped formats ------------------------------------------------===//

/// One weight shape of a format: the weights of that shape and their times.
struct ShapeResult {
  std::string label; ///< "4096x4096"
  std::string roles; ///< "wq/wk/wv/wo"
  int64_t n = 0, k = 0;
  uint64_t bytes = 0; ///< all streams of all weights of this shape
  uint64_t bits = 0;  ///< storageBits of all weights of this shape
  int64_t weights = 0;
  std::vector<double> samples; ///< seconds, per step and weight
  double us = 0, gbs = 0, bpw = 0, share = 0;
  double perWeightBytes() const { return weights ? double(bytes) / weights : 0; }
};

struct FormatResult {
  std::string format, layout;
  uint64_t packageBytes = 0;
  double generateSeconds = 0, writeSeconds = 0, compileSeconds = 0;
  double prefillTps = 0, decodeTps = 0, stepUs = 0;
  double attentionUs = 0, classifierUs = 0;
  std::vector<ShapeResult> shapes;
  std::string device; ///< the GPU it ran on (empty: the CPU)
  /// Weights per second the instruction count allowed, the median over
  /// one run of each sequence after each decode step; unset where the
  /// format has no instruction peak or none was measured.
  std::optional<double> peakRate;
  /// The read bandwidth (GB/s), the median of one pass before each CPU
  /// decode step; unset for GPU runs (the run's first measurement then).
  std::optional<double> bandwidthGbs;
};

Expected<FormatResult> benchFormat(StringRef format, const LlamaConfig &config,
                                   ArrayRef<uint8_t> tokenizer, WorkDir &work,
                                   unsigned nThreads, int64_t steps,
                                   double bandwidthGbs, bool measurePeaks,
                                   ReadBandwidthProbe *probe) {
  FormatResult r;
  r.format = format.str();
  std::string packageFile = work.file((format + ".mixq").str());
  std::string moduleFile = work.file((format + ".so").str());
  scope_exit cleanup([&] {
    work.release(packageFile);
    work.release(moduleFile);
  });

  // The package: generated, described, written, freed.
  {
    auto start = Clock::now();
    auto package = syntheticPackage(format, config, tokenizer, kWeightSeed);
    if (!package)
      return package.takeError();
    r.generateSeconds = secondsSince(start);
    std::map<std::string, const QuantizedTensor *> byName;
    for (const PackageTensor &t : package->tensors)
      byName[t.data.name] = &t.data;
    for (int64_t l = 0; l < config.nLayers; ++l)
      for (const Section &s : kSeparateSections) {
        if (s.roles.empty())
          continue;
        std::string name =
            "layers." + std::to_string(l) + "." + s.roles[0] + ".weight";
        auto it = byName.find(name);
        if (it == byName.end())
          return benchError("internal: the synthetic package lacks " + name);
        const QuantizedTensor &t = *it->second;
        if (r.layout.empty())
          r.layout = formatLayout(t.layout);
        std::string label = formatv("{0}x{1}", t.rows, t.cols).str();
        auto shape = llvm::find_if(
            r.shapes, [&](const ShapeResult &x) { return x.label == label; });
        if (shape == r.shapes.end()) {
          r.shapes.push_back(ShapeResult());
          shape = r.shapes.end() - 1;
          shape->label = label;
          shape->n = t.rows;
          shape->k = t.cols;
        }
        if (l == 0)
          shape->roles += (shape->roles.empty() ? "" : "/") + std::string(s.name);
        auto bits = storageBits(t.layout, t.rows, t.cols);
        if (!bits)
          return bits.takeError();
        shape->bits += bits->total();
        shape->bytes += t.totalBits() / 8;
        ++shape->weights;
      }
    start = Clock::now();
    if (Error e = writePackage(*package, packageFile))
      return std::move(e);
    r.writeSeconds = secondsSince(start);
  }
  uint64_t size = 0;
  if (!sys::fs::file_size(packageFile, size))
    r.packageBytes = size;
  progress(formatv("{0}: {1:f2} GB package generated in {2:f1} s, written in "
                   "{3:f1} s",
                   format, double(r.packageBytes) / 1e9, r.generateSeconds,
                   r.writeSeconds));

  // Just written by us: skip hashing the whole file again.
  auto package = PackageReader::open(packageFile, /*verifyContentHash=*/false);
  if (!package)
    return package.takeError();
  auto start = Clock::now();
  const bool gpu = benchTarget != "cpu";
  if (Error e = gpu ? compileGpuPackage(**package, moduleFile, benchTarget)
                    : compilePackage(**package, moduleFile, cpuTarget()))
    return createFileError(packageFile, std::move(e));
  r.compileSeconds = secondsSince(start);
  auto module = CompiledModule::open(moduleFile);
  if (!module)
    return module.takeError();
  if (Error e = (*module)->bindPackage(**package))
    return std::move(e);
  auto session = Session::create(**module, nThreads);
  if (!session)
    return session.takeError();
  Session &s = **session;
  touchPackage(**package);

  r.device = s.device();
  std::vector<int> tokens = prefillTokens(kPrefillTokens, s.vocabSize());
  // The first call loads the kernels and uploads the weights (GPU), or
  // first touches the scratch buffers and the stack (CPU): a warm-up, as
  // llama-bench runs before each test.
  if (auto warm = s.prefill(tokens); !warm)
    return warm.takeError();
  s.reset();
  start = Clock::now();
  auto logits = s.prefill(tokens);
  if (!logits)
    return logits.takeError();
  double prefillSeconds = secondsSince(start);
  r.prefillTps = double(tokens.size()) / prefillSeconds;

  std::vector<double> sections, stepSeconds, attention, classifier;
  int token = argmax(*logits);
  for (int64_t step = 0; gpu && step < steps; ++step) {
    start = Clock::now();
    logits = s.decode(token);
    stepSeconds.push_back(secondsSince(start));
    if (!logits)
      return logits.takeError();
    token = argmax(*logits);
  }
  if (gpu)
    r.shapes.clear(); // no parallel sections to attribute time to
  std::vector<double> peakRates, bandwidths;
  for (int64_t step = 0; !gpu && step < steps; ++step) {
    // The bandwidth in this step's moment, as the peak below.
    if (probe)
      bandwidths.push_back(double(probe->bytes()) / probe->readSeconds() /
                           1e9);
    // The format's peak in this step's moment (see peakRate); every timed
    // step follows such a run, so each finds the session's workers and
    // caches the same way. One run of each sequence (20-80 ms): runs of a
    // fifth of that read as little as half the rate.
    if (measurePeaks) {
      auto peaks = measureInstructionPeaks(nThreads, /*repetitions=*/1);
      if (!peaks)
        return peaks.takeError();
      if (auto rate = peaks->weightsPerSecond(format))
        peakRates.push_back(*rate);
    }
    sections.clear();
    s.setProfile(&sections);
    start = Clock::now();
    logits = s.decode(token);
    stepSeconds.push_back(secondsSince(start));
    s.setProfile(nullptr);
    if (!logits)
      return logits.takeError();
    const SectionLayout *layout =
        sectionLayout(sections.size(), config.nLayers);
    if (!layout)
      return benchError(formatv(
          "{0}: decode step {1} ran {2} parallel sections, but bench expects "
          "{3} ({4} per layer: wq+wk+wv, attention, wo, w1+w3, w2) or {5} "
          "({6} per layer: wq, wk, wv, attention, wo, w1, w3, w2), then the "
          "classifier; the module's sections changed, so kernel times cannot "
          "be attributed",
          moduleFile, step, sections.size(),
          kBatchedSections.size() * config.nLayers + 1,
          kBatchedSections.size(),
          kSeparateSections.size() * config.nLayers + 1,
          kSeparateSections.size()));
    for (int64_t l = 0; l < config.nLayers; ++l)
      for (size_t j = 0; j < layout->size(); ++j) {
        double seconds = sections[l * layout->size() + j];
        const Section &sec = (*layout)[j];
        if (sec.roles.empty()) {
          attention.push_back(seconds);
          continue;
        }
        // A batched section's time goes to its products by their weights
        // (the roles of one section share a layout here).
        std::vector<const PackageTensorView *> views;
        double weights = 0;
        for (const char *role : sec.roles) {
          std::string name =
              "layers." + std::to_string(l) + "." + role + ".weight";
          views.push_back((*package)->find(name));
          weights += double(views.back()->rows) * double(views.back()->cols);
        }
        for (const PackageTensorView *t : views) {
          std::string label = formatv("{0}x{1}", t->rows, t->cols).str();
          double share = double(t->rows) * double(t->cols) / weights;
          for (ShapeResult &shape : r.shapes)
            if (shape.label == label)
              shape.samples.push_back(seconds * share);
        }
      }
    classifier.push_back(sections.back());
    token = argmax(*logits);
  }
  if (!peakRates.empty())
    r.peakRate = median(peakRates);
  if (!bandwidths.empty()) {
    r.bandwidthGbs = median(bandwidths);
    bandwidthGbs = *r.bandwidthGbs;
  }
  double step = median(stepSeconds);
  r.stepUs = step * 1e6;
  r.decodeTps = step > 0 ? 1.0 / step : 0;
  r.attentionUs = median(attention) * 1e6;
  r.classifierUs = median(classifier) * 1e6;
  for (ShapeResult &shape : r.shapes) {
    double seconds = median(shape.samples);
    shape.us = seconds * 1e6;
    shape.gbs = seconds > 0 ? shape.perWeightBytes() / seconds / 1e9 : 0;
    shape.bpw = double(shape.bits) /
                (double(shape.weights) * double(shape.n) * double(shape.k));
    shape.share = bandwidthGbs > 0 ? shape.gbs / bandwidthGbs : 0;
  }
  progress(formatv("{0}: compiled in {1:f1} s; prefill {2:f1} tokens/s, "
                   "decode {3:f2} tokens/s",
                   format, r.compileSeconds, r.prefillTps, r.decodeTps));
  return r;
}

// stories15M ---------------------------------------------------------------===//

struct StoriesResult {
  std::string model, package, packageFormat;
  std::vector<std::string> notes;
  bool haveReference = false, haveMixq = false;
  double refPrefillTps = 0, refDecodeTps = 0;
  double mixqPrefillTps = 0, mixqDecodeTps = 0, compileSeconds = 0;
  int64_t prefillTokens = 0, decodeTokens = 0;
  /// A compiled CPU decode step's wall time split by the session profile
  /// (medians over every measured step): the decoder's products, the
  /// attention sections, the classifier, and the time outside the parallel
  /// sections (norms, RoPE, SwiGLU, residuals, the call itself).
  bool haveBreakdown = false;
  double stepUs = 0, productsUs = 0, attentionUs = 0, classifierUs = 0,
         outsideUs = 0;
};

/// Decode steps' seconds by kind of work, one entry per step.
struct StepParts {
  std::vector<double> products, attention, classifier, outside;

  /// Adds a step: `sections` holds its parallel sections' times in call
  /// order (`layout` per layer, then the classifier).
  void add(const SectionLayout &layout, ArrayRef<double> sections,
           double stepSeconds) {
    double p = 0, a = 0;
    for (size_t i = 0; i + 1 < sections.size(); ++i)
      (layout[i % layout.size()].roles.empty() ? a : p) += sections[i];
    products.push_back(p);
    attention.push_back(a);
    classifier.push_back(sections.back());
    outside.push_back(std::max(0.0, stepSeconds - p - a - sections.back()));
  }
};

/// A package's scheme and the bits per weight of its decoder linears.
std::string describePackage(const PackageReader &package) {
  std::string scheme = "?";
  if (auto s = package.quantizer().getString("scheme"))
    scheme = s->str();
  uint64_t bits = 0, params = 0;
  for (const PackageTensorView &t : package.tensors())
    if (StringRef(t.name).starts_with("layers.") && t.rows > 1) {
      bits += t.storageBits();
      params += uint64_t(t.rows) * uint64_t(t.cols);
    }
  if (!params)
    return scheme;
  return formatv("{0}, {1:f2} bpw", scheme, double(bits) / double(params));
}

/// The stories15M part. The compiled module is timed `rounds` times and
/// `afterRound` (llama.cpp's runs) is called after each, so that both
/// programs see the same state of a shared machine; medians are reported.
Error benchStories(StoriesResult &r, StringRef model, bool modelExists,
                   unsigned nThreads, WorkDir &work,
                   llvm::function_ref<void()> afterRound) {
  r.model = model.str();
  r.package = packagePath;
  if (modelExists) {
    progress("stories15M: fp32 reference engine on " + model);
    auto ref = loadReferenceModel(model, tokenizerPath, nThreads);
    if (!ref)
      return ref.takeError();
    Engine &engine = *ref->engine;
    const LlamaConfig &c = engine.config();
    int64_t n = std::min<int64_t>(kPrefillTokens, c.maxSeqLen / 2);
    int64_t steps = std::min<int64_t>(kStoriesDecode, c.maxSeqLen - n);
    std::vector<int> tokens = prefillTokens(n, c.vocabSize);
    auto prefill = [&] {
      engine.reset();
      for (int64_t i = 0; i + 1 < n; ++i)
        engine.advance(tokens[size_t(i)], int(i));
      return engine.forward(tokens.back(), int(n - 1));
    };
    (void)prefill(); // warm-up, as llama-bench does
    auto start = Clock::now();
    ArrayRef<float> logits = prefill();
    r.refPrefillTps = double(n) / secondsSince(start);
    start = Clock::now();
    for (int64_t i = 0; i < steps; ++i)
      logits = engine.forward(argmax(logits), int(n + i));
    r.refDecodeTps = double(steps) / secondsSince(start);
    r.haveReference = true;
    r.prefillTokens = n;
    r.decodeTokens = steps;
  }
  if (packagePath.empty()) {
    r.notes.push_back("no --package: the compiled stories15M run is skipped");
    return Error::success();
  }
  progress("stories15M: compiling " + packagePath);
  auto package = PackageReader::open(packagePath);
  if (!package)
    return package.takeError();
  r.packageFormat = describePackage(**package);
  std::string moduleFile = work.file("stories15M.so");
  scope_exit cleanup([&] { work.release(moduleFile); });
  auto start = Clock::now();
  if (Error e = benchTarget == "cpu"
                    ? compilePackage(**package, moduleFile, cpuTarget())
                    : compileGpuPackage(**package, moduleFile, benchTarget))
    return createFileError(packagePath, std::move(e));
  r.compileSeconds = secondsSince(start);
  auto module = CompiledModule::open(moduleFile);
  if (!module)
    return module.takeError();
  if (Error e = (*module)->bindPackage(**package))
    return e;
  auto session = Session::create(**module, nThreads);
  if (!session)
    return session.takeError();
  Session &s = **session;
  if (!s.device().empty())
    r.notes.push_back("the compiled module ran on " + s.device());
  touchPackage(**package);
  int64_t n = std::min<int64_t>(kPrefillTokens, s.contextLength() / 2);
  int64_t steps = std::min<int64_t>(kStoriesDecode, s.contextLength() - n);
  std::vector<int> tokens = prefillTokens(n, s.vocabSize());
  std::vector<double> prefillTps, decodeTps, stepSeconds;
  StepParts parts;
  // The profile (two clock reads per parallel section) stays on for the
  // CPU's timed steps, which it splits into kinds of work.
  const int64_t layers = (*module)->dims().n_layers;
  bool profile = s.device().empty();
  std::vector<double> sections;
  for (int round = 0; round < std::max(1, int(rounds)); ++round) {
    // Each round starts after llama.cpp's run, which left the caches (and
    // this pool's sleeping workers) cold; llama-bench warms up before each
    // of its tests, so the timed prefill follows a warm-up here too.
    s.reset();
    if (auto warm = s.prefill(tokens); !warm)
      return warm.takeError();
    s.reset();
    start = Clock::now();
    auto logits = s.prefill(tokens);
    if (!logits)
      return logits.takeError();
    prefillTps.push_back(double(n) / secondsSince(start));
    start = Clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      sections.clear();
      s.setProfile(profile ? &sections : nullptr);
      auto stepStart = Clock::now();
      logits = s.decode(argmax(*logits));
      double seconds = secondsSince(stepStart);
      s.setProfile(nullptr);
      if (!logits)
        return logits.takeError();
      stepSeconds.push_back(seconds);
      const SectionLayout *layout = sectionLayout(sections.size(), layers);
      if (profile && layout)
        parts.add(*layout, sections, seconds);
      else if (profile)
        profile = false; // sections changed: no breakdown (noted below)
    }
    decodeTps.push_back(double(steps) / secondsSince(start));
    afterRound();
  }
  r.mixqPrefillTps = median(prefillTps);
  r.mixqDecodeTps = median(decodeTps);
  if (profile && !parts.products.empty()) {
    r.haveBreakdown = true;
    r.stepUs = median(stepSeconds) * 1e6;
    r.productsUs = median(parts.products) * 1e6;
    r.attentionUs = median(parts.attention) * 1e6;
    r.classifierUs = median(parts.classifier) * 1e6;
    r.outsideUs = median(parts.outside) * 1e6;
  } else if (s.device().empty()) {
    r.notes.push_back(formatv("a decode step did not run the {0} or {1} "
                              "parallel sections bench expects; no breakdown",
                              kBatchedSections.size() * layers + 1,
                              kSeparateSections.size() * layers + 1)
                          .str());
  }
  r.haveMixq = true;
  if (!r.haveReference) {
    r.prefillTokens = n;
    r.decodeTokens = steps;
  } else if (n != r.prefillTokens || steps != r.decodeTokens) {
    r.notes.push_back("the package's context differs from the checkpoint's; "
                      "token counts differ");
  }
  return Error::success();
}

// llama.cpp ----------------------------------------------------------------===//

struct LlamaCppResult {
  std::string gguf, modelType, error;
  double prefillTps = 0, decodeTps = 0;
  bool havePrefill = false, haveDecode = false;
};

/// The line of a program's log that explains a failure: the first one that
/// mentions an error, a failure or an assertion, else the last non-empty one.
std::string errorLine(StringRef path) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return "";
  SmallVector<StringRef, 0> lines;
  (*buffer)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (StringRef line : lines) {
    std::string lower = line.lower();
    StringRef l(lower);
    if (l.contains("error") || l.contains("failed") || l.contains("assert"))
      return line.trim().str();
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    if (!it->trim().empty())
      return it->trim().str();
  return "";
}

LlamaCppResult runLlamaBench(StringRef gguf, unsigned nThreads, WorkDir &work,
                             unsigned index) {
  LlamaCppResult r;
  r.gguf = gguf.str();
  progress("llama.cpp: " + llamaBenchPath + " on " + gguf);
  std::string out = work.file(formatv("llama-bench-{0}.json", index).str());
  std::string err = work.file(formatv("llama-bench-{0}.log", index).str());
  std::string threadText = std::to_string(nThreads);
  std::string prompt = std::to_string(kPrefillTokens);
  std::string gen = std::to_string(kStoriesDecode);
  SmallVector<StringRef, 12> args = {llamaBenchPath, "-m",   gguf,
                                     "-t",           threadText, "-p",
                                     prompt,         "-n",   gen,
                                     "-o",           "json"};
  std::optional<StringRef> redirects[] = {StringRef(""), StringRef(out),
                                          StringRef(err)};
  std::string message;
  bool failed = false;
  int rc = sys::ExecuteAndWait(llamaBenchPath, args, std::nullopt, redirects,
                               /*SecondsToWait=*/900, /*MemoryLimit=*/0,
                               &message, &failed);
  if (failed || rc != 0) {
    std::string detail = errorLine(err);
    r.error = formatv("{0} failed ({1}){2}{3}", llamaBenchPath,
                      failed || rc < 0 ? message
                                       : "exit code " + std::to_string(rc),
                      detail.empty() ? "" : ": ", detail)
                  .str();
    return r;
  }
  auto buffer = MemoryBuffer::getFile(out, /*IsText=*/true);
  if (!buffer) {
    r.error = "cannot read llama-bench's output: " + buffer.getError().message();
    return r;
  }
  StringRef text = (*buffer)->getBuffer();
  size_t open = text.find('[');
  auto parsed = json::parse(open == StringRef::npos ? text
                                                    : text.drop_front(open));
  if (!parsed) {
    r.error = "llama-bench printed no JSON array: " +
              toString(parsed.takeError());
    return r;
  }
  const json::Array *entries = parsed->getAsArray();
  if (!entries) {
    r.error = "llama-bench's JSON is not an array";
    return r;
  }
  for (const json::Value &v : *entries) {
    const json::Object *o = v.getAsObject();
    if (!o)
      continue;
    int64_t prompt = o->getInteger("n_prompt").value_or(0);
    int64_t gen = o->getInteger("n_gen").value_or(0);
    std::optional<double> ts = o->getNumber("avg_ts");
    if (r.modelType.empty())
      if (auto t = o->getString("model_type"))
        r.modelType = t->str();
    if (!ts)
      continue;
    if (prompt > 0 && gen == 0) {
      r.prefillTps = *ts;
      r.havePrefill = true;
    } else if (gen > 0 && prompt == 0) {
      r.decodeTps = *ts;
      r.haveDecode = true;
    }
  }
  if (!r.havePrefill && !r.haveDecode)
    r.error = "llama-bench reported no prompt or generation test";
  return r;
}

// Output -------------------------------------------------------------------===//

struct BenchResults {
  std::string cpu, date;
  unsigned threads = 0;
  std::optional<BandwidthResult> bandwidth;
  double clockGhz = 0; ///< measureCoreClockGhz, 0 when unknown
  InstructionPeaks peaks; ///< measureInstructionPeaks
  bool ran7b = false;
  int64_t decodeSteps = 0;
  std::vector<FormatResult> formats;
  std::optional<StoriesResult> stories;
  std::string storiesSkipped;
  std::vector<LlamaCppResult> llamacpp;
  std::optional<CublasBench> cublas; ///< --target=sm_80|sm_90a only
};

/// Each 7B-shaped format's decode tokens/s (for the cuBLAS ratios).
std::vector<std::pair<std::string, double>>
formatDecodeTps(const BenchResults &b) {
  std::vector<std::pair<std::string, double>> out;
  for (const FormatResult &f : b.formats)
    out.emplace_back(f.format, f.decodeTps);
  return out;
}

const FormatResult *findFormat(const BenchResults &b, StringRef name) {
  for (const FormatResult &f : b.formats)
    if (f.format == name)
      return &f;
  return nullptr;
}

const ShapeResult *findShape(const FormatResult *f, StringRef label) {
  if (!f)
    return nullptr;
  for (const ShapeResult &s : f->shapes)
    if (s.label == label)
      return &s;
  return nullptr;
}

/// time(baseline) / time(x): how much faster x runs than the baseline.
std::optional<double> speedup(double baselineSeconds, double seconds) {
  if (baselineSeconds <= 0 || seconds <= 0)
    return std::nullopt;
  return baselineSeconds / seconds;
}

json::Value optionalNumber(std::optional<double> v) {
  return v ? json::Value(*v) : json::Value(nullptr);
}

/// The GB/s of packed weights at `bpw` that format f's instruction count
/// allowed: its peak measured between its steps, else the run's first one.
std::optional<double> peakGbs(const BenchResults &b, const FormatResult &f,
                              double bpw) {
  return packedWeightGbs(
      f.peakRate ? f.peakRate : b.peaks.weightsPerSecond(f.format), bpw);
}

/// part / whole where both are known and whole > 0.
std::optional<double> share(double part, std::optional<double> whole) {
  if (!whole || *whole <= 0)
    return std::nullopt;
  return part / *whole;
}

/// The instruction-count peaks (BenchPeak.h): what each sequence runs per
/// 16 weights and its rate, or why there are none.
void printPeaks(const BenchResults &b, raw_ostream &os) {
  if (!b.peaks.skipped.empty()) {
    os << "instruction-count peaks: not measured (" << b.peaks.skipped
       << ")\n";
    return;
  }
  if (b.peaks.sequences.empty())
    return;
  os << formatv("instruction-count peaks of the AVX2 GEMVs ({0} threads, "
                "codes and activations in L1, no per-group work):\n",
                b.peaks.threads);
  for (const PeakSequence &p : b.peaks.sequences) {
    os << formatv("  {0,-8} {1,6:f1} Gweights/s", p.name,
                  p.weightsPerSecond / 1e9);
    if (b.clockGhz > 0)
      os << formatv(" ({0:f2} per cycle per thread)",
                    p.weightsPerSecond / 1e9 / b.clockGhz / b.peaks.threads);
    os << "  per 16 weights: " << p.instructions << "\n";
  }
  os << formatv("  the GEMV table's peak = rate x bpw / 8 (mixed: {0:f0}% "
                "lookup4, {1:f0}% planes4, {2:f0}% f16 weights)\n",
                (1 - kMixed4Bit - kMixed16Bit) * 100, kMixed4Bit * 100,
                kMixed16Bit * 100);
}

std::string ratioText(std::optional<double> v) {
  return v ? formatv("{0:f2}x", *v).str() : std::string("-");
}

json::Value toJSON(const BenchResults &b) {
  json::Object root;
  root["cpu"] = b.cpu;
  root["threads"] = int64_t(b.threads);
  root["date"] = b.date;
  root["bandwidth_gbs"] =
      b.bandwidth ? json::Value(b.bandwidth->gbs) : json::Value(nullptr);
  root["core_clock_ghz"] =
      b.clockGhz > 0 ? json::Value(b.clockGhz) : json::Value(nullptr);
  {
    json::Object peaks{{"threads", int64_t(b.peaks.threads)}};
    if (!b.peaks.skipped.empty())
      peaks["skipped"] = b.peaks.skipped;
    json::Array sequences;
    for (const PeakSequence &p : b.peaks.sequences) {
      json::Object o{{"name", p.name},
                     {"per_16_weights", p.instructions},
                     {"gweights_per_second", p.weightsPerSecond / 1e9}};
      if (b.clockGhz > 0)
        o["weights_per_cycle_per_thread"] =
            p.weightsPerSecond / 1e9 / b.clockGhz / b.peaks.threads;
      sequences.push_back(std::move(o));
    }
    peaks["sequences"] = std::move(sequences);
    root["instruction_peaks"] = std::move(peaks);
  }
  if (b.bandwidth)
    root["bandwidth"] =
        json::Object{{"bytes", int64_t(b.bandwidth->bytes)},
                     {"threads", int64_t(b.bandwidth->threads)},
                     {"repetitions", int64_t(b.bandwidth->repetitions)},
                     {"best_seconds", b.bandwidth->bestSeconds}};
  const FormatResult *fp32 = findFormat(b, "fp32");
  const FormatResult *f16 = findFormat(b, "f16");
  json::Array gemv, models;
  for (const FormatResult &f : b.formats) {
    for (const ShapeResult &s : f.shapes) {
      const ShapeResult *s32 = findShape(fp32, s.label);
      const ShapeResult *s16 = findShape(f16, s.label);
      gemv.push_back(json::Object{
          {"format", f.format},
          {"shape", s.label},
          {"weights", s.roles},
          {"n", s.n},
          {"k", s.k},
          {"bpw", s.bpw},
          {"bytes", int64_t(std::llround(s.perWeightBytes()))},
          {"us", s.us},
          {"gbs", s.gbs},
          {"share_of_bandwidth", s.share},
          {"bandwidth_gbs",
           f.bandwidthGbs ? *f.bandwidthGbs
                          : (b.bandwidth ? json::Value(b.bandwidth->gbs)
                                         : json::Value(nullptr))},
          {"bandwidth_measured",
           f.bandwidthGbs ? "before each of the format's decode steps "
                            "(median of one pass each)"
                          : "at the start of the run"},
          {"instruction_peak_gbs", optionalNumber(peakGbs(b, f, s.bpw))},
          {"share_of_instruction_peak",
           optionalNumber(share(s.gbs, peakGbs(b, f, s.bpw)))},
          {"instruction_peak_measured",
           f.peakRate ? json::Value("after each of the format's decode "
                                    "steps (median)")
           : b.peaks.weightsPerSecond(f.format)
               ? json::Value("at the start of the run")
               : json::Value(nullptr)},
          {"speedup_vs_fp32",
           optionalNumber(s32 ? speedup(s32->us, s.us) : std::nullopt)},
          {"speedup_vs_f16",
           optionalNumber(s16 ? speedup(s16->us, s.us) : std::nullopt)},
          {"samples", int64_t(s.samples.size())}});
    }
    models.push_back(json::Object{
        {"model", formatv("llama-2-7b shape, {0} layers (synthetic)", unsigned(layers7b))
                      .str()},
        {"format", f.format},
        {"layout", f.layout},
        {"engine", "mixq"},
        {"prefill_tps", f.prefillTps},
        {"decode_tps", f.decodeTps},
        {"decode_step_us", f.stepUs},
        {"attention_us", f.attentionUs},
        {"classifier_us", f.classifierUs},
        {"decode_speedup_vs_fp32",
         optionalNumber(fp32 ? speedup(1 / fp32->decodeTps, 1 / f.decodeTps)
                             : std::nullopt)},
        {"decode_speedup_vs_f16",
         optionalNumber(f16 ? speedup(1 / f16->decodeTps, 1 / f.decodeTps)
                            : std::nullopt)},
        {"package_bytes", int64_t(f.packageBytes)},
        {"compile_seconds", f.compileSeconds},
        {"target", std::string(benchTarget)},
        {"device", f.device.empty() ? json::Value(nullptr)
                                    : json::Value(f.device)}});
  }
  json::Object stories;
  if (b.stories) {
    const StoriesResult &s = *b.stories;
    stories["model"] = s.model;
    stories["package"] = s.package.empty() ? json::Value(nullptr)
                                           : json::Value(s.package);
    stories["prefill_tokens"] = s.prefillTokens;
    stories["decode_tokens"] = s.decodeTokens;
    if (s.haveReference) {
      stories["reference_prefill_tps"] = s.refPrefillTps;
      stories["reference_decode_tps"] = s.refDecodeTps;
      models.push_back(json::Object{{"model", "stories15M"},
                                    {"format", "fp32"},
                                    {"engine", "reference"},
                                    {"prefill_tps", s.refPrefillTps},
                                    {"decode_tps", s.refDecodeTps}});
    }
    if (s.haveMixq) {
      stories["package_format"] = s.packageFormat;
      stories["mixq_prefill_tps"] = s.mixqPrefillTps;
      stories["mixq_decode_tps"] = s.mixqDecodeTps;
      stories["compile_seconds"] = s.compileSeconds;
      if (s.haveBreakdown)
        stories["decode_step_us"] =
            json::Object{{"median", s.stepUs},
                         {"products", s.productsUs},
                         {"attention", s.attentionUs},
                         {"classifier", s.classifierUs},
                         {"outside_sections", s.outsideUs}};
      models.push_back(json::Object{{"model", "stories15M"},
                                    {"format", s.packageFormat},
                                    {"engine", "mixq"},
                                    {"prefill_tps", s.mixqPrefillTps},
                                    {"decode_tps", s.mixqDecodeTps}});
    }
    if (s.haveReference && s.haveMixq) {
      stories["prefill_ratio"] = s.mixqPrefillTps / s.refPrefillTps;
      stories["decode_ratio"] = s.mixqDecodeTps / s.refDecodeTps;
    }
    json::Array notes;
    for (const std::string &n : s.notes)
      notes.push_back(n);
    stories["notes"] = std::move(notes);
  } else {
    stories["skipped"] = b.storiesSkipped;
  }
  json::Array llamacpp;
  for (const LlamaCppResult &l : b.llamacpp) {
    json::Object o{{"model_file", l.gguf}, {"model_type", l.modelType}};
    if (!l.error.empty())
      o["error"] = l.error;
    o["prefill_tps"] = l.havePrefill ? json::Value(l.prefillTps) : nullptr;
    o["decode_tps"] = l.haveDecode ? json::Value(l.decodeTps) : nullptr;
    bool mixq = b.stories && b.stories->haveMixq;
    o["mixq_prefill_ratio"] =
        mixq && l.havePrefill
            ? json::Value(b.stories->mixqPrefillTps / l.prefillTps)
            : nullptr;
    o["mixq_decode_ratio"] =
        mixq && l.haveDecode ? json::Value(b.stories->mixqDecodeTps / l.decodeTps)
                             : nullptr;
    llamacpp.push_back(std::move(o));
  }
  root["decode_steps"] = b.decodeSteps;
  root["gemv"] = std::move(gemv);
  root["models"] = std::move(models);
  root["stories15M"] = std::move(stories);
  root["llamacpp"] = std::move(llamacpp);
  if (b.cublas)
    root["cublas"] = toJSON(*b.cublas, formatDecodeTps(b));
  return json::Value(std::move(root));
}

/// A layout without its per-tensor tile-group counts (they differ from
/// weight to weight of a mixed package).
std::string shortLayout(StringRef layout) {
  size_t at = layout.find(", alloc = [");
  if (at == StringRef::npos)
    return layout.str();
  size_t end = layout.find(']', at);
  return (layout.take_front(at) + layout.drop_front(end + 1)).str();
}

void printTable(const BenchResults &b, raw_ostream &os) {
  os << formatv("mixq bench: {0}, {1} threads, {2}\n", b.cpu, b.threads,
                b.date);
  if (b.bandwidth)
    os << formatv("memory read bandwidth: {0:f1} GB/s ({1} MiB of floats, {2} "
                  "threads, best of {3})\n",
                  b.bandwidth->gbs, b.bandwidth->bytes >> 20,
                  b.bandwidth->threads, b.bandwidth->repetitions);
  if (b.clockGhz > 0)
    os << formatv("core clock: {0:f2} GHz (dependent adds on {1} threads at "
                  "once)\n",
                  b.clockGhz, b.threads);
  printPeaks(b, os);
  const FormatResult *fp32 = findFormat(b, "fp32");
  const FormatResult *f16 = findFormat(b, "f16");
  if (b.ran7b && benchTarget != "cpu") {
    os << "\nGEMV kernels on Llama-2-7B shapes: CPU only (per-kernel GPU "
          "times: nsys or ncu)\n";
  } else if (b.ran7b) {
    os << formatv("\nGEMV kernels on Llama-2-7B shapes (decode, M = 1; median "
                  "over {0} steps x weights of {1}-layer synthetic "
                  "packages; of bw: of the read bandwidth, the median of "
                  "one pass before each step; peak: the instruction-count "
                  "peak, the median of runs after each step)\n",
                  b.decodeSteps, unsigned(layers7b));
    os << formatv("{0,-10} {1,-11} {2,-12} {3,7} {4,9} {5,9} {6,7} {7,6} "
                  "{8,8} {9,8} {10,7} {11,7}\n",
                  "format", "N x K", "weights", "bpw", "MB", "us", "GB/s",
                  "of bw", "vs fp32", "vs f16", "peak", "of peak");
    for (const FormatResult &f : b.formats)
      for (const ShapeResult &s : f.shapes) {
        const ShapeResult *s32 = findShape(fp32, s.label);
        const ShapeResult *s16 = findShape(f16, s.label);
        std::optional<double> peak = peakGbs(b, f, s.bpw);
        std::optional<double> ofPeak = share(s.gbs, peak);
        os << formatv("{0,-10} {1,-11} {2,-12} {3,7:f3} {4,9:f2} {5,9:f1} "
                      "{6,7:f1} {7,5:f0}% {8,8} {9,8} {10,7} {11,7}\n",
                      f.format, s.label, s.roles, s.bpw,
                      s.perWeightBytes() / 1e6, s.us, s.gbs, s.share * 100,
                      ratioText(s32 ? speedup(s32->us, s.us) : std::nullopt),
                      ratioText(s16 ? speedup(s16->us, s.us) : std::nullopt),
                      peak ? formatv("{0:f1}", *peak).str() : "-",
                      ofPeak ? formatv("{0:f0}%", *ofPeak * 100).str()
                             : "-");
      }
  }
  if (b.ran7b) {
    std::string where;
    for (const FormatResult &f : b.formats)
      if (!f.device.empty())
        where = "; on " + f.device + ", " + std::string(benchTarget);
    os << formatv("\nLlama-2-7B-shaped models, {0} layers (prefill {1} "
                  "tokens, decode {2} steps; classifier: FP16 tied "
                  "embeddings{3})\n",
                  unsigned(layers7b), kPrefillTokens, b.decodeSteps, where);
    os << formatv("{0,-10} {1,8} {2,9} {3,10} {4,8} {5,8} {6,9} {7,9} {8,8}  "
                  "{9}\n",
                  "format", "GB", "prefill", "decode", "vs fp32", "vs f16",
                  "attn us", "class us", "compile", "layout (wq)");
    os << formatv("{0,-10} {1,8} {2,9} {3,10}\n", "", "", "tok/s", "tok/s");
    for (const FormatResult &f : b.formats)
      os << formatv("{0,-10} {1,8:f2} {2,9:f1} {3,10:f2} {4,8} {5,8} {6,9:f1} "
                    "{7,9:f1} {8,7:f1}s  {9}\n",
                    f.format, double(f.packageBytes) / 1e9, f.prefillTps,
                    f.decodeTps,
                    ratioText(fp32 ? speedup(1 / fp32->decodeTps,
                                             1 / f.decodeTps)
                                   : std::nullopt),
                    ratioText(f16 ? speedup(1 / f16->decodeTps,
                                            1 / f.decodeTps)
                                  : std::nullopt),
                    f.attentionUs, f.classifierUs, f.compileSeconds,
                    shortLayout(f.layout));
  } else {
    os << "\nLlama-2-7B-shaped kernels: skipped (--skip-7b)\n";
  }

  os << "\nstories15M";
  if (!b.stories) {
    os << ": skipped (" << b.storiesSkipped << ")\n";
  } else {
    const StoriesResult &s = *b.stories;
    os << formatv(" (prefill {0} tokens, decode {1} tokens; the compiled "
                  "module: median of {2} rounds alternating with llama.cpp)\n",
                  s.prefillTokens, s.decodeTokens, std::max(1, int(rounds)));
    os << formatv("{0,-44} {1,13} {2,13} {3,10}\n", "engine", "prefill tok/s",
                  "decode tok/s", "decode vs");
    os << formatv("{0,-44} {1,13} {2,13} {3,10}\n", "", "", "",
                  "reference");
    if (s.haveReference)
      os << formatv("{0,-44} {1,13:f1} {2,13:f1} {3,10}\n",
                    "fp32 reference engine (" +
                        sys::path::filename(s.model).str() + ")",
                    s.refPrefillTps, s.refDecodeTps, "1.00x");
    if (s.haveMixq)
      os << formatv("{0,-44} {1,13:f1} {2,13:f1} {3,10}\n",
                    "mixq compiled (" + s.packageFormat + ")",
                    s.mixqPrefillTps, s.mixqDecodeTps,
                    ratioText(s.haveReference
                                  ? speedup(1 / s.refDecodeTps,
                                            1 / s.mixqDecodeTps)
                                  : std::nullopt));
    if (s.haveBreakdown)
      os << formatv("  a compiled decode step (medians): {0:f0} us = decoder "
                    "products {1:f0} + attention {2:f0} + classifier {3:f0} "
                    "+ outside the parallel sections {4:f0}\n",
                    s.stepUs, s.productsUs, s.attentionUs, s.classifierUs,
                    s.outsideUs);
    for (const std::string &n : s.notes)
      os << "  note: " << n << "\n";
  }

  if (!b.llamacpp.empty()) {
    bool mixq = b.stories && b.stories->haveMixq;
    os << formatv("\nllama.cpp (llama-bench -p {0} -n {1} -t {2}, median of "
                  "{3} rounds) beside mixq on stories15M\n",
                  kPrefillTokens, kStoriesDecode, b.threads,
                  std::max(1, int(rounds)));
    os << formatv("{0,-28} {1,-18} {2,13} {3,13} {4,15} {5,15}\n", "gguf",
                  "type", "prefill tok/s", "decode tok/s", "mixq/llama.cpp",
                  "mixq/llama.cpp");
    os << formatv("{0,-28} {1,-18} {2,13} {3,13} {4,15} {5,15}\n", "", "", "",
                  "", "prefill", "decode");
    for (const LlamaCppResult &l : b.llamacpp) {
      if (!l.error.empty()) {
        os << formatv("{0,-28} error: {1}\n",
                      sys::path::filename(l.gguf), l.error);
        continue;
      }
      auto num = [](bool have, double v) {
        return have ? formatv("{0:f1}", v).str() : std::string("-");
      };
      os << formatv(
          "{0,-28} {1,-18} {2,13} {3,13} {4,15} {5,15}\n",
          sys::path::filename(l.gguf), l.modelType, num(l.havePrefill,
                                                        l.prefillTps),
          num(l.haveDecode, l.decodeTps),
          ratioText(mixq && l.havePrefill
                        ? std::optional<double>(b.stories->mixqPrefillTps /
                                                l.prefillTps)
                        : std::nullopt),
          ratioText(mixq && l.haveDecode
                        ? std::optional<double>(b.stories->mixqDecodeTps /
                                                l.decodeTps)
                        : std::nullopt));
    }
  }
  if (b.cublas)
    printCublas(*b.cublas, formatDecodeTps(b), os);
}

/// Writes `text` to `path` under a temporary name, then renames it.
Error writeAtomically(StringRef path, StringRef text) {
  SmallString<256> model(path);
  model += ".tmp-%%%%%%";
  SmallString<256> temp;
  int fd;
  if (std::error_code ec = sys::fs::createUniqueFile(model, fd, temp))
    return fileError(path, "cannot create a temporary file: " + ec.message());
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << text;
    os.close();
    if (os.has_error()) {
      std::string message = os.error().message();
      os.clear_error();
      sys::fs::remove(temp);
      return fileError(path, "write failed: " + message);
    }
  }
  if (std::error_code ec = sys::fs::rename(temp, path)) {
    sys::fs::remove(temp);
    return fileError(path, "cannot rename the temporary file into place: " +
                               ec.message());
  }
  return Error::success();
}

Expected<std::vector<uint8_t>> readFileBytes(StringRef path) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.takeError();
  return std::vector<uint8_t>((*file)->bytes().begin(),
                              (*file)->bytes().end());
}

int runBench() {
  // Everything the options name is checked before the long runs start.
  unsigned nThreads = threads;
  if (nThreads == 0)
    nThreads = std::max(1u, std::thread::hardware_concurrency());
  int64_t maxDecode = 256 - kPrefillTokens;
  if (decodeSteps < 1 || decodeSteps > maxDecode)
    return fail(benchError(formatv("--decode-steps must be between 1 and {0} "
                                   "(the synthetic context is 256 tokens)",
                                   maxDecode)));
  std::vector<std::string> formats;
  for (const std::string &f : formatList) {
    if (!isBenchFormat(f)) {
      std::string known;
      for (StringRef k : benchFormatNames())
        known += (known.empty() ? "" : ", ") + k.str();
      return fail(benchError("--formats: unknown format '" + f +
                             "' (known: " + known + ")"));
    }
    if (!llvm::is_contained(formats, f))
      formats.push_back(f);
  }
  if (formats.empty())
    for (StringRef f : benchFormatNames())
      formats.push_back(f.str());
  if (benchTarget != "cpu" && !isGpuTarget(benchTarget))
    return fail(benchError("--target: unknown target '" + benchTarget +
                           "' (cpu, sm_80 or sm_90a)"));
  bool run7b = !skip7b;
  if (!tokenizerPath.empty() && !sys::fs::exists(tokenizerPath))
    return fail(fileError(tokenizerPath, "no such file (--tokenizer)"));
  if (!packagePath.empty() && !sys::fs::exists(packagePath))
    return fail(fileError(packagePath, "no such file (--package)"));
  if (!llamaModels.empty() && llamaBenchPath.empty())
    return fail(benchError("--llama-model needs --llama-bench PATH"));
  if (!llamaBenchPath.empty()) {
    if (llamaModels.empty())
      return fail(benchError("--llama-bench needs at least one "
                             "--llama-model GGUF"));
    if (!sys::fs::exists(llamaBenchPath) ||
        !sys::fs::can_execute(llamaBenchPath))
      return fail(fileError(llamaBenchPath,
                            "not an executable file (--llama-bench)"));
    for (const std::string &g : llamaModels)
      if (!sys::fs::exists(g))
        return fail(fileError(g, "no such file (--llama-model)"));
  }
  if (!jsonPath.empty() && jsonPath != "-") {
    StringRef dir = sys::path::parent_path(jsonPath);
    if (sys::fs::is_directory(jsonPath) ||
        (!dir.empty() && !sys::fs::is_directory(dir)))
      return fail(fileError(jsonPath, "cannot write the JSON there (--json "
                                      "names a directory, or its directory "
                                      "does not exist)"));
  }
  std::string model = modelPath;
  if (model.empty()) {
    auto cache = fetch::defaultCacheDir();
    if (!cache)
      return fail(cache.takeError());
    SmallString<256> p(*cache);
    sys::path::append(p, "stories15M.bin");
    model = p.str().str();
  }
  bool modelExists = sys::fs::exists(model);

  // The tokenizer the synthetic packages embed.
  std::vector<uint8_t> tokenizer;
  std::string tokenizerFile = tokenizerPath;
  if (tokenizerFile.empty()) {
    SmallString<256> dir(sys::path::parent_path(model));
    if (dir.empty())
      dir = ".";
    sys::path::append(dir, "tokenizer.bin");
    tokenizerFile = dir.str().str();
  }
  if (run7b) {
    if (sys::fs::exists(tokenizerFile)) {
      auto bytes = readFileBytes(tokenizerFile);
      if (!bytes)
        return fail(bytes.takeError());
      tokenizer = std::move(*bytes);
    } else {
      warn(tokenizerFile + ": no tokenizer (pass --tokenizer); the synthetic "
                           "packages embed none");
    }
  }

  auto work = WorkDir::create(workPath, keepFiles);
  if (!work)
    return fail(work.takeError());

  BenchResults results;
  results.cpu = cpuName();
  results.date = utcDate();
  results.threads = nThreads;
  results.decodeSteps = decodeSteps;

  progress(formatv("memory read bandwidth, {0} threads", nThreads));
  // One buffer serves the start's measurement and the reads beside the
  // CPU decode steps (benchFormat).
  auto probe = ReadBandwidthProbe::create(nThreads);
  if (!probe)
    return fail(probe.takeError());
  BandwidthResult bandwidth = (*probe)->best(5);
  results.bandwidth = bandwidth;
  progress(formatv("memory read bandwidth: {0:f1} GB/s", bandwidth.gbs));
  results.clockGhz = measureCoreClockGhz(nThreads);
  if (results.clockGhz > 0)
    progress(formatv("core clock: {0:f2} GHz", results.clockGhz));
  if (run7b && benchTarget == "cpu") {
    auto avx512 = targetUsesAvx512(cpuTarget());
    if (!avx512)
      return fail(avx512.takeError());
    auto peaks = measureInstructionPeaks(nThreads, /*repetitions=*/5, *avx512);
    if (!peaks)
      return fail(peaks.takeError());
    results.peaks = std::move(*peaks);
  } else {
    results.peaks.skipped = "no CPU GEMVs in this run";
  }

  if (run7b) {
    results.ran7b = true;
    LlamaConfig config = llama2_7bConfig(std::max(1u, unsigned(layers7b)));
    for (const std::string &f : formats) {
      auto r = benchFormat(f, config, tokenizer, **work, nThreads, decodeSteps,
                           bandwidth.gbs,
                           /*measurePeaks=*/results.peaks.skipped.empty() &&
                               results.peaks.weightsPerSecond(f).has_value(),
                           benchTarget == "cpu" ? probe->get() : nullptr);
      if (!r)
        return fail(r.takeError());
      results.formats.push_back(std::move(*r));
    }
  }
  probe->reset(); // its 1 GiB is not needed beyond the 7B-shaped steps

  if (benchTarget != "cpu") {
    progress("cuBLAS FP16 products on the Llama-2-7B shapes");
    results.cublas =
        benchCublasFp16(llama2_7bConfig(std::max(1u, unsigned(layers7b))));
    if (!results.cublas->skipped.empty())
      warn("cuBLAS FP16 baseline: " + results.cublas->skipped);
  }

  // llama.cpp runs, one per GGUF per round (see benchStories).
  std::map<std::string, std::vector<LlamaCppResult>> llamaRuns;
  unsigned llamaIndex = 0;
  bool llamaRoundsRun = false;
  auto runLlamaRound = [&] {
    llamaRoundsRun = true;
    for (const std::string &g : llamaModels)
      llamaRuns[g].push_back(
          runLlamaBench(g, nThreads, **work, llamaIndex++));
  };

  if (!modelExists && packagePath.empty()) {
    results.storiesSkipped = model + " not found (mixq fetch stories15M, or "
                                     "pass --model)";
    warn("stories15M: " + results.storiesSkipped + "; skipped");
  } else {
    if (!modelExists)
      warn("stories15M: " + model +
           " not found; the fp32 reference baseline is skipped");
    StoriesResult stories;
    if (Error e = benchStories(stories, model, modelExists, nThreads, **work,
                               runLlamaRound))
      return fail(std::move(e));
    if (!modelExists)
      stories.notes.push_back(model + " not found: no reference baseline");
    results.stories = std::move(stories);
  }

  if (!llamaRoundsRun)
    runLlamaRound();
  for (const std::string &g : llamaModels) {
    auto &runs = llamaRuns[g];
    LlamaCppResult combined = runs.front();
    std::vector<double> prefill, decode;
    for (const LlamaCppResult &run : runs) {
      if (!run.error.empty())
        combined.error = run.error;
      if (run.havePrefill)
        prefill.push_back(run.prefillTps);
      if (run.haveDecode)
        decode.push_back(run.decodeTps);
    }
    combined.havePrefill = !prefill.empty();
    combined.haveDecode = !decode.empty();
    if (combined.havePrefill)
      combined.prefillTps = median(prefill);
    if (combined.haveDecode)
      combined.decodeTps = median(decode);
    results.llamacpp.push_back(combined);
    if (!combined.error.empty())
      warn("llama.cpp: " + g + ": " + combined.error);
  }

  json::Value value = toJSON(results);
  if (jsonPath == "-") {
    outs() << formatv("{0:2}\n", value);
  } else {
    printTable(results, outs());
    if (!jsonPath.empty())
      if (Error e = writeAtomically(jsonPath,
                                    formatv("{0:2}\n", value).str()))
        return fail(std::move(e));
  }
  outs().flush();
  if ((*work)->keep())
    progress("kept the work directory " + (*work)->path());
  return Success;
}

CommandRegistration registration(benchCommand, runBench);

} // namespace
