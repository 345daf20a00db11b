#include "experiments/evaluation/pretext_probe.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/tape.h"

namespace cs {

PretextProbe::PretextProbe(const std::vector<SliceStack>& held_out, const Settings& settings, Rng rng, Device device,
                           int max_slices)
    : task_(settings.pretext.task) {
  std::vector<std::pair<int, int>> all;  // (volume, slice)
  for (size_t v = 0; v < held_out.size(); ++v)
    for (int z = 0; z < held_out[v].z; ++z) all.push_back({static_cast<int>(v), z});
  if (all.empty()) throw std::invalid_argument("pretext probe: the held-out volumes have no slice");
  const int per_batch = std::max(1, pretext_slices(task_, settings.pretext.batch));
  int take = std::min<int>(max_slices, static_cast<int>(all.size()));
  if (take >= per_batch) take -= take % per_batch;  // whole training batches
  const std::vector<int> picked = rng.sample_without_replacement(static_cast<int>(all.size()), take);
  const int side = held_out[all[0].first].h;
  const size_t px = static_cast<size_t>(side) * side;
  std::vector<float> slices;
  for (size_t first = 0; first < picked.size(); first += per_batch) {
    const int n = static_cast<int>(std::min<size_t>(per_batch, picked.size() - first));
    slices.assign(n * px, 0.f);
    for (int k = 0; k < n; ++k) {
      const auto [v, z] = all[picked[first + k]];
      if (held_out[v].h != side || held_out[v].w != side)
        throw std::invalid_argument("pretext probe: held-out volumes of different slice sizes");
      std::copy(held_out[v].slice(z), held_out[v].slice(z) + px, slices.begin() + k * px);
    }
    batches_.push_back(make_pretext_batch(settings.pretext, slices.data(), n, side, rng));
    const PretextBatch& b = batches_.back();
    inputs_.push_back(Tensor::from_vector({b.images, side, side, 1}, b.input, device));
  }
  slices_ = take;
}

namespace {

// What the task's network makes of the images (docs/method.md §8.1-8.3): the turn's logits [n, 4]
// from the encoder, or the restored image [n, side, side, 1] from the whole U-Net.
std::vector<float> task_output(UNet& model, PretextTask task, const Tensor& images, const RunMode& m) {
  const EncoderOutput enc = model.encoder(images, m);
  if (task == PretextTask::Rotation) return model.rotation_logits(enc.bottleneck, m).to_vector();
  return model.image_output(model.decoder_blocks(enc, 5, m), m).to_vector();
}

// Batch norm with the batch's statistics, as in training, the moving averages untouched.
RunMode reading_mode() {
  RunMode m = RunMode::training();
  m.bn_decay = 1.f;  // running = 1 * running + 0 * batch: untouched
  return m;
}

}  // namespace

PretextProbeReading PretextProbe::read(UNet& model) {
  NoGradGuard no_tape;
  const RunMode m = reading_mode();
  PretextProbeReading r;
  double correct = 0, images = 0, error = 0, corrupted = 0, counted = 0;
  for (size_t b = 0; b < batches_.size(); ++b) {
    const PretextBatch& batch = batches_[b];
    const std::vector<float> out = task_output(model, task_, inputs_[b], m);
    if (task_ == PretextTask::Rotation) {
      for (int i = 0; i < batch.images; ++i) {
        const float* logits = out.data() + static_cast<size_t>(i) * kRotations;
        correct += std::max_element(logits, logits + kRotations) - logits == batch.turns[i];
        ++images;
      }
      continue;
    }
    for (size_t p = 0; p < batch.target.size(); ++p) {
      if (!batch.mask.empty() && batch.mask[p] == 0.f) continue;
      const double d = double(out[p]) - batch.target[p], c = double(batch.input[p]) - batch.target[p];
      error += d * d;
      corrupted += c * c;
      ++counted;
    }
  }
  if (task_ == PretextTask::Rotation) return {images > 0 ? correct / images : 0.0, 1.0 / kRotations};
  return {counted > 0 ? error / counted : 0.0, counted > 0 ? corrupted / counted : 0.0};
}

std::vector<float> PretextProbe::output(UNet& model, size_t b) {
  if (b >= batches_.size()) throw std::out_of_range("pretext probe: no batch " + std::to_string(b));
  NoGradGuard no_tape;
  return task_output(model, task_, inputs_[b], reading_mode());
}

}  // namespace cs
