// The fused similarity ops (ops/similarity.h) against double-precision brute force; then CUDA
// parity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <tuple>

#include "ops/ops.h"
#include "ops/similarity.h"
#include "parity_table.h"
#include "support/gradcheck.h"
#include "support/similarity_reference.h"

namespace cs::test {
namespace {

struct RuleCase {
  NegativeRule rule;
  const char* name;
};
const RuleCase kRules[] = {{NegativeRule::OtherGroups, "other_groups"},
                           {NegativeRule::AllOthers, "all_others"},
                           {NegativeRule::Explicit, "explicit"}};

class NtXentRule : public ::testing::TestWithParam<RuleCase> {};

// A random problem of one rule: `terms` random terms over n rows (spec_seed, `groups` groups),
// its plan, and n random embeddings of dimension d (z_seed).
struct RandomNtXent {
  RandomNtXent(NegativeRule rule, int n, int d, int terms, uint64_t spec_seed, uint64_t z_seed, int groups = 4)
      : spec(random_contrast_spec(rule, n, terms, spec_seed, groups)), plan(spec), z(random_tensor({n, d}, z_seed)) {}
  ContrastSpec spec;
  ContrastPlan plan;
  Tensor z;
};

TEST_P(NtXentRule, ForwardMatchesDoubleReference) {
  const int d = 19;
  const float tau = 0.1f;
  const RandomNtXent p(GetParam().rule, 37, d, 120, 11, 5);
  const Vec zd = to_double(p.z);
  NoGradGuard ng;
  const Vec terms = to_double(ntxent_terms(p.z, p.plan, tau));
  EXPECT_TRUE(close_rel(ref_ntxent_terms(zd, d, p.spec, tau), terms, 1e-4));
  EXPECT_TRUE(close_rel(ref_ntxent_loss(zd, d, p.spec, tau), ntxent_loss(p.z, p.plan, tau).to_vector()[0], 1e-4));
}

TEST_P(NtXentRule, GradientsMatchFiniteDifferences) {
  const int d = 5;
  const float tau = 0.5f;
  RandomNtXent p(GetParam().rule, 12, d, 30, 21, 7);
  p.z.set_requires_grad(true);
  for (bool per_term : {false, true}) {
    OpCheck r = check_op(
        [&](const std::vector<Tensor>& in) {
          return per_term ? ntxent_terms(in[0], p.plan, tau) : ntxent_loss(in[0], p.plan, tau);
        },
        [&](const std::vector<Vec>& in) {
          return per_term ? ref_ntxent_terms(in[0], d, p.spec, tau) : Vec{ref_ntxent_loss(in[0], d, p.spec, tau)};
        },
        {p.z}, 3);
    EXPECT_LT(r.forward, 1e-5) << r.report();
    EXPECT_LT(r.grad[0], 1e-4) << (per_term ? "per-term: " : "loss: ") << r.report();
    EXPECT_LT(r.accumulate[0], 1e-6) << r.report();
    EXPECT_LT(r.overwrite[0], 1e-6) << r.report();
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, NtXentRule, ::testing::ValuesIn(kRules),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(NtXent, SeveralRowBlocksMatchReference) {
  // More anchors than one CPU row block holds, so the block loop and its unit ranges are used.
  const int n = 700, d = 33;
  cpu::set_similarity_block_rows(96);  // several blocks, the last one partial
  struct Restore {
    ~Restore() { cpu::set_similarity_block_rows(0); }
  } restore;
  ASSERT_LT(cpu::similarity_block_rows(n), n);
  for (NegativeRule rule : {NegativeRule::OtherGroups, NegativeRule::AllOthers}) {
    RandomNtXent p(rule, n, d, 900, 31, 9, 5);
    p.z.set_requires_grad(true);
    Tensor loss = ntxent_loss(p.z, p.plan, 0.2f);
    const Vec zd = to_double(p.z);
    EXPECT_TRUE(close_rel(ref_ntxent_loss(zd, d, p.spec, 0.2), loss.to_vector()[0], 1e-4)) << negative_rule_name(rule);
    backward(loss);
    // Directional derivative of the double reference along a few random directions.
    const double err = directional_error(
        [&](const std::vector<Vec>& in) { return Vec{ref_ntxent_loss(in[0], d, p.spec, 0.2)}; }, {zd}, Vec{1.0}, 0,
        to_double(p.z.grad()), 3, 17, 1e-4);
    EXPECT_LT(err, 1e-3) << negative_rule_name(rule);
  }
}

TEST(NtXent, TinyTemperatureStaysFinite) {
  const float tau = 0.005f;
  // Naive evaluation overflows float: exp(1/tau) = exp(200).
  ASSERT_TRUE(std::isinf(std::exp(1.0f / tau)));
  for (NegativeRule rule : {NegativeRule::OtherGroups, NegativeRule::AllOthers, NegativeRule::Explicit}) {
    const int d = 128;
    RandomNtXent p(rule, 48, d, 150, 41, 13);
    p.z.set_requires_grad(true);
    Tensor loss = ntxent_loss(p.z, p.plan, tau);
    const float v = loss.to_vector()[0];
    ASSERT_TRUE(std::isfinite(v)) << negative_rule_name(rule);
    // Values of order 1/tau lose absolute precision in float: 1e-3 relative.
    EXPECT_TRUE(close_rel(ref_ntxent_loss(to_double(p.z), d, p.spec, tau), v, 1e-3)) << negative_rule_name(rule);
    backward(loss);
    for (float g : p.z.grad().to_vector()) ASSERT_TRUE(std::isfinite(g)) << negative_rule_name(rule);
  }
}

TEST(NtXent, EmptyNegativeSetGivesZeroTerm) {
  // Every row in one group: no negatives, so each term is -s_ap + log(exp(s_ap)) = 0.
  ContrastSpec s;
  s.rows = 4;
  s.rule = NegativeRule::OtherGroups;
  s.group = {0, 0, 0, 0};
  s.terms = {{0, 1, 0, 1.0f}, {2, 3, 2, 1.0f}};
  ContrastPlan plan(s);
  Tensor z = random_tensor({4, 3}, 1);
  z.set_requires_grad(true);
  Tensor loss = ntxent_loss(z, plan, 0.1f);
  EXPECT_EQ(loss.to_vector()[0], 0.0f);
  backward(loss);
  for (float g : z.grad().to_vector()) EXPECT_EQ(g, 0.0f);
}

TEST(NtXent, ZeroEmbeddingRowStaysFinite) {
  ContrastSpec spec = random_contrast_spec(NegativeRule::OtherGroups, 16, 40, 3);
  ContrastPlan plan(spec);
  std::vector<float> v = random_tensor({16, 8}, 2).to_vector();
  for (int k = 0; k < 8; ++k) v[3 * 8 + k] = 0.0f;
  Tensor z = Tensor::from_vector({16, 8}, v);
  EXPECT_TRUE(close_rel(ref_ntxent_loss(to_double(z), 8, spec, 0.1), ntxent_loss(z, plan, 0.1f).to_vector()[0], 1e-4));
}

TEST(NtXent, RejectsBadSpecsAndShapes) {
  ContrastSpec s;
  s.rows = 4;
  s.rule = NegativeRule::OtherGroups;
  s.group = {0, 1, 0, 1};
  s.terms = {{0, 2, 0, 1.0f}};
  EXPECT_NO_THROW(ContrastPlan{s});
  ContrastSpec bad = s;
  bad.terms[0].positive = 4;
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);
  bad = s;
  bad.terms[0].positive = 0;  // anchor paired with itself
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);
  bad = s;
  bad.group.pop_back();
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);
  bad = s;
  bad.terms.clear();
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);
  bad = s;
  bad.rule = NegativeRule::Explicit;
  bad.neg_offset = {0, 2};
  bad.neg_index = {1};
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);
  bad.neg_index = {1, 9};
  EXPECT_THROW(ContrastPlan{bad}, std::invalid_argument);

  ContrastPlan plan(s);
  EXPECT_THROW(ntxent_loss(Tensor::zeros({5, 3}), plan, 0.1f), std::invalid_argument);
  EXPECT_THROW(ntxent_loss(Tensor::zeros({4}), plan, 0.1f), std::invalid_argument);
  EXPECT_THROW(ntxent_loss(Tensor::zeros({4, 3}), plan, 0.0f), std::invalid_argument);
  EXPECT_THROW(ntxent_loss(Tensor::zeros({4, 3}), plan, std::nanf("")), std::invalid_argument);
  EXPECT_THROW(plan.on(Device::CUDA), std::invalid_argument);
}

