#pragma once
// Adam with TensorFlow's update (tf.train.AdamOptimizer, docs/method.md §2.9):
//   t += 1;  lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   w -= lr_t * m / (sqrt(v) + eps)
// (PyTorch adds eps to sqrt(v / (1 - beta2^t)) instead; the two differ only through eps.)
// One pass over the ParamStore arenas (params, grads, m, v) per run of consecutive trainable
// parameters; frozen parameters and their moments are not touched. A parameter that requires
// grad but got no gradient this step reads a zero gradient (the arena is memset by zero_grad).
#include <cstdint>

#include "nn/params.h"

namespace cs {

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};

class Adam {
 public:
  explicit Adam(ParamStore& store, AdamConfig cfg = {});
  void step();  // uses the gradients currently in the store's gradient arena
  int64_t step_count() const { return t_; }
  void set_step_count(int64_t t) { t_ = t; }  // resuming from a checkpoint
  void reset();                                // t = 0, moments zero
  const AdamConfig& config() const { return cfg_; }
  AdamConfig& config() { return cfg_; }
  ParamStore& store() { return store_; }
  const ParamStore& store() const { return store_; }

 private:
  ParamStore& store_;
  AdamConfig cfg_;
  int64_t t_ = 0;
};

// ---- kernels (conventions: ops/dispatch.h)

// w, g, m, v: n contiguous floats on one device (a run of the ParamStore arenas); one Adam update
// in place with the bias-corrected rate lr_t: m, v from g, then w. CPU (OpenMP) in nn/adam.cpp,
// CUDA in nn/cuda/adam.cu (on the backend stream).
using AdamStep = void(float* w, const float* g, float* m, float* v, int64_t n, float lr_t, float beta1, float beta2,
                      float eps);
namespace cpu { AdamStep adam_step; }
namespace cuda { AdamStep adam_step; }

}  // namespace cs
