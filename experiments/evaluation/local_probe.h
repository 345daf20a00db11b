#pragma once
// What local pre-training learned (docs/method.md §3), measured on volumes stage 2 never saw.
//
// The probe draws once, at construction, a batch of L^R view pairs from held-out volumes:
// intensity-only views, so region r of one view shows what region r of the other shows. Each
// reading runs the batch through the encoder, decoder blocks 1..l and g2, and gives
//  - the region retrieval accuracy, what the loss trains: for each of the 13 positive regions of
//    either view of a pair, whether the most similar (cosine) of the P region vectors of the
//    other view is the same region; chance 1/P;
//  - the class retrieval accuracy, what segmentation needs: for each foreground position of the
//    g2 map, whether the most similar g2 feature among the positions of the other slices of the
//    batch lies in the same class; chance: the share of that class among them;
//  - optionally, the similarity maps (similarity_pictures.h) of query pixels in each class of the
//    slice of the batch that shows the most classes.
#include <string>
#include <utility>
#include <vector>

#include "experiments/evaluation/similarity_pictures.h"
#include "io/rng.h"
#include "io/datasets/slices.h"
#include "losses/local.h"
#include "nn/unet.h"

namespace cs {

// emb: region vectors [images * positions, d], row image * positions + q, images in view pairs
// (2k, 2k+1). Scores, for every pair, both directions and every position in `scored`, whether the
// nearest of the other view's vectors is the same position. Throws on inconsistent sizes.
double region_retrieval_accuracy(const std::vector<float>& emb, int images, int positions,
                                 const std::vector<int>& scored);

// One pixel per class present in `label` [h][w] (classes 1.., each the pixel of the class
// nearest to its centroid, named names[k] or "class k"), then a background pixel a quarter of the
// image away from the foreground's centroid. Empty when there is no foreground.
std::vector<QueryPixel> class_queries(const std::vector<uint8_t>& label, int h, int w,
                                      const std::vector<std::string>& names);

// features [images, W, W, C] (images in view pairs (2k, 2k+1)), labels [images][W][W] (the class
// at each position). Returns {accuracy, chance}; {0, 0} when there is no foreground or only one
// pair.
std::pair<double, double> class_retrieval_accuracy(const std::vector<float>& features,
                                                   const std::vector<uint8_t>& labels, int images, int side);

struct LocalProbeReading {
  double region = 0;        // region retrieval accuracy
  int positions = 0;        // P: the candidates of each region retrieval (chance 1/P)
  double class_match = 0;   // class retrieval accuracy
  double class_chance = 0;  // its chance level
};

class LocalProbe {
 public:
  // held_out: volumes with labels, all image_size x image_size. opt: the stage's loss options
  // (region size and mode); the probe always scores L^R pairs. blocks: l.
  LocalProbe(const std::vector<SliceStack>& held_out, const LocalLossOptions& opt, int pairs, int blocks,
             int image_size, Rng rng, Device device, std::vector<std::string> class_names);

  // encoder_mode: the stage's encoder BN mode; the decoder and g2 use batch statistics. Moving
  // averages are left untouched, so a reading never changes the training run.
  LocalProbeReading read(UNet& model, RunMode encoder_mode, const std::string& maps_png = "",
                         const std::string& title = "");
  int pairs() const { return pairs_; }

 private:
  int pairs_, blocks_, size_;
  LocalContrastiveLoss loss_;  // L^R over the 2 * pairs images: the region vectors and table
  std::vector<float> pixels_;  // [2 * pairs][size][size]
  std::vector<uint8_t> cell_labels_;  // [2 * pairs][W][W]: the class at each g2 position
  int map_image_ = 0;          // the image of the similarity maps
  std::vector<QueryPixel> queries_;
  Device device_;
};

}  // namespace cs
