#pragma once
// What pre-training learned, as numbers a run logs (docs/method.md §2): the g1 embeddings of
// held-out volumes and how well they tell the partitions of a volume apart.
#include <string>
#include <utility>
#include <vector>

#include "io/slices.h"
#include "nn/unet.h"

namespace cs {

// g1 embeddings z [slices, 128] (row-major) of the slices of `stack`, BN in inference mode; the
// model must have the encoder and g1 (a stage-1 model).
std::vector<float> g1_embeddings(UNet& model, const SliceStack& stack, int chunk = 32);

// One embedding with what it is of: its volume and its class (here the partition).
struct LabelledEmbedding {
  int volume = 0, label = 0;
  std::vector<float> z;
};
// Leave-one-volume-out k-nearest-neighbour accuracy: each embedding gets the majority label of its
// k nearest (cosine) embeddings of other volumes, ties going to the nearest tied label.
double knn_accuracy(std::vector<LabelledEmbedding> items, int labels, int k = 5);

// k-nearest-neighbour partition accuracy on held-out volumes: every slice that lies in one of the
// S partitions of its volume (the last Q mod S slices lie in none) is labelled with its partition
// and classified by the majority partition of its k nearest neighbours by cosine similarity
// among the slices of the other volumes (ties: the nearest of the tied partitions). Chance is
// about 1/S. Needs at least two volumes of at least S slices each.
double knn_partition_accuracy(UNet& model, const std::vector<SliceStack>& volumes, int partitions, int k = 5);

// The rows of z (n points of d values) projected onto their first two principal components
// (power iteration on the covariance, deterministic): n (x, y) pairs.
std::vector<std::pair<double, double>> principal_plane(const std::vector<std::vector<float>>& z);

// A picture of the held-out volumes' g1 embeddings (scaled to unit length, as the loss compares
// them) in their principal plane, one colour per
// partition (the slices of no partition left out): pre-training should gather each partition.
void write_partition_pca_png(const std::string& path, UNet& model, const std::vector<SliceStack>& volumes,
                             int partitions, const std::string& title);

}  // namespace cs
