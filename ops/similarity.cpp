// cosine_similarity, ntxent_loss / ntxent_terms, extract_regions (ops/similarity.h): shape
// checks, then each forward kernel and tape node through record_op.
#include "ops/similarity.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/record_op.h"
#include "ops/dispatch.h"

namespace cs {

namespace {
void check_tau(float tau, const char* op) {
  if (!(tau > 0.0f) || !std::isfinite(tau))
    throw std::invalid_argument(std::string(op) + ": temperature tau must be positive and finite, got " +
                                std::to_string(tau));
}

void check_embeddings(const Tensor& z, const char* op) {
  check_ndim(z, 2, op, "z [N,D]");
  if (z.dim(0) < 1 || z.dim(1) < 1)
    throw std::invalid_argument(std::string(op) + ": empty embeddings " + shape_str(z.shape()));
}
}  // namespace

Tensor cosine_similarity(const Tensor& z, float tau) {
  check_embeddings(z, "cosine_similarity");
  check_tau(tau, "cosine_similarity");
  const int64_t n = z.dim(0), d = z.dim(1);
  Tensor zn = Tensor::empty(z.shape(), z.device());
  Tensor norms = Tensor::empty({n}, z.device());
  Tensor s = Tensor::empty({n, n}, z.device());
  const double flops = 2.0 * n * n * d;
  return record_op(
      {"cosine_similarity", flops, 2.0 * flops}, {z}, s,
      [&] { CS_DISPATCH(z.device(), cosine_similarity_forward, z, tau, zn, norms, s); },
      [z, zn, norms, tau](const Tensor& ds) {
        const GradOut dz = grad_out(z);
        CS_DISPATCH(z.device(), cosine_similarity_backward, zn, norms, ds, tau, dz.ptr, dz.beta);
      });
}

namespace {
Tensor ntxent_impl(const Tensor& z, const ContrastPlan& plan, float tau, bool per_term) {
  const char* op = per_term ? "ntxent_terms" : plan.op_name();
  check_embeddings(z, op);
  check_tau(tau, op);
  if (z.dim(0) != plan.rows())
    throw std::invalid_argument(std::string(op) + ": z " + shape_str(z.shape()) + " but the plan has " +
                                std::to_string(plan.rows()) + " rows");
  plan.on(z.device());  // device check
  const Device dev = z.device();
  const int64_t d = z.dim(1), T = plan.num_terms(), U = plan.num_units();
  Tensor zn = Tensor::empty(z.shape(), dev);
  Tensor norms = Tensor::empty({z.dim(0)}, dev);
  Tensor lse = Tensor::empty({U}, dev);
  Tensor sap = Tensor::empty({T}, dev);
  Tensor values = Tensor::empty({T}, dev);
  Tensor loss = Tensor::empty({1}, dev);
  // FLOPs: dense rules compute the anchor rows of S; explicit terms their own dot products.
  double flops;
  if (plan.rule() == NegativeRule::Explicit) {
    flops = 2.0 * d * (T + static_cast<double>(plan.spec().neg_index.size()));
  } else {
    int64_t anchors = 0;
    const int* ru = plan.host().row_unit_off;
    for (int64_t r = 0; r < plan.rows(); ++r) anchors += ru[r + 1] > ru[r];
    flops = 2.0 * anchors * plan.rows() * d;
  }
  Tensor out = per_term ? values : loss;
  // The plan is held by pointer: it must outlive the backward pass (plans live for a whole run),
  // and so must its op name.
  const ContrastPlan* p = &plan;
  return record_op(
      {op, flops, 3.0 * flops}, {z}, out,
      [&] { CS_DISPATCH(dev, ntxent_forward, z, plan, tau, zn, norms, lse, sap, values, loss); },
      [z, zn, norms, lse, sap, p, tau, per_term](const Tensor& dout) {
        const GradOut dz = grad_out(z);
        const float* g = dout.data();
        CS_DISPATCH(z.device(), ntxent_backward, *p, tau, zn, norms, lse, sap, per_term ? g : nullptr,
                    per_term ? nullptr : g, dz.ptr, dz.beta);
      });
}
}  // namespace

Tensor ntxent_loss(const Tensor& z, const ContrastPlan& plan, float tau) {
  return ntxent_impl(z, plan, tau, false);
}
Tensor ntxent_terms(const Tensor& z, const ContrastPlan& plan, float tau) {
  return ntxent_impl(z, plan, tau, true);
}

Tensor extract_regions(const Tensor& f, const std::vector<RegionPos>& positions, int k) {
  check_ndim(f, 4, "extract_regions", "f [N,H,W,C]");
  if (k < 1) throw std::invalid_argument("extract_regions: patch side k must be >= 1, got " + std::to_string(k));
  if (positions.empty() || positions.size() > static_cast<size_t>(kMaxRegions))
    throw std::invalid_argument("extract_regions: between 1 and " + std::to_string(kMaxRegions) +
                                " positions, got " + std::to_string(positions.size()));
  RegionList list;
  list.n = static_cast<int>(positions.size());
  for (int q = 0; q < list.n; ++q) {
    const RegionPos& p = positions[q];
    if (p.r < 0 || p.s < 0 || p.r + k > f.dim(1) || p.s + k > f.dim(2))
      throw std::invalid_argument("extract_regions: a " + std::to_string(k) + "x" + std::to_string(k) +
                                  " patch at (" + std::to_string(p.r) + ", " + std::to_string(p.s) +
                                  ") does not fit in f " + shape_str(f.shape()));
    list.r[q] = p.r;
    list.s[q] = p.s;
  }
  Tensor y = Tensor::empty({f.dim(0) * list.n, int64_t(k) * k * f.dim(3)}, f.device());
  return record_op({"extract_regions"}, {f}, y, [&] { CS_DISPATCH(f.device(), extract_regions_forward, f, list, k, y); },
                   [f, list, k](const Tensor& dy) {
                     const GradOut df = grad_out(f);
                     CS_DISPATCH(f.device(), extract_regions_backward, dy, list, k, f.shape(), df.ptr, df.beta);
                   });
}

}  // namespace cs
