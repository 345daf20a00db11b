#include "support/cuda_fixture.h"

#include "autograd/device.h"
#ifdef CONTRASEG_CUDA
#include "ops/cuda/conv_plan.h"
#endif

namespace cs::cudatest {

void Cuda::SetUp() {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible: GPU test skipped";
#ifdef CONTRASEG_CUDA
  cuda::set_conv_tf32(false);
#endif
}

}  // namespace cs::cudatest
