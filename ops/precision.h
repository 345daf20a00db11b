#pragma once
// What the ops need to run in bf16 (autograd/precision.h): rounding operands to bf16, and
// whether this machine's kernels take bf16 natively.
//
// Where they do (a CPU with AVX512-BF16 or AMX, through oneDNN), convolutions run in bf16
// kernels, and the U-Net keeps its activations and their gradients in bf16 tensors (cast):
// half the bytes for every memory-bound layer. Everywhere else bf16 is emulated: the operands are
// rounded to bf16, the fp32 kernels run on them, and activations stay fp32. The products of two
// bf16 values are exact in fp32 and both accumulate in fp32, so for one convolution the two
// differ only in the order of the additions; over a step the native path also rounds each
// stored activation and gradient.
// Kernels: ops/cpu/precision.cpp, ops/cuda/precision.cu.
#include <cstdint>
#include <string>

#include "autograd/precision.h"
#include "autograd/tensor.h"

namespace cs {

// x (any shape, either type) -> the same values as type t, rounded to nearest even into bf16;
// the gradient flows back converted to x's type. x itself when it already is t. bf16 tensors
// live on the CPU (ops on them need native_bf16(cpu)).
Tensor cast(const Tensor& x, DType t);

// A copy of x with every element rounded to bf16 (round_to_bf16): any shape -> same shape.
// Not an autograd op: the rounded operands feed kernels directly.
Tensor bf16_rounded(const Tensor& x);

// What oneDNN runs on this CPU: its effective instruction set ("avx2", "avx512_core_amx", ...)
// and whether that has bf16 instructions (AVX512-BF16 or AMX).
struct CpuBf16 {
  std::string isa;
  bool native = false;
};
CpuBf16 cpu_bf16();

// True when convolutions on device d run in bf16 kernels (CPU with native bf16 only: the CUDA
// kernels emulate, for now).
bool native_bf16(Device d);

// One line for logs and env.json: "bf16: native (oneDNN avx512_core_amx)" or, on a CPU without
// bf16 instructions, what it lacks and what runs instead.
std::string bf16_description(Device d);

// ---- kernels (conventions: ops/dispatch.h)

// x, y: one shape; y = round_to_bf16(x) elementwise (y may be x).
using RoundToBf16 = void(const Tensor& x, Tensor& y);
namespace cpu { RoundToBf16 round_to_bf16; }

// src, dst: n elements of types `from` and `to`; dst = beta*dst + src, rounded to `to`.
namespace cpu { void convert(const void* src, DType from, void* dst, DType to, int64_t n, float beta); }
namespace cuda { RoundToBf16 round_to_bf16; }

}  // namespace cs
