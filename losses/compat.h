#pragma once
// The two modes of the losses (docs/method.md §5): `Paper` follows the paper, `Reference`
// reproduces the released code's term lists and tables.
#include <string>

namespace cs {

enum class Compat { Paper, Reference };

Compat parse_compat(const std::string& s);  // "paper" | "reference"
const char* compat_name(Compat c);

}  // namespace cs
