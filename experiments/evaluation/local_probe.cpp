#include "experiments/evaluation/local_probe.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "autograd/tape.h"
#include "experiments/batches.h"
#include "experiments/evaluation/probes.h"

namespace cs {
namespace {

LocalLossOptions as_lr(LocalLossOptions o) {
  o.kind = LocalLossKind::LR;
  return o;
}

const uint8_t* slice_label(const SliceStack& s, int slice) {
  return s.label.data() + static_cast<size_t>(slice) * s.h * s.w;
}

}  // namespace

double region_retrieval_accuracy(const std::vector<float>& emb, int images, int positions,
                                 const std::vector<int>& scored) {
  if (images <= 0 || images % 2 != 0 || positions <= 0 || emb.empty() ||
      emb.size() % (static_cast<size_t>(images) * positions) != 0)
    throw std::invalid_argument("region_retrieval_accuracy: " + std::to_string(emb.size()) +
                                " values are not the region vectors of " + std::to_string(images) + " images x " +
                                std::to_string(positions) + " positions in view pairs");
  const size_t d = emb.size() / (static_cast<size_t>(images) * positions);
  std::vector<float> unit(emb);
  to_unit_rows(unit, d);
  auto row = [&](int image, int q) { return &unit[(static_cast<size_t>(image) * positions + q) * d]; };
  int correct = 0, total = 0;
  for (int image = 0; image < images; ++image) {
    const int other = image ^ 1;  // the other view of the pair (2k, 2k+1)
    for (int q : scored) {
      if (q < 0 || q >= positions) throw std::invalid_argument("region_retrieval_accuracy: position out of range");
      int best = -1;
      double best_sim = -2;
      for (int c = 0; c < positions; ++c) {
        double s = 0;
        for (size_t i = 0; i < d; ++i) s += double(row(image, q)[i]) * row(other, c)[i];
        if (s > best_sim) best_sim = s, best = c;
      }
      correct += best == q;
      ++total;
    }
  }
  return total ? static_cast<double>(correct) / total : 0.0;
}

std::pair<double, double> class_retrieval_accuracy(const std::vector<float>& features,
                                                   const std::vector<uint8_t>& labels, int images, int side) {
  const size_t cells = static_cast<size_t>(side) * side;
  if (images <= 0 || side <= 0 || labels.size() != images * cells || features.empty() ||
      features.size() % (images * cells) != 0)
    throw std::invalid_argument("class_retrieval_accuracy: features and labels of " + std::to_string(images) +
                                " images of " + std::to_string(side) + "x" + std::to_string(side) + " do not match");
  const size_t d = features.size() / (images * cells), rows = images * cells;
  std::vector<float> unit(features);
  to_unit_rows(unit, d);
  int correct = 0, queries = 0;
  double chance = 0;
  for (size_t q = 0; q < rows; ++q) {
    if (labels[q] == 0) continue;
    const size_t pair = q / cells / 2;
    size_t best = rows, same = 0, candidates = 0;
    double best_sim = -2;
    for (size_t c = 0; c < rows; ++c) {
      if (c / cells / 2 == pair) continue;  // other slices only
      double s = 0;
      for (size_t i = 0; i < d; ++i) s += double(unit[q * d + i]) * unit[c * d + i];
      if (s > best_sim) best_sim = s, best = c;
      same += labels[c] == labels[q];
      ++candidates;
    }
    if (candidates == 0) continue;
    correct += labels[best] == labels[q];
    chance += static_cast<double>(same) / candidates;
    ++queries;
  }
  if (queries == 0) return {0.0, 0.0};
  return {static_cast<double>(correct) / queries, chance / queries};
}

std::vector<QueryPixel> class_queries(const std::vector<uint8_t>& label, int h, int w,
                                      const std::vector<std::string>& names) {
  if (label.size() != static_cast<size_t>(h) * w) throw std::invalid_argument("class_queries: label is not h*w");
  const int classes = label.empty() ? 0 : *std::max_element(label.begin(), label.end()) + 1;
  std::vector<QueryPixel> out;
  double fy = 0, fx = 0;
  int fn = 0;
  for (int k = 1; k < classes; ++k) {
    double cy = 0, cx = 0;
    int n = 0;
    for (int i = 0; i < h * w; ++i)
      if (label[i] == k) cy += i / w, cx += i % w, ++n;
    if (n == 0) continue;
    fy += cy, fx += cx, fn += n;
    cy /= n, cx /= n;
    int best = -1;
    double best_d = 1e300;
    for (int i = 0; i < h * w; ++i)
      if (label[i] == k) {
        const double dd = std::pow(i / w - cy, 2) + std::pow(i % w - cx, 2);
        if (dd < best_d) best_d = dd, best = i;
      }
    const std::string name = k < static_cast<int>(names.size()) && !names[k].empty() ? names[k] : "class " + std::to_string(k);
    out.push_back({best / w, best % w, name});
  }
  if (fn == 0) return out;
  // Background: the background pixel nearest to a point a quarter image right of (or left of,
  // when that is outside) the foreground's centroid.
  const double cy = fy / fn, cx0 = fx / fn;
  const double cx = cx0 + w / 4.0 < w ? cx0 + w / 4.0 : cx0 - w / 4.0;
  int best = -1;
  double best_d = 1e300;
  for (int i = 0; i < h * w; ++i)
    if (label[i] == 0) {
      const double dd = std::pow(i / w - cy, 2) + std::pow(i % w - cx, 2);
      if (dd < best_d) best_d = dd, best = i;
    }
  if (best >= 0) out.push_back({best / w, best % w, names.empty() || names[0].empty() ? "background" : names[0]});
  return out;
}

LocalProbe::LocalProbe(const std::vector<SliceStack>& held_out, const LocalLossOptions& opt, int pairs, int blocks,
                       int image_size, Rng rng, Device device, std::vector<std::string> class_names)
    : pairs_(pairs),
      blocks_(blocks),
      size_(image_size),
      loss_(as_lr(opt), 2 * pairs, image_size >> (5 - blocks), device),
      device_(device) {
  if (held_out.empty()) throw std::invalid_argument("local probe: no held-out volumes");
  const SlotLayout layout = local_pairs_layout(pairs);
  const DrawnBatch batch = draw_batch(layout, slice_counts(held_out), rng);
  pixels_.resize(static_cast<size_t>(batch.size()) * size_ * size_);
  render_views(layout, batch, held_out, opt.mode, rng, pixels_.data());
  // The class under the centre of each g2 position (the views are not moved, so they share it).
  const int W = image_size >> (5 - blocks), k = image_size / W;
  cell_labels_.assign(batch.size() * W * W, 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    const SliceStack& st = held_out[batch[i].volume];
    if (st.label.empty()) throw std::invalid_argument("local probe: held-out volumes need labels");
    const uint8_t* l = slice_label(st, batch[i].slice);
    for (int y = 0; y < W; ++y)
      for (int x = 0; x < W; ++x) cell_labels_[(i * W + y) * W + x] = l[(y * k + k / 2) * st.w + x * k + k / 2];
  }
  // The similarity maps show the first view of the pair whose slice has the most classes.
  size_t most = 0;
  for (size_t i = 0; i < batch.size(); i += 2) {
    const SliceRef& s = batch[i];
    const SliceStack& st = held_out[s.volume];
    const uint8_t* l = slice_label(st, s.slice);
    const size_t classes = std::set<uint8_t>(l, l + static_cast<size_t>(st.h) * st.w).size();
    if (classes > most) {
      most = classes;
      map_image_ = static_cast<int>(i);
      queries_ = class_queries(std::vector<uint8_t>(l, l + static_cast<size_t>(st.h) * st.w), st.h, st.w, class_names);
    }
  }
}

LocalProbeReading LocalProbe::read(UNet& model, RunMode encoder_mode, const std::string& maps_png,
                                   const std::string& title) {
  NoGradGuard no_grad;
  const int n = 2 * pairs_;
  RunMode decoder_mode = RunMode::training();
  encoder_mode.bn_decay = decoder_mode.bn_decay = 1.f;  // running = 1 * running + 0 * batch: untouched
  const EncoderOutput enc = model.encoder(Tensor::from_vector({n, size_, size_, 1}, pixels_, device_), encoder_mode);
  const Tensor g = model.g2(model.decoder_blocks(enc, blocks_, decoder_mode), decoder_mode);
  const Tensor emb = loss_.embeddings(g, loss_.options().region_size == 3 ? model.g2_pred_weight() : Tensor());
  const LocalRegionTable& table = loss_.table();
  const int P = static_cast<int>(table.positions.size());
  const int W = static_cast<int>(g.shape()[1]), C = static_cast<int>(g.shape()[3]);
  const std::vector<float> all = g.to_vector();
  const auto [match, chance] = class_retrieval_accuracy(all, cell_labels_, n, W);
  const LocalProbeReading r{region_retrieval_accuracy(emb.to_vector(), n, P, table.positive), P, match, chance};
  if (!maps_png.empty() && !queries_.empty()) {
    const size_t per = static_cast<size_t>(W) * W * C, pix = static_cast<size_t>(size_) * size_;
    write_similarity_maps_png(maps_png,
                              std::vector<float>(pixels_.begin() + map_image_ * pix, pixels_.begin() + (map_image_ + 1) * pix),
                              size_, size_, std::vector<float>(all.begin() + map_image_ * per, all.begin() + (map_image_ + 1) * per),
                              W, W, C, queries_, title);
  }
  return r;
}

}  // namespace cs
