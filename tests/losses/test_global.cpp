// Global contrastive losses (losses/global.h): pair-list structure in both modes, and the loss
// against brute force written directly from docs/method.md §2.5-2.7 (slot arithmetic, not the term list).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "autograd/tape.h"
#include "losses/global.h"
#include "losses/loss_reference.h"
#include "support/gradcheck.h"

namespace cs::test {
namespace {

// -log( e^{s_ap} / (e^{s_ap} + sum_{n in negs} e^{s_an}) ) in double; `a` is the anchor row.
double nt_term(const Vec& S, int n, int a, int p, const std::vector<int>& negs) {
  std::vector<double> v = {S[a * n + p]};
  for (int j : negs) v.push_back(S[a * n + j]);
  const double m = *std::max_element(v.begin(), v.end());
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return -v[0] + m + std::log(s);
}

std::vector<int> rows_where(int n, const std::function<bool(int)>& f) {
  std::vector<int> out;
  for (int j = 0; j < n; ++j)
    if (f(j)) out.push_back(j);
  return out;
}

// docs/method.md §2.7, read literally: anchors i with i mod 8 < 4, the four pairs in both directions, the
// reverse term keeps N(i) (index mod 4 != i mod 4), sum / 48.
double brute_reference_gd(const Vec& z, int d, double tau) {
  const int bs = 48;
  const Vec S = ref_similarity(z, bs, d, tau);
  double total = 0;
  for (int i = 0; i < bs; ++i) {
    if (i % 8 >= 4) continue;
    const int i2 = (i + 4) % bs, i3 = (i + 8) % bs, i4 = (i + 12) % bs;
    const auto negs = rows_where(bs, [&](int j) { return j % 4 != i % 4; });
    for (auto [x, y] : {std::pair{i, i2}, {i, i3}, {i3, i4}, {i2, i4}})
      total += nt_term(S, bs, x, y, negs) + nt_term(S, bs, y, x, negs);
  }
  return total / 48.0;
}

// docs/method.md §2.6: anchors 0..11, positives {i, i+12, i+24}, negatives index mod 4 != i mod 4, sum / 36.
double brute_reference_gd_minus(const Vec& z, int d, double tau) {
  const int bs = 36;
  const Vec S = ref_similarity(z, bs, d, tau);
  double total = 0;
  for (int i = 0; i < 12; ++i) {
    const auto negs = rows_where(bs, [&](int j) { return j % 4 != i % 4; });
    for (auto [x, y] : {std::pair{i, i + 12}, {i, i + 24}, {i + 12, i + 24}})
      total += nt_term(S, bs, x, y, negs) + nt_term(S, bs, y, x, negs);
  }
  return total / 36.0;
}

// Paper mode, V volumes x S partitions x 2 views, row ((v*S)+s)*2+w: mean over (anchor, positive).
double brute_paper(const Vec& z, int d, double tau, int V, int S, bool gd) {
  const int n = V * S * 2;
  const Vec Sim = ref_similarity(z, n, d, tau);
  auto vol = [&](int r) { return r / (2 * S); };
  auto part = [&](int r) { return (r / 2) % S; };
  double total = 0;
  int terms = 0;
  for (int a = 0; a < n; ++a) {
    const auto negs = rows_where(n, [&](int j) { return part(j) != part(a); });
    for (int p = 0; p < n; ++p) {
      if (p == a || part(p) != part(a)) continue;
      if (!gd && vol(p) != vol(a)) continue;
      total += nt_term(Sim, n, a, p, negs);
      ++terms;
    }
  }
  return total / terms;
}

// docs/method.md §2.5: standard NT-Xent over (2k, 2k+1), denominator over all other rows, / 2N.
double brute_gr(const Vec& z, int d, double tau, int slices) {
  const int n = 2 * slices;
  const Vec S = ref_similarity(z, n, d, tau);
  double total = 0;
  for (int a = 0; a < n; ++a) {
    const int p = a ^ 1;
    std::vector<int> others = rows_where(n, [&](int j) { return j != a && j != p; });
    total += nt_term(S, n, a, p, others);
  }
  return total / n;
}

double op_loss(const GlobalContrastiveLoss& loss, const Tensor& z) {
  NoGradGuard ng;
  return loss(z).to_vector()[0];
}

TEST(GlobalReference, GDPairListStructure) {
  const SlotLayout layout = reference_gd_layout();
  ASSERT_EQ(layout.size(), 48u);
  EXPECT_EQ(std::count_if(layout.slots.begin(), layout.slots.end(), [](const Slot& s) { return s.is_zero(); }), 16);
  const ContrastSpec s = global_contrast_spec(GlobalLossKind::GD, Compat::Reference, layout);
  EXPECT_EQ(s.rule, NegativeRule::OtherGroups);
  ASSERT_EQ(s.terms.size(), 192u);
  std::set<std::pair<int, int>> directed;
  std::map<int, int> terms_per_key;
  for (size_t t = 0; t < s.terms.size(); ++t) {
    const auto& x = s.terms[t];
    directed.insert({x.anchor, x.positive});
    terms_per_key[x.key_row]++;
    EXPECT_EQ(s.negatives(t).size(), 36u);
    EXPECT_EQ(x.anchor % 4, x.positive % 4);  // positives share the partition
    EXPECT_FLOAT_EQ(x.weight, 1.0f / 48.0f);
  }
  EXPECT_EQ(directed.size(), 144u);
  EXPECT_EQ(terms_per_key.size(), 24u);  // 24 anchors (i mod 8 < 4) x 8 terms
  for (auto& kv : terms_per_key) {
    EXPECT_LT(kv.first % 8, 4);
    EXPECT_EQ(kv.second, 8);
  }
  // Multiplicities: same-volume original/augmented pairs twice, cross-volume pairs once.
  const ContrastSpec m = s.merged();
  ASSERT_EQ(m.terms.size(), 144u);
  for (const auto& x : m.terms) {
    const Slot &a = layout.slots[x.anchor], &p = layout.slots[x.positive];
    const bool same_slice_other_view = a.volume == p.volume && a.view != p.view;  // zero slots: volume -1
    const int mult = static_cast<int>(std::lround(x.weight * 48.0f));
    EXPECT_EQ(mult, same_slice_other_view ? 2 : 1) << "pair " << x.anchor << " -> " << x.positive;
  }
  // The wrap-around: volume 4 pairs with the zero block and the zero block with volume 1.
  EXPECT_TRUE(directed.count({40, 0}) && directed.count({0, 40}));
  EXPECT_TRUE(directed.count({32, 36}) && layout.slots[32].is_zero());
}

TEST(GlobalReference, GDMinusPairListStructure) {
  const ContrastSpec s = global_contrast_spec(GlobalLossKind::GDMinus, Compat::Reference, reference_gd_minus_layout());
  ASSERT_EQ(s.rows, 36);
  ASSERT_EQ(s.terms.size(), 72u);  // 12 anchors x 6 directed terms
  std::map<int, int> per_anchor;
  for (size_t t = 0; t < s.terms.size(); ++t) {
    per_anchor[s.terms[t].key_row]++;
    EXPECT_EQ(s.negatives(t).size(), 27u);
    EXPECT_EQ(s.terms[t].anchor % 12, s.terms[t].positive % 12);  // the same slice, other view
    EXPECT_FLOAT_EQ(s.terms[t].weight, 1.0f / 36.0f);
  }
  EXPECT_EQ(per_anchor.size(), 12u);
  for (auto& kv : per_anchor) EXPECT_EQ(kv.second, 6);
  EXPECT_EQ(s.merged().terms.size(), 72u);  // no repeats here
}

TEST(GlobalPaper, PairListStructure) {
  const SlotLayout layout = paper_partition_layout(6, 4);
  const std::vector<Slot>& l = layout.slots;
  ASSERT_EQ(l.size(), 48u);
  const ContrastSpec gd = global_contrast_spec(GlobalLossKind::GD, Compat::Paper, layout);
  EXPECT_EQ(gd.terms.size(), 48u * 11u);  // other view + 2 views x 5 other volumes
  for (size_t t = 0; t < gd.terms.size(); ++t) {
    const auto& x = gd.terms[t];
    EXPECT_EQ(l[x.anchor].partition, l[x.positive].partition);
    const auto negs = gd.negatives(t);
    EXPECT_EQ(negs.size(), 36u);
    for (int j : negs) EXPECT_NE(l[j].partition, l[x.anchor].partition);
  }
  const ContrastSpec gdm = global_contrast_spec(GlobalLossKind::GDMinus, Compat::Paper, layout);
  EXPECT_EQ(gdm.terms.size(), 48u);
  for (const auto& x : gdm.terms) {
    EXPECT_EQ(l[x.anchor].volume, l[x.positive].volume);
    EXPECT_NE(l[x.anchor].view, l[x.positive].view);
    EXPECT_FLOAT_EQ(x.weight, 1.0f / 48.0f);
  }
  const ContrastSpec gr = global_contrast_spec(GlobalLossKind::GR, Compat::Paper, random_pairs_layout(10));
  EXPECT_EQ(gr.rule, NegativeRule::AllOthers);
  ASSERT_EQ(gr.terms.size(), 20u);
  for (size_t t = 0; t < gr.terms.size(); ++t) {
    EXPECT_EQ(gr.terms[t].positive, gr.terms[t].anchor ^ 1);
    EXPECT_EQ(gr.negatives(t).size(), 18u);  // + the positive = all 19 other rows
  }
}

TEST(GlobalLoss, RejectsLayoutsThatDoNotFit) {
  SlotLayout l = paper_partition_layout(2, 4);
  l.slots[3].volume = -1;  // a zero slot
  EXPECT_THROW(global_contrast_spec(GlobalLossKind::GD, Compat::Paper, l), std::invalid_argument);
  EXPECT_THROW(global_contrast_spec(GlobalLossKind::GD, Compat::Reference, paper_partition_layout(6, 4)),
               std::invalid_argument);
  EXPECT_THROW(global_contrast_spec(GlobalLossKind::GDMinus, Compat::Reference, reference_gd_layout()),
               std::invalid_argument);
  SlotLayout odd = random_pairs_layout(3);
  odd.slots.pop_back();
  EXPECT_THROW(global_contrast_spec(GlobalLossKind::GR, Compat::Paper, odd), std::invalid_argument);
  EXPECT_THROW(parse_compat("papers"), std::invalid_argument);
  EXPECT_EQ(parse_global_loss("2"), GlobalLossKind::GD);
}

TEST(GlobalLoss, ValuesMatchBruteForceFromTheMethod) {
  const int d = 128;
  const double tau = 0.1;
  {
    Tensor z = random_tensor({48, d}, 101);
    GlobalContrastiveLoss loss(GlobalLossKind::GD, Compat::Reference, reference_gd_layout(), tau);
    EXPECT_TRUE(close_rel(brute_reference_gd(to_double(z), d, tau), op_loss(loss, z), 1e-4));
  }
  {
    Tensor z = random_tensor({36, d}, 102);
    GlobalContrastiveLoss loss(GlobalLossKind::GDMinus, Compat::Reference, reference_gd_minus_layout(), tau);
    EXPECT_TRUE(close_rel(brute_reference_gd_minus(to_double(z), d, tau), op_loss(loss, z), 1e-4));
  }
  for (bool gd : {true, false}) {
    Tensor z = random_tensor({48, d}, 103);
    GlobalContrastiveLoss loss(gd ? GlobalLossKind::GD : GlobalLossKind::GDMinus, Compat::Paper,
                               paper_partition_layout(6, 4), tau);
    EXPECT_TRUE(close_rel(brute_paper(to_double(z), d, tau, 6, 4, gd), op_loss(loss, z), 1e-4)) << gd;
  }
  for (Compat c : {Compat::Paper, Compat::Reference}) {
    Tensor z = random_tensor({20, d}, 104);
    GlobalContrastiveLoss loss(GlobalLossKind::GR, c, random_pairs_layout(10), tau);
    EXPECT_TRUE(close_rel(brute_gr(to_double(z), d, tau, 10), op_loss(loss, z), 1e-4)) << compat_name(c);
  }
}

TEST(GlobalLoss, ReferenceGDGradientsMatchFiniteDifferences) {
  const int d = 4;
  GlobalContrastiveLoss loss(GlobalLossKind::GD, Compat::Reference, reference_gd_layout(), 0.5f);
  Tensor z = random_tensor({48, d}, 105);
  z.set_requires_grad(true);
  OpCheck r = check_op([&](const std::vector<Tensor>& in) { return loss(in[0]); },
                       [&](const std::vector<Vec>& in) { return Vec{brute_reference_gd(in[0], d, 0.5)}; }, {z}, 6);
  EXPECT_LT(r.forward, 1e-5) << r.report();
  EXPECT_LT(r.grad[0], 1e-4) << r.report();
}

}  // namespace
}  // namespace cs::test

