#include "nn/adam.h"

#include <cmath>
#include <stdexcept>

#include "ops/dispatch.h"

namespace cs {

void cpu::adam_step(float* w, const float* g, float* m, float* v, int64_t n, float lr_t, float beta1, float beta2,
                    float eps) {
  const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + a1 * gi;
    const float vi = beta2 * v[i] + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr_t * mi / (std::sqrt(vi) + eps);
  }
}

Adam::Adam(ParamStore& store, AdamConfig cfg) : store_(store), cfg_(cfg) {
  if (!store.allocated()) throw std::logic_error("Adam: ParamStore not allocated");
  if (!(cfg.lr > 0) || !(cfg.beta1 >= 0 && cfg.beta1 < 1) || !(cfg.beta2 >= 0 && cfg.beta2 < 1) || !(cfg.eps > 0))
    throw std::invalid_argument("Adam: need lr > 0, 0 <= beta1, beta2 < 1, eps > 0");
}

void Adam::reset() {
  t_ = 0;
  store_.adam_m_arena().zero_();
  store_.adam_v_arena().zero_();
}

void Adam::step() {
  ++t_;
  // Bias corrections in double: beta^t underflows gracefully and lr_t is exact to float.
  const double t = static_cast<double>(t_);
  const float lr_t = static_cast<float>(cfg_.lr * std::sqrt(1.0 - std::pow(static_cast<double>(cfg_.beta2), t)) /
                                        (1.0 - std::pow(static_cast<double>(cfg_.beta1), t)));
  Tensor W = store_.param_arena(), G = store_.grad_arena(), M = store_.adam_m_arena(), V = store_.adam_v_arena();
  for (const auto& [b, e] : store_.trainable_spans()) {
    const int64_t n = static_cast<int64_t>(e - b);
    CS_DISPATCH(store_.device(), adam_step, W.data() + b, G.data() + b, M.data() + b, V.data() + b, n, lr_t,
                cfg_.beta1, cfg_.beta2, cfg_.eps);
  }
}

}  // namespace cs
