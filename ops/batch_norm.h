#pragma once
// batch_norm over every leading dim of x [..., C] (NHWC: per channel over N, H, W), and
// batch_norm_relu, the same followed by max(0, .) in the same passes over memory.
// Kernels: ops/cpu/batch_norm.cpp, ops/cuda/batch_norm.cu.
#include "autograd/tape.h"
#include "autograd/tensor.h"

namespace cs {

// x [..., C]; gamma, beta, running_mean, running_var [C] -> [..., C].
// training: batch mean and biased variance normalise (x needs at least one row), and the running
// statistics move: r = decay*r + (1-decay)*batch, with the unbiased variance for running_var;
// otherwise the running statistics normalise (and are not changed).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float decay = 0.99f, float eps = 1e-3f);

// relu(batch_norm(...)) with the same arguments and, bit for bit, the same results (values,
// gradients, running statistics), without storing the normalised tensor.
Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, bool training, float decay = 0.99f, float eps = 1e-3f);

// x is fp32, or bf16 (CPU only; y and the gradient of x are then bf16 too, the statistics fp32).

// ---- kernels (conventions: ops/dispatch.h). x, y, dy [M, C] (leading dims flattened, M >= 1
// in training); every other tensor [C]. With relu, y = max(0, bn(x)) and the backward takes the
// gradient of that: dy is masked where bn(x), recomputed from x, gamma and beta, is <= 0.
// x, y, dy and dx have one type, fp32 or bf16 (CPU only: the overloads taking a bf16* dx).

// Training: batch mean, biased variance; running statistics updated.
// saved: x, gamma, beta, save_mean and save_invstd = 1/sqrt(biased var + eps).
using BatchNormForwardTrain = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu, Tensor& y,
                                   Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                                   Tensor& running_var, float decay, float eps);
template <class T>
using BatchNormBackwardTrainT = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                                     const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy, T* dx,
                                     float beta_dx, float* dgamma, float beta_dgamma, float* dbeta, float beta_dbeta);
using BatchNormBackwardTrain = BatchNormBackwardTrainT<float>;
namespace cpu { BatchNormForwardTrain batch_norm_forward_train; BatchNormBackwardTrain batch_norm_backward_train; }
namespace cpu { BatchNormBackwardTrainT<bf16> batch_norm_backward_train; }
namespace cuda { BatchNormForwardTrain batch_norm_forward_train; BatchNormBackwardTrain batch_norm_backward_train; }

// Inference: y = gamma*(x - running_mean)/sqrt(running_var + eps) + beta, a per-channel affine map.
// saved: x, gamma, beta, and copies of running_mean and running_var (a later update must not change
//        this node's gradient).
using BatchNormForwardInfer = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                                   const Tensor& running_mean, const Tensor& running_var, Tensor& y, float eps);
template <class T>
using BatchNormBackwardInferT = void(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool relu,
                                     const Tensor& running_mean, const Tensor& running_var, float eps,
                                     const Tensor& dy, T* dx, float beta_dx, float* dgamma, float beta_dgamma,
                                     float* dbeta, float beta_dbeta);
using BatchNormBackwardInfer = BatchNormBackwardInferT<float>;
namespace cpu { BatchNormForwardInfer batch_norm_forward_infer; BatchNormBackwardInfer batch_norm_backward_infer; }
namespace cpu { BatchNormBackwardInferT<bf16> batch_norm_backward_infer; }
namespace cuda { BatchNormForwardInfer batch_norm_forward_infer; BatchNormBackwardInfer batch_norm_backward_infer; }

}  // namespace cs
