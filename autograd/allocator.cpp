#include "autograd/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "autograd/cuda_runtime_api.h"

namespace cs {
namespace {

size_t round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t q = bytes <= 65536 ? 64 : 512;
  return (bytes + q - 1) / q * q;
}

// One cache per device; the system calls are injected so that the same logic serves both.
// `direct`: no cache, every request its own system allocation of exactly its size (at least 1
// byte), every free a system free.
class CachingAllocator {
 public:
  using SysAlloc = void* (*)(size_t);
  using SysFree = void (*)(void*);
  CachingAllocator(SysAlloc a, SysFree f, bool direct = false) : sys_alloc_(a), sys_free_(f), direct_(direct) {}

  void* alloc(size_t bytes) {
    const size_t sz = block_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.requests++;
    void* p = nullptr;
    auto* list = direct_ ? nullptr : &free_[sz];
    if (list && !list->empty()) {
      p = list->back();
      list->pop_back();
      stats_.bytes_cached -= sz;
    } else {
      p = sys_alloc_(sz);
      if (!p) {  // out of memory: drop the cache and retry once
        release_locked();
        p = sys_alloc_(sz);
        if (!p) throw std::bad_alloc();
      }
      stats_.device_allocs++;
    }
    stats_.bytes_in_use += sz;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
    return p;
  }

  void free(void* p, size_t bytes) {
    if (!p) return;
    const size_t sz = block_size(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes_in_use -= sz;
    if (direct_) {
      sys_free_(p);
      return;
    }
    free_[sz].push_back(p);
    stats_.bytes_cached += sz;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    release_locked();
  }

 private:
  size_t block_size(size_t bytes) const { return direct_ ? std::max<size_t>(bytes, 1) : round_size(bytes); }
  void release_locked() {
    for (auto& kv : free_)
      for (void* p : kv.second) sys_free_(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }
  SysAlloc sys_alloc_;
  SysFree sys_free_;
  const bool direct_;
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

void* cpu_sys_alloc(size_t sz) { return std::aligned_alloc(64, sz); }
void cpu_sys_free(void* p) { std::free(p); }

CachingAllocator& cpu_cache() {
  static auto* a = new CachingAllocator(cpu_sys_alloc, cpu_sys_free);  // never destroyed: tensors may outlive statics
  return *a;
}

#ifdef CONTRASEG_CUDA
void* cuda_sys_alloc(size_t sz) {
  void* p = nullptr;
  if (cudaMalloc(&p, sz) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void cuda_sys_free(void* p) { cudaFree(p); }
CachingAllocator& cuda_cache() {
  static auto* a = [] {
    const char* v = std::getenv("CONTRASEG_CUDA_ALLOCATOR");
    return new CachingAllocator(cuda_sys_alloc, cuda_sys_free, v && std::strcmp(v, "direct") == 0);
  }();
  return *a;
}
#endif

CachingAllocator& cache(Device d) {
#ifdef CONTRASEG_CUDA
  if (d == Device::CUDA) return cuda_cache();
#else
  if (d == Device::CUDA) throw std::runtime_error("this build has no CUDA backend");
#endif
  return cpu_cache();
}

}  // namespace

void* device_alloc(Device d, size_t bytes) { return cache(d).alloc(bytes); }
void device_free(Device d, void* p, size_t bytes) { cache(d).free(p, bytes); }
AllocatorStats allocator_stats(Device d) { return cache(d).stats(); }
void allocator_release_cached(Device d) { cache(d).release(); }

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef CONTRASEG_CUDA
  // Ops run on one non-blocking stream: copy on it, then wait, so the host sees finished data.
  cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cuda_stream()), "cudaMemcpy");
  cuda_check(cudaStreamSynchronize(cuda_stream()), "cudaStreamSynchronize");
#else
  throw std::runtime_error("this build has no CUDA backend");
#endif
}

void fill_zero(void* dst, Device d, size_t bytes) {
  if (bytes == 0) return;
  if (d == Device::CPU) {
    std::memset(dst, 0, bytes);
    return;
  }
#ifdef CONTRASEG_CUDA
  cuda_check(cudaMemsetAsync(dst, 0, bytes, cuda_stream()), "cudaMemset");
#endif
}

}  // namespace cs
