#pragma once
// The two behaviours of the method (docs/method.md §5), the config key `compat`: `Paper`
// implements the method as the paper describes it; `Reference` reproduces the released code's
// number-changing quirks. A run-wide switch beside Device and Precision: the split lists, the
// samplers, the augmentation, the initialisation and the losses all read it.
#include <stdexcept>
#include <string>

namespace cs {

enum class Compat { Paper, Reference };

inline const char* compat_name(Compat m) { return m == Compat::Paper ? "paper" : "reference"; }

// "paper" or "reference"; anything else is an error naming the value.
inline Compat parse_compat(const std::string& s) {
  if (s == "paper") return Compat::Paper;
  if (s == "reference") return Compat::Reference;
  throw std::invalid_argument("compat mode '" + s + "': expected 'paper' or 'reference'");
}

}  // namespace cs
