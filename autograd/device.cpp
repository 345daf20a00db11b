#include "autograd/device.h"

#include <stdexcept>

#include "autograd/cuda_runtime_api.h"

namespace cs {

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::CPU;
  if (s == "cuda" || s == "gpu") return Device::CUDA;
  throw std::invalid_argument("unknown device '" + s + "' (expected cpu or cuda)");
}

bool cuda_available() {
#ifdef CONTRASEG_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
#else
  return false;
#endif
}

void device_synchronize(Device d) {
#ifdef CONTRASEG_CUDA
  if (d == Device::CUDA) cuda_synchronize();
#else
  (void)d;
#endif
}

std::string device_description(Device d) {
  if (d == Device::CPU) return "cpu";
#ifdef CONTRASEG_CUDA
  if (!cuda_available()) return "cuda (no device visible)";
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  return std::string("cuda: ") + p.name + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) +
         "), cuDNN " + std::to_string(cudnnGetVersion());
#else
  return "cuda (not compiled in)";
#endif
}

}  // namespace cs
