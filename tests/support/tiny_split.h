#pragma once
// The split of the 8-patient phantom dataset (`contraseg synth --patients 8`) that the pipeline
// tests train on: test 007-008, a pre-training pool of 001-004 (validation 005-006), one labelled
// set tr1 c1 of patient 001, and the benchmark set.
#include <nlohmann/json.hpp>

namespace cs::testing_io {

inline nlohmann::json tiny_split() {
  return {{"dataset", "acdc"},
          {"test", {"007", "008"}},
          {"pretrain", {{"name", "pool"}, {"train", {"001", "002", "003", "004"}}, {"val", {"005", "006"}}}},
          {"labeled", {{"tr1", {{"c1", {{"train", {"001"}}, {"val", {"005", "006"}}}}}}}},
          {"benchmark", {{"name", "trall"}, {"train", {"001", "002"}}, {"val", {"005", "006"}}}}};
}

}  // namespace cs::testing_io
