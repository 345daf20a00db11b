#include "support/similarity_reference.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace cs::test {

Vec ref_normalize(const Vec& z, int64_t n, int64_t d) {
  Vec out(z.size());
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += z[i * d + k] * z[i * d + k];
    const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
    for (int64_t k = 0; k < d; ++k) out[i * d + k] = z[i * d + k] * inv;
  }
  return out;
}

Vec ref_similarity(const Vec& z, int64_t n, int64_t d, double tau) {
  const Vec zn = ref_normalize(z, n, d);
  Vec s(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < d; ++k) acc += zn[i * d + k] * zn[j * d + k];
      s[i * n + j] = acc / tau;
    }
  return s;
}

std::vector<int> ref_negatives(const ContrastSpec& s, size_t t) {
  const ContrastTerm& x = s.terms[t];
  std::vector<int> out;
  if (s.rule == NegativeRule::Explicit) {
    for (int k = s.neg_offset[t]; k < s.neg_offset[t + 1]; ++k) out.push_back(s.neg_index[k]);
    return out;
  }
  for (int j = 0; j < s.rows; ++j) {
    const bool neg = s.rule == NegativeRule::OtherGroups ? s.group[j] != s.group[x.key_row]
                                                         : (j != x.anchor && j != x.positive);
    if (neg) out.push_back(j);
  }
  return out;
}

Vec ref_ntxent_terms(const Vec& z, int64_t d, const ContrastSpec& s, double tau) {
  const int64_t n = s.rows;
  const Vec zn = ref_normalize(z, n, d);
  auto sim = [&](int i, int j) {
    double acc = 0;
    for (int64_t k = 0; k < d; ++k) acc += zn[i * d + k] * zn[j * d + k];
    return acc / tau;
  };
  Vec out;
  for (size_t t = 0; t < s.terms.size(); ++t) {
    const int a = s.terms[t].anchor, p = s.terms[t].positive;
    std::vector<double> den = {sim(a, p)};
    for (int j : ref_negatives(s, t)) den.push_back(sim(a, j));
    const double m = *std::max_element(den.begin(), den.end());
    double sum = 0;
    for (double v : den) sum += std::exp(v - m);
    out.push_back(-den[0] + m + std::log(sum));
  }
  return out;
}

double ref_ntxent_loss(const Vec& z, int64_t d, const ContrastSpec& s, double tau) {
  const Vec v = ref_ntxent_terms(z, d, s, tau);
  double total = 0;
  for (size_t t = 0; t < v.size(); ++t) total += double(s.terms[t].weight) * v[t];
  return total;
}

Vec ref_extract(const Vec& f, int64_t N, int64_t H, int64_t W, int64_t C, const std::vector<RegionPos>& pos, int k) {
  const int64_t P = static_cast<int64_t>(pos.size());
  Vec out(N * P * k * k * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t q = 0; q < P; ++q)
      for (int dr = 0; dr < k; ++dr)
        for (int ds = 0; ds < k; ++ds)
          for (int64_t c = 0; c < C; ++c)
            out[(n * P + q) * k * k * C + (dr * k + ds) * C + c] =
                f[((n * H + pos[q].r + dr) * W + pos[q].s + ds) * C + c];
  return out;
}

// Random terms over n rows. other-groups: positives share the anchor's group; a third of the
// terms are "reverse" terms whose key row is a different row (sometimes of another group), so
// that some anchors own several negative sets.
ContrastSpec random_contrast_spec(NegativeRule rule, int n, int terms, uint64_t seed, int groups) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> row(0, n - 1);
  std::uniform_real_distribution<float> w(0.1f, 1.0f);
  ContrastSpec s;
  s.rows = n;
  s.rule = rule;
  for (int i = 0; i < n; ++i) s.group.push_back(i % groups);
  if (rule != NegativeRule::OtherGroups) s.group.clear();
  if (rule == NegativeRule::Explicit) s.neg_offset.push_back(0);
  while (static_cast<int>(s.terms.size()) < terms) {
    const int a = row(gen);
    int p = row(gen);
    if (rule == NegativeRule::OtherGroups) p = (a + groups * (1 + row(gen) % 3)) % n;
    if (p == a || (rule == NegativeRule::OtherGroups && p % groups != a % groups)) continue;
    const int key = (rule == NegativeRule::OtherGroups && s.terms.size() % 3 == 2) ? row(gen) : a;
    s.terms.push_back({a, p, key, w(gen)});
    if (rule == NegativeRule::Explicit) {
      const int k = static_cast<int>(s.terms.size() % 5);  // 0..4 negatives, repeats allowed
      for (int i = 0; i < k; ++i) s.neg_index.push_back(row(gen));
      s.neg_offset.push_back(static_cast<int>(s.neg_index.size()));
    }
  }
  return s;
}

::testing::AssertionResult close_rel(const Vec& want, const Vec& got, double tol) {
  const double e = normalized_error(want, got);
  if (e <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised error " << e << " > " << tol;
}

::testing::AssertionResult close_rel(double want, double got, double tol) {
  const double e = std::abs(want - got) / std::max(std::abs(want), 1e-300);
  if (e <= tol && std::isfinite(got)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "want " << want << ", got " << got << ": relative error " << e << " > "
                                       << tol;
}

}  // namespace cs::test
