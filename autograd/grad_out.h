#pragma once
// Where a backward closure writes an input's gradient: the buffer and the BLAS-style beta the
// kernel must use (0: overwrite, the buffer may hold garbage; 1: accumulate). A null ptr means
// the input needs no gradient (undefined, or not requiring grad): the kernel skips it.
#include "autograd/tensor.h"

namespace cs {

struct GradOut {
  float* ptr = nullptr;
  float beta = 0.0f;
};

// Allocates t's gradient buffer on first use; a second call for the same tensor accumulates.
inline GradOut grad_out(const Tensor& t) {
  GradOut g;
  if (t.defined() && t.requires_grad()) g.ptr = t.grad_for_write(&g.beta);
  return g;
}

}  // namespace cs
