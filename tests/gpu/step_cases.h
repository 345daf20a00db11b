#pragma once
// The cases of the whole-step parity tests (test_cuda_step.cpp), over small_settings, and their
// tolerances.
//
// The U-Net alone runs at ACDC's geometry: batch 20 of 192x192, 4 classes, the training step of
// the paper. Its CPU side (one fp32 forward and backward, 239 GFLOP with the optimiser: docs/
// performance.md §1) takes 4.8 s in all on 2 cores, so about a second on the GPU machine's 16:
// well within the ~20 s a case may take there (scripts/gpu-check.sh runs test_gpu's CUDA tests
// one after another under one cap of 120 s).
// The stage steps run at 96x96 with the paper's batch sizes (global.volumes 6: G^D over 48 images;
// global.batch 12: G^R over 24; local.batch 10: L^R over 20; L^D over its 24; finetune.batch 20):
// they check what the whole step adds to the ops (the losses' term lists, the frozen encoder and
// its BN mode, the labels, Adam), while every op at full size is the U-Net case's and the op
// table's (tests/ops/parity_table.cpp) job. At 96 each stage case's CPU side takes 0.3-1.5 s on
// 2 cores. 96 is a multiple of 32 (the bottleneck is 3x3) and scales the crop of G^D's views.
#include <string>

#include "gpu/step_parity.h"

namespace cs::steptest {

inline StepCase unet_case() {
  return {"U-Net forward and backward, 20 x 192 x 192, 4 classes", true, Stage::Finetune,
          {{"image_size", "192"}, {"finetune.batch", "20"}}};
}

// One step of `stage` at 96x96 with the paper's batch sizes, then `keys`.
inline StepCase stage_case(const std::string& name, Stage stage, testing_step::ConfigKeys keys) {
  keys.insert(keys.begin(), {{"image_size", "96"},
                             {"global.volumes", "6"},
                             {"global.batch", "12"},
                             {"local.batch", "10"},
                             {"finetune.batch", "20"}});
  return {name, false, stage, keys};
}

// Both sides compute in FP32 (TF32 off), but cuDNN/cuBLAS and oneDNN/the CPU kernels sum in other
// orders. No GPU has run these yet: the bounds come from two measurements on the CPU, each the
// worst of the nine cases:
//   proxy     oneDNN's convolutions restricted to SSE4.1 (ONEDNN_MAX_CPU_ISA=SSE41), which sums
//             them in another order, against the default AVX2 ones: the logits move by 6e-5;
//   stand-in  every initial weight scaled by 1 + 1e-5 u, u uniform in [-1, 1): the logits move by
//             1.2e-3, 20x the proxy, as a GPU whose algorithms (Winograd, FFT, split reductions)
//             round far more than oneDNN would.
// Each bound is about 3x the stand-in or more. The gradients are far more sensitive than the
// forward: a rounding difference in the forward pass flips the ReLUs of the activations closest
// to zero, and each flip moves one term of the backward's sums over N*H*W by a whole gradient
// element, while those sums of terms of both signs are only ~sqrt(N*H*W) elements large. So the
// whole step catches what the op table (tests/ops/parity_table.cpp) cannot: wiring (devices,
// frozen parameters, BN modes, a missing or doubled gradient contribution, Adam); the kernels'
// precision is the op table's job. Each test prints its worst errors: tighten these after a GPU
// run.
inline Tolerances step_tolerances() {
  Tolerances t;
  // The loss, a mean over the batch of terms each good to ~1e-6: proxy 1.4e-6, stand-in 6.4e-6.
  t.loss = 1e-4;
  // The U-Net's logits, after 29 conv layers and 28 batch norms: proxy 5.9e-5, stand-in 1.2e-3.
  t.output = 5e-3;
  // Each gradient tensor's L2 norm of the difference, relative to its own (the ReLU flips above):
  // proxy 0.027, stand-in 0.08; fails a gradient scaled by 1.25 or missing a quarter of its size.
  t.grad_l2 = 0.25;
  // Each gradient tensor's worst element, relative to its largest (one flip lands on one
  // element): proxy 0.135, stand-in 0.16; fails garbage of half the largest gradient or more.
  t.grad_max = 0.5;
  // A conv bias in front of batch norm, whose exact gradient is zero: rounding noise of up to
  // 8e-4 (proxy), 1.2e-3 (stand-in) of its layer's weight gradient; a real gradient is of order 1.
  t.zero_grad = 1e-2;
  // Adam's first update beyond what the gradients' difference explains, in units of lr: proxy
  // 1.1e-4, an ulp of a BN gamma near 1 (1.2e-7 = 1.2e-4 lr), stand-in 4.9e-5; a few ulps more.
  t.update = 1e-3;
  // The BN running statistics: 1% of the batch statistics, means over N*H*W in which rounding
  // averages out: proxy 1.8e-6, stand-in 3.3e-5.
  t.buffers = 3e-4;
  return t;
}

}  // namespace cs::steptest