TEST(NtXent, NegativesAndMergedTerms) {
  ContrastSpec s;
  s.rows = 6;
  s.rule = NegativeRule::OtherGroups;
  s.group = {0, 1, 0, 1, 2, 2};
  s.terms = {{0, 2, 0, 0.5f}, {0, 2, 0, 0.25f}, {2, 0, 0, 1.0f}, {2, 0, 4, 1.0f}};
  EXPECT_EQ(s.negatives(0), (std::vector<int>{1, 3, 4, 5}));
  EXPECT_EQ(s.negatives(3), (std::vector<int>{0, 1, 2, 3}));  // key row 4: group 2 excluded
  const ContrastSpec m = s.merged();
  ASSERT_EQ(m.terms.size(), 3u);  // the two (0,2,key 0) terms merge; (2,0) with keys 0 / 4 differ
  EXPECT_FLOAT_EQ(m.terms[0].weight, 0.75f);
  EXPECT_DOUBLE_EQ(m.total_weight(), s.total_weight());
  // Merging does not change the loss.
  Tensor z = random_tensor({6, 4}, 8);
  NoGradGuard ng;
  EXPECT_NEAR(ntxent_loss(z, ContrastPlan(s), 0.3f).to_vector()[0], ntxent_loss(z, ContrastPlan(m), 0.3f).to_vector()[0],
              1e-5);
  // Anchor 2 owns two negative sets (keys of group 0 and group 2): two units.
  EXPECT_EQ(ContrastPlan(s).num_units(), 3);
  EXPECT_EQ(ContrastPlan(s).max_units_per_row(), 2);
}

