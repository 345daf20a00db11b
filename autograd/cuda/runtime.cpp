// CUDA plumbing: error checks, the one stream, and the cuBLAS/cuDNN handles bound to it.
#include <stdexcept>
#include <string>

#include "autograd/cuda_runtime_api.h"

namespace cs {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void cublas_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(static_cast<int>(s)));
}

void cudnn_check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(s));
}

cudaStream_t cuda_stream() {
  static cudaStream_t s = [] {
    cudaStream_t st;
    cuda_check(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreate");
    return st;
  }();
  return s;
}

cublasHandle_t cublas_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t hh;
    cublas_check(cublasCreate(&hh), "cublasCreate");
    cublas_check(cublasSetStream(hh, cuda_stream()), "cublasSetStream");
    return hh;
  }();
  return h;
}

cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t hh;
    cudnn_check(cudnnCreate(&hh), "cudnnCreate");
    cudnn_check(cudnnSetStream(hh, cuda_stream()), "cudnnSetStream");
    return hh;
  }();
  return h;
}

void cuda_synchronize() { cuda_check(cudaStreamSynchronize(cuda_stream()), "cudaStreamSynchronize"); }

}  // namespace cs
