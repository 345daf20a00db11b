#pragma once
// The small slice of CUDA runtime plumbing shared by the backend: error checks, the stream and
// library handles. Empty in CPU-only builds.
#ifdef CONTRASEG_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace cs {
void cuda_check(cudaError_t e, const char* what);
void cublas_check(cublasStatus_t s, const char* what);
void cudnn_check(cudnnStatus_t s, const char* what);
cudaStream_t cuda_stream();        // the one stream every op runs on
cublasHandle_t cublas_handle();    // bound to cuda_stream()
cudnnHandle_t cudnn_handle();      // bound to cuda_stream()
void cuda_synchronize();
}  // namespace cs
#endif
