// katsubushi::client::Client: ids from several katsubushi (or go-katsubushi)
// servers with failover. Installed as <katsubushi/client.hpp>; link
// katsubushi::client (CMake) or `pkg-config --libs katsubushi-client`.
//
//   katsubushi::client::Client ids("10.0.0.1:11212,10.0.0.2:11212");
//   std::uint64_t id = ids.fetch();                 // throws katsubushi::client::Error
//   auto got = ids.try_fetch(10);                   // or: no exceptions
//   if (!got) std::cerr << got.message() << '\n';
//
// What is promised: every id handed out was checked (a decimal number that
// fits the id layout: not 0, top bit clear, a worker id, a timestamp not
// further ahead of this machine's clock than Options::max_future_skew; a
// reply's ids strictly increasing and as many as asked) and is handed out
// once by this client. Unique across a fleet as long as every server has a
// worker id of its own. Not promised: that ids from different servers come
// in increasing order.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#define KATSUBUSHI_CLIENT_API __attribute__((visibility("default")))

namespace katsubushi::client {

// Most ids one fetch_multi() may ask for (it asks the servers for at most
// kMaxIdsPerRequest at a time, the daemon's HTTP and gRPC limit).
inline constexpr std::size_t kMaxIdsPerCall = 100000;
inline constexpr std::size_t kMaxIdsPerRequest = 1000;
// Most ids Options::prefetch may keep.
inline constexpr std::size_t kMaxPrefetch = 100000;

struct Options {
  // A fetch()/fetch_multi() call gives up (Errc::no_server_answered) after this.
  std::chrono::milliseconds deadline{5000};
  // Connecting to one server, and one request to one server, take at most
  // these (and never past the call's deadline).
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds try_timeout{1000};
  // Tries of one server before the next is asked (go-katsubushi's 2).
  int tries_per_server = 2;
  // A server that failed is skipped for a backoff that starts here, doubles
  // with each failure in a row up to backoff_max, and is jittered by up to
  // a fifth either way; it is asked again once it ends, or sooner when every
  // server is backing off (then the one whose backoff ends first).
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{5000};
  // Ids kept fetched ahead (0: off). Refilled in the same request that a
  // call needs anyway; an id older than prefetch_max_age is dropped, never
  // handed out (counted in ClientStats::prefetch_expired).
  std::size_t prefetch = 0;
  std::chrono::milliseconds prefetch_max_age{1000};
  // An id whose timestamp is further ahead of this machine's clock than this
  // is refused, and its server counts as failed.
  std::chrono::milliseconds max_future_skew{5000};
  // Idle connections kept per server for the next call.
  std::size_t max_idle_connections = 4;
};

enum class Errc {
  no_server_answered = 1,  // no server gave a checked id within the deadline
  invalid_argument,        // n of 0 or over kMaxIdsPerCall, an option out of range
  bad_server_list,         // the server list does not parse
};
KATSUBUSHI_CLIENT_API const std::error_category& client_category() noexcept;
KATSUBUSHI_CLIENT_API std::error_code make_error_code(Errc e) noexcept;

// Why one server gave no id in a call: its last failure.
struct ServerFailure {
  std::string server;
  std::string reason;
};

// What a call without exceptions returns: the ids, or why there are none.
struct Fetched {
  std::vector<std::uint64_t> ids;
  std::error_code error;
  std::vector<ServerFailure> failures;  // one per server asked, in list order
  explicit operator bool() const noexcept { return !error; }
  // The error and each server's reason on one line.
  KATSUBUSHI_CLIENT_API std::string message() const;
};

class KATSUBUSHI_CLIENT_API Error : public std::runtime_error {
 public:
  Error(std::error_code code, const std::string& what, std::vector<ServerFailure> failures = {});
  std::error_code code() const noexcept { return code_; }
  const std::vector<ServerFailure>& failures() const noexcept { return failures_; }

 private:
  std::error_code code_;
  std::vector<ServerFailure> failures_;
};

struct ClientStats {
  std::uint64_t ids_handed_out = 0;
  std::uint64_t ids_fetched = 0;       // from servers, checked
  std::uint64_t ids_refused = 0;       // failed the check (their server counted as failed)
  std::uint64_t prefetch_expired = 0;  // dropped from the prefetch buffer, too old
  std::uint64_t ids_discarded =
      0;  // fetched, then neither handed out nor kept (a call that failed part-way)
  std::uint64_t server_failures = 0;  // tries that failed
  std::size_t prefetched = 0;         // in the buffer now
};

class KATSUBUSHI_CLIENT_API Client {
 public:
  // `servers`: comma-separated, tried in this order:
  //   host:port, memcached://host:port   memcached text protocol
  //   binary://host:port                 memcached binary protocol
  //   http://host:port                   HTTP (GET /ids?n=N)
  //   grpc://host:port                   gRPC, once enable_grpc() is called
  //                                      (katsubushi/client_grpc.hpp)
  //   unix:/path, binary+unix:/path, http+unix:/path, grpc+unix:/path
  //                                      the same over a unix socket
  // Throws Error (bad_server_list, invalid_argument). Connects lazily.
  explicit Client(std::string_view servers, Options options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Thread-safe. Throw Error(no_server_answered or invalid_argument).
  std::uint64_t fetch();
  std::vector<std::uint64_t> fetch_multi(std::size_t n);
  // The same without exceptions (std::bad_alloc aside, reported as an error too).
  Fetched try_fetch(std::size_t n = 1) noexcept;

  ClientStats stats() const;
  // The servers as parsed ("memcached://127.0.0.1:11212", ...), in order.
  std::vector<std::string> servers() const;

  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl) noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace katsubushi::client

template <>
struct std::is_error_code_enum<katsubushi::client::Errc> : std::true_type {};
