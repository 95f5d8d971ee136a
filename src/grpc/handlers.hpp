// The gRPC API's requests answered without gRPC: what the service classes
// call, and what the property tests drive on a simulated clock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "id/clock.hpp"
#include "service/id_service.hpp"
#include "service/stats.hpp"

namespace katsubushi::grpcapi {

// The most ids one FetchMulti may ask for, as go-katsubushi (MaxGRPCBulkSize).
inline constexpr std::uint32_t kMaxFetchMulti = 1000;

// The outcome of a call, in the terms gRPC's status codes use.
enum class Outcome { ok, invalid_argument, unavailable, cancelled };

struct FetchResult {
  Outcome outcome = Outcome::ok;
  std::string message;    // why, when not ok
  std::size_t count = 0;  // ids at the front of the caller's span, when ok
};

// One try at the ids of a Fetch (n = 1) or FetchMulti, which never waits:
// n = 0 means 1; more than kMaxFetchMulti is invalid_argument naming the
// limit, with nothing issued or counted. Every id or none: a refusing
// generator (no lease, clock out of range, ...) is unavailable with its
// reason, counted as misses. When the current millisecond is used up the
// answer is "try again at not_before_unix_ms" (a time on the generator's
// clock), unless the call is `cancelled` (its deadline passed, the client
// went): then it ends with nothing issued, counted as misses.
//
// Touches only the generator (thread-safe) and the counters (atomic).
struct FetchStep {
  std::optional<FetchResult> done;     // the answer, or
  std::int64_t not_before_unix_ms = 0;  // when to try again
};
FetchStep fetch_step(service::IdService& ids, std::uint32_t n,
                     std::span<std::uint64_t, kMaxFetchMulti> out, bool cancelled);

// fetch_step() until done, waiting on `clock` in between (a ManualClock
// jumps): for tests and properties. The daemon waits on a timer instead.
FetchResult fetch_ids(service::IdService& ids, id::Clock& clock, std::uint32_t n,
                      std::span<std::uint64_t, kMaxFetchMulti> out,
                      const std::function<bool()>& cancelled);

// go-katsubushi's nine stats, as Stats.Get answers them.
struct StatsFigures {
  std::int32_t pid = 0;
  std::int64_t uptime = 0;
  std::int64_t time = 0;
  std::string version;
  std::int64_t curr_connections = 0;
  std::int64_t total_connections = 0;
  std::int64_t cmd_get = 0;
  std::int64_t get_hits = 0;
  std::int64_t get_misses = 0;

  bool operator==(const StatsFigures&) const = default;
};

// Reads the nine from a `stats` reply's list (the one every protocol
// answers, so all agree). Counters above the largest int64 saturate. Empty
// when one is missing or not a number: the list and this reader disagree.
std::optional<StatsFigures> stats_figures(const service::StatList& stats);

}  // namespace katsubushi::grpcapi
