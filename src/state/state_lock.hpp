// The lock that keeps a state file to one daemon. Two daemons on one state
// file would each wait past the same mark, each reserve ahead of it and each
// issue the same ids; the second one refuses to start instead.
//
// The lock is flock(LOCK_EX | LOCK_NB) on a file of its own beside the state
// file, PATH.lock, held open for the daemon's life:
// - not on the state file itself, which every write replaces by a rename: a
//   lock on the old inode would not be seen by a daemon opening the new one;
// - flock, not fcntl locks: the kernel drops it when the process dies
//   (SIGKILL, a crash), so a daemon that died never blocks the next start,
//   and, being per open file description, a second open in the same process
//   is refused as well;
// - never deleted: unlinking it at exit would let a starter that opened the
//   old inode and one that created a new one both hold "the" lock. A lock
//   file left behind is harmless; the pid in it is only the last holder's.
// The holder writes its pid into the file (one decimal line), so a refused
// start can name it.
#pragma once

#include <string>

namespace katsubushi::state {

// PATH.lock, the lock file of the state file PATH.
std::string lock_file_path(const std::string& state_path);

class StateFileLock {
 public:
  // Opens lock_file_path(state_path) (created if missing, mode 0644 less the
  // umask), locks it and writes this process's pid into it. Throws
  // StateFileError when another holder has it (naming the state file, the
  // lock file and the holder's pid when it is known), or naming the step and
  // the system's reason when the file cannot be opened or locked (a missing
  // directory, a lock file that is not a regular file). Never touches the
  // state file.
  explicit StateFileLock(const std::string& state_path);
  ~StateFileLock();  // closes the file, which releases the lock
  StateFileLock(const StateFileLock&) = delete;
  StateFileLock& operator=(const StateFileLock&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;  // the lock file
  int fd_ = -1;
};

}  // namespace katsubushi::state
