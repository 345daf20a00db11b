#include "parity.h"

#include <limits>

#include "autograd/tape.h"
#include "ops/ops.h"
#include "parity_table.h"
#ifdef CONTRASEG_CUDA
#include "ops/cuda/conv_plan.h"
#endif

namespace cs::cudatest {

Input input(const Shape& s, uint64_t seed, float lo, float hi, bool requires_grad) {
  return Input{s, uniform(shape_numel(s), seed, lo, hi), requires_grad};
}

namespace {

// loss = sum(f(x) * dy) for a fixed random dy of the output's shape.
Tensor weighted_sum(const Tensor& y, uint64_t seed, Device d) {
  Tensor dy = Tensor::from_vector(y.shape(), uniform(y.numel(), seed), d);
  return sum(mul(y, dy));
}

void backward_if_any(Tensor& loss) {  // a forward-only case has nothing to differentiate
  if (loss.requires_grad()) backward(loss);
}

}  // namespace

Outcome run_op(const OpFn& f, const std::vector<Input>& inputs, Device d, GradMode mode, uint64_t dy_seed) {
  Tape::get().clear();
  std::vector<Tensor> ts;
  for (const Input& in : inputs)
    ts.push_back(Tensor::from_vector(in.shape, in.values, d).set_requires_grad(in.requires_grad));

  Tensor y = f(ts);
  Tensor loss = weighted_sum(y, dy_seed, d);
  if (mode == GradMode::Twice) loss = add(loss, weighted_sum(f(ts), dy_seed + 1, d));
  backward_if_any(loss);

  if (mode == GradMode::Overwrite) {
    // Garbage in every gradient buffer, then "zeroed": the next backward must write, not add.
    for (Tensor& t : ts)
      if (t.requires_grad() && t.has_grad()) {
        t.grad().fill_(std::numeric_limits<float>::quiet_NaN());
        t.zero_grad();
      }
    y = f(ts);
    Tensor again = weighted_sum(y, dy_seed, d);
    backward_if_any(again);
  }

  Outcome out;
  out.y = y.to_vector();
  for (Tensor& t : ts) {
    out.has_grad.push_back(t.has_grad());
    out.grads.push_back(t.has_grad() ? t.grad().to_vector() : std::vector<float>());
  }
  return out;
}

void expect_parity(const ParityCase& c, uint64_t dy_seed) {
  const double forward_bound = c.forward_bound > 0 ? c.forward_bound : c.bound;
  for (GradMode mode : {GradMode::Once, GradMode::Twice, GradMode::Overwrite}) {
    const char* mname = mode == GradMode::Once ? "once" : mode == GradMode::Twice ? "twice" : "overwrite";
    SCOPED_TRACE(c.what + " [" + mname + "]");
    const Outcome want = run_op(c.f, c.inputs, Device::CPU, mode, dy_seed);
#ifdef CONTRASEG_CUDA
    cuda::set_conv_tf32(c.tf32);
#endif
    const Outcome got = run_op(c.f, c.inputs, Device::CUDA, mode, dy_seed);
#ifdef CONTRASEG_CUDA
    cuda::set_conv_tf32(false);
#endif
    EXPECT_LE(normalized_error(got.y, want.y), forward_bound) << "forward";
    ASSERT_EQ(got.grads.size(), c.inputs.size());
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      EXPECT_EQ(got.has_grad[i], c.inputs[i].requires_grad) << "input " << i << " gradient presence (cuda)";
      EXPECT_EQ(want.has_grad[i], c.inputs[i].requires_grad) << "input " << i << " gradient presence (cpu)";
      if (!c.inputs[i].requires_grad) continue;
      EXPECT_LE(normalized_error(got.grads[i], want.grads[i]), c.bound) << "gradient of input " << i;
    }
  }
}

namespace {

class ParityRowTest : public Cuda {
 public:
  explicit ParityRowTest(const ParityRow& row) : row_(row) {}
  void TestBody() override {
    for (const ParityCase& c : row_.cases()) expect_parity(c);
  }

 private:
  const ParityRow& row_;
};

// Each row of the table is the test <suite>.<name>, on the Cuda fixture (it skips without a GPU).
const bool registered = [] {
  for (const ParityRow& row : parity_table())
    ::testing::RegisterTest(row.suite, row.name, nullptr, nullptr, __FILE__, __LINE__,
                            [&row]() -> Cuda* { return new ParityRowTest(row); });
  return true;
}();

}  // namespace
}  // namespace cs::cudatest