namespace cs::test {
namespace {

// The term lists themselves, evaluated in double precision, against the brute force written from
// docs/method.md. The only difference left is the float32 storage of the term weights (1/48,
// 1/36, ...: at most 6e-8 relative), so the bound is 1e-7; a missing, extra or mis-weighted term
// shows orders of magnitude above it.
TEST(GlobalLoss, TermListsMatchBruteForceInDouble) {
  const int d = 16;
  const double tau = 0.1, kTermTol = 1e-7;
  auto spec_value = [&](const GlobalContrastiveLoss& loss, const Tensor& z) {
    return ref_ntxent_loss(to_double(z), d, loss.spec(), tau);
  };
  Tensor z48 = random_tensor({48, d}, 201), z36 = random_tensor({36, d}, 202), z20 = random_tensor({20, d}, 203);
  const GlobalContrastiveLoss gd_ref(GlobalLossKind::GD, Compat::Reference, reference_gd_layout(), tau);
  EXPECT_TRUE(close_rel(brute_reference_gd(to_double(z48), d, tau), spec_value(gd_ref, z48), kTermTol));
  const GlobalContrastiveLoss gdm_ref(GlobalLossKind::GDMinus, Compat::Reference, reference_gd_minus_layout(), tau);
  EXPECT_TRUE(close_rel(brute_reference_gd_minus(to_double(z36), d, tau), spec_value(gdm_ref, z36), kTermTol));
  for (bool gd : {true, false}) {
    const GlobalContrastiveLoss paper(gd ? GlobalLossKind::GD : GlobalLossKind::GDMinus, Compat::Paper,
                                      paper_partition_layout(6, 4), tau);
    EXPECT_TRUE(close_rel(brute_paper(to_double(z48), d, tau, 6, 4, gd), spec_value(paper, z48), kTermTol)) << gd;
  }
  const GlobalContrastiveLoss gr(GlobalLossKind::GR, Compat::Paper, random_pairs_layout(10), tau);
  EXPECT_TRUE(close_rel(brute_gr(to_double(z20), d, tau, 10), spec_value(gr, z20), kTermTol));
}

}  // namespace
}  // namespace cs::test
