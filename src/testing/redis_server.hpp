// Real redis-server processes for tests, on free loopback ports, in temp
// directories of their own, killed and removed when the fixture goes. No
// persistence, bound to 127.0.0.1 only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace katsubushi::testing {

// Whether redis-server and redis-cli are on PATH (tests skip without them).
bool redis_available();

class RedisServer {
 public:
  // Starts at once on a free port (`cluster`: a cluster-enabled node).
  explicit RedisServer(bool cluster = false);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& ns = "") const;  // redis://127.0.0.1:PORT[?ns=NS]

  // SIGKILL (Redis gone, data with it) and start again on the same port.
  void stop();
  void start();
  // SIGSTOP / SIGCONT: a Redis that hangs.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }

  // One command by redis-cli; its output (trimmed).
  std::string cli(const std::vector<std::string>& args) const;

 private:
  bool wait_ready() const;

  bool cluster_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

// Three cluster-enabled nodes joined with `redis-cli --cluster create`
// (no replicas), ready once every node says cluster_state:ok.
class RedisCluster {
 public:
  RedisCluster();
  std::string url(const std::string& ns = "") const;  // rediscluster://a,b,c[?ns=NS]
  RedisServer& node(std::size_t i) { return *nodes_[i]; }
  // The node that owns `key`'s slot.
  std::size_t owner_of(const std::string& key) const;
  bool healthy() const;

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace katsubushi::testing
