// Checkpoints of a model on the GPU (nn/checkpoint.h): a fine-tuning model trained one step on
// CUDA (so that its BN statistics and Adam moments are not the initial ones) is saved from device
// memory, then loaded into a CPU model and into a CUDA model initialised from another seed:
// every parameter, BN statistic and Adam moment, and Adam's step count, equal the source's to the
// bit. 64x64, batch 4 (small_settings).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "experiments/methods/stage_step.h"
#include "nn/checkpoint.h"
#include "support/cuda_fixture.h"
#include "support/io_test_util.h"
#include "support/step_test_util.h"

namespace cs {
namespace {

using CudaCheckpoint = cudatest::Cuda;

Settings settings(Device d, const char* seed) {
  return testing_step::small_settings({{"device", device_name(d)}, {"seed", seed}});
}

// Every tensor of `got` (and its Adam state) equal to `want`'s, by name.
void expect_identical(const ParamStore& got, const Adam& got_adam, const ParamStore& want, const Adam& want_adam) {
  ASSERT_EQ(got.num_params(), want.num_params());
  ASSERT_EQ(got.num_buffers(), want.num_buffers());
  for (size_t i = 0; i < want.num_params(); ++i) {
    const std::string& n = want.param_entry(i).name;
    const size_t j = got.param_index(n);
    EXPECT_EQ(got.param_at(j).to_vector(), want.param_at(i).to_vector()) << n;
    EXPECT_EQ(got.adam_m_at(j).to_vector(), want.adam_m_at(i).to_vector()) << "adam.m." << n;
    EXPECT_EQ(got.adam_v_at(j).to_vector(), want.adam_v_at(i).to_vector()) << "adam.v." << n;
  }
  for (const std::string& n : want.buffer_names())
    EXPECT_EQ(got.buffer(n).to_vector(), want.buffer(n).to_vector()) << n;
  EXPECT_EQ(got_adam.step_count(), want_adam.step_count());
}

TEST_F(CudaCheckpoint, SavedFromTheGpuLoadsIdenticallyOnEitherDevice) {
  const Settings s = settings(Device::CUDA, "0");
  const auto source = make_model(s, Stage::Finetune, Device::CUDA);
  const auto stacks = random_stacks(4, 6, 64, source->config().num_classes, 1);
  const auto step = make_stage_step(Stage::Finetune, s, *source, stacks);
  step->run(0);
  const testing_io::TempDir dir;
  const std::string path = dir / "gpu.safetensors";
  save_checkpoint(path, source->params(), &step->adam());
  verify_checkpoint(path);

  for (Device d : {Device::CPU, Device::CUDA}) {
    SCOPED_TRACE(device_name(d));
    const auto target = make_model(settings(d, "1"), Stage::Finetune, d);  // other initial values
    ASSERT_NE(target->params().param_at(0).to_vector(), source->params().param_at(0).to_vector());
    Adam adam(target->params());
    CheckpointLoadOptions opt;
    opt.adam = &adam;
    load_checkpoint(path, target->params(), opt);
    EXPECT_EQ(target->device(), d);
    expect_identical(target->params(), adam, source->params(), step->adam());
  }
}

}  // namespace
}  // namespace cs