// The explicit rule's inverse index (ContrastIndex::row_pair_off), which the CUDA backward gathers
// through: every (term, role) contribution is listed exactly once, under the row it adds to, with
// the right pair and other row, each row's list in term order. Role 0 is the positive, role 1 + i
// the term's i-th listed negative; each contributes to the anchor's row and to its own.
TEST(ContrastPlan, InverseIndexListsEveryContributionOnce) {
  ContrastSpec hand;  // a negative equal to its anchor, a repeated negative, an untouched row (5)
  hand.rows = 6;
  hand.rule = NegativeRule::Explicit;
  hand.terms = {{0, 1, 0, 1.0f}, {2, 0, 2, 0.5f}, {1, 3, 1, 0.25f}};
  hand.neg_offset = {0, 2, 2, 5};
  hand.neg_index = {2, 0, 4, 4, 3};
  for (const ContrastSpec& spec : {hand, random_contrast_spec(NegativeRule::Explicit, 37, 120, 11),
                                   random_contrast_spec(NegativeRule::Explicit, 400, 5000, 8)}) {
    const ContrastPlan plan(spec);
    const ContrastIndex ix = plan.host();
    const int T = static_cast<int>(spec.terms.size()), rows = static_cast<int>(spec.rows);
    ASSERT_EQ(plan.num_pairs(), T + static_cast<int64_t>(spec.neg_index.size()));
    // (row, term, role, other row): what the index should list, and what it lists.
    using Entry = std::tuple<int, int, int, int>;
    std::multiset<Entry> want, got;
    for (int t = 0; t < T; ++t) {
      const int a = spec.terms[t].anchor, p = spec.terms[t].positive;
      want.insert({a, t, 0, p});
      want.insert({p, t, 0, a});
      for (int e = spec.neg_offset[t]; e < spec.neg_offset[t + 1]; ++e) {
        const int role = 1 + e - spec.neg_offset[t], j = spec.neg_index[e];
        want.insert({a, t, role, j});
        want.insert({j, t, role, a});
      }
    }
    ASSERT_NE(ix.row_pair_off, nullptr);
    ASSERT_EQ(ix.row_pair_off[0], 0);
    ASSERT_EQ(ix.row_pair_off[rows], static_cast<int>(2 * plan.num_pairs()));
    for (int r = 0; r < rows; ++r) {
      ASSERT_LE(ix.row_pair_off[r], ix.row_pair_off[r + 1]);
      int last_term = -1;
      for (int i = ix.row_pair_off[r]; i < ix.row_pair_off[r + 1]; ++i) {
        const int pair = ix.row_pair[i];
        ASSERT_GE(pair, 0);
        ASSERT_LT(pair, plan.num_pairs());
        int t = pair, role = 0;
        if (pair >= T) {  // negative e = pair - T: its term is the one whose list holds e
          const int e = pair - T;
          t = static_cast<int>(std::upper_bound(spec.neg_offset.begin(), spec.neg_offset.end(), e) -
                               spec.neg_offset.begin()) - 1;
          role = 1 + e - spec.neg_offset[t];
        }
        EXPECT_GE(t, last_term) << "row " << r << " is not in term order";
        last_term = t;
        got.insert({r, t, role, ix.row_other[i]});
      }
    }
    EXPECT_EQ(got, want);
  }
  // The hand-made spec, row by row: (pair, other row).
  const ContrastPlan plan(hand);
  const ContrastIndex ix = plan.host();
  auto row = [&](int r) {
    std::vector<std::pair<int, int>> v;
    for (int i = ix.row_pair_off[r]; i < ix.row_pair_off[r + 1]; ++i) v.emplace_back(ix.row_pair[i], ix.row_other[i]);
    return v;
  };
  using L = std::vector<std::pair<int, int>>;  // pairs 0..2: the terms' positives; 3..7: negatives
  EXPECT_EQ(row(0), (L{{0, 1}, {3, 2}, {4, 0}, {4, 0}, {1, 2}}));  // anchor 0 with itself as its negative
  EXPECT_EQ(row(1), (L{{0, 0}, {2, 3}, {5, 4}, {6, 4}, {7, 3}}));
  EXPECT_EQ(row(2), (L{{3, 0}, {1, 0}}));  // term 1 has no negatives
  EXPECT_EQ(row(3), (L{{2, 1}, {7, 1}}));
  EXPECT_EQ(row(4), (L{{5, 1}, {6, 1}}));  // listed twice, counted twice
  EXPECT_EQ(row(5), L{});
  // The dense rules have no inverse index.
  EXPECT_EQ(ContrastPlan(random_contrast_spec(NegativeRule::AllOthers, 12, 30, 3)).host().row_pair_off, nullptr);
}

