#pragma once
// Gradient checking against finite differences of a double-precision reference.
//
// The function differentiated is the reference f (tests/support/reference.h), in double, with
// central differences; the analytic gradients come from our float backward kernels through the
// tape. For an upstream gradient dy, the scalar checked is L(inputs) = <f(inputs), dy>, so
// dL/d(input) is exactly what backward computes from loss = sum(y * dy).
//
// Errors are "normalised": max_i |got_i - want_i| / max_i |want_i|, so a bound such as 1e-5 reads
// as "every element within 1e-5 of the largest reference magnitude".
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "support/reference.h"

namespace cs::test {

using ref::Vec;

// Uniform random values in [lo, hi) from a fixed seed (deterministic for a given toolchain).
Vec random_vec(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);
Tensor random_tensor(const Shape& s, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// Host copies between tensors and double vectors.
Vec to_double(const Tensor& t);
Tensor from_double(const Shape& s, const Vec& v);

// max_i |got_i - want_i| / max_i |want_i| (absolute error if want is all zero); sizes must match.
double normalized_error(const Vec& want, const Vec& got);

using RefFn = std::function<Vec(const std::vector<Vec>&)>;

// d<f(inputs), dy>/d inputs[which] by central differences with step h*max(1,|x_i|).
Vec numeric_grad(const RefFn& f, std::vector<Vec> inputs, const Vec& dy, size_t which,
                 double h = 1e-5);

// A cheaper check for larger inputs: for `directions` random unit directions v, compares the
// central difference of L along v with <analytic, v>. Returns the worst
// |fd - <g,v>| / max(||g||_2, tiny).
double directional_error(const RefFn& f, const std::vector<Vec>& inputs, const Vec& dy, size_t which,
                         const Vec& analytic, int directions, uint64_t seed, double h = 1e-4);

// The result of check_op: each error is normalized_error as above.
struct OpCheck {
  double forward = 0;                // our forward vs the reference
  std::vector<double> grad;          // per input requiring grad: backward vs finite differences
  std::vector<double> accumulate;    // per input: a second backward adds (grad2 == 2*grad1)
  std::vector<double> overwrite;     // per input: after zero_grad over a NaN-filled buffer
  std::string report() const;        // one line, for failure messages
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op(inputs) through the tape and checks it against ref on the same (float-rounded) values:
// forward, gradients of loss = sum(y * dy) for a random dy (seed), accumulation over two
// backward calls, and that a fresh backward overwrites (beta = 0) a garbage gradient buffer.
// Inputs not marked requires_grad are constants; their entries in grad/accumulate/overwrite are 0
// and they must end with no gradient (checked: throws std::runtime_error otherwise).
OpCheck check_op(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs, uint64_t seed);

// The same for inputs too large for element-wise differences (threaded kernel paths): forward,
// then each gradient along `directions` random directions (directional_error), one backward.
// Returns {forward error, directional error per input (0 for constants)}.
std::vector<double> check_op_directional(const OpFn& op, const RefFn& ref, const std::vector<Tensor>& inputs,
                                         uint64_t seed, int directions = 2);

}  // namespace cs::test
