// How the failover logic asks one server for ids: a small interface, so the
// unit tests inject fake servers and the real ones speak a protocol over a
// socket (socket_transport.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "client/clock.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {

// Why one try of one server failed.
enum class TryErrc {
  connect_failed = 1,
  timed_out,
  closed,  // the server closed the connection
  io_error,
  bad_reply,     // not the protocol's reply
  server_error,  // the server said it cannot issue (SERVER_ERROR, 503, a status)
  bad_id,        // an id that failed the check (id_check.hpp)
  wrong_count,   // not as many ids as asked
};
// Exported: the gRPC transport (libkatsubushi-client-grpc.so) makes these codes too.
KATSUBUSHI_CLIENT_API const std::error_category& try_category() noexcept;
KATSUBUSHI_CLIENT_API std::error_code make_error_code(TryErrc e) noexcept;

// A failure with what the server or the system said; empty when all went well.
struct Fault {
  std::error_code code;
  std::string detail;
  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  std::string describe() const;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Asks this server for `n` ids (1..kMaxIdsPerRequest), giving up at
  // `deadline`. Appends them to `ids` as received, unchecked. Thread-safe.
  virtual Fault fetch(std::size_t n, SteadyTime deadline, std::vector<std::uint64_t>& ids) = 0;
  // Closes the connections kept for later calls (after a failure they are
  // likely dead too: a restarted server).
  virtual void drop_idle() = 0;
};

}  // namespace katsubushi::client

template <>
struct std::is_error_code_enum<katsubushi::client::TryErrc> : std::true_type {};
