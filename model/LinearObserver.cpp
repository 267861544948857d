//===- LinearObserver.cpp - Which weights read which input ----------------===//
//
// See LinearObserver.h.
//
//===----------------------------------------------------------------------===//
#include "model/LinearObserver.h"

using namespace mixq;

LinearObserver::~LinearObserver() = default;
LinearInputTransform::~LinearInputTransform() = default;

std::vector<std::string> mixq::linearsReading(int layer, LinearInput input) {
  std::string prefix = "layers." + std::to_string(layer) + ".";
  switch (input) {
  case LinearInput::AttentionInput:
    return {prefix + "attention.wq.weight", prefix + "attention.wk.weight",
            prefix + "attention.wv.weight"};
  case LinearInput::AttentionOutput:
    return {prefix + "attention.wo.weight"};
  case LinearInput::FfnInput:
    return {prefix + "feed_forward.w1.weight",
            prefix + "feed_forward.w3.weight"};
  case LinearInput::FfnHidden:
    return {prefix + "feed_forward.w2.weight"};
  }
  return {};
}
