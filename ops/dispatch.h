#pragma once
// Runs an op's kernel on the device of its inputs. Each op group declares its kernels in its
// header ops/<group>.h: a signature is stated once, as a function type, and namespace cs::cpu
// declares a function of that type, and so does cs::cuda when the op has a CUDA kernel:
//   using ReluForward = void(const Tensor& x, Tensor& y);
//   namespace cpu { ReluForward relu_forward; }
//   namespace cuda { ReluForward relu_forward; }
// The wrapper (ops/<group>.cpp) then calls
//   CS_DISPATCH(dev, fn, args...)           cpu::fn(args...) or cuda::fn(args...), by device
//   CS_DISPATCH_CPU_ONLY(dev, fn, args...)  cpu::fn(args...); on a CUDA tensor it throws
//                                           std::invalid_argument naming the kernel
// so an op without a CUDA kernel links in a CUDA build. In a build without the CUDA backend
// no cuda:: kernel is referenced at all, and a CUDA tensor throws std::runtime_error.
//
// Kernel conventions: forward kernels write an output the wrapper allocated with the right
// shape; backward kernels write gradients through raw pointers with a BLAS-style beta in {0, 1}
// (grad = beta*grad + contribution; beta 0 never reads grad), and skip a null pointer. All
// tensors of one call are on one device, and the wrapper has checked every shape.
#include <stdexcept>
#include <string>

#include "autograd/device.h"

namespace cs::detail {

[[noreturn]] inline void no_cuda_kernel(const char* kernel) {
  throw std::invalid_argument(std::string(kernel) +
                              ": this op has no CUDA kernel; give it tensors on the cpu");
}

[[noreturn]] inline void no_cuda_backend(const char* kernel) {
  throw std::runtime_error(std::string(kernel) + ": tensor on cuda, but this build has no CUDA backend");
}

template <class OnCpu, class OnCuda>
inline void on_device(Device d, OnCpu&& on_cpu, OnCuda&& on_cuda) {
  if (d == Device::CUDA)
    on_cuda();
  else
    on_cpu();
}

}  // namespace cs::detail

#define CS_ON_CPU_(fn, ...) [&] { ::cs::cpu::fn(__VA_ARGS__); }
#ifdef CONTRASEG_CUDA
#define CS_ON_CUDA_(fn, ...) [&] { ::cs::cuda::fn(__VA_ARGS__); }
#else
#define CS_ON_CUDA_(fn, ...) [] { ::cs::detail::no_cuda_backend(#fn); }
#endif

#define CS_DISPATCH(dev, fn, ...) \
  ::cs::detail::on_device((dev), CS_ON_CPU_(fn, __VA_ARGS__), CS_ON_CUDA_(fn, __VA_ARGS__))
#define CS_DISPATCH_CPU_ONLY(dev, fn, ...) \
  ::cs::detail::on_device((dev), CS_ON_CPU_(fn, __VA_ARGS__), [] { ::cs::detail::no_cuda_kernel(#fn); })
