#pragma once
// Caching allocators. A training step allocates the same sizes every iteration, so freed blocks
// go to size-bucketed free lists and are handed out again: after the first step there is no
// malloc/cudaMalloc (and no page faults on the CPU). Blocks are rounded up to 64-byte multiples
// (buckets of 512 bytes above 64 KiB) and 64-byte aligned.
//
// CONTRASEG_CUDA_ALLOCATOR=direct (read once, at the first CUDA allocation) turns the CUDA cache
// off: every request is a cudaMalloc of exactly its size (1 byte for an empty one) and every free
// a cudaFree, so that compute-sanitizer sees each buffer's true end and a read past it or after
// its free (which a rounded-up, reused block hides). Slow; for checking only. The CPU side is
// unchanged.
#include <cstddef>
#include <cstdint>
#include "autograd/device.h"

namespace cs {

struct AllocatorStats {
  size_t bytes_in_use = 0;
  size_t bytes_cached = 0;
  size_t peak_bytes = 0;
  uint64_t device_allocs = 0;  // calls to the system allocator (malloc / cudaMalloc)
  uint64_t requests = 0;
};

void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);
AllocatorStats allocator_stats(Device d);
void allocator_release_cached(Device d);  // give cached blocks back to the system

// Memory movement (host<->device, device<->device). CPU<->CPU is memcpy.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
void fill_zero(void* dst, Device d, size_t bytes);

}  // namespace cs
