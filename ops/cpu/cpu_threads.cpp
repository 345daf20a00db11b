#include "ops/cpu_threads.h"

#include <cblas.h>
#include <omp.h>

namespace cs {

void set_cpu_threads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

}  // namespace cs
