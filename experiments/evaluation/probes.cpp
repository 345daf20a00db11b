#include "experiments/evaluation/probes.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"
#include "io/sampler.h"

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

double knn_accuracy(std::vector<LabelledEmbedding> items, int labels, int k) {
  for (LabelledEmbedding& it : items) {  // unit length: the dot product is the cosine
    double norm = 0;
    for (float x : it.z) norm += double(x) * x;
    const float inv = norm > 0 ? static_cast<float>(1 / std::sqrt(norm)) : 0.f;
    for (float& x : it.z) x *= inv;
  }
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

double knn_partition_accuracy(UNet& model, const std::vector<SliceStack>& volumes, int partitions, int k) {
  if (volumes.size() < 2) throw std::invalid_argument("knn_partition_accuracy: needs at least two volumes");
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
  return knn_accuracy(std::move(items), partitions, k);
}

}  // namespace cs
