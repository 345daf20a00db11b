#pragma once
// Brute-force double-precision references of the losses, in plain loops (those of the
// similarity ops they build on are in support/similarity_reference.h).
#include <gtest/gtest.h>

#include <vector>

#include "losses/local.h"
#include "support/gradcheck.h"
#include "support/similarity_reference.h"

namespace cs::test {

// x [n, din] w [dout, din] -> [n, dout].
Vec ref_linear(const Vec& x, int64_t n, int64_t din, const Vec& w, int64_t dout);

// Segmentation losses from the formulas of docs/method.md §4.2.
double ref_dice_loss(const Vec& logits, const Vec& labels, int64_t N, int64_t HW, int64_t C, bool with_background);
double ref_weighted_ce(const Vec& logits, const Vec& labels, int64_t N, int64_t HW, int64_t C, const std::vector<float>& w);

}  // namespace cs::test
