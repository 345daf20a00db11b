#pragma once
// Writes a whole file atomically: temp file in the same directory, fsync, rename. A crash leaves
// either the old file or the new one, never half of one.
#include <string>

namespace cs {
void write_file_atomic(const std::string& path, const std::string& contents);
}  // namespace cs
