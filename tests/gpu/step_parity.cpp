#include "gpu/step_parity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "autograd/tape.h"
#include "experiments/methods/stage_step.h"
#include "ops/ops.h"
#include "support/parity_values.h"

namespace cs::steptest {

Settings case_settings(const StepCase& c, Device d) {
  testing_step::ConfigKeys keys = {{"device", device_name(d)}, {"precision", "fp32"}};
  keys.insert(keys.end(), c.keys.begin(), c.keys.end());
  return testing_step::small_settings(keys);
}

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Stage 2 starts from a stage-1 encoder, whose BN moving variances have warmed up; a fresh model's
// are 0 (nn/init.h), with which paper mode's frozen encoder would multiply every layer by
// 1/sqrt(1e-3) and reach 1e18 at the bottleneck. A variance of 1 stands in for stage 1's.
void warm_running_variances(ParamStore& ps) {
  for (const std::string& n : ps.buffer_names())
    if (ends_with(n, ".bn.var")) ps.buffer(n).copy_from(Tensor::full(ps.buffer(n).shape(), 1.0f));
}

// The U-Net alone: images [N, S, S, 1] in [0, 1), loss = sum(logits * r), r [N, S, S, C] in [-1, 1).
void forward_backward(UNet& model, const Settings& s, StepOutcome& o) {
  const int n = s.finetune.batch, size = model.config().image_size;
  const Device d = model.device();
  o.images = cudatest::uniform(int64_t{n} * size * size, 1, 0.0f, 1.0f);
  model.params().zero_grad();
  const Tensor logits = model.forward(image_batch(o.images, n, size, size, d), RunMode::training());
  const Tensor r = Tensor::from_vector(logits.shape(), cudatest::uniform(logits.numel(), 2), d);
  Tensor loss = sum(mul(logits, r));
  backward(loss);
  o.loss = loss.to_vector()[0];
  o.output = logits.to_vector();
}

// One step of the stage on the batch of step 0, over random slice stacks (enough volumes for any
// batch layout, as `contraseg profile` draws them).
void train_step(UNet& model, const Settings& s, Stage stage, StepOutcome& o) {
  const UNetConfig& u = model.config();
  const auto stacks = random_stacks(std::max(12, s.global.volumes), 12, u.image_size, u.num_classes, 1);
  const auto step = make_stage_step(stage, s, model, stacks);  // stage 2 freezes the encoder here
  const StepBatch b = step->sample(0);
  o.images = b.images.to_vector();
  if (b.labels.defined()) o.labels = b.labels.to_vector();
  o.loss = step->train(b);
  o.lr = s.learning_rate(stage);
}

}  // namespace

StepOutcome outcome_on(Device d, const StepCase& c) {
  const Settings s = case_settings(c, d);
  const Stage stage = c.unet_only ? Stage::Finetune : c.stage;
  Tape::get().clear();
  const std::unique_ptr<UNet> model = make_model(s, stage, d);
  ParamStore& ps = model->params();
  if (stage == Stage::Local) warm_running_variances(ps);
  StepOutcome o;
  for (size_t i = 0; i < ps.num_params(); ++i) o.before[ps.param_entry(i).name] = ps.param_at(i).to_vector();
  if (c.unet_only)
    forward_backward(*model, s, o);
  else
    train_step(*model, s, stage, o);
  for (size_t i = 0; i < ps.num_params(); ++i) {
    const std::string& n = ps.param_entry(i).name;
    (ps.trainable(i) ? o.trainable : o.frozen).push_back(n);
    o.grads[n] = ps.grad_at(i).to_vector();
    o.after[n] = ps.param_at(i).to_vector();
  }
  for (size_t i = 0; i < ps.num_buffers(); ++i) o.buffers[ps.buffer_entry(i).name] = ps.buffer_at(i).to_vector();
  return o;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The largest magnitude; infinite when a value is not finite.
double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::isfinite(x) ? std::max(m, std::fabs(double(x))) : kInf;
  return m;
}

// max |got - want| / max |want| and ||got - want|| / ||want|| (both 0 when equal); infinite for
// another size or a non-finite value where want is finite.
struct Errors {
  double max = 0, l2 = 0;
};
Errors relative_errors(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return {kInf, kInf};
  double dmax = 0, wmax = 0, d2 = 0, w2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(want[i])) continue;
    if (!std::isfinite(got[i])) return {kInf, kInf};
    const double d = double(got[i]) - want[i];
    dmax = std::max(dmax, std::fabs(d));
    wmax = std::max(wmax, std::fabs(double(want[i])));
    d2 += d * d;
    w2 += double(want[i]) * want[i];
  }
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : (a > 0 ? kInf : 0.0); };
  return {ratio(dmax, wmax), ratio(std::sqrt(d2), std::sqrt(w2))};
}

