// Test harness for integration tests that run the real katsubushi and
// katsubushi-dump binaries as child processes (talk to them with
// loopback_client.hpp). Every wait here is bounded so a misbehaving daemon fails a
// test instead of hanging it; the bounds are hang protection, never pass/fail
// timing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "testing/loopback_client.hpp"
#include "testing/ports.hpp"

namespace katsubushi::testing {

// Generous bounds: a daemon on a loaded CI machine is slow, not stuck.
inline constexpr Millis kStartTimeout = 10s;
inline constexpr Millis kExitTimeout = 20s;

// Whether this is a sanitizer build: their runtimes refuse a preloaded
// library (libfaketime), so the tests that fake the clock skip there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// The environment that preloads libfaketime into the daemon itself (so
// signals reach the daemon, not a faketime parent) with its wall clock
// `offset` away ("-30s", "+6s") and its monotonic clock real; empty when
// libfaketime is not installed.
std::vector<std::string> faketime_env(const std::string& offset);

std::string daemon_binary();
std::string dump_binary();

// `name` as found on this process's PATH, or nullopt.
std::optional<std::string> program_on_path(const std::string& name);

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Whether this host can bind and use [::1].
bool ipv6_loopback_available();

struct ExitStatus {
  bool exited = false;  // false: killed by `signal`
  int code = -1;
  int signal = 0;
  bool clean() const { return exited && code == 0; }
  std::string describe() const;
};

// How a child is started beyond its arguments and environment.
struct LaunchOptions {
  // Run the program under this command, e.g. {"faketime", "2090-01-01 00:00:00"};
  // the first word is looked up on PATH.
  std::vector<std::string> wrapper;
  // RLIMIT_NOFILE (soft and hard) for the child.
  std::optional<std::uint64_t> fd_limit;
};

// A socket handed to a child as systemd hands them (socket activation).
struct PassedSocket {
  int fd = -1;
  std::string name;  // its FileDescriptorName=
};

// "NAME=<NAME from this process's environment>:<option>", for a child that
// needs one more sanitizer option than the run gives (sanitizer builds read
// it; others ignore it).
std::string with_sanitizer_option(const std::string& name, const std::string& option);

// Runs `program args...` to completion with a minimal environment plus
// `env` ("NAME=value"); stdout and stderr are captured.
struct CommandResult {
  std::optional<ExitStatus> status;  // nullopt: killed after `timeout`
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {}, Millis timeout = kExitTimeout,
                          const LaunchOptions& launch = {});

// One katsubushi child process. The destructor kills it if it is still
// running, so a failing test never leaves a daemon behind.
class DaemonProcess {
 public:
  DaemonProcess();
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts on a free loopback port (-port is added) and waits until it answers
  // `version`. A port stolen between probing and binding is retried.
  bool start_tcp(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
  // Starts with -sock `path` and waits until it answers there.
  bool start_unix(const std::string& path, const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {});
  // Applies to every later start.
  void set_launch_options(LaunchOptions options) { launch_ = std::move(options); }
  // Socket activation, for every later start: each socket becomes the child's
  // fd 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES (the names joined by ':') and
  // LISTEN_PID (the child's own pid, set between fork and exec).
  void set_listen_fds(std::vector<PassedSocket> sockets) { listen_fds_ = std::move(sockets); }
  // Starts without waiting for anything (for daemons expected to fail).
  bool spawn(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  bool running();
  bool send_signal(int sig);
  std::optional<ExitStatus> wait_exit(Millis timeout = kExitTimeout);
  // send_signal + wait_exit.
  std::optional<ExitStatus> stop(int sig, Millis timeout = kExitTimeout);
  // Entries of /proc/PID/fd, or -1 if unreadable.
  int open_fds() const;
  // Everything the daemon wrote to stderr (its log) so far.
  std::string log() const;

 private:
  bool wait_ready_tcp();
  bool wait_ready_unix(const std::string& path);
  void kill_now();

  TempDir dir_;
  LaunchOptions launch_;
  std::vector<PassedSocket> listen_fds_;
  int launches_ = 0;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_;
  std::uint16_t port_ = 0;
};

}  // namespace katsubushi::testing
