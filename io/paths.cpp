#include "io/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace cs {

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

void require_output_folder(const std::string& file) {
  const std::string folder = std::filesystem::path(absolute_path(file)).parent_path().string();
  struct stat st;
  int err = 0;
  if (::stat(folder.c_str(), &st) != 0)
    err = errno;
  else if (!S_ISDIR(st.st_mode))
    err = ENOTDIR;
  else if (::access(folder.c_str(), W_OK) != 0)
    err = errno;
  if (err) throw std::runtime_error(file + ": cannot create: " + std::strerror(err));  // as the writers say it
}

void require_new_output_file(const std::string& file, bool overwrite) {
  if (!overwrite && path_exists(file))
    throw std::runtime_error(file + ": exists already; add --overwrite to replace it, or choose another name");
  require_output_folder(file);
}

std::string this_executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find the running program's file (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace cs
