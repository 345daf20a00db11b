#pragma once
// Bounds for cs::test::OpCheck results, as a GoogleTest assertion:
//   EXPECT_TRUE(op_ok(check_op(...), 1e-5, 1e-4));
// forward and gradient errors are normalised (see support/gradcheck.h); accumulation and
// overwrite compare two runs of the same float kernels, so they must agree to rounding.
#include <gtest/gtest.h>

#include "support/gradcheck.h"

namespace cs::test {

// A random tensor that takes part in autograd.
inline Tensor param(const Shape& s, uint64_t seed) { return random_tensor(s, seed).set_requires_grad(true); }

inline ::testing::AssertionResult op_ok(const OpCheck& r, double forward_tol, double grad_tol,
                                        double repeat_tol = 1e-6) {
  bool ok = r.forward < forward_tol;
  for (size_t i = 0; i < r.grad.size(); ++i)
    ok = ok && r.grad[i] < grad_tol && r.accumulate[i] < repeat_tol && r.overwrite[i] < repeat_tol;
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "bounds: forward " << forward_tol << ", grad " << grad_tol
                                       << ", repeat " << repeat_tol << "; got " << r.report();
}

}  // namespace cs::test
