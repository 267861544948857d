//===- BenchPeak.h - Instruction-count peaks of the CPU GEMVs -*- C++ -*-===//
//
// Where unpacking makes a decode GEMV compute-bound, its ceiling is the
// rate at which the core can run the instructions each weight needs, not
// the memory bandwidth. `mixq bench` measures that ceiling directly: the
// per-weight instruction sequence of each kernel family of the AVX2 GEMVs
// (3-bit codes unpacked by per-lane shifts and converted; 4-bit codes
// widened a 16-byte plane block at a time, masked or shifted and
// converted; 2-bit codes looked up with vpermilps; LUT codes with vpermps;
// FP16 converted), each followed by
// its FMA with an activation vector, is run over codes and activations that
// stay in the L1 cache, with no per-group work (scales, zeros, tails) and
// no memory traffic, on `threads` threads at once. Weights per second
// times the format's bits per weight gives the packed-weight GB/s its
// instruction count allows. Each sequence's sum is checked against a
// scalar dot product first.
//
// We know no cheaper exact sequence on AVX2 for these formats: a code must
// be moved into its lane (a shift or a shuffle; a widening load serves all
// the planes of a block), isolated (a mask or a second shift) and made a
// float (a conversion, or an OR of an exponent that costs the same), and
// every weight needs its FMA; a lookup replaces mask and conversion by one
// permute.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_BENCHPEAK_H
#define MIXQ_TOOLS_MIXQ_BENCHPEAK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace mixq::cli {

/// One kernel family's instruction sequence and its measured rate.
struct PeakSequence {
  std::string name; ///< "unpack", "planes4", "lookup4", "lookup8", "f16"
  std::string instructions; ///< what it runs per 16 weights
  double weightsPerSecond = 0; ///< all threads together, best repetition
};

struct InstructionPeaks {
  /// Why there are no peaks (not x86-64, no AVX2/FMA/F16C, or kernels
  /// compiled for AVX-512, which run other sequences); empty when
  /// measured.
  std::string skipped;
  unsigned threads = 0;
  std::vector<PeakSequence> sequences;

  const PeakSequence *find(llvm::StringRef name) const;
  /// Weights per second the instruction count allows for a `mixq bench`
  /// format: uniform-4 widens plane blocks, uniform-3 unpacks, uniform-2
  /// looks up 4-entry tables, lut-3 8-entry ones, mixed is its shares of
  /// 2-bit (lookup), 4-bit (plane blocks) and FP16 weights (the formats'
  /// groups of 128 are whole plane blocks); none for fp32, f16 (memory-bound)
  /// and quik-4 (integer dot products).
  std::optional<double> weightsPerSecond(llvm::StringRef format) const;
  /// The same as GB/s of packed weights at `bpw` bits per weight.
  std::optional<double> gbs(llvm::StringRef format, double bpw) const;
};

/// GB/s of packed weights at `bpw` bits per weight for a rate in weights
/// per second; none where the rate is unknown or bpw is not positive.
std::optional<double> packedWeightGbs(std::optional<double> weightsPerSecond,
                                      double bpw);

/// Measures the sequences on `threads` threads (best of `repetitions`);
/// fails when a sequence's sum disagrees with the scalar dot product.
/// Skipped where `kernelsUseAvx512` (the timed modules are compiled for
/// AVX-512, whose GEMVs run other sequences).
llvm::Expected<InstructionPeaks>
measureInstructionPeaks(unsigned threads, int repetitions = 5,
                        bool kernelsUseAvx512 = false);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_BENCHPEAK_H
