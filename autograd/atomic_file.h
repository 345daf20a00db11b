#pragma once
// The one way output files are written: atomically. The bytes go to a temporary file beside the
// target, "<target>.tmp.<pid>.<n>" (n counts the calls of this process, so concurrent writers
// never share one), which is flushed to disk, closed, renamed over the target, and then the
// folder is flushed so that the rename survives a crash too. A crash leaves the old file or the
// new one, never half of one. Any failure removes the temporary file and throws
// std::runtime_error "<target>: <what failed>: <the system's reason>".
#include <cstdio>
#include <functional>
#include <string>

namespace cs {

// Writes `contents` as the whole of `path`.
void write_file_atomic(const std::string& path, const std::string& contents);

// Writes `path` from whatever `fill` writes to the stream it is given (fwrite, libpng's
// png_init_io, ...). Write errors on the stream are found and reported after `fill` returns; an
// exception from `fill` is passed on unchanged once the temporary file is gone.
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& fill);

// The same, for writers that must open the file by name themselves (a library that takes a file
// name): write to temp_path(), then commit(). Destroyed without a successful commit, it removes
// the temporary file.
class AtomicFile {
 public:
  // Creates the temporary file, open for writing. With `extension` (which `target` must end in,
  // e.g. ".nii.gz" for a library that picks the format from the name) the temporary name ends in
  // it too: "<target minus extension>.tmp.<pid>.<n><extension>".
  explicit AtomicFile(const std::string& target, const std::string& extension = "");
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& target() const { return target_; }
  const std::string& temp_path() const { return temp_; }
  std::FILE* stream() const { return stream_; }  // null once committed
  // Flushes what was written (through stream() or by name) to disk, closes, renames the
  // temporary file over the target and flushes the folder.
  void commit();

 private:
  [[noreturn]] void abandon(const char* what, int err);

  std::string target_, temp_;
  std::FILE* stream_ = nullptr;
  bool committed_ = false;
};

}  // namespace cs
