#include "support/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

#include "autograd/tape.h"
#include "ops/ops.h"

namespace cs::test {

Vec random_vec(size_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(gen);
  return v;
}

Tensor random_tensor(const Shape& s, uint64_t seed, float lo, float hi) {
  return from_double(s, random_vec(static_cast<size_t>(shape_numel(s)), seed, lo, hi));
}

Vec to_double(const Tensor& t) {
  const std::vector<float> f = t.to_vector();
  return Vec(f.begin(), f.end());
}

Tensor from_double(const Shape& s, const Vec& v) {
  return Tensor::from_vector(s, std::vector<float>(v.begin(), v.end()));
}

double normalized_error(const Vec& want, const Vec& got) {
  if (want.size() != got.size())
    throw std::invalid_argument("normalized_error: " + std::to_string(want.size()) + " reference values, " +
                                std::to_string(got.size()) + " computed");
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(got[i] - want[i]);
    err = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(err, d);
    scale = std::max(scale, std::abs(want[i]));
  }
  return scale > 0.0 ? err / scale : err;
}

Vec numeric_grad(const RefFn& f, std::vector<Vec> inputs, const Vec& dy, size_t which, double h) {
  auto loss = [&]() {
    const Vec y = f(inputs);
    if (y.size() != dy.size()) throw std::invalid_argument("numeric_grad: dy does not match f's output");
    double s = 0.0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * dy[i];
    return s;
  };
  Vec& x = inputs.at(which);
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i], step = h * std::max(1.0, std::abs(x0));
    x[i] = x0 + step;
    const double lp = loss();
    x[i] = x0 - step;
    const double lm = loss();
    x[i] = x0;
    g[i] = (lp - lm) / (2.0 * step);
  }
  return g;
}

double directional_error(const RefFn& f, const std::vector<Vec>& inputs, const Vec& dy, size_t which,
                         const Vec& analytic, int directions, uint64_t seed, double h) {
  auto loss = [&](const std::vector<Vec>& in) {
    const Vec y = f(in);
    double s = 0.0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * dy[i];
    return s;
  };
  double gnorm = 0.0;
  for (double g : analytic) gnorm += g * g;
  gnorm = std::sqrt(gnorm);
  double worst = 0.0;
  for (int d = 0; d < directions; ++d) {
    Vec v = random_vec(analytic.size(), seed + 7919 * d);
    double vn = 0.0;
    for (double e : v) vn += e * e;
    vn = std::sqrt(vn);
    double gv = 0.0;
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] /= vn;
      gv += analytic[i] * v[i];
    }
    std::vector<Vec> p(inputs), m(inputs);
    for (size_t i = 0; i < v.size(); ++i) {
      p[which][i] += h * v[i];
      m[which][i] -= h * v[i];
    }
    const double fd = (loss(p) - loss(m)) / (2.0 * h);
    worst = std::max(worst, std::abs(fd - gv) / std::max(gnorm, 1e-300));
  }
  return worst;
}

std::string OpCheck::report() const {
  std::ostringstream o;
  o << "forward " << forward;
  for (size_t i = 0; i < grad.size(); ++i)
    o << " | input " << i << ": grad " << grad[i] << ", accumulate " << accumulate[i] << ", overwrite "
      << overwrite[i];
  return o.str();
}

namespace {
// loss = sum(op(inputs) * dy); backward.
void run_backward(const OpFn& op, const std::vector<Tensor>& inputs, const Tensor& dy) {
  Tensor y = op(inputs);
  if (y.shape() != dy.shape())
    throw std::runtime_error("check_op: output shape changed between runs: " + shape_str(y.shape()));
  Tensor loss = sum(mul(y, dy));
  backward(loss);
}
}  // namespace

OpCheck check_op(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs, uint64_t seed) {
  OpCheck r;
  std::vector<Vec> xs;
  for (const Tensor& t : inputs) xs.push_back(to_double(t));
  for (Tensor t : inputs) t.clear_grad();

  // Forward.
  Tensor y = op(inputs);
  r.forward = normalized_error(ref(xs), to_double(y));
  Tape::get().clear();  // this forward's nodes are not used

  // Gradients against finite differences of the reference.
  const Vec dyv = random_vec(static_cast<size_t>(y.numel()), seed);
  const Tensor dy = from_double(y.shape(), dyv);
  run_backward(op, inputs, dy);
  std::vector<Vec> g1(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) {
      if (inputs[i].has_grad()) throw std::runtime_error("check_op: constant input " + std::to_string(i) + " got a gradient");
      r.grad.push_back(0);
      continue;
    }
    if (!inputs[i].has_grad()) throw std::runtime_error("check_op: input " + std::to_string(i) + " got no gradient");
    g1[i] = to_double(inputs[i].grad());
    // xs holds the float values the kernels saw, so both sides differentiate the same point.
    r.grad.push_back(normalized_error(numeric_grad(ref, xs, dyv, i), g1[i]));
  }

  // A second backward without zero_grad accumulates: grad == 2 * g1.
  run_backward(op, inputs, dy);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) {
      r.accumulate.push_back(0);
      continue;
    }
    Vec twice(g1[i]);
    for (auto& v : twice) v *= 2.0;
    r.accumulate.push_back(normalized_error(twice, to_double(inputs[i].grad())));
  }

  // After zero_grad the next write overwrites: fill the buffers with NaN first, which any
  // read of the old contents would propagate.
  for (Tensor t : inputs)
    if (t.requires_grad()) {
      t.grad().fill_(std::numeric_limits<float>::quiet_NaN());
      t.zero_grad();
    }
  run_backward(op, inputs, dy);
  for (size_t i = 0; i < inputs.size(); ++i)
    r.overwrite.push_back(inputs[i].requires_grad() ? normalized_error(g1[i], to_double(inputs[i].grad())) : 0);
  return r;
}

std::vector<double> check_op_directional(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs,
                                         uint64_t seed, int directions) {
  std::vector<Vec> xs;
  for (Tensor t : inputs) {
    xs.push_back(to_double(t));
    t.clear_grad();
  }
  Tensor y = op(inputs);
  std::vector<double> r{normalized_error(ref(xs), to_double(y))};
  const Vec dyv = random_vec(static_cast<size_t>(y.numel()), seed);
  Tensor loss = sum(mul(y, from_double(y.shape(), dyv)));
  backward(loss);
  for (size_t i = 0; i < inputs.size(); ++i)
    r.push_back(inputs[i].requires_grad()
                    ? directional_error(ref, xs, dyv, i, to_double(inputs[i].grad()), directions, seed + 1 + i)
                    : 0.0);
  return r;
}

}  // namespace cs::test
