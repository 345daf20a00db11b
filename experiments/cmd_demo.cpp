// `contraseg demo`: trains the paper's U-Net on the CPU for a few Adam steps on a small synthetic
// batch (bright disks = class 1, rings = class 2, on a noisy dark background, generated here) with
// the soft Dice loss of SPEC 4.2, printing one line per step. A quick, honest check that the whole
// forward / backward / optimiser path learns: the loss must go down.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "experiments/cli.h"
#include "nn/adam.h"
#include "nn/unet.h"
#include "ops/ops.h"

namespace cs {
namespace {

struct Batch {
  Tensor image;   // [N, S, S, 1]
  Tensor onehot;  // [N, S, S, 3]
  std::vector<int> label;
};

Batch make_batch(int n, int s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::vector<float> img(static_cast<size_t>(n) * s * s), oh(img.size() * 3, 0.0f);
  std::vector<int> lab(img.size(), 0);
  for (int b = 0; b < n; ++b) {
    float* im = img.data() + static_cast<size_t>(b) * s * s;
    int* lb = lab.data() + static_cast<size_t>(b) * s * s;
    for (int i = 0; i < s * s; ++i) im[i] = static_cast<float>(0.1 + 0.1 * U(rng));
    const int shapes = 3 + static_cast<int>(U(rng) * 3);
    for (int k = 0; k < shapes; ++k) {
      const bool ring = k % 2 == 1;
      const double r = s * (0.08 + 0.1 * U(rng)), cy = s * (0.15 + 0.7 * U(rng)), cx = s * (0.15 + 0.7 * U(rng));
      const double bright = ring ? 0.55 + 0.1 * U(rng) : 0.8 + 0.15 * U(rng);
      for (int y = 0; y < s; ++y)
        for (int x = 0; x < s; ++x) {
          const double d = std::hypot(y + 0.5 - cy, x + 0.5 - cx);
          const bool in = ring ? (d <= r && d >= r - 3.0) : d <= r;
          if (!in) continue;
          im[y * s + x] = static_cast<float>(bright + 0.05 * U(rng));
          lb[y * s + x] = ring ? 2 : 1;
        }
    }
  }
  for (size_t i = 0; i < lab.size(); ++i) oh[i * 3 + lab[i]] = 1.0f;
  return {Tensor::from_vector({n, s, s, 1}, img), Tensor::from_vector({n, s, s, 3}, oh), lab};
}

// Soft Dice with background (SPEC 4.2) on probabilities p [N,H,W,C] and one-hot y:
// loss = 1 - mean_{n,c} 2 sum(p y) / (sum p + sum y + 1e-10). A CPU tape node: the division has
// no op of its own; the softmax before it is the real op.
Tensor soft_dice(const Tensor& p, const Tensor& y) {
  const int64_t N = p.dim(0), C = p.dim(-1), P = p.numel() / (N * C);
  std::vector<double> I(N * C, 0.0), S(N * C, 1e-10);
  const float *pp = p.data(), *yy = y.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < P; ++i)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = (n * P + i) * C + c;
        I[n * C + c] += static_cast<double>(pp[k]) * yy[k];
        S[n * C + c] += static_cast<double>(pp[k]) + yy[k];
      }
  double d = 0;
  for (int64_t j = 0; j < N * C; ++j) d += 2.0 * I[j] / S[j];
  Tensor loss = Tensor::full({1}, static_cast<float>(1.0 - d / static_cast<double>(N * C)));
  auto& tape = Tape::get();
  if (tape.should_record({&p}))
    tape.record("soft_dice", {p}, loss, [p, y, loss, I, S, N, C, P]() mutable {
      float beta = 0;
      float* dp = p.grad_for_write(&beta);
      const double g = loss.grad().to_vector()[0] * -2.0 / static_cast<double>(N * C);
      const float* yy = y.data();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < P; ++i)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t k = (n * P + i) * C + c, j = n * C + c;
            const float v = static_cast<float>(g * (yy[k] / S[j] - I[j] / (S[j] * S[j])));
            dp[k] = beta != 0.0f ? dp[k] + v : v;
          }
    });
  return loss;
}

// Hard Dice per class (argmax of the logits vs the label), averaged over the batch's pixels.
std::vector<double> hard_dice(const Tensor& logits, const std::vector<int>& lab, int C) {
  const std::vector<float> z = logits.to_vector();
  std::vector<double> inter(C, 0), sp(C, 0), sl(C, 0);
  for (size_t i = 0; i < lab.size(); ++i) {
    const float* zi = z.data() + i * C;
    const int pred = static_cast<int>(std::max_element(zi, zi + C) - zi);
    sp[pred] += 1;
    sl[lab[i]] += 1;
    if (pred == lab[i]) inter[pred] += 1;
  }
  std::vector<double> d(C);
  for (int c = 0; c < C; ++c) d[c] = sp[c] + sl[c] > 0 ? 2 * inter[c] / (sp[c] + sl[c]) : 1.0;
  return d;
}

int cmd_demo(int argc, char** argv) {
  Args a(argc, argv, {"steps", "size", "batch", "seed", "lr"});
  if (a.help()) {
    std::printf(
        "usage: contraseg demo [--steps 30] [--size 64] [--batch 4] [--seed 1] [--lr 1e-3]\n\n"
        "Trains the U-Net (SPEC 1, 3 classes) on the CPU on one synthetic batch of disks (class 1)\n"
        "and rings (class 2) with the soft Dice loss and Adam, one line per step.\n");
    return 0;
  }
  const int steps = a.get_int("steps", 30), size = a.get_int("size", 64), batch = a.get_int("batch", 4);
  const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 1));
  if (steps < 1 || batch < 1) throw std::invalid_argument("--steps and --batch must be >= 1");
  UNetConfig cfg;
  cfg.image_size = size;
  cfg.num_classes = 3;
  cfg.validate();
  InitOptions init;
  init.seed = seed;
  UNet net(cfg, Device::CPU, init);
  AdamConfig ac;
  ac.lr = static_cast<float>(a.get_double("lr", 1e-3));
  Adam adam(net.params(), ac);
  const Batch b = make_batch(batch, size, seed * 7919 + 1);
  std::printf("demo: U-Net %lld parameters, batch %d x %dx%d, 3 classes, Adam lr %g, %d steps (cpu)\n",
              static_cast<long long>(net.params().param_count()), batch, size, size, ac.lr, steps);
  double first = 0, last = 0;
  for (int step = 1; step <= steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    net.params().zero_grad();
    Tensor logits = net.forward(b.image, RunMode::training());
    Tensor loss = soft_dice(softmax(logits), b.onehot);
    backward(loss);
    adam.step();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    last = loss.to_vector()[0];
    if (step == 1) first = last;
    std::printf("step %d loss %.6f ms/step %.1f\n", step, last, ms);
    std::fflush(stdout);
  }
  Tensor logits;
  {
    NoGradGuard ng;
    logits = net.forward(b.image, RunMode::training());  // batch statistics: the running ones are young
  }
  const auto d = hard_dice(logits, b.label, 3);
  std::printf("demo: loss %.4f -> %.4f; hard Dice on the batch: background %.3f, disks %.3f, rings %.3f\n", first,
              last, d[0], d[1], d[2]);
  return last < first ? 0 : 1;
}

}  // namespace
CS_COMMAND("demo", "train the U-Net for a few steps on a synthetic batch (CPU), printing the loss", cmd_demo);
}  // namespace cs
