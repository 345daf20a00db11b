#pragma once
// Brute-force double-precision references of the similarity ops (ops/similarity.h), in plain
// loops. They read only the explicit term list (anchor, positive, weight) and evaluate each
// negative rule from its definition, so that they share no code path with the kernels. Also
// random term lists and a relative-error assertion, for the op tests and the loss tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ops/similarity.h"
#include "support/gradcheck.h"

namespace cs::test {

// Rows of z [n, d] scaled to unit norm (norm clamped at 1e-12 as in the op).
Vec ref_normalize(const Vec& z, int64_t n, int64_t d);
// S [n, n] = zn zn^T / tau.
Vec ref_similarity(const Vec& z, int64_t n, int64_t d, double tau);
// The negative set of term t from the rule's definition.
std::vector<int> ref_negatives(const ContrastSpec& s, size_t t);
// Per-term values -s_ap + log(exp(s_ap) + sum_n exp(s_an)), max-shifted, in double.
Vec ref_ntxent_terms(const Vec& z, int64_t d, const ContrastSpec& s, double tau);
// sum_t weight_t * value_t.
double ref_ntxent_loss(const Vec& z, int64_t d, const ContrastSpec& s, double tau);

// Patches [N*P, k*k*C] of f [N,H,W,C] at corners (r, s), element (dr*k + ds)*C + c.
Vec ref_extract(const Vec& f, int64_t N, int64_t H, int64_t W, int64_t C, const std::vector<RegionPos>& pos, int k);

// Random terms over n rows (weights in [0.1, 1)). other-groups: group = row % groups, positives
// share the anchor's group, and every third term's key row is another random row, so that some
// anchors own several negative sets. explicit: 0..4 random negatives per term, repeats allowed.
ContrastSpec random_contrast_spec(NegativeRule rule, int n, int terms, uint64_t seed, int groups = 4);

// max |a - b| / max |a|, as a GoogleTest predicate with a message.
::testing::AssertionResult close_rel(const Vec& want, const Vec& got, double tol);
::testing::AssertionResult close_rel(double want, double got, double tol);

}  // namespace cs::test
