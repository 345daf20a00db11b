#pragma once
// CUDA vs CPU parity: the harness that runs every row of the parity table (parity_table.h).
//
// A case runs an op on both devices with the same random inputs and the same random upstream
// gradient dy (loss = sum(y * dy)); the forward output and the gradient of every input that
// requires grad are compared with the normalised error
//     err(got, want) = max_i |got_i - want_i| / max(1, max_i |want_i|)
// (a non-finite value where the CPU value is finite counts as an infinite error).
// Every case runs in the three gradient modes, which cover the BLAS-style beta of the backward
// kernels:
//   Once       one use of the op, gradients written with beta 0;
//   Twice      the op used twice in one loss (second write accumulates with beta 1);
//   Overwrite  gradients filled with NaN and marked zero first: beta 0 must not read them.
// A case whose inputs take no gradient (a kernel without one) compares the forward only.
// Tests on the Cuda fixture (support/cuda_fixture.h) skip themselves when no CUDA device is
// visible. Every test that needs a GPU, here or in another binary, has "Cuda" in its name:
// scripts/gpu-check.sh selects them by it and fails when one of them skips on a GPU machine.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/device.h"
#include "autograd/tensor.h"
#include "support/cuda_fixture.h"
#include "support/parity_values.h"

namespace cs::cudatest {

struct Input {
  Shape shape;
  std::vector<float> values;
  bool requires_grad = true;
};

// Inputs of uniform values (support/parity_values.h) in [lo, hi) from a fixed seed.
Input input(const Shape& s, uint64_t seed, float lo = -1.0f, float hi = 1.0f, bool requires_grad = true);

// The op under test, on tensors of one device (the inputs, in order).
using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;
enum class GradMode { Once, Twice, Overwrite };

// One comparison: `f` on `inputs`, on both devices, in every mode.
struct ParityCase {
  std::string what;
  OpFn f;
  std::vector<Input> inputs;
  double bound = 1e-4;         // on the forward output and every gradient (0: exact)
  double forward_bound = 0.0;  // a tighter bound on the forward output (0: `bound`)
  bool tf32 = false;           // the CUDA side with TF32 convolutions (the CPU side is FP32)
};

struct Outcome {
  std::vector<float> y;                   // forward output
  std::vector<std::vector<float>> grads;  // one per input (empty when not requiring grad)
  std::vector<bool> has_grad;             // whether the input ended with a gradient
};

Outcome run_op(const OpFn& f, const std::vector<Input>& inputs, Device d, GradMode mode, uint64_t dy_seed);

// Runs the case on CPU and CUDA in every mode; EXPECTs every error within its bound.
void expect_parity(const ParityCase& c, uint64_t dy_seed = 12345);

}  // namespace cs::cudatest