TEST(CosineSimilarity, MatchesReferenceAndGradients) {
  const int n = 9, d = 6;
  Tensor z = random_tensor({n, d}, 4);
  z.set_requires_grad(true);
  OpCheck r = check_op([](const std::vector<Tensor>& in) { return cosine_similarity(in[0], 0.5f); },
                       [&](const std::vector<Vec>& in) { return ref_similarity(in[0], n, d, 0.5); }, {z}, 5);
  EXPECT_LT(r.forward, 1e-6) << r.report();
  EXPECT_LT(r.grad[0], 1e-4) << r.report();
  EXPECT_LT(r.overwrite[0], 1e-6) << r.report();
  EXPECT_LT(r.accumulate[0], 1e-6) << r.report();
}

TEST(ExtractRegions, OverlappingPatchesAndGradients) {
  const int N = 2, H = 7, W = 6, C = 3, k = 3;
  const std::vector<RegionPos> pos = {{0, 0}, {1, 1}, {4, 3}, {0, 0}, {2, 3}};  // overlaps and a repeat
  Tensor f = random_tensor({N, H, W, C}, 6);
  f.set_requires_grad(true);
  OpCheck r = check_op([&](const std::vector<Tensor>& in) { return extract_regions(in[0], pos, k); },
                       [&](const std::vector<Vec>& in) { return ref_extract(in[0], N, H, W, C, pos, k); }, {f}, 9);
  EXPECT_EQ(r.forward, 0.0) << r.report();
  EXPECT_LT(r.grad[0], 1e-6) << r.report();
  EXPECT_LT(r.overwrite[0], 1e-6) << r.report();
  EXPECT_LT(r.accumulate[0], 1e-6) << r.report();
  EXPECT_THROW(extract_regions(f, {{5, 0}}, 3), std::invalid_argument);  // runs past the bottom
  EXPECT_THROW(extract_regions(f, {}, 3), std::invalid_argument);
}

}  // namespace
}  // namespace cs::test

