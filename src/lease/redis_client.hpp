// A small blocking Redis client over hiredis, for the lease keeper's thread
// only (never an I/O thread). Every call has a timeout; a connection that
// fails is dropped and made again on the next call. For a Redis Cluster,
// single-key commands go to the node that owns the key's slot, learnt from
// MOVED replies and followed on ASK, a few redirects at most.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lease/redis_url.hpp"

struct redisContext;

namespace katsubushi::lease {

struct RedisReply {
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
};

// The call did not complete: no connection, a timeout, a reply that is not
// Redis protocol, or too many redirects. The message names the address.
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The hash slot of a key (CRC16 of the key or of its {hash tag}, mod 16384).
std::uint16_t key_slot(std::string_view key);

class RedisClient {
 public:
  RedisClient(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // A command about one key, `key_index` the position of the key in `argv`
  // (1 for GET/SET, 3 for EVAL with one key). An error reply from Redis is a
  // reply (type error), not an exception.
  RedisReply key_command(const std::vector<std::string>& argv, std::size_t key_index = 1);
  // A command any node can answer (PUBLISH reaches every subscriber of a cluster).
  RedisReply any_command(const std::vector<std::string>& argv);

  // Drops every connection (the next call connects again).
  void disconnect();
  const RedisUrl& url() const { return url_; }

 private:
  struct Connection;
  Connection& connection(const RedisEndpoint& at);
  RedisReply run(const RedisEndpoint& at, const std::vector<std::string>& argv, bool asking);

  const RedisUrl url_;
  const std::chrono::milliseconds timeout_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;  // by "host:port"
  std::map<std::uint16_t, RedisEndpoint> slot_owner_;                // learnt from MOVED
  std::size_t next_seed_ = 0;
};

}  // namespace katsubushi::lease
