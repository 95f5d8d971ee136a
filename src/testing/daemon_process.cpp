#include "testing/daemon_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <system_error>
#include <utility>

namespace katsubushi::testing {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr Millis kPollStep{5};
// Where a child parks the sockets it is handed before moving them to 3, 4, …
constexpr int kPassedFdScratch = 1000;
constexpr int kPortAttempts = 3;

std::string_view env_name(std::string_view kv) { return kv.substr(0, kv.find('=')); }

// The child sees only what it needs (and what sanitizer or coverage runs
// need), so a WORKER_ID or PORT in the developer's shell cannot leak into a
// test. An `extra` entry replaces an inherited one of the same name.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const std::string_view name = env_name(kv);
    const bool replaced = std::any_of(extra.begin(), extra.end(),
                                      [&](const std::string& x) { return env_name(x) == name; });
    if (!replaced && (name == "PATH" || name == "TMPDIR" || name.ends_with("SAN_OPTIONS") ||
                      name.starts_with("LLVM_PROFILE") || name.starts_with("GCOV_"))) {
      env.emplace_back(kv);
    }
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// `name` as found on PATH (or itself if it has a slash or is not found).
std::string find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  return program_on_path(name).value_or(name);
}

// fork + execve with stdin from /dev/null and stdout/stderr to the given fds.
// Everything the child needs is prepared before fork: the test process may
// have other threads.
pid_t spawn_process(const std::string& program, const std::vector<std::string>& args,
                    const std::vector<std::string>& env, int out_fd, int err_fd,
                    const LaunchOptions& launch, const std::vector<PassedSocket>& passed = {}) {
  std::vector<std::string> argv_text = launch.wrapper;
  if (!argv_text.empty()) argv_text[0] = find_on_path(argv_text[0]);
  argv_text.push_back(program);
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<std::string> env_text = child_environment(env);
  // Socket activation: LISTEN_PID is the child's pid, written into this
  // entry's room after fork (no allocation there).
  constexpr std::string_view kListenPid = "LISTEN_PID=";
  std::size_t listen_pid_entry = 0;
  if (!passed.empty()) {
    std::string names;
    for (const auto& p : passed) names += (names.empty() ? "" : ":") + p.name;
    std::erase_if(env_text, [](const std::string& kv) { return kv.starts_with("LISTEN_"); });
    env_text.push_back("LISTEN_FDS=" + std::to_string(passed.size()));
    env_text.push_back("LISTEN_FDNAMES=" + names);
    listen_pid_entry = env_text.size();
    env_text.push_back(std::string(kListenPid) + std::string(20, '\0'));
  }
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (auto& s : argv_text) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& s : env_text) envp.push_back(s.data());
  envp.push_back(nullptr);

  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return -1;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Die with the test process: a crashed test must not leave daemons behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    // A group of its own, killed whole: a wrapper (faketime) forks the daemon
    // as its own child, which the death signal above does not reach.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    // The child of fork() has one thread: sigprocmask is pthread_sigmask here.
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // NOLINT(concurrency-mt-unsafe)
    if (::dup2(devnull, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(127);
    if (launch.fd_limit) {
      const rlimit lim{*launch.fd_limit, *launch.fd_limit};
      if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(127);
    }
    // The passed sockets go to 3, 4, … by way of copies above any of them,
    // so none overwrites another before it is copied.
    const int first_free = 3 + static_cast<int>(passed.size());
    for (std::size_t i = 0; i < passed.size(); ++i) {
      if (::fcntl(passed[i].fd, F_DUPFD_CLOEXEC, kPassedFdScratch + static_cast<int>(i)) !=
          kPassedFdScratch + static_cast<int>(i)) {
        ::_exit(127);
      }
    }
    for (std::size_t i = 0; i < passed.size(); ++i) {
      if (::dup2(kPassedFdScratch + static_cast<int>(i), 3 + static_cast<int>(i)) < 0) ::_exit(127);
    }
    if (listen_pid_entry != 0) {
      char* digits = envp[listen_pid_entry] + kListenPid.size();
      char reversed[20];
      int n = 0;
      for (auto own = static_cast<unsigned long>(::getpid()); own != 0 || n == 0; own /= 10) {
        reversed[n++] = static_cast<char>('0' + own % 10);
      }
      while (n > 0) *digits++ = reversed[--n];
      *digits = '\0';
    }
    // Only 0..2 (and the passed sockets) cross into the daemon, so its fd
    // count is its own.
    if (::close_range(static_cast<unsigned>(first_free), ~0U, 0) != 0) {
      for (int fd = first_free; fd < 4096; ++fd) ::close(fd);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(devnull);
  return pid;
}

ExitStatus to_exit_status(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw)) {
    s.exited = true;
    s.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    s.signal = WTERMSIG(raw);
  }
  return s;
}

std::optional<ExitStatus> wait_pid(pid_t pid, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    int raw = 0;
    const pid_t r = ::waitpid(pid, &raw, WNOHANG);
    if (r == pid) return to_exit_status(raw);
    if (r < 0 && errno != EINTR) return ExitStatus{};  // not our child any more
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollStep);
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int open_log(const fs::path& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
}

}  // namespace

std::string with_sanitizer_option(const std::string& name, const std::string& option) {
  const char* inherited = std::getenv(name.c_str());
  std::string value = inherited != nullptr ? inherited : "";
  if (!value.empty()) value += ':';
  return name + "=" + value + option;
}

