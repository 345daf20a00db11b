#pragma once
// What pre-training learned, as numbers a run logs (docs/method.md §2): the g1 embeddings of
// held-out volumes and how well they tell the partitions of a volume apart.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "io/datasets/slices.h"
#include "nn/unet.h"

namespace cs {

// Each row of d values of z scaled to unit length (a zero row stays zero): dot products become
// cosines.
void to_unit_rows(std::vector<float>& z, size_t d);

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

// Every slice of the held-out volumes that lies in one of the S partitions of its volume (the
// last Q mod S slices lie in none), labelled with its partition, with its g1 embedding. Their
// knn_accuracy is the k-NN partition accuracy of stage 1, chance about 1/S. Needs at least two
// volumes of at least S slices each.
std::vector<LabelledEmbedding> partition_embeddings(UNet& model, const std::vector<SliceStack>& volumes,
                                                    int partitions);

// The rows of z (n points of d values) projected onto their first two principal components
// (power iteration on the covariance, deterministic): n (x, y) pairs.
std::vector<std::pair<double, double>> principal_plane(const std::vector<std::vector<float>>& z);

// A picture of partition_embeddings (scaled to unit length, as the loss compares them) in their
// principal plane, one colour per partition: pre-training should gather each partition.
void write_partition_pca_png(const std::string& path, const std::vector<LabelledEmbedding>& items, int partitions,
                             const std::string& title);

}  // namespace cs
