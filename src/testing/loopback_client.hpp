// The client side of the daemon integration tests: a blocking loopback
// client with timeouts, and parsers for the replies the tests check.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace katsubushi::testing {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

// Hang protection for one reply: a slow CI machine is slow, not stuck.
inline constexpr Millis kReplyTimeout = 10s;

enum class RecvStatus { data, closed, timeout, error };

// A blocking loopback client with timeouts. Bytes received past what a
// helper returned stay buffered for the next call.
class LoopbackClient {
 public:
  LoopbackClient() = default;
  ~LoopbackClient();
  LoopbackClient(LoopbackClient&& o) noexcept;
  LoopbackClient& operator=(LoopbackClient&& o) noexcept;
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;

  // host is a numeric address: "127.0.0.1" or "::1".
  bool connect_tcp(const std::string& host, std::uint16_t port);
  bool connect_unix(const std::string& path);
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send_all(std::string_view bytes);
  // Reads until `terminator` has arrived; returns everything up to and
  // including it. nullopt on timeout, close or error.
  std::optional<std::string> recv_until(std::string_view terminator,
                                        Millis timeout = kReplyTimeout);
  // One read of whatever is available, appended to `out` (buffered bytes first).
  RecvStatus recv_some(std::string& out, Millis timeout);
  // Reads until the peer closes (EOF or reset); returns what arrived before.
  // nullopt if it is still open after `timeout`.
  std::optional<std::string> read_until_closed(Millis timeout = kReplyTimeout);
  // send_all + recv_until.
  std::optional<std::string> request(std::string_view bytes, std::string_view terminator,
                                     Millis timeout = kReplyTimeout);

  // Puts bytes back in front of what the next read returns.
  void unread(std::string_view bytes) { pending_.insert(0, bytes); }

  void shutdown_write() const;
  void close();
  // Close with SO_LINGER 0: the kernel sends RST instead of FIN.
  void close_with_reset();

 private:
  int fd_ = -1;
  std::string pending_;
};

// `STAT name value` lines of a stats reply, by name. Lines of any other shape
// are reported under the key "" so a test can see them.
std::map<std::string, std::string> parse_stats(std::string_view reply);
// Sends `stats` and parses the reply; empty map on failure.
std::map<std::string, std::string> query_stats(LoopbackClient& client);
// A numeric stat, or -1 if missing or not a number.
std::int64_t stat_value(const std::map<std::string, std::string>& stats, const std::string& name);

// One `VALUE key 0 len [cas]\r\n<id>\r\n` line of a get/gets reply.
struct IdValue {
  std::string key;
  std::uint64_t id = 0;
  std::optional<std::uint64_t> cas;
};

enum class ParseStatus { complete, partial, malformed };

// Parses one whole get/gets reply (VALUE lines then END) at the front of
// `in`. On `complete`, `used` is its length and `values` holds its lines.
ParseStatus parse_get_reply(std::string_view in, std::vector<IdValue>& values, std::size_t& used);

// Sends `command` plus "\r\n" and parses the reply; nullopt unless exactly
// one whole get/gets reply came back.
std::optional<std::vector<IdValue>> request_ids(LoopbackClient& client, std::string_view command);

// One `get a` (closed by a meta no-op, so an error line ends it too): the id,
// or the first line of what came instead ("no reply" when nothing did).
std::variant<std::uint64_t, std::string> get_one_id(LoopbackClient& client);
// get_one_id every 50 ms until an id comes, for up to `limit` (a claim that
// waits out earlier leases, a store coming back); the last answer.
std::variant<std::uint64_t, std::string> first_id(LoopbackClient& client,
                                                  std::chrono::milliseconds limit);
// The system clock in ms since 1970, to compare ids' timestamps with.
std::int64_t now_unix_ms();

}  // namespace katsubushi::testing
