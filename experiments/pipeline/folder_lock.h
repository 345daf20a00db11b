#pragma once
// One writer per folder. A FolderLock holds an exclusive flock(2) on DIR/run.lock for its
// lifetime; the file names the holder (pid, start time, command line) for whoever is refused.
// The kernel releases the lock when the process dies, so a killed run never blocks its own
// --resume. Locks are re-entrant within a process (counted per folder): a command may hold its
// run folder across training and evaluation while the stage code takes the same lock again.
#include <string>

namespace cs {

class FolderLock {
 public:
  // Creates DIR if needed and takes the lock without waiting. Throws std::runtime_error naming
  // the folder and the holder when another process has it.
  FolderLock(const std::string& dir, const std::string& command_line);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  std::string key_;  // the lock file's absolute path
};

}  // namespace cs
