#include "testing/redis_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "testing/ports.hpp"
#include "testing/stop_child.hpp"

namespace katsubushi::testing {

namespace {

using namespace std::chrono_literals;

// How long a server may take to answer PING after it was started.
constexpr auto kStartWait = 10s;
// Ports a new server tries before giving up (another process may take a
// port between our probe and redis-server binding it).
constexpr int kPortAttempts = 8;
// The cluster bus listens on port + 10000.
constexpr std::uint16_t kClusterBusOffset = 10000;

std::uint16_t free_port(bool cluster) {
  for (int i = 0; i < 200; ++i) {
    const std::uint16_t port = bind_loopback_probe(0);
    if (port == 0) continue;
    if (!cluster) return port;
    if (port <= 65535 - kClusterBusOffset &&
        bind_loopback_probe(static_cast<std::uint16_t>(port + kClusterBusOffset)) != 0) {
      return port;
    }
  }
  throw std::runtime_error("no free loopback port");
}

// In a child between fork and exec: die with the parent, keep none of its fds
// (a listening socket of the test held open by redis-server would still
// accept connections after the test closed it).
void child_hygiene() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
}

// Runs argv (no shell) to completion, returning its stdout, trimmed; stderr
// is dropped.
std::string capture(const std::vector<std::string>& argv) {
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  args.reserve(copy.size() + 1);
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  int out[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDERR_FILENO);
    child_hygiene();
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(out[0], buf.data(), buf.size());
    if (n > 0) {
      text.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(out[0]);
  if (pid > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    if (::access(((dir.empty() ? "." : dir) + "/" + program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs = dirs.substr(colon + 1);
  }
  return false;
}

}  // namespace

bool redis_available() { return on_path("redis-server") && on_path("redis-cli"); }

RedisServer::RedisServer(bool cluster) : RedisServer(RedisServerOptions{.cluster = cluster}) {}

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  std::string templ = std::filesystem::temp_directory_path().string() + "/katsubushi-redis-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = free_port(options_.cluster);
    if (start_on_port()) return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  throw std::runtime_error("redis-server did not start (log in " + dir_ + ")");
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string RedisServer::url(const std::string& ns) const {
  return "redis://" + address() + (ns.empty() ? "" : "?ns=" + ns);
}

void RedisServer::start() {
  if (pid_ > 0) return;
  // The port was ours a moment ago; it may take a moment to be free again.
  const auto until = std::chrono::steady_clock::now() + kStartWait;
  while (std::chrono::steady_clock::now() < until) {
    if (start_on_port()) return;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("redis-server did not start again on " + address());
}

bool RedisServer::start_on_port() {
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--daemonize",
                                   "no",
                                   "--loglevel",
                                   "warning",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  if (options_.cluster) {
    args.insert(args.end(),
                {"--cluster-enabled", "yes", "--cluster-config-file", dir_ + "/nodes.conf",
                 "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_hygiene();
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  pid_ = pid;
  paused_ = false;
  if (wait_ready()) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == 0) {  // running but not answering
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return false;
}

bool RedisServer::wait_ready() const {
  const auto until = std::chrono::steady_clock::now() + kStartWait;
  while (std::chrono::steady_clock::now() < until) {
    if (cli({"PING"}) == "PONG") return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) return false;  // exited (port taken?)
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);  // a stopped (paused) process dies of SIGKILL too
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  paused_ = false;
}

void RedisServer::pause() {
  if (pid_ > 0 && !paused_) {
    stop_child(pid_);
    paused_ = true;
  }
}

void RedisServer::resume() {
  if (pid_ > 0 && paused_) {
    ::kill(pid_, SIGCONT);
    paused_ = false;
  }
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"timeout",   "5",  "redis-cli",          "-h",
                                   "127.0.0.1", "-p", std::to_string(port_)};
  if (!options_.cli_user.empty()) argv.insert(argv.end(), {"--user", options_.cli_user});
  if (!options_.cli_password.empty()) {
    argv.insert(argv.end(), {"--pass", options_.cli_password, "--no-auth-warning"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return capture(argv);
}

RedisCluster::RedisCluster() {
  std::vector<std::string> create = {"timeout", "30", "redis-cli", "--cluster", "create"};
  for (int i = 0; i < 3; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(true));
    create.push_back(nodes_.back()->address());
  }
  create.insert(create.end(), {"--cluster-replicas", "0", "--cluster-yes"});
  capture(create);
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!healthy() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  if (!healthy()) throw std::runtime_error("the Redis Cluster did not become ready");
}

std::string RedisCluster::url(const std::string& ns) const {
  std::string u = "rediscluster://";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i > 0) u += ',';
    u += nodes_[i]->address();
  }
  return u + (ns.empty() ? "" : "?ns=" + ns);
}

bool RedisCluster::healthy() const {
  return std::all_of(nodes_.begin(), nodes_.end(), [](const auto& n) {
    return n->running() &&
           n->cli({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
  });
}

std::size_t RedisCluster::owner_of(const std::string& key) const {
  const auto ask =
      std::find_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->running(); });
  if (ask == nodes_.end()) throw std::runtime_error("no node running");
  const long want = std::stol((*ask)->cli({"CLUSTER", "KEYSLOT", key}));
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch>
  // <link> <slot or range>..." a line per node.
  const std::string table = (*ask)->cli({"CLUSTER", "NODES"});
  std::size_t start = 0;
  while (start < table.size()) {
    const std::size_t end = std::min(table.find('\n', start), table.size());
    const std::string line = table.substr(start, end - start);
    start = end + 1;
    std::vector<std::string> f;
    for (std::size_t p = 0; p < line.size();) {
      const std::size_t q = std::min(line.find(' ', p), line.size());
      f.push_back(line.substr(p, q - p));
      p = q + 1;
    }
    if (f.size() < 9) continue;
    for (std::size_t k = 8; k < f.size(); ++k) {
      if (f[k].starts_with('[')) continue;  // a slot being migrated
      const auto dash = f[k].find('-');
      long lo = 0;
      long hi = 0;
      try {
        lo = std::stol(f[k].substr(0, dash));
        hi = dash == std::string::npos ? lo : std::stol(f[k].substr(dash + 1));
      } catch (const std::exception&) {
        continue;
      }
      if (want < lo || want > hi) continue;
      const std::string addr = f[1].substr(0, f[1].find('@'));
      const std::string port = addr.substr(addr.rfind(':') + 1);
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (std::to_string(nodes_[i]->port()) == port) return i;
      }
    }
  }
  throw std::runtime_error("no owner for " + key);
}

std::size_t RedisCluster::kill_owner_of(const std::string& key) {
  const std::size_t i = owner_of(key);
  nodes_[i]->stop();
  return i;
}

FakeRedis::FakeRedis(Mode mode, std::string bytes) : mode_(mode), bytes_(std::move(bytes)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("FakeRedis: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeRedis::~FakeRedis() {
  const char stop = 's';
  [[maybe_unused]] const auto n = ::write(wake_[1], &stop, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void FakeRedis::set(Mode mode, std::string bytes) {
  std::lock_guard lock(mu_);
  mode_ = mode;
  bytes_ = std::move(bytes);
}

std::string FakeRedis::url(const std::string& ns) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + (ns.empty() ? "" : "?ns=" + ns);
}

void FakeRedis::serve() {
  std::vector<int> clients;
  std::array<char, 65536> buf{};
  for (;;) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const int c : clients) fds.push_back({c, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents != 0) break;
    Mode mode{};
    std::string bytes;
    {
      std::lock_guard lock(mu_);
      mode = mode_;
      bytes = bytes_;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        ++connections_;
        if (mode == Mode::close_at_once) {
          ::close(c);
        } else {
          clients.push_back(c);
        }
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int c = fds[i].fd;
      const ssize_t n = ::read(c, buf.data(), buf.size());
      bool close_it = n <= 0;
      if (n > 0 && (mode == Mode::reply || mode == Mode::reply_then_close)) {
        [[maybe_unused]] const auto w = ::send(c, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        close_it = mode == Mode::reply_then_close;
      }
      if (n > 0 && mode == Mode::close_at_once) close_it = true;
      if (close_it) {
        ::close(c);
        clients.erase(std::find(clients.begin(), clients.end(), c));
      }
    }
  }
  for (const int c : clients) ::close(c);
}

}  // namespace katsubushi::testing
