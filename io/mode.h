#pragma once
// The two behaviours of the method (docs/method.md §5): `Paper` implements the method as the paper
// describes it; `Reference` reproduces the released code's number-changing quirks.
#include <stdexcept>
#include <string>

namespace cs {

enum class Mode { Paper, Reference };

inline const char* mode_name(Mode m) { return m == Mode::Paper ? "paper" : "reference"; }

// "paper" or "reference"; anything else is an error naming the value.
inline Mode parse_mode(const std::string& s) {
  if (s == "paper") return Mode::Paper;
  if (s == "reference") return Mode::Reference;
  throw std::invalid_argument("compat mode '" + s + "': expected 'paper' or 'reference'");
}

}  // namespace cs
