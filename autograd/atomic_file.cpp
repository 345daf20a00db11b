#include "autograd/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace cs {

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot create: " + std::strerror(errno));
  // Past this point a failure releases the descriptor and the temporary file before reporting
  // the failing call's own errno.
  auto abandon = [&](const char* what) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
  };
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("cannot flush to disk");
  const int closed = ::close(fd);
  fd = -1;  // released even when close reports an error
  if (closed != 0) abandon("cannot close");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) abandon("cannot move into place");
}

}  // namespace cs
