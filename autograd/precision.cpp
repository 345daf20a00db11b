#include "autograd/precision.h"

#include <stdexcept>

namespace cs {
namespace {
thread_local Precision current = Precision::FP32;
}

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "bf16") return Precision::BF16;
  throw std::invalid_argument("precision must be fp32 or bf16, got '" + s + "'");
}

Precision compute_precision() { return current; }

PrecisionScope::PrecisionScope(Precision p) : saved_(current) { current = p; }
PrecisionScope::~PrecisionScope() { current = saved_; }

}  // namespace cs
