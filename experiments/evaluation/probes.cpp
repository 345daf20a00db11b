#include "experiments/evaluation/probes.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"
#include "experiments/evaluation/pictures.h"
#include "io/augmentation/sampler.h"

namespace cs {

std::vector<float> g1_embeddings(UNet& model, const SliceStack& stack, int chunk) {
  NoGradGuard no_grad;
  const int h = stack.h, w = stack.w;
  std::vector<float> out;
  for (int z0 = 0; z0 < stack.z; z0 += chunk) {
    const int n = std::min(chunk, stack.z - z0);
    std::vector<float> imgs(stack.image.begin() + static_cast<size_t>(z0) * h * w,
                            stack.image.begin() + static_cast<size_t>(z0 + n) * h * w);
    const RunMode m = RunMode::inference();
    const auto z = model.g1(model.encoder(Tensor::from_vector({n, h, w, 1}, imgs, model.device()), m).bottleneck, m)
                       .to_vector();
    out.insert(out.end(), z.begin(), z.end());
  }
  return out;
}

void to_unit_rows(std::vector<float>& z, size_t d) {
  for (size_t r = 0; d > 0 && r < z.size() / d; ++r) {
    double norm = 0;
    for (size_t i = 0; i < d; ++i) norm += double(z[r * d + i]) * z[r * d + i];
    const float inv = norm > 0 ? static_cast<float>(1 / std::sqrt(norm)) : 0.f;
    for (size_t i = 0; i < d; ++i) z[r * d + i] *= inv;
  }
}

namespace {
void to_unit_length(std::vector<float>& z) { to_unit_rows(z, z.size()); }
}  // namespace

double knn_accuracy(std::vector<LabelledEmbedding> items, int labels, int k) {
  for (LabelledEmbedding& it : items) to_unit_length(it.z);
  int correct = 0, scored = 0;
  for (const LabelledEmbedding& a : items) {
    std::vector<std::pair<double, int>> near;  // (-cosine, label) of the other volumes' embeddings
    for (const LabelledEmbedding& b : items) {
      if (b.volume == a.volume) continue;
      if (b.z.size() != a.z.size()) throw std::invalid_argument("knn_accuracy: embeddings of different sizes");
      double c = 0;
      for (size_t i = 0; i < a.z.size(); ++i) c += double(a.z[i]) * b.z[i];
      near.push_back({-c, b.label});
    }
    if (near.empty()) continue;
    const size_t kk = std::min<size_t>(static_cast<size_t>(std::max(k, 1)), near.size());
    std::partial_sort(near.begin(), near.begin() + kk, near.end());
    std::vector<int> votes(labels, 0);
    for (size_t i = 0; i < kk; ++i) votes.at(near[i].second)++;
    const int top = *std::max_element(votes.begin(), votes.end());
    int guess = -1;
    for (size_t i = 0; i < kk && guess < 0; ++i)
      if (votes[near[i].second] == top) guess = near[i].second;
    correct += guess == a.label;
    ++scored;
  }
  return scored ? static_cast<double>(correct) / scored : 0.0;
}

std::vector<LabelledEmbedding> partition_embeddings(UNet& model, const std::vector<SliceStack>& volumes,
                                                    int partitions) {
  if (volumes.size() < 2) throw std::invalid_argument("partition_embeddings: the probe needs at least two volumes");
  std::vector<LabelledEmbedding> items;
  for (size_t v = 0; v < volumes.size(); ++v) {
    const std::vector<float> z = g1_embeddings(model, volumes[v]);
    const size_t d = z.size() / volumes[v].z;
    for (int p = 0; p < partitions; ++p) {
      const auto [lo, hi] = partition_range(volumes[v].z, partitions, p);
      for (int s = lo; s < hi; ++s)
        items.push_back({static_cast<int>(v), p, std::vector<float>(z.begin() + s * d, z.begin() + (s + 1) * d)});
    }
  }
  return items;
}

std::vector<std::pair<double, double>> principal_plane(const std::vector<std::vector<float>>& z) {
  const size_t n = z.size(), d = n ? z[0].size() : 0;
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (const auto& r : z)
    for (size_t i = 0; i < d; ++i) mean[i] += r[i] / static_cast<double>(n);
  for (const auto& r : z)
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]);
  std::vector<std::vector<double>> axes;
  for (int a = 0; a < 2 && d > 0; ++a) {
    std::vector<double> v(d);
    for (size_t i = 0; i < d; ++i) v[i] = 1.0 + 0.01 * static_cast<double>(i % 7);  // fixed start
    for (int it = 0; it < 200; ++it) {
      std::vector<double> w(d, 0.0);
      for (size_t i = 0; i < d; ++i)
        for (size_t j = 0; j < d; ++j) w[i] += cov[i * d + j] * v[j];
      for (const auto& u : axes) {  // deflate: stay orthogonal to the axes found before
        double dot = 0;
        for (size_t i = 0; i < d; ++i) dot += w[i] * u[i];
        for (size_t i = 0; i < d; ++i) w[i] -= dot * u[i];
      }
      double norm = 0;
      for (double x : w) norm += x * x;
      if (norm <= 0) break;
      norm = std::sqrt(norm);
      for (size_t i = 0; i < d; ++i) v[i] = w[i] / norm;
    }
    axes.push_back(v);
  }
  std::vector<std::pair<double, double>> out;
  for (const auto& r : z) {
    double p[2] = {0, 0};
    for (size_t a = 0; a < axes.size(); ++a)
      for (size_t i = 0; i < d; ++i) p[a] += (r[i] - mean[i]) * axes[a][i];
    out.push_back({p[0], p[1]});
  }
  return out;
}

void write_partition_pca_png(const std::string& path, const std::vector<LabelledEmbedding>& items, int partitions,
                             const std::string& title) {
  std::vector<std::vector<float>> z;  // unit length, as the loss compares them (cosine)
  for (const auto& it : items) {
    z.push_back(it.z);
    to_unit_length(z.back());
  }
  const auto plane = principal_plane(z);
  std::vector<Series> series(partitions);
  for (int p = 0; p < partitions; ++p) series[p].name = "partition " + std::to_string(p + 1);
  const double gap = std::nan("");  // isolated points are drawn as markers
  for (size_t i = 0; i < items.size(); ++i) {
    Series& s = series[items[i].label];
    s.x.insert(s.x.end(), {plane[i].first, gap});
    s.y.insert(s.y.end(), {plane[i].second, gap});
  }
  write_curve_png(path, series, {title, "principal component 1", "principal component 2"});
}

}  // namespace cs
