// Redis for tests, all on loopback:
// - RedisServer: a real redis-server on a free port, in a temp directory of
//   its own, no persistence, bound to 127.0.0.1 only; stop()/start() again on
//   the same port (Redis gone, and back empty), pause()/resume() (SIGSTOP: a
//   Redis that hangs). Killed and its directory removed when it goes, and
//   killed by the kernel if the test process dies first.
// - RedisCluster: three cluster-enabled RedisServers joined with
//   `redis-cli --cluster create` (no replicas), ready once every node says
//   cluster_state:ok; the node that owns a key can be found and killed.
// - FakeRedis: a plain socket server that answers whatever bytes it is told
//   to (garbage, a reply cut short), or nothing, or closes at once.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace katsubushi::testing {

// Whether redis-server and redis-cli are on PATH (tests skip without them).
bool redis_available();

struct RedisServerOptions {
  bool cluster = false;
  // More redis-server arguments, e.g. {"--requirepass", "pw"}.
  std::vector<std::string> extra_args{};
  // What cli() logs in with when the server asks for a password.
  std::string cli_user{};
  std::string cli_password{};
};

class RedisServer {
 public:
  // Starts at once on a free port (`cluster`: a cluster-enabled node).
  explicit RedisServer(bool cluster = false);
  explicit RedisServer(RedisServerOptions options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const;                        // 127.0.0.1:PORT
  std::string url(const std::string& ns = "") const;  // redis://127.0.0.1:PORT[?ns=NS]

  // SIGKILL (Redis gone, its data with it) and start again on the same port.
  void stop();
  void start();
  // SIGSTOP / SIGCONT: a Redis that hangs.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }

  // One command by redis-cli (5 s at most); its output, trimmed.
  std::string cli(const std::vector<std::string>& args) const;

 private:
  bool start_on_port();
  bool wait_ready() const;

  RedisServerOptions options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

class RedisCluster {
 public:
  RedisCluster();
  std::string url(const std::string& ns = "") const;  // rediscluster://a,b,c[?ns=NS]
  RedisServer& node(std::size_t i) { return *nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }
  // The node that owns `key`'s slot, as a running node's CLUSTER NODES says.
  std::size_t owner_of(const std::string& key) const;
  // Stops the node that owns `key`; its index (start it again with node(i).start()).
  std::size_t kill_owner_of(const std::string& key);
  // Every node running and saying cluster_state:ok.
  bool healthy() const;

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// A server on a free loopback port that is not Redis.
class FakeRedis {
 public:
  enum class Mode : std::uint8_t {
    reply,             // answers `bytes` to every read, keeps the connection
    reply_then_close,  // answers `bytes` to the first read, then closes
    silent,            // reads and never answers (a hang)
    close_at_once,     // accepts and closes
  };

  explicit FakeRedis(Mode mode, std::string bytes = {});
  ~FakeRedis();
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  void set(Mode mode, std::string bytes = {});
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& ns = "") const;
  // Connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  void serve();

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  Mode mode_;
  std::string bytes_;
  std::thread thread_;
};

}  // namespace katsubushi::testing
