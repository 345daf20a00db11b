#pragma once
// What every fuzz target needs: the input bytes as a file, since the readers under test take
// paths. Per process, so that parallel fuzzing jobs do not share files.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz {

// "$TMPDIR/<stem>_<pid>" (TMPDIR defaults to /tmp); add the extension the reader expects.
inline std::string input_path(const std::string& stem) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t && *t ? t : "/tmp") + "/" + stem + "_" + std::to_string(::getpid());
}

inline bool write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace fuzz
