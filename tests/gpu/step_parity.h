#pragma once
// Whole-step CUDA-vs-CPU parity: the harness. outcome_on(device, case) runs one case on one device
// from the settings' seed (make_model, make_stage_step, the batch of step 0) and keeps everything
// the step reads or changes; compare(got, want, tolerances) lists every quantity of `got` (CUDA)
// that is further from `want` (CPU) than its tolerance. The two are separate so that the harness
// can be checked without a GPU (test_step_harness.cpp: CPU against CPU, and a perturbed outcome).
//
// A case is either the U-Net's forward and backward alone (training-mode BN, loss = sum(logits *
// r) for a fixed random r [N, S, S, classes], no optimiser) or one training step of a stage
// (StageStep::train: zero_grad, loss, backward, Adam). What is compared:
//   batch    the images (and labels) the step trained on: exactly. Each device's step draws
//            sample(0), which renders on the host and then uploads, so the two train on one batch
//   before   every parameter before the step: exactly (make_model initialises on the host)
//   loss     the loss value
//   output   the logits (U-Net alone): normalized_error (support/parity_values.h)
//   grad     every parameter's gradient, by name, relative to its own size (the L2 norm and the
//            largest element); a conv bias in front of a batch norm, whose exact gradient is zero,
//            against its layer's weight gradient on each device instead
//   after    every parameter after Adam, element by element, against what Adam's first step
//            allows given the two gradients (see update_excess in step_parity.cpp)
//   buffers  every BN running statistic after the step
// and that the trainable and frozen parameters are the same on both devices, that a frozen
// parameter has a zero gradient and is unchanged on both, and that the two hold the same names.
#include <map>
#include <string>
#include <vector>

#include "autograd/device.h"
#include "experiments/settings.h"
#include "support/step_test_util.h"

namespace cs::steptest {

struct StepCase {
  std::string name;
  bool unet_only = false;  // the U-Net's forward and backward alone (Stage::Finetune's network)
  Stage stage = Stage::Finetune;
  testing_step::ConfigKeys keys;  // over testing_step::small_settings, device and precision fp32
};

// The settings of `c` on `d` (fp32).
Settings case_settings(const StepCase& c, Device d);

using Named = std::map<std::string, std::vector<float>>;

struct StepOutcome {
  std::vector<float> images, labels;  // the batch (labels: fine-tuning only)
  double loss = 0;
  double lr = 0;                      // Adam's rate (0: no optimiser step)
  std::vector<float> output;          // the logits (U-Net alone)
  std::vector<std::string> trainable, frozen;  // parameter names, in the store's order
  Named before, grads, after, buffers;
};

StepOutcome outcome_on(Device d, const StepCase& c);

// Every bound 0: the outcomes must agree to the bit.
struct Tolerances {
  double loss = 0;       // |got - want| / max(1, |want|)
  double output = 0;     // normalized_error of the logits
  double grad_l2 = 0;    // per gradient tensor, ||got - want|| / ||want||
  double grad_max = 0;   // per gradient tensor, max |got - want| / max |want|
  double zero_grad = 0;  // a gradient that is exactly zero: max |g| / max |its layer's weight gradient|
  double update = 0;     // Adam's update beyond what the gradients' difference explains, in lr
  double buffers = 0;    // per BN statistic, max |got - want| / max |want|
};

// What compare found: one line per quantity beyond its tolerance (empty: the outcomes agree), and
// one line per kind of quantity with its worst error and where (to calibrate the tolerances).
struct Comparison {
  std::vector<std::string> mismatches;
  std::string summary;
};
Comparison compare(const StepOutcome& got, const StepOutcome& want, const Tolerances& tol);

}  // namespace cs::steptest
