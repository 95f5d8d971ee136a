#include "testing/redis_server.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

namespace katsubushi::testing {

namespace {

using namespace std::chrono_literals;

// Binds 127.0.0.1:`port` (0: any) and returns the port bound, 0 if taken.
std::uint16_t try_bind(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) ::close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

// A free port; for a cluster node, one whose bus port (port + 10000) is free
// too, so below the ephemeral range.
std::uint16_t free_port(bool cluster) {
  if (!cluster) {
    const std::uint16_t p = try_bind(0);
    if (p == 0) throw std::runtime_error("no free port");
    return p;
  }
  std::random_device rd;
  for (int i = 0; i < 200; ++i) {
    const auto p = static_cast<std::uint16_t>(20000 + rd() % 10000);
    if (try_bind(p) != 0 && try_bind(static_cast<std::uint16_t>(p + 10000)) != 0) return p;
  }
  throw std::runtime_error("no free port pair for a cluster node");
}

// Runs argv to completion, returning its stdout.
std::string capture(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  cmd += "2>/dev/null";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

}  // namespace

bool redis_available() {
  return std::system("command -v redis-server >/dev/null 2>&1 && "
                     "command -v redis-cli >/dev/null 2>&1") == 0;
}

RedisServer::RedisServer(bool cluster) : cluster_(cluster) {
  std::string templ = std::filesystem::temp_directory_path().string() + "/katsubushi-redis-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp");
  dir_ = templ;
  port_ = free_port(cluster);
  start();
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::url(const std::string& ns) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + (ns.empty() ? "" : "?ns=" + ns);
}

void RedisServer::start() {
  if (pid_ > 0) return;
  std::vector<std::string> args = {"redis-server",     "--port",       std::to_string(port_),
                                   "--bind",           "127.0.0.1",    "--save",
                                   "",                 "--appendonly", "no",
                                   "--dir",            dir_,           "--daemonize",
                                   "no",               "--loglevel",   "warning",
                                   "--logfile",        dir_ + "/redis.log"};
  if (cluster_) {
    args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                             dir_ + "/nodes.conf", "--cluster-node-timeout", "2000",
                             "--cluster-require-full-coverage", "no"});
  }
  // A port just given up may still be held by sockets of the killed server
  // for a moment: a server that exits at once is started again.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    if (pid < 0) throw std::runtime_error("fork failed");
    pid_ = pid;
    paused_ = false;
    if (wait_ready()) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) break;  // running but not answering
    pid_ = -1;
    std::this_thread::sleep_for(200ms);
  }
  stop();
  throw std::runtime_error("redis-server did not start on " + url());
}

bool RedisServer::wait_ready() const {
  for (int i = 0; i < 200; ++i) {
    if (cli({"PING"}) == "PONG") return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      // Exited: reaped here; start() sees it gone.
      return false;
    }
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  paused_ = false;
}

void RedisServer::pause() {
  if (pid_ > 0 && !paused_) {
    ::kill(pid_, SIGSTOP);
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
  std::vector<std::string> argv = {"timeout", "5", "redis-cli", "-h", "127.0.0.1", "-p",
                                   std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  return capture(argv);
}

RedisCluster::RedisCluster() {
  std::vector<std::string> create = {"timeout", "30", "redis-cli", "--cluster", "create"};
  for (int i = 0; i < 3; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(true));
    create.push_back("127.0.0.1:" + std::to_string(nodes_.back()->port()));
  }
  create.insert(create.end(), {"--cluster-replicas", "0", "--cluster-yes"});
  capture(create);
  for (int i = 0; i < 400 && !healthy(); ++i) std::this_thread::sleep_for(25ms);
  if (!healthy()) throw std::runtime_error("the Redis Cluster did not become ready");
}

std::string RedisCluster::url(const std::string& ns) const {
  std::string u = "rediscluster://";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i > 0) u += ',';
    u += "127.0.0.1:" + std::to_string(nodes_[i]->port());
  }
  return u + (ns.empty() ? "" : "?ns=" + ns);
}

bool RedisCluster::healthy() const {
  for (const auto& n : nodes_) {
    if (!n->running()) return false;
    if (n->cli({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) return false;
  }
  return true;
}

std::size_t RedisCluster::owner_of(const std::string& key) const {
  const RedisServer* ask = nullptr;
  for (const auto& n : nodes_) {
    if (n->running()) ask = n.get();
  }
  if (ask == nullptr) throw std::runtime_error("no node running");
  const std::string slot = ask->cli({"CLUSTER", "KEYSLOT", key});
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> ... <slot ranges>" per line.
  const std::string table = ask->cli({"CLUSTER", "NODES"});
  const long want = std::stol(slot);
  std::size_t start = 0;
  while (start < table.size()) {
    const std::size_t end = std::min(table.find('\n', start), table.size());
    const std::string line = table.substr(start, end - start);
    start = end + 1;
    std::vector<std::string> f;
    std::size_t p = 0;
    while (p < line.size()) {
      const std::size_t q = std::min(line.find(' ', p), line.size());
      f.push_back(line.substr(p, q - p));
      p = q + 1;
    }
    if (f.size() < 9) continue;
    for (std::size_t k = 8; k < f.size(); ++k) {
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

}  // namespace katsubushi::testing