// Adam's first step moves an element by u(g) = lr * g / (|g| + eps'), eps' = eps / sqrt(1 - beta2)
// (nn/adam.h with t = 1), so |u(g1) - u(g2)| <= lr * min(2, 2 |g1 - g2| / max(|g1|, |g2|)): a
// gradient known to a relative d moves its element to within 2 d lr, one that is rounding noise
// (an exact zero, like a conv bias in front of batch norm) anywhere in [-lr, lr]. Returns, in
// units of lr, the largest excess of the difference of the two updates over that allowance.
double update_excess(const std::vector<float>& got_before, const std::vector<float>& got_after,
                     const std::vector<float>& got_grad, const std::vector<float>& want_before,
                     const std::vector<float>& want_after, const std::vector<float>& want_grad, double lr) {
  const size_t n = want_after.size();
  if (got_after.size() != n || got_grad.size() != n || want_grad.size() != n) return kInf;
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double du = (double(got_after[i]) - got_before[i]) - (double(want_after[i]) - want_before[i]);
    if (!std::isfinite(du)) return kInf;
    const double g1 = got_grad[i], g2 = want_grad[i], big = std::max(std::fabs(g1), std::fabs(g2));
    const double allowed = big > 0 ? std::min(2.0, 2.0 * std::fabs(g1 - g2) / big) : 0.0;
    worst = std::max(worst, std::fabs(du) / lr - allowed);
  }
  return worst;
}

// A conv bias whose layer has a trainable batch norm: its exact gradient is zero (BN subtracts the
// batch mean; every case trains its BN layers with batch statistics), so both devices hold
// rounding noise, which compare() bounds against the layer's weight gradient instead.
bool exactly_zero_gradient(const std::string& name, const std::vector<std::string>& trainable) {
  if (!ends_with(name, ".b")) return false;
  const std::string gamma = name.substr(0, name.size() - 1) + "bn.gamma";
  return std::find(trainable.begin(), trainable.end(), gamma) != trainable.end();
}

// Collects the mismatches and each kind's worst error.
struct Report {
  Comparison out;
  std::map<std::string, std::pair<double, std::string>> worst;  // kind -> error, where
  std::vector<std::string> kinds;

  void check(const std::string& kind, const std::string& what, double err, double tol) {
    if (!worst.count(kind)) kinds.push_back(kind);
    auto& w = worst[kind];
    if (w.second.empty() || !(err <= w.first)) w = {err, what};
    if (!(err <= tol))
      out.mismatches.push_back(fmt::format("{} {}: error {:.3g} > {:.3g}", kind, what, err, tol));
  }
  void exact(const std::string& kind, const std::string& what, const std::vector<float>& got,
             const std::vector<float>& want) {
    if (got != want) out.mismatches.push_back(fmt::format("{} {}: not identical", kind, what));
  }
  Comparison done() {
    for (const std::string& k : kinds)
      out.summary += fmt::format("{}: worst {:.3g} ({})\n", k, worst[k].first, worst[k].second);
    return out;
  }
};

const std::vector<float>& at(const Named& m, const std::string& name) {
  static const std::vector<float> none;
  const auto it = m.find(name);
  return it == m.end() ? none : it->second;
}

std::vector<std::string> keys(const Named& m) {
  std::vector<std::string> k;
  for (const auto& [name, _] : m) k.push_back(name);
  return k;
}

}  // namespace

Comparison compare(const StepOutcome& got, const StepOutcome& want, const Tolerances& tol) {
  Report r;
  r.exact("batch", "images", got.images, want.images);
  r.exact("batch", "labels", got.labels, want.labels);
  if (got.trainable != want.trainable || got.frozen != want.frozen || keys(got.before) != keys(want.before) ||
      keys(got.buffers) != keys(want.buffers))
    r.out.mismatches.push_back("the two models differ in their parameters, their frozen parameters or their buffers");
  r.check("loss", "value", std::fabs(got.loss - want.loss) / std::max(1.0, std::fabs(want.loss)), tol.loss);
  if (!want.output.empty() || !got.output.empty())
    r.check("output", "logits", cudatest::normalized_error(got.output, want.output), tol.output);

  for (const auto& [n, b] : want.before) r.exact("before", n, at(got.before, n), b);
  for (const std::string& n : want.trainable) {
    const std::vector<float>& g = at(want.grads, n);
    if (exactly_zero_gradient(n, want.trainable)) {
      const std::string w = n.substr(0, n.size() - 1) + "w";  // the layer's weight
      for (const StepOutcome* o : {&got, &want})
        r.check("zero grad", n + (o == &got ? " (got)" : " (want)"),
                max_abs(at(o->grads, n)) / max_abs(at(o->grads, w)), tol.zero_grad);
    } else {
      const Errors e = relative_errors(at(got.grads, n), g);
      r.check("grad l2", n, e.l2, tol.grad_l2);
      r.check("grad max", n, e.max, tol.grad_max);
    }
    if (want.lr > 0)
      r.check("after", n,
              update_excess(at(got.before, n), at(got.after, n), at(got.grads, n), at(want.before, n),
                            at(want.after, n), g, want.lr),
              tol.update);
  }
  for (const std::string& n : want.frozen)
    for (const StepOutcome* o : {&got, &want}) {
      const std::string what = n + (o == &got ? " (got)" : " (want)");
      const std::vector<float>& g = at(o->grads, n);
      if (max_abs(g) != 0 || g.size() != at(o->before, n).size())
        r.out.mismatches.push_back("frozen " + what + ": has a gradient");
      r.exact("frozen", what + " after the step", at(o->after, n), at(o->before, n));
    }
  for (const auto& [n, b] : want.buffers)
    r.check("buffers", n, relative_errors(at(got.buffers, n), b).max, tol.buffers);
  return r.done();
}

}  // namespace cs::steptest
