#pragma once
// Deterministic initialisation of a ParamStore (docs/method.md §1.7):
//   conv weight [Cout,KH,KW,Cin]  He normal: N(0, std = sqrt(2 / (KH*KW*Cin)))
//   conv bias                     0
//   dense weight [Dout,Din]       Glorot uniform: U(-a, a), a = sqrt(6 / (Din + Dout))
//   BN gamma 1, beta 0, running mean 0, running variance `bn_running_var` (default 0)
//
// The running variance starts at 0 because the reference code's moving averages start at 0 and
// are not debiased (docs/method.md §1.7). It only matters for inference before the averages have
// warmed up; 1 is the usual choice elsewhere, hence the option.
//
// Randomness: each tensor draws from its own std::mt19937_64 seeded from (seed, FNV-1a hash of
// its name), so adding a head does not change the encoder's initial weights. Normal samples use
// Box-Muller on 53-bit uniforms computed here (not std::normal_distribution, whose algorithm is
// implementation-defined), so the values are the same with any standard library; only the last
// bit of log/cos may differ between libm implementations.
#include <cstdint>

#include "nn/params.h"

namespace cs {

struct InitOptions {
  uint64_t seed = 1;
  float bn_running_var = 0.0f;  // 0 as in the released code; see above
  // Reference-mode quirk (docs/method.md §1.7): TF1 op-seed 1 without a graph seed gives every conv kernel
  // of the same shape the same initial values. When true, conv weights are seeded from their
  // shape instead of their name.
  bool same_init_for_same_shape = false;
};

void init_params(ParamStore& store, const InitOptions& opt = {});

// The 64-bit FNV-1a hash of a string (seeding; also used by tests).
uint64_t fnv1a64(const std::string& s);

}  // namespace cs
