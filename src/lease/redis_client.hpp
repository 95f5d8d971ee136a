// A small blocking Redis client over hiredis, for the lease keeper's thread
// only (never an I/O thread).
//
// Every public call is bounded by one timeout: connecting, AUTH/SELECT, the
// command and any redirects share it, so a Redis that hangs, answers garbage
// or drops the connection costs at most that long and ends in a RedisError.
// A connection that failed is dropped and made again by the next call.
//
// For a Redis Cluster (rediscluster://), single-key commands go to the node
// owning the key's slot: the slot map is learnt with CLUSTER SLOTS, kept up
// to date by MOVED replies (which also mark it for a reload), ASK is followed
// with ASKING, and a node that cannot be reached sends the call to the next
// known node (redis_cluster.cpp). PUBLISH can go to any node: the cluster
// broadcasts it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lease/redis_url.hpp"
#include "lease/store_error.hpp"

struct redisContext;

namespace katsubushi::lease {

// A reply, owned: nothing of hiredis's reply objects outlives the call.
struct RedisReply {
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisReply> elements;

  bool is_nil() const noexcept { return type == Type::nil; }
  bool is_error() const noexcept { return type == Type::error; }
  bool is_status(std::string_view s) const noexcept { return type == Type::status && str == s; }
};

// The call did not complete: no connection, a timeout, a connection that
// dropped, a reply that is not Redis protocol, or too many redirects. The
// message names the address.
class RedisError : public StoreError {
 public:
  using StoreError::StoreError;
};

inline constexpr std::uint16_t kClusterSlots = 16384;
// Redirects (MOVED, ASK) and unreachable nodes one call follows at most.
inline constexpr int kMaxClusterHops = 8;

// The hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the
// bytes between the first '{' and the next '}', when not empty), mod 16384.
std::uint16_t key_slot(std::string_view key) noexcept;

// What a call sends after its command on the same connection.
struct RedisFollowUp {
  const std::vector<std::string>* undo = nullptr;  // see key_command_or_undo()
  const std::vector<std::string>* then = nullptr;  // see key_command_then()
  RedisReply* then_reply = nullptr;
};

class RedisClient {
 public:
  // `timeout` bounds every call (at least 1 ms).
  RedisClient(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // A command about one key, `key_index` the position of the key in `argv`
  // (1 for GET/SET, 3 for EVAL with one key). An error reply from Redis is a
  // reply (type error), not an exception; throws RedisError.
  RedisReply key_command(const std::vector<std::string>& argv, std::size_t key_index = 1);

  // key_command() for a command whose effect must not outlive a call that
  // gave up on it (SET NX of a lease). A call that fails after `argv` was
  // written whole (no reply in time) writes `undo`, about the same key,
  // behind it on the same connection before dropping the connection: a Redis
  // that was stopped or slow, not gone, runs `undo` right after `argv`.
  RedisReply key_command_or_undo(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& undo, std::size_t key_index = 1);

  // key_command(), then `then` on the same connection (the node that ran
  // `argv`) once `argv` got a reply that is not an error, within the same
  // timeout: WAIT after a write, so that it counts only once replicas have it.
  // `then_reply` is left nil when `then` was not sent. Throws RedisError.
  RedisReply key_command_then(const std::vector<std::string>& argv, std::size_t key_index,
                              const std::vector<std::string>& then, RedisReply& then_reply);

  // A command any node can answer (PUBLISH reaches every subscriber of a
  // cluster): the first node that answers. Throws RedisError.
  RedisReply any_command(const std::vector<std::string>& argv);

  // Subscribes to `channel` on one node (a cluster forwards every PUBLISH to
  // every node) and hands each message's payload to `on_message` until
  // `listen_for` has passed. Returns false when the subscription ended early
  // (the connection dropped, garbage); throws RedisError when no node could
  // be subscribed to. A dedicated connection, closed on return.
  bool listen(const std::string& channel, std::chrono::milliseconds listen_for,
              const std::function<void(std::string_view payload)>& on_message);

  // Drops every connection (the next call connects again).
  void disconnect();

  const RedisUrl& url() const noexcept { return url_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }
  // Slots whose owner is known (cluster); 0 before the first call.
  std::size_t known_slots() const;

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  struct Connection;

  // A new connection with AUTH (and SELECT when `db` is not 0) done.
  static std::unique_ptr<Connection> open_connection(const RedisUrl& url, const RedisEndpoint& at,
                                                     int db, Deadline deadline);
  Connection& connection(const RedisEndpoint& at, Deadline deadline);
  using FollowUp = RedisFollowUp;
  RedisReply exchange(const RedisEndpoint& at, const std::vector<std::string>& argv,
                      Deadline deadline, FollowUp follow = {});
  RedisReply cluster_key_command(const std::vector<std::string>& argv, std::size_t key_index,
                                 Deadline deadline, FollowUp follow);
  void load_slots(Deadline deadline);
  // Seeds first, then nodes learnt from CLUSTER SLOTS, each once.
  std::vector<RedisEndpoint> known_nodes() const;
  void forget_node(const RedisEndpoint& node);

  const RedisUrl url_;
  const std::chrono::milliseconds timeout_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;  // by "host:port"
  // Cluster routing: slot -> index in nodes_ + 1 (0: unknown).
  std::vector<RedisEndpoint> nodes_;
  std::vector<std::uint16_t> slot_node_;
  bool slots_stale_ = true;
  std::size_t next_node_ = 0;  // where a call without a known owner starts
};

}  // namespace katsubushi::lease
