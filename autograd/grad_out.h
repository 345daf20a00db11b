#pragma once
// Where a backward closure writes an input's gradient: the buffer and the BLAS-style beta the
// kernel must use (0: overwrite, the buffer may hold garbage; 1: accumulate). A null pointer
// means the input needs no gradient (undefined, or not requiring grad): the kernel skips it.
// The gradient has the input's type: `ptr` for an fp32 input, `ptr_bf16` for a bf16 one.
#include "autograd/tensor.h"

namespace cs {

struct GradOut {
  float* ptr = nullptr;
  bf16* ptr_bf16 = nullptr;
  float beta = 0.0f;

  bool wanted() const { return ptr || ptr_bf16; }
  void* raw() const { return ptr ? static_cast<void*>(ptr) : static_cast<void*>(ptr_bf16); }
};

// Allocates t's gradient buffer on first use; a second call for the same tensor accumulates.
inline GradOut grad_out(const Tensor& t) {
  GradOut g;
  if (!t.defined() || !t.requires_grad()) return g;
  if (t.dtype() == DType::BF16) g.ptr_bf16 = t.grad_for_write_bf16(&g.beta);
  else g.ptr = t.grad_for_write(&g.beta);
  return g;
}

}  // namespace cs
