#include "autograd/device.h"

#include <fstream>
#include <stdexcept>

#include "autograd/cuda_runtime_api.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace cs {
namespace {
constexpr unsigned kFlushToZero = 1u << 15, kDenormalsAreZero = 1u << 6;  // MXCSR bits

bool flush_subnormals() {
#if defined(__SSE2__)
  _mm_setcsr(_mm_getcsr() | kFlushToZero | kDenormalsAreZero);
  return true;
#else
  return false;
#endif
}
[[maybe_unused]] const bool flushing = flush_subnormals();  // in the main thread, before main
}  // namespace

bool cpu_flushes_subnormals() {
#if defined(__SSE2__)
  const unsigned both = kFlushToZero | kDenormalsAreZero;
  return (_mm_getcsr() & both) == both;
#else
  return false;
#endif
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::CPU;
  if (s == "cuda" || s == "gpu") return Device::CUDA;
  throw std::invalid_argument("unknown device '" + s + "' (expected cpu or cuda)");
}

int cuda_device_count() {
#ifdef CONTRASEG_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

void device_synchronize(Device d) {
#ifdef CONTRASEG_CUDA
  if (d == Device::CUDA) cuda_synchronize();
#else
  (void)d;
#endif
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name, family, model;
  auto value = [&line] {
    const auto colon = line.find(':');
    return colon == std::string::npos || colon + 2 > line.size() ? std::string() : line.substr(colon + 2);
  };
  while (std::getline(in, line) && line.find_first_not_of(" \t") != std::string::npos) {  // the first CPU
    if (line.rfind("model name", 0) == 0) name = value();
    else if (line.rfind("cpu family", 0) == 0) family = value();
    else if (line.rfind("model\t", 0) == 0) model = value();
  }
  if (name.empty()) return "unknown CPU";
  // Virtual machines often report a bare vendor name ("AMD EPYC"); family and model tell them apart.
  return family.empty() ? name : name + " (family " + family + " model " + model + ")";
}

std::string device_description(Device d) {
  if (d == Device::CPU) return "cpu: " + cpu_model();
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
