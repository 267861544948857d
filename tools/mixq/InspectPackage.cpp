//===- InspectPackage.cpp - `mixq inspect PKG` for mixq packages ----------===//
//
// Prints each tensor of a package (layout, shape, exact bits per weight,
// outlier count) and the model's bits per weight twice: over the quantized
// linear layers ("bpw") and over everything stored, embeddings, head and
// norms included ("bpw_all"). Every stream counts: codes, scales at their
// stored width, zeros, maps, LUTs, outlier indices and values.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"

#include "model/Dequantize.h"
#include "model/MappedFile.h"
#include "model/Package.h"
#include "model/Tokenizer.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mixq;

namespace {

/// The linear layers of the decoder (not embeddings, head or norms).
bool isDecoderLinear(StringRef name) {
  static const Regex linear(
      "^layers\\.[0-9]+\\.(attention\\.w[qkvo]|feed_forward\\.w[123])\\.weight$");
  return linear.match(name);
}

/// Number of weights stored as outliers (FP16 beside the codes).
uint64_t outlierCount(const PackageTensorView &t) {
  const Layout &l = t.layout;
  switch (l.outliers) {
  case OutlierKind::Csr:
    return l.nnz;
  case OutlierKind::Slots:
    for (const auto &s : t.streams)
      if (s.name == "slot_value") {
        uint64_t used = 0;
        for (size_t i = 0; i + 1 < s.bytes.size(); i += 2)
          used += (s.bytes[i] | s.bytes[i + 1]) != 0;
        return used;
      }
    return 0;
  case OutlierKind::None:
    break;
  }
  if (l.scheme == Scheme::Quik)
    return uint64_t(t.rows) * l.fp16Cols;
  return 0;
}

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

struct Totals {
  uint64_t bits = 0, params = 0;
  double bpw() const { return params ? double(bits) / double(params) : 0.0; }
};

} // namespace

namespace mixq::cli {

int inspectPackage(StringRef path, bool json, raw_ostream &os) {
  auto opened = PackageReader::open(path);
  if (!opened)
    return cli::fail(opened.takeError());
  const PackageReader &pkg = **opened;
  // The tokenizer run, generate and ppl would use.
  if (!pkg.tokenizer().empty()) {
    auto tokenizer = Tokenizer::loadFromBytes(
        pkg.tokenizer(), (path + " (embedded tokenizer)").str(),
        pkg.config().vocabSize);
    if (!tokenizer)
      return cli::fail(tokenizer.takeError());
  }
  Totals linears, all;
  StorageBits breakdown;
  json::Array tensors;
  std::string rows;
  raw_string_ostream table(rows);
  for (const PackageTensorView &t : pkg.tensors()) {
    // Every stream's contents, not just its size (one tensor at a time).
    if (auto values = dequantize(t.copy()); !values)
      return cli::fail(fileError(pkg.path(), toString(values.takeError())));
    StorageBits s = cantFail(storageBits(t.layout, t.rows, t.cols));
    uint64_t params = uint64_t(t.rows) * uint64_t(t.cols);
    all.bits += s.total();
    all.params += params;
    if (isDecoderLinear(t.name)) {
      linears.bits += s.total();
      linears.params += params;
      breakdown.codes += s.codes;
      breakdown.scales += s.scales;
      breakdown.zeros += s.zeros;
      breakdown.maps += s.maps;
      breakdown.luts += s.luts;
      breakdown.outlierIndex += s.outlierIndex;
      breakdown.outlierValue += s.outlierValue;
    }
    double bpw = double(s.total()) / double(params);
    if (json) {
      json::Object streams;
      for (const auto &stream : t.streams)
        streams[stream.name] = int64_t(stream.bytes.size());
      tensors.push_back(json::Object{
          {"name", t.name},
          {"shape", json::Array(t.shape)},
          {"layout", formatLayout(t.layout)},
          {"layout_json", layoutToJSON(t.layout)},
          {"bits", int64_t(s.total())},
          {"bpw", bpw},
          {"outliers", int64_t(outlierCount(t))},
          {"streams", std::move(streams)}});
    } else {
      table << formatv("  {0,-36} {1,-10} {2,8:F4} bpw  {3,8} outliers  <{4}>\n",
                    t.name, shapeText(t.shape), bpw, outlierCount(t),
                    formatLayout(t.layout));
    }
  }
  auto breakdownJSON = [&] {
    return json::Object{{"codes", int64_t(breakdown.codes)},
                        {"scales", int64_t(breakdown.scales)},
                        {"zeros", int64_t(breakdown.zeros)},
                        {"maps", int64_t(breakdown.maps)},
                        {"luts", int64_t(breakdown.luts)},
                        {"outlier_index", int64_t(breakdown.outlierIndex)},
                        {"outlier_value", int64_t(breakdown.outlierValue)}};
  };
  if (json) {
    json::Object root{{"path", pkg.path()},
                      {"kind", "package"},
                      {"config", configToJSON(pkg.config())},
                      {"quantizer", json::Object(pkg.quantizer())},
                      {"source_sha256", pkg.sourceSha256()},
                      {"content_sha256", pkg.contentSha256()},
                      {"tensors", std::move(tensors)},
                      {"bpw", linears.bpw()},
                      {"bpw_all", all.bpw()},
                      {"linear_params", int64_t(linears.params)},
                      {"all_params", int64_t(all.params)},
                      {"linear_bits", breakdownJSON()}};
    os << formatv("{0:2}", json::Value(std::move(root))) << "\n";
    return Success;
  }
  os << "path: " << pkg.path() << "\n";
  os << "content sha256: " << pkg.contentSha256() << "\n";
  os << "source sha256:  " << pkg.sourceSha256() << "\n";
  os << "quantizer: " << json::Value(json::Object(pkg.quantizer())) << "\n";
  os << "tensors: " << pkg.tensors().size() << "\n" << rows;
  os << formatv("bits per weight, quantized linears: {0:F4} ({1} weights; "
                "codes {2}, scales {3}, zeros {4}, maps {5}, luts {6}, "
                "outlier index {7}, outlier values {8} bits)\n",
                linears.bpw(), linears.params, breakdown.codes,
                breakdown.scales, breakdown.zeros, breakdown.maps,
                breakdown.luts, breakdown.outlierIndex, breakdown.outlierValue);
  os << formatv("bits per weight, everything stored (embeddings, head, norms "
                "included): {0:F4} ({1} weights)\n",
                all.bpw(), all.params);
  return Success;
}

} // namespace mixq::cli
