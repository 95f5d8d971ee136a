// One connection of a load run, on a thread of its own: it keeps -depth
// identical gets in flight (the bytes of -depth requests are built once and
// sent from the same buffer), reads the replies without allocating, and
// records what the main thread asked it to measure. Over HTTP, a response
// with `Connection: close` (the daemon's last on a connection) makes it
// connect again and send again the requests still unanswered.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "bench/id_check.hpp"
#include "bench/latency_histogram.hpp"
#include "bench/requests.hpp"
#include "bench/tcp_client.hpp"

namespace katsubushi::bench {

enum class Phase : int { warmup, measure, stop };

// What the main thread shares with every connection.
struct LoadControl {
  std::atomic<Phase> phase{Phase::warmup};
  // Requests left to send when the run is a fixed number of them (-requests);
  // unused otherwise.
  bool budgeted = false;
  std::atomic<std::int64_t> budget{0};
};

struct LoadPlan {
  Proto proto = Proto::text;
  std::string request;  // one get (get_request)
  std::string host;     // where to connect again (HTTP)
  std::uint16_t port = 0;
  unsigned depth = 1;
  unsigned keys = 1;  // per request, to count misses
  bool check = false;
};

// Requests the budget allows out of `wanted` (all of them when the run is
// timed, not budgeted).
unsigned claim(LoadControl& control, unsigned wanted) noexcept;

// The steady clock in nanoseconds: send and receive times.
std::uint64_t now_ns() noexcept;

// One connection's figures. Counts are of replies that ended while the
// phase was `measure`; errors and -check cover the whole run.
struct ConnectionResult {
  std::uint64_t requests = 0;
  std::uint64_t ids = 0;         // values received
  std::uint64_t misses = 0;      // keys of a get answered without a value
  std::uint64_t errors = 0;      // ERROR, CLIENT_ERROR, SERVER_ERROR (whole run)
  std::uint64_t reconnects = 0;  // after Connection: close (HTTP; whole run)
  LatencyHistogram latency;
  ConnectionIdCheck check;
  std::string failure;  // why the connection ended early, empty if it did not
};

// The requests of `plan` on `socket` until the phase is `stop` (or the
// budget is spent) and every request sent is answered. The socket is
// replaced when the server closes it after saying so (HTTP).
void run_connection(Socket& socket, const LoadPlan& plan, LoadControl& control,
                    ConnectionResult& result);

}  // namespace katsubushi::bench