std::optional<std::string> program_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::string daemon_binary() {
  // ctest runs the daemon tests a second time against katsubushi-epoll (the
  // epoll build, which katsubushi runs in its place where io_uring is
  // refused), naming it here. The daemon itself sees nothing of this.
  if (const char* bin = std::getenv("KATSUBUSHI_TEST_DAEMON_BIN"); bin != nullptr && *bin != 0) {
    return bin;
  }
  return KATSUBUSHI_BIN;
}

std::vector<std::string> faketime_env(const std::string& offset) {
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator("/usr/lib", ec)) {
    const auto lib = dir.path() / "faketime" / "libfaketime.so.1";
    if (std::filesystem::exists(lib, ec)) {
      return {"LD_PRELOAD=" + lib.string(), "FAKETIME=" + offset, "DONT_FAKE_MONOTONIC=1"};
    }
  }
  return {};
}
std::string dump_binary() { return KATSUBUSHI_DUMP_BIN; }

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "katsubushi-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " +
                             std::error_code(errno, std::system_category()).message());
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return "killed by signal " + std::to_string(signal);
}

CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env, Millis timeout,
                          const LaunchOptions& launch) {
  TempDir dir;
  const fs::path out_path = dir.path() / "stdout";
  const fs::path err_path = dir.path() / "stderr";
  const int out_fd = open_log(out_path);
  const int err_fd = open_log(err_path);
  CommandResult result;
  if (out_fd >= 0 && err_fd >= 0) {
    const pid_t pid = spawn_process(program, args, env, out_fd, err_fd, launch);
    if (pid > 0) {
      result.status = wait_pid(pid, timeout);
      if (!result.status) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        wait_pid(pid, kExitTimeout);
      }
    }
  }
  if (out_fd >= 0) ::close(out_fd);
  if (err_fd >= 0) ::close(err_fd);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

DaemonProcess::DaemonProcess() = default;

DaemonProcess::~DaemonProcess() { kill_now(); }

void DaemonProcess::kill_now() {
  // The group, even when the direct child has exited: a wrapper's child may not have.
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
  if (pid_ > 0 && !exit_) {
    ::kill(pid_, SIGKILL);
    exit_ = wait_pid(pid_, kExitTimeout);
  }
}

bool DaemonProcess::spawn(const std::vector<std::string>& args,
                          const std::vector<std::string>& env) {
  kill_now();
  exit_.reset();
  log_path_ = dir_.path() / ("daemon-" + std::to_string(++launches_) + ".log");
  const int log_fd = open_log(log_path_);
  if (log_fd < 0) return false;
  pid_ = spawn_process(daemon_binary(), args, env, log_fd, log_fd, launch_, listen_fds_);
  ::close(log_fd);
  return pid_ > 0;
}

bool DaemonProcess::start_tcp(const std::vector<std::string>& args,
                              const std::vector<std::string>& env) {
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = free_tcp_port();
    if (port_ == 0) return false;
    std::vector<std::string> full = args;
    full.push_back("-port=" + std::to_string(port_));
    if (!spawn(full, env)) return false;
    if (wait_ready_tcp()) return true;
    if (running()) {
      kill_now();
      return false;
    }
    // It exited: most likely the port was taken after we probed it. Retry.
  }
  return false;
}

bool DaemonProcess::start_unix(const std::string& path, const std::vector<std::string>& args,
                               const std::vector<std::string>& env) {
  std::vector<std::string> full = args;
  full.push_back("-sock=" + path);
  if (!spawn(full, env)) return false;
  if (wait_ready_unix(path)) return true;
  kill_now();
  return false;
}

// Ready means it answers `version`: a bare connect could reach some other
// process that grabbed the port first.
bool DaemonProcess::wait_ready_tcp() {
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (SteadyClock::now() < deadline) {
    if (!running()) return false;
    LoopbackClient probe;
    if (probe.connect_tcp("127.0.0.1", port_)) {
      auto reply = probe.request("version\r\n", "\r\n", 2s);
      if (reply && reply->starts_with("VERSION ")) return true;
    }
    std::this_thread::sleep_for(Millis(10));
  }
  return false;
}

bool DaemonProcess::wait_ready_unix(const std::string& path) {
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (SteadyClock::now() < deadline) {
    if (!running()) return false;
    LoopbackClient probe;
    if (probe.connect_unix(path)) {
      auto reply = probe.request("version\r\n", "\r\n", 2s);
      if (reply && reply->starts_with("VERSION ")) return true;
    }
    std::this_thread::sleep_for(Millis(10));
  }
  return false;
}

bool DaemonProcess::running() {
  if (pid_ <= 0 || exit_) return false;
  exit_ = wait_pid(pid_, Millis(0));
  return !exit_;
}

bool DaemonProcess::send_signal(int sig) { return running() && ::kill(pid_, sig) == 0; }

std::optional<ExitStatus> DaemonProcess::wait_exit(Millis timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (!exit_) exit_ = wait_pid(pid_, timeout);
  return exit_;
}

std::optional<ExitStatus> DaemonProcess::stop(int sig, Millis timeout) {
  send_signal(sig);
  return wait_exit(timeout);
}

int DaemonProcess::open_fds() const {
  if (pid_ <= 0) return -1;
  std::error_code ec;
  fs::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec);
  if (ec) return -1;
  int n = 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return -1;
    ++n;
  }
  return n;
}

std::string DaemonProcess::log() const {
  return log_path_.empty() ? std::string() : read_file(log_path_);
}

}  // namespace katsubushi::testing
