#pragma once
// The arithmetic of convolutions and linear layers: fp32, or bf16 operands with fp32
// accumulation and fp32 results. Everything else (BN statistics, softmax, the losses with their
// similarity matrices and log-sum-exp, Adam and the master weights) is fp32 in both.
//
// An op reads the precision when it runs forward and its tape node keeps it for the backward,
// so a PrecisionScope around the forward pass is enough.
#include <cstdint>
#include <cstring>
#include <string>

namespace cs {

enum class Precision { FP32, BF16 };

const char* precision_name(Precision p);       // "fp32" | "bf16"
Precision parse_precision(const std::string& s);  // throws std::invalid_argument on anything else

// The precision of the ops this thread runs now (fp32 unless a PrecisionScope says otherwise).
Precision compute_precision();

class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision saved_;
};

// x rounded to the nearest bfloat16 (ties to even), returned as the float of equal value: the
// upper 16 bits of the float, the rest zero. NaN stays NaN; values beyond the bf16 range round
// to infinity, as a conversion to bf16 does.
inline float round_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  const uint32_t quiet_nan = u | 0x00400000u;  // a quiet NaN whose payload survives the truncation
  // A select, not a branch: loops of conversions then vectorise to a compare and a blend.
  u = ((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded) & 0xffff0000u;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

// One bfloat16 element: the upper 16 bits of a float (the storage type of bf16 tensors).
struct bf16 {
  uint16_t bits;
};

inline bf16 to_bf16(float x) {  // rounded as round_to_bf16
  const float r = round_to_bf16(x);
  uint32_t u;
  std::memcpy(&u, &r, sizeof u);
  return bf16{static_cast<uint16_t>(u >> 16)};
}

inline float to_float(bf16 h) {  // exact
  const uint32_t u = static_cast<uint32_t>(h.bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof u);
  return x;
}

}  // namespace cs
