#pragma once
// The threads of the CPU kernels: OpenMP's (for the calling thread) and OpenBLAS's (one pool for
// the process, which OpenBLAS sizes from OPENBLAS_NUM_THREADS or OMP_NUM_THREADS when it loads).
// Setting both makes a run's arithmetic depend on its `threads` only, not on the environment it
// was started in: a GEMM on 2 OpenBLAS threads rounds differently from one on 1.
namespace cs {

void set_cpu_threads(int threads);

}  // namespace cs
