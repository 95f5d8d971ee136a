#include "state/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

#include "state/state_file.hpp"

namespace katsubushi::state {

namespace {

// What the pid line may take: a pid is at most 7 digits on Linux
// (pid_max <= 4194304); more than this is not a pid we wrote.
constexpr std::size_t kMaxPidBytes = 16;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// The pid the holder wrote ("1234\n"), or nullopt when there is none yet
// (the holder is between its lock and its write) or it is not one.
std::optional<long> holder_pid(int fd) {
  std::array<char, kMaxPidBytes> buf{};
  const ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
  if (n <= 0) return std::nullopt;
  std::string_view text(buf.data(), static_cast<std::size_t>(n));
  if (!text.ends_with('\n')) return std::nullopt;
  text.remove_suffix(1);
  long pid = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

}  // namespace

std::string lock_file_path(const std::string& state_path) { return state_path + ".lock"; }

StateFileLock::StateFileLock(const std::string& state_path) : path_(lock_file_path(state_path)) {
  const auto refuse = [&](const std::string& why) {
    if (fd_ >= 0) ::close(fd_);
    throw StateFileError("state file " + state_path + ": " + why);
  };
  // O_NOFOLLOW: a symlink planted as the lock file cannot make us truncate
  // another file. O_NONBLOCK: a FIFO there is refused below, not waited on.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd_ < 0) refuse("cannot create or open its lock file " + path_ + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    refuse("cannot stat its lock file " + path_ + ": " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) refuse("its lock file " + path_ + " is not a regular file");
  int rc = 0;
  do {
    rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) refuse("cannot lock its lock file " + path_ + ": " + errno_text(err));
    const std::optional<long> pid = holder_pid(fd_);
    refuse("in use by another katsubushi (" +
           (pid ? "pid " + std::to_string(*pid) : std::string("pid not known")) +
           ", holding the lock file " + path_ +
           "): two daemons on one state file would issue the same ids. Stop the other one, "
           "or give each daemon its own state file and worker id");
  }
  // Ours now: the pid of the last holder, if any, is replaced.
  const std::string line = std::to_string(::getpid()) + "\n";
  const ssize_t n = ::ftruncate(fd_, 0) == 0 ? ::pwrite(fd_, line.data(), line.size(), 0) : -1;
  if (n != static_cast<ssize_t>(line.size())) {
    const int err = n < 0 ? errno : EIO;  // short: only on a full disk
    refuse("cannot write this daemon's pid into its lock file " + path_ + ": " + errno_text(err));
  }
}

StateFileLock::~StateFileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace katsubushi::state
