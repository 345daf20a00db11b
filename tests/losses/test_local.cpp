// Local contrastive losses (losses/local.h): region grid and tables, term lists, and the loss
// against a double brute force written from docs/method.md §3.3-3.7 (own copy of the tables).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "autograd/tape.h"
#include "losses/local.h"
#include "losses/loss_reference.h"
#include "support/gradcheck.h"

namespace cs::test {
namespace {

// docs/method.md §3.4, one line per positive: "position : 5 negative positions".
// The 3x3 table (paper mode for both region sizes, reference mode for 3x3 regions).
const char* const kSpecTable[13] = {
    "00:0b aa ab b0 ba", "0b:00 0d aa ac bb", "0d:0b ab ac bc bd", "b0:00 aa bb d0 ca", "bb:aa ac ca cc b0",
    "bd:0d bb dd ac cc", "d0:b0 ba db ca cb", "db:bb d0 dd ca cc", "dd:bc bd db cc cb", "aa:00 0b b0 bb ac",
    "ac:0b 0d aa bb bd", "ca:b0 bb d0 db cc", "cc:bb bd db dd ca"};
// The released code's 1x1 table (reference mode, 1x1 regions).
const char* const kSpecTable1x1Reference[13] = {
    "00:0b b0 bb aa ac", "0b:00 0d bb aa ac", "0d:0b bb bd ca ac", "b0:00 bb d0 aa ca", "bb:aa ac ca cc b0",
    "bd:0d bb dd ac cc", "d0:b0 bb db ca aa", "db:bb d0 dd ca cc", "dd:bb bd db cc ca", "aa:00 0b b0 bb ac",
    "ac:0b 0d bb bd cc", "ca:b0 bb d0 0b aa", "cc:bb bd db dd ac"};
using SpecTable = const char* const (&)[13];

struct Corner {
  int r, s;
};
Corner corner(int m, const std::string& sym) {
  auto v = [m](char c) { return c == '0' ? 0 : c == 'a' ? m / 4 : c == 'b' ? m / 2 : c == 'c' ? 3 * m / 4 : m; };
  return {v(sym[0]), v(sym[1])};
}

// The region embedding of image n at corner q: flatten (dr, ds, c) then w (3x3), or the C-vector.
Vec region_embedding(const Vec& f, int W, int C, int n, Corner q, int k, const Vec& w, int dout) {
  Vec x;
  for (int dr = 0; dr < k; ++dr)
    for (int ds = 0; ds < k; ++ds)
      for (int c = 0; c < C; ++c) x.push_back(f[((int64_t(n) * W + q.r + dr) * W + q.s + ds) * C + c]);
  if (k == 1) return x;
  return ref_linear(x, 1, int64_t(x.size()), w, dout);
}

double cosine(const Vec& a, const Vec& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / (std::max(std::sqrt(aa), 1e-12) * std::max(std::sqrt(bb), 1e-12));
}

// -log(e^{s(anc,pos)} / (e^{s(anc,pos)} + sum_n e^{s(anc,n)})), s = cosine / tau.
double term(const Vec& anc, const Vec& pos, const std::vector<Vec>& negs, double tau) {
  std::vector<double> s = {cosine(anc, pos) / tau};
  for (const Vec& n : negs) s.push_back(cosine(anc, n) / tau);
  const double m = *std::max_element(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += std::exp(v - m);
  return -s[0] + m + std::log(sum);
}

// L^R / L^D from docs/method.md §3.6 / §3.7, with the negatives of `table`.
double brute_local(LocalLossKind kind, const Vec& f, int N, int W, int C, int k, const Vec& w, int dout, double tau,
                   SpecTable table = kSpecTable) {
  const int m = k == 3 ? W - 4 : W - 1;
  auto emb = [&](int n, const std::string& sym) { return region_embedding(f, W, C, n, corner(m, sym), k, w, dout); };
  double total = 0;
  for (const char* line : table) {
    const std::string l(line);
    const std::string pos = l.substr(0, 2);
    std::vector<std::string> negs;
    std::istringstream in(l.substr(3));
    for (std::string t; in >> t;) negs.push_back(t);
    if (kind == LocalLossKind::LR) {
      for (int p = 0; p < N / 2; ++p) {
        const int f1 = 2 * p, f2 = 2 * p + 1;
        std::vector<Vec> nv;
        for (const auto& n : negs) nv.push_back(emb(f1, n));
        for (const auto& n : negs) nv.push_back(emb(f2, n));
        total += term(emb(f1, pos), emb(f2, pos), nv, tau) + term(emb(f2, pos), emb(f1, pos), nv, tau);
      }
    } else {
      const int n = N / 2;
      for (int i = 0; i < n; ++i) {
        std::vector<int> positives = {n + i};  // view 2 of slice i
        for (int j = 1; j < n / 4; ++j) positives.push_back((i + 4 * j) % n);  // (i+4), (i+8) mod 12
        for (int other : positives) {
          std::vector<Vec> nv;
          for (int j = 0; j < 4; ++j) nv.push_back(emb(i, negs[j]));
          for (int j = 0; j < 4; ++j) nv.push_back(emb(other, negs[j]));
          total += term(emb(i, pos), emb(other, pos), nv, tau);
        }
      }
    }
  }
  return total / 13.0 / N;
}

TEST(LocalRegions, GridOffsetsAndTable) {
  const RegionGrid g = region_grid(48, 3);
  EXPECT_EQ(g.m, 44);
  EXPECT_EQ(g.a, 11);
  EXPECT_EQ(g.b, 22);
  EXPECT_EQ(g.c, 33);
  EXPECT_EQ(g.d, 44);
  const RegionGrid g40 = region_grid(40, 3);
  EXPECT_EQ(g40.m, 36);
  EXPECT_EQ(g40.c, 27);
  const RegionGrid g1 = region_grid(48, 1);
  EXPECT_EQ(g1.m, 47);
  EXPECT_EQ(g1.b, 23);
  EXPECT_THROW(region_grid(3, 3), std::invalid_argument);
  EXPECT_THROW(region_grid(48, 2), std::invalid_argument);

  const auto pos = positive_regions(g);
  const auto negs = negative_regions(g);
  ASSERT_EQ(pos.size(), 13u);
  for (int r = 0; r < 13; ++r) {
    const std::string line(kSpecTable[r]);
    const Corner want = corner(44, line.substr(0, 2));
    EXPECT_EQ(pos[r].r, want.r) << "P" << r;
    EXPECT_EQ(pos[r].s, want.s) << "P" << r;
    ASSERT_EQ(negs[r].size(), 5u);
    for (int j = 0; j < 5; ++j) {
      const Corner n = corner(44, line.substr(3 + 3 * j, 2));
      EXPECT_EQ(negs[r][j].r, n.r) << "P" << r << " negative " << j;
      EXPECT_EQ(negs[r][j].s, n.s) << "P" << r << " negative " << j;
    }
  }
  const LocalRegionTable t = local_region_table(g);
  EXPECT_EQ(t.positions.size(), 17u);  // 13 positives + (a,b) (b,a) (b,c) (c,b)
  for (int r = 0; r < 13; ++r) EXPECT_EQ(t.positive[r], r);
}

// Positive and negatives of one transcribed line.
std::string line_positive(const char* line) { return std::string(line).substr(0, 2); }
std::vector<std::string> line_negatives(const char* line) {
  std::vector<std::string> out;
  std::istringstream in(std::string(line).substr(3));
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

TEST(LocalRegions, Reference1x1TableAsGiven) {
  const RegionGrid g = region_grid(48, 1);  // m = 47: 0, 11, 23, 35, 47 are all distinct
  const auto pos = positive_regions(g);
  const auto negs = negative_regions(g, NegativeTable::Reference1x1);
  ASSERT_EQ(pos.size(), 13u);
  ASSERT_EQ(negs.size(), 13u);
  for (int r = 0; r < 13; ++r) {
    const Corner want = corner(47, line_positive(kSpecTable1x1Reference[r]));
    EXPECT_EQ(pos[r].r, want.r) << "P" << r;
    EXPECT_EQ(pos[r].s, want.s) << "P" << r;
    const auto names = line_negatives(kSpecTable1x1Reference[r]);
    ASSERT_EQ(names.size(), 5u);
    ASSERT_EQ(negs[r].size(), 5u);
    for (int j = 0; j < 5; ++j) {
      const Corner n = corner(47, names[j]);
      EXPECT_EQ(negs[r][j].r, n.r) << "P" << r << " negative " << j;
      EXPECT_EQ(negs[r][j].s, n.s) << "P" << r << " negative " << j;
    }
  }
  // The two transcriptions share their positives and differ in 9 of the 13 rows, P1 and P3 only
  // in their order (which matters to L^D: it keeps the first 4); the library's tables agree.
  const auto negs3 = negative_regions(g, NegativeTable::Regions3x3);
  int rows_differ = 0, sets_differ = 0, library_rows_differ = 0;
  for (int r = 0; r < 13; ++r) {
    EXPECT_EQ(line_positive(kSpecTable[r]), line_positive(kSpecTable1x1Reference[r]));
    auto n3 = line_negatives(kSpecTable[r]), n1 = line_negatives(kSpecTable1x1Reference[r]);
    const bool differ = n3 != n1;
    rows_differ += differ;
    std::sort(n3.begin(), n3.end());
    std::sort(n1.begin(), n1.end());
    sets_differ += n3 != n1;
    bool lib_differ = false;
    for (int j = 0; j < 5; ++j) lib_differ |= negs3[r][j].r != negs[r][j].r || negs3[r][j].s != negs[r][j].s;
    library_rows_differ += lib_differ;
    EXPECT_EQ(differ, lib_differ) << "P" << r;
  }
  EXPECT_EQ(rows_differ, 9);
  EXPECT_EQ(sets_differ, 7);
  EXPECT_EQ(library_rows_differ, 9);
}

TEST(LocalRegions, TableFollowsModeAndRegionSize) {
  EXPECT_EQ(negative_table_for(Compat::Paper, 3), NegativeTable::Regions3x3);
  EXPECT_EQ(negative_table_for(Compat::Paper, 1), NegativeTable::Regions3x3);
  EXPECT_EQ(negative_table_for(Compat::Reference, 3), NegativeTable::Regions3x3);
  EXPECT_EQ(negative_table_for(Compat::Reference, 1), NegativeTable::Reference1x1);
  LocalLossOptions opt;
  EXPECT_EQ(opt.mode, Compat::Paper);  // the default stays paper mode
  opt.region_size = 1;
  EXPECT_EQ(LocalContrastiveLoss(opt, 4, 12).table().table, NegativeTable::Regions3x3);
  opt.mode = Compat::Reference;
  EXPECT_EQ(LocalContrastiveLoss(opt, 4, 12).table().table, NegativeTable::Reference1x1);
  opt.region_size = 3;
  EXPECT_EQ(LocalContrastiveLoss(opt, 4, 12).table().table, NegativeTable::Regions3x3);
}

TEST(LocalTerms, Reference1x1Structure) {
  const RegionGrid g = region_grid(48, 1);
  const LocalRegionTable paper = local_region_table(g, NegativeTable::Regions3x3);
  const LocalRegionTable ref = local_region_table(g, NegativeTable::Reference1x1);
  // Every negative of the 1x1 table is a positive corner: 13 distinct corners instead of 17.
  EXPECT_EQ(paper.positions.size(), 17u);
  EXPECT_EQ(ref.positions.size(), 13u);
  for (int r = 0; r < 13; ++r) EXPECT_EQ(ref.positive[r], r);
  // Per anchor region, how many of its listed negatives are positive regions themselves.
  const int want_paper[13] = {3, 5, 3, 5, 5, 5, 3, 5, 3, 5, 5, 5, 5};
  for (int r = 0; r < 13; ++r) {
    int paper_pos = 0, ref_pos = 0;
    for (int q : paper.negatives[r]) paper_pos += q < 13;
    for (int q : ref.negatives[r]) ref_pos += q < 13;
    EXPECT_EQ(paper_pos, want_paper[r]) << "P" << r;
    EXPECT_EQ(ref_pos, 5) << "P" << r;
  }
  // How often the centre (b,b) = P4 of image 0 is a negative in L^R over one pair of views:
  // 2 terms per row that lists it, 8 rows in the 3x3 table, 12 in the 1x1 table.
  auto count_as_negative = [](const LocalRegionTable& t, int row) {
    const ContrastSpec s = local_contrast_spec(LocalLossKind::LR, t, 2);
    return static_cast<int>(std::count(s.neg_index.begin(), s.neg_index.end(), row));
  };
  EXPECT_EQ(count_as_negative(paper, 4), 16);
  EXPECT_EQ(count_as_negative(ref, 4), 24);
  // Term counts and weights do not depend on the table.
  const ContrastSpec lr = local_contrast_spec(LocalLossKind::LR, ref, 20);
  EXPECT_EQ(lr.rows, 20 * 13);
  ASSERT_EQ(lr.terms.size(), 10u * 13u * 2u);
  for (size_t i = 0; i < lr.terms.size(); ++i) EXPECT_EQ(lr.negatives(i).size(), 10u);
  const ContrastSpec ld = local_contrast_spec(LocalLossKind::LD, ref, 24);
  ASSERT_EQ(ld.terms.size(), 12u * 13u * 3u);
  for (size_t i = 0; i < ld.terms.size(); ++i) EXPECT_EQ(ld.negatives(i).size(), 8u);
}

TEST(LocalTerms, Structure) {
  const LocalRegionTable t = local_region_table(region_grid(48, 3));
  const ContrastSpec lr = local_contrast_spec(LocalLossKind::LR, t, 20);
  EXPECT_EQ(lr.rule, NegativeRule::Explicit);
  EXPECT_EQ(lr.rows, 20 * 17);
  ASSERT_EQ(lr.terms.size(), 10u * 13u * 2u);
  for (size_t i = 0; i < lr.terms.size(); ++i) {
    EXPECT_EQ(lr.negatives(i).size(), 10u);
    EXPECT_FLOAT_EQ(lr.terms[i].weight, 1.0f / 13.0f / 20.0f);
  }
  // Term 2j+1 is the symmetric term of 2j with the same negatives.
  for (size_t i = 0; i < lr.terms.size(); i += 2) {
    EXPECT_EQ(lr.terms[i].anchor, lr.terms[i + 1].positive);
    EXPECT_EQ(lr.terms[i].positive, lr.terms[i + 1].anchor);
    std::vector<int> n0 = lr.negatives(i), n1 = lr.negatives(i + 1);
    std::sort(n0.begin(), n0.end());
    std::sort(n1.begin(), n1.end());
    EXPECT_EQ(n0, n1);
  }
  const ContrastSpec ld = local_contrast_spec(LocalLossKind::LD, t, 24);
  ASSERT_EQ(ld.terms.size(), 12u * 13u * 3u);
  for (size_t i = 0; i < ld.terms.size(); ++i) {
    EXPECT_EQ(ld.negatives(i).size(), 8u);
    EXPECT_LT(ld.terms[i].anchor / 17, 12);  // anchors are view-1 images only: no reverse terms
    EXPECT_FLOAT_EQ(ld.terms[i].weight, 1.0f / 13.0f / 24.0f);
  }
  EXPECT_THROW(local_contrast_spec(LocalLossKind::LR, t, 7), std::invalid_argument);
  EXPECT_THROW(local_contrast_spec(LocalLossKind::LD, t, 20), std::invalid_argument);
}

struct LocalCase {
  LocalLossKind kind;
  int images, side, channels, k, dout;
  float tau;
  Compat mode = Compat::Paper;
};

double run_op(const LocalCase& c, const Tensor& f, const Tensor& w) {
  LocalLossOptions opt;
  opt.kind = c.kind;
  opt.region_size = c.k;
  opt.tau = c.tau;
  opt.mode = c.mode;
  LocalContrastiveLoss loss(opt, c.images, c.side);
  NoGradGuard ng;
  return loss(f, w).to_vector()[0];
}

TEST(LocalLoss, ValuesMatchBruteForceFromTheMethod) {
  const LocalCase cases[] = {{LocalLossKind::LR, 20, 48, 8, 3, 128, 0.1f},
                             {LocalLossKind::LD, 24, 40, 6, 3, 32, 0.1f},
                             {LocalLossKind::LR, 6, 14, 5, 1, 0, 0.1f},
                             {LocalLossKind::LD, 16, 9, 4, 1, 0, 0.2f}};
  uint64_t seed = 300;
  for (const LocalCase& c : cases) {
    Tensor f = random_tensor({c.images, c.side, c.side, c.channels}, ++seed);
    Tensor w = c.k == 3 ? random_tensor({c.dout, 9 * c.channels}, ++seed) : Tensor();
    const double want = brute_local(c.kind, to_double(f), c.images, c.side, c.channels, c.k,
                                    c.k == 3 ? to_double(w) : Vec{}, c.dout, c.tau);
    EXPECT_TRUE(close_rel(want, run_op(c, f, w), 1e-4)) << local_loss_name(c.kind) << " k=" << c.k;
  }
}

// Reference mode: 3x3 regions keep the 3x3 table (same value as paper mode); 1x1 regions use the
// released code's 1x1 table, for L^R and L^D alike.
TEST(LocalLoss, ReferenceModeValuesMatchBruteForce) {
  const LocalCase cases[] = {{LocalLossKind::LR, 6, 14, 5, 1, 0, 0.1f, Compat::Reference},
                             {LocalLossKind::LD, 16, 9, 4, 1, 0, 0.2f, Compat::Reference},
                             {LocalLossKind::LR, 20, 48, 8, 3, 128, 0.1f, Compat::Reference},
                             {LocalLossKind::LD, 24, 40, 6, 3, 32, 0.1f, Compat::Reference}};
  uint64_t seed = 400;
  for (const LocalCase& c : cases) {
    Tensor f = random_tensor({c.images, c.side, c.side, c.channels}, ++seed);
    Tensor w = c.k == 3 ? random_tensor({c.dout, 9 * c.channels}, ++seed) : Tensor();
    const Vec fd = to_double(f), wd = c.k == 3 ? to_double(w) : Vec{};
    const double want = brute_local(c.kind, fd, c.images, c.side, c.channels, c.k, wd, c.dout, c.tau,
                                    c.k == 1 ? kSpecTable1x1Reference : kSpecTable);
    const double got = run_op(c, f, w);
    EXPECT_TRUE(close_rel(want, got, 1e-4)) << local_loss_name(c.kind) << " k=" << c.k;
    LocalCase paper = c;
    paper.mode = Compat::Paper;
    const double paper_value = run_op(paper, f, w);
    if (c.k == 3)
      EXPECT_EQ(paper_value, got) << local_loss_name(c.kind) << ": 3x3 regions use one table in both modes";
    else
      EXPECT_FALSE(close_rel(paper_value, got, 1e-3)) << local_loss_name(c.kind) << ": the 1x1 tables differ";
  }
}

// The proposed L^R batch with 1x1 regions on the l = 3 map (20 x 48x48x64), on a fixed random
// input: the two tables give different values, the difference is the brute force's, and it is
// well above the float32 agreement (1e-4). On such inputs it is small (0.3% here); its size and
// sign depend on the input.
TEST(LocalLoss, Reference1x1TableChangesTheLoss) {
  const LocalCase c{LocalLossKind::LR, 20, 48, 64, 1, 0, 0.1f, Compat::Reference};
  Tensor f = random_tensor({c.images, c.side, c.side, c.channels}, 2024);
  const Vec fd = to_double(f);
  const double ref = run_op(c, f, Tensor());
  LocalCase paper = c;
  paper.mode = Compat::Paper;
  const double pap = run_op(paper, f, Tensor());
  const double ref_brute = brute_local(c.kind, fd, c.images, c.side, c.channels, 1, {}, 0, c.tau,
                                       kSpecTable1x1Reference);
  const double pap_brute = brute_local(c.kind, fd, c.images, c.side, c.channels, 1, {}, 0, c.tau);
  EXPECT_TRUE(close_rel(ref_brute, ref, 1e-5));
  EXPECT_TRUE(close_rel(pap_brute, pap, 1e-5));
  EXPECT_GT(std::abs(ref - pap) / pap, 2e-3) << "3x3 table " << pap << ", 1x1 table " << ref;
  EXPECT_NEAR(ref - pap, ref_brute - pap_brute, 0.05 * std::abs(ref_brute - pap_brute));
}

TEST(LocalLoss, GradientsMatchFiniteDifferences) {
  const LocalCase cases[] = {{LocalLossKind::LR, 2, 8, 2, 3, 6, 0.5f}, {LocalLossKind::LD, 8, 6, 2, 3, 5, 0.5f}};
  for (const LocalCase& c : cases) {
    LocalLossOptions opt;
    opt.kind = c.kind;
    opt.tau = c.tau;
    LocalContrastiveLoss loss(opt, c.images, c.side);
    Tensor f = random_tensor({c.images, c.side, c.side, c.channels}, 77);
    Tensor w = random_tensor({c.dout, 9 * c.channels}, 78);
    f.set_requires_grad(true);
    w.set_requires_grad(true);
    OpCheck r = check_op([&](const std::vector<Tensor>& in) { return loss(in[0], in[1]); },
                         [&](const std::vector<Vec>& in) {
                           return Vec{brute_local(c.kind, in[0], c.images, c.side, c.channels, 3, in[1], c.dout, c.tau)};
                         },
                         {f, w}, 8);
    EXPECT_LT(r.forward, 1e-5) << r.report();
    EXPECT_LT(r.grad[0], 1e-4) << local_loss_name(c.kind) << ": " << r.report();
    EXPECT_LT(r.grad[1], 1e-4) << local_loss_name(c.kind) << ": " << r.report();
  }
}

TEST(LocalLoss, RejectsMismatchedInputs) {
  LocalLossOptions opt;
  LocalContrastiveLoss loss(opt, 4, 12);
  Tensor f = random_tensor({4, 12, 12, 3}, 1);
  EXPECT_THROW(loss(f), std::invalid_argument);                                  // 3x3 needs the dense weight
  EXPECT_THROW(loss(f, random_tensor({8, 26}, 2)), std::invalid_argument);       // 9C = 27
  EXPECT_THROW(loss(random_tensor({4, 10, 10, 3}, 3), random_tensor({8, 27}, 2)), std::invalid_argument);
  opt.region_size = 1;
  LocalContrastiveLoss loss1(opt, 4, 12);
  EXPECT_THROW(loss1(f, random_tensor({8, 27}, 2)), std::invalid_argument);      // 1x1 takes no weight
  EXPECT_NO_THROW(loss1(f));
}

}  // namespace
}  // namespace cs::test
