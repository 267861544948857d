//===- MixedAllocation.h - Tile-group precisions of the 2/4/16 scheme -*- C++ -*-===//
//
// The allocation step of the 2/4/16 mixed scheme (quant/SchemeMixed.cpp):
// which tile-groups (tile rows x group K-elements) are stored 2-bit, 4-bit
// or FP16, with the storage of every candidate counted exactly by
// storageBits() of its layout (codes, second-order scales, zeros, precision
// map, offsets and outlier slots).
//
// Shape (chooseMixedShape): the layout verifier needs group | K and
// tile | N with tile a multiple of 16. The group is options.mixedGroup when
// it divides K, else the largest divisor of K below it, a multiple of 16
// where K is one (fittingGroup; documented in the
// package through the layout's `group`); the tile is options.tile when it
// divides N, else the largest multiple of 16 below it that divides N. A
// weight whose N is not a multiple of 16 cannot be stored as 'mixed' and is
// an error naming the tensor.
//
// Allocation with a bpw target (allocateMixedBudget): a greedy knapsack on
// the sensitivity of each tile-group. Each tile-group t has the
// Hessian-diagonal-weighted error of its best 2-bit grid (with its outlier
// slots) E2_t and of its best 4-bit grid E4_t (FP16: 0). Upgrades are taken
// by decreasing benefit per stored bit,
//     2 -> 4   (E2 - E4) / cost4      2 -> 16   E2 / cost16
//     4 -> 16  E4 / (cost16 - cost4)
// (cost = the exact marginal storage of one such tile-group), as long as the
// exact storage of the whole weight stays <= bpw * N * K. The result
// therefore never exceeds the target and is below it by less than one
// further upgrade of the cheapest kind (one 2->4 tile-group) unless every
// tile-group has been promoted. FP16 is capped at `maxFp16Share` of the
// tile-groups (default 1%, rounded up) so that the budget goes mostly to 4-bit
// promotions: a tile-group becomes FP16 only when even its 4-bit error is
// large per bit, i.e. its range is dominated by a few extreme values (the
// "range variation" the paper points at) — 4-bit cannot fix those.
//
// Slot count: options.slots is the most slots per 2-bit row-group. Slots
// are paid in every 2-bit row-group (an index and an F16 value: 24 bits per
// 64-element group, 0.375 bits per weight), so at a tight target or a small
// group they can cost more than the 4-bit promotions they displace (with
// group 32 one slot alone costs 0.75 bpw and no target of 2.91 fits). The
// scheme therefore allocates for every slot count 0..options.slots that
// fits the target and keeps the one with the least total estimated error
// Σ_t E_{p(t)} (ties: more slots). Both the choice and the result are in the
// layout (`slots`).
//
// Allocation by fractions (allocateMixedFractions, bpw = 0): the
// round(f16 T) tile-groups with the largest E4 become FP16, then the
// round(f4 T) remaining ones with the largest E2 - E4 become 4-bit.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_QUANT_MIXEDALLOCATION_H
#define MIXQ_QUANT_MIXEDALLOCATION_H

#include "model/Layout.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mixq {

/// "mixed quantization of '<name>': <message>".
llvm::Error mixedError(llvm::StringRef name, const llvm::Twine &message);

struct QuantizerOptions;

struct MixedShape {
  int64_t group = 0; ///< K-elements per group (divides K)
  int64_t tile = 0;  ///< rows per tile-group (multiple of 16, divides N)
};

/// The group and tile actually used for an N x K weight (see the header).
llvm::Expected<MixedShape> chooseMixedShape(llvm::StringRef name, int64_t n,
                                            int64_t k, int64_t group,
                                            int64_t tile);

/// The mixed layout bits = [2, 4, 16], asymmetric, with `slots` outlier
/// slots per 2-bit row-group (none when 0), the options' second-order
/// scales, and `alloc` = {2-bit, 4-bit, FP16} tile-groups.
Layout mixedLayout(const MixedShape &shape, const QuantizerOptions &options,
                   int64_t slots, int64_t alloc2, int64_t alloc4,
                   int64_t alloc16);

/// Precision index (0: 2-bit, 1: 4-bit, 2: FP16) per tile-group meeting
/// `bpw` (everything counted) for an N x K weight; e2/e4 per tile-group.
llvm::Expected<std::vector<uint8_t>>
allocateMixedBudget(llvm::StringRef name, const Layout &base, int64_t n,
                    int64_t k, llvm::ArrayRef<double> e2,
                    llvm::ArrayRef<double> e4, double bpw,
                    double maxFp16Share = 0.01);

/// Precision index per tile-group from fixed shares {4-bit, FP16}.
std::vector<uint8_t> allocateMixedFractions(llvm::ArrayRef<double> e2,
                                            llvm::ArrayRef<double> e4,
                                            double share4, double share16);

} // namespace mixq

#endif // MIXQ_QUANT_MIXEDALLOCATION_H
