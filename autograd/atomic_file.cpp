#include "autograd/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cs {
namespace {

std::string temp_name(const std::string& target, const std::string& extension) {
  static std::atomic<unsigned long> calls{0};
  if (target.size() < extension.size() ||
      target.compare(target.size() - extension.size(), extension.size(), extension) != 0)
    throw std::invalid_argument(target + ": does not end in " + extension);
  return target.substr(0, target.size() - extension.size()) + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(calls++) + extension;
}

// Makes a rename in the target's folder durable.
void sync_folder(const std::string& target) {
  const auto slash = target.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // a folder one may write but not read (mode -wx): the rename stands, unflushed
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL)  // EINVAL: a file system without folder sync
    throw std::runtime_error(target + ": cannot flush its folder to disk: " + std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(const std::string& target, const std::string& extension)
    : target_(target), temp_(temp_name(target, extension)) {
  // O_TRUNC, not O_EXCL: a file of this name can only be left by a dead process that had our pid.
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(target_ + ": cannot create: " + std::strerror(errno));
  stream_ = ::fdopen(fd, "wb");
  if (!stream_) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp_.c_str());
    throw std::runtime_error(target_ + ": cannot create: " + std::strerror(err));
  }
}

AtomicFile::~AtomicFile() {
  if (stream_) std::fclose(stream_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::abandon(const char* what, int err) {
  if (stream_) std::fclose(stream_);
  stream_ = nullptr;
  ::unlink(temp_.c_str());
  committed_ = true;  // nothing left for the destructor to remove
  throw std::runtime_error(target_ + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::commit() {
  if (!stream_) throw std::logic_error(target_ + ": AtomicFile committed twice");
  if (std::fflush(stream_) != 0) abandon("cannot write", errno);
  if (std::ferror(stream_)) abandon("cannot write", errno != 0 ? errno : EIO);  // an earlier write failed
  if (::fsync(::fileno(stream_)) != 0) abandon("cannot flush to disk", errno);
  std::FILE* f = stream_;
  stream_ = nullptr;  // released even when fclose reports an error
  if (std::fclose(f) != 0) abandon("cannot close", errno);
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) abandon("cannot move into place", errno);
  committed_ = true;
  sync_folder(target_);
}

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& fill) {
  AtomicFile file(path);
  fill(file.stream());  // an exception leaves `file` to remove the temporary file
  file.commit();
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, [&](std::FILE* f) { std::fwrite(contents.data(), 1, contents.size(), f); });
}

}  // namespace cs
