#include "experiments/pipeline/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "io/paths.h"
#include "experiments/pipeline/run_folder.h"

namespace cs {
namespace {

struct Held {
  int fd = -1;
  int count = 0;
};
std::map<std::string, Held>& held_locks() {  // lock file -> descriptor, per process
  static std::map<std::string, Held> m;
  return m;
}
std::mutex& held_locks_mutex() {  // reproduce's workers take their run folders' locks side by side
  static std::mutex mu;
  return mu;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// What the holder wrote into the lock file, on one line ("pid 12 started ... command ...").
std::string read_holder(int fd) {
  char buf[1024] = {0};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  for (char& c : s)
    if (c == '\n') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "a process that is still starting" : s;
}

}  // namespace

FolderLock::FolderLock(const std::string& dir, const std::string& command_line) {
  make_dirs(dir);
  key_ = absolute_path(dir) + "/run.lock";
  const std::lock_guard<std::mutex> guard(held_locks_mutex());
  Held& h = held_locks()[key_];
  if (h.count > 0) {  // this process holds it already
    ++h.count;
    return;
  }
  const int fd = ::open(key_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    held_locks().erase(key_);
    throw std::runtime_error(fmt::format("{}: cannot open the lock file: {}", key_, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? read_holder(fd) : std::string();
    ::close(fd);
    held_locks().erase(key_);
    if (err != EWOULDBLOCK) throw std::runtime_error(fmt::format("{}: cannot lock: {}", key_, std::strerror(err)));
    throw std::runtime_error(fmt::format(
        "{}: in use by another contraseg process ({}). One process at a time writes a folder: wait for it, "
        "stop it, or choose another folder (a killed process releases it at once).",
        dir, holder));
  }
  const std::string me = fmt::format("pid {} started {} command {}\n", ::getpid(), utc_now(), command_line);
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    const int err = errno;
    ::close(fd);
    held_locks().erase(key_);
    throw std::runtime_error(fmt::format("{}: cannot write the lock file: {}", key_, std::strerror(err)));
  }
  h.fd = fd;
  h.count = 1;
}

FolderLock::~FolderLock() {
  const std::lock_guard<std::mutex> guard(held_locks_mutex());
  auto it = held_locks().find(key_);
  if (it == held_locks().end() || --it->second.count > 0) return;
  ::close(it->second.fd);  // releases the lock; the file stays (removing it would race a new holder)
  held_locks().erase(it);
}

}  // namespace cs