// CUDA parity cases (parity_table.h) of the similarity kernels against the CPU ones (checked
// above against the double references), on each path a kernel takes by size.
namespace cs::cudatest {

Cases ntxent_cases(const ContrastSpec& spec, int d, float tau, const std::string& what) {
  // One plan per device, held by the cases: a plan must outlive the backward pass.
  const auto cpu = std::make_shared<const ContrastPlan>(spec, Device::CPU);
  const auto gpu = std::make_shared<const ContrastPlan>(spec, Device::CUDA);
  Cases cases;
  for (bool per_term : {false, true}) {
    const OpFn f = [cpu, gpu, per_term, tau](const std::vector<Tensor>& t) {
      const ContrastPlan& plan = t[0].is_cuda() ? *gpu : *cpu;
      return per_term ? ntxent_terms(t[0], plan, tau) : ntxent_loss(t[0], plan, tau);
    };
    cases.push_back({what + (per_term ? " (per term)" : " (loss)"), f, {input({spec.rows, d}, 1234)}});
  }
  return cases;
}

namespace {
Cases joined(std::initializer_list<Cases> parts) {
  Cases all;
  for (const Cases& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}
}  // namespace

Cases ntxent_all_paths_cases() {
  using test::random_contrast_spec;
  return joined({
      // Fused one-block forward (rows <= 64).
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 48, 150, 4), 128, 0.1f, "other-groups fused"),
      // Tiled forward: rows and units not multiples of 64, depth not a multiple of 32.
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 300, 700, 5), 130, 0.1f, "other-groups tiled"),
      ntxent_cases(random_contrast_spec(NegativeRule::AllOthers, 50, 120, 6), 20, 0.3f, "all-others small"),
      // Explicit: fused (local loss sizes) and multi-launch (many terms).
      ntxent_cases(random_contrast_spec(NegativeRule::Explicit, 340, 260, 7), 128, 0.1f, "explicit fused"),
      ntxent_cases(random_contrast_spec(NegativeRule::Explicit, 400, 5000, 8), 64, 0.1f, "explicit multi-launch"),
  });
}

Cases ntxent_tiny_tau_cases() {
  using test::random_contrast_spec;
  return joined({
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 48, 150, 4), 128, 0.005f, "fused, tau 0.005"),
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 200, 400, 9), 128, 0.005f, "tiled, tau 0.005"),
  });
}

// The dense rules over more than kSmallRows = 64 rows (ops/cuda/similarity.cu): row
// normalisation, the tiled forward (64 units x 64 columns per block, depth in chunks of 32) and
// the panelled backward. 65 rows: one past the fused kernel; 128: exactly two tiles; 200 with a
// depth of 130: partial tiles on every axis. 6000 rows of depth 16 with a term per row (3774 units,
// the distinct anchors, for all-others; 4859 distinct (anchor, key) for other-groups): the
// backward's panels hold 2^24 / 6000 = 2796 units, so it takes two, the second partial, and the
// depth is below one chunk. Each case's CPU side takes about a second on 2 cores.
Cases ntxent_many_rows_cases() {
  using test::random_contrast_spec;
  return joined({
      ntxent_cases(random_contrast_spec(NegativeRule::AllOthers, 65, 130, 10), 128, 0.1f, "all-others 65 rows"),
      ntxent_cases(random_contrast_spec(NegativeRule::AllOthers, 128, 256, 11), 128, 0.1f, "all-others 128 rows"),
      ntxent_cases(random_contrast_spec(NegativeRule::AllOthers, 200, 400, 12), 130, 0.1f, "all-others 200 rows"),
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 65, 130, 13), 128, 0.1f, "other-groups 65 rows"),
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 128, 256, 14), 128, 0.1f, "other-groups 128 rows"),
      ntxent_cases(random_contrast_spec(NegativeRule::AllOthers, 6000, 6000, 15), 16, 0.1f,
                   "all-others 6000 rows, two backward panels"),
      ntxent_cases(random_contrast_spec(NegativeRule::OtherGroups, 6000, 6000, 16, 12), 16, 0.1f,
                   "other-groups 6000 rows, two backward panels"),
  });
}

Cases cosine_and_regions_cases() {
  const std::vector<RegionPos> pos = {{0, 0}, {1, 1}, {4, 3}, {0, 0}};
  return {
      {"cosine_similarity", [](const std::vector<Tensor>& t) { return cosine_similarity(t[0], 0.2f); },
       {input({70, 33}, 5)}, 1e-5},
      {"extract_regions", [pos](const std::vector<Tensor>& t) { return extract_regions(t[0], pos, 3); },
       {input({3, 8, 7, 5}, 6)}, 1e-6},
  };
}

}  // namespace cs::cudatest
