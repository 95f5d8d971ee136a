// Properties of the gRPC handlers (src/grpc/handlers.hpp) under simulated
// time: whatever the clock does and whatever n a client sends, a Fetch or
// FetchMulti answers max(n, 1) strictly increasing ids or nothing, over a
// thousand is refused before anything is issued, an id is never handed out
// twice, and the counters add up (cmd_get = get_hits + get_misses, hits =
// ids issued). Stats.Get reads back whatever the `stats` list says.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "grpc/handlers.hpp"
#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "service/id_service.hpp"

namespace katsubushi::grpcapi {
namespace {

struct Call {
  enum class Kind { fetch, fetch_multi, cancelled_multi, rewind, forward, drop_lease, lease };
  Kind kind = Kind::fetch;
  std::uint32_t n = 0;     // FetchMulti's n
  std::int64_t ms = 0;     // how far the clock moves
};

void showValue(const Call& c, std::ostream& os) {
  static constexpr const char* kNames[] = {"fetch",   "fetch_multi", "cancelled_multi", "rewind",
                                           "forward", "drop_lease",  "lease"};
  os << kNames[static_cast<int>(c.kind)] << "(n=" << c.n << ", ms=" << c.ms << ')';
}

rc::Gen<Call> call() {
  using K = Call::Kind;
  const auto multi = [](K kind, std::uint32_t lo, std::uint32_t hi) {
    return rc::gen::map(rc::gen::inRange<std::uint32_t>(lo, hi),
                        [kind](std::uint32_t n) { return Call{kind, n, 0}; });
  };
  const auto clock = [](K kind, std::int64_t lo, std::int64_t hi) {
    return rc::gen::map(rc::gen::inRange<std::int64_t>(lo, hi),
                        [kind](std::int64_t ms) { return Call{kind, 0, ms}; });
  };
  return rc::gen::weightedOneOf<Call>({
      {20, rc::gen::just(Call{K::fetch, 0, 0})},
      {20, multi(K::fetch_multi, 0, 1001)},
      {6, multi(K::fetch_multi, 995, 1006)},  // around the limit
      {3, multi(K::fetch_multi, 1001, std::numeric_limits<std::uint32_t>::max())},
      {4, multi(K::cancelled_multi, 0, 1001)},
      {8, clock(K::rewind, 1, 1500)},  // around the generator's 1000 ms of patience
      {8, clock(K::forward, 1, 5)},
      {2, rc::gen::just(Call{K::drop_lease, 0, 0})},
      {2, rc::gen::just(Call{K::lease, 0, 0})},
  });
}

constexpr std::int64_t kStart = id::kEpochUnixMs + 9'000'000;
constexpr std::uint32_t kWorker = 33;

RC_GTEST_PROP(GrpcProperties, FetchAnswersEveryIdOrNoneAndNeverRepeats, ()) {
  const auto calls = *rc::gen::container<std::vector<Call>>(call());
  id::ManualClock clock(kStart);
  id::IdGenerator generator(clock, kWorker);
  katsubushi::service::ProtocolCounters counters;
  katsubushi::service::IdService ids(generator, counters);
  std::array<std::uint64_t, kMaxFetchMulti> out{};
  std::uint64_t last = 0;
  bool leased = true;
  std::int64_t clock_high = clock.now_unix_ms();  // the furthest the clock has read

  for (const Call& c : calls) {
    switch (c.kind) {
      case Call::Kind::rewind:
        clock.set(clock.now_unix_ms() - c.ms);
        continue;
      case Call::Kind::forward:
        clock.advance(c.ms);
        continue;
      case Call::Kind::drop_lease:
        generator.drop_lease();
        leased = false;
        continue;
      case Call::Kind::lease:
        generator.set_lease(kWorker, std::numeric_limits<std::int64_t>::max());
        leased = true;
        continue;
      default:
        break;
    }
    const std::uint32_t n = c.kind == Call::Kind::fetch ? 1 : c.n;
    const bool cancel = c.kind == Call::Kind::cancelled_multi;
    const auto issued_before = generator.counters().ids_issued;
    const auto behind_before = generator.last_timestamp_ms() + id::kEpochUnixMs - clock.now_unix_ms();
    const FetchResult r = fetch_ids(ids, clock, n, out, [cancel] { return cancel; });
    clock_high = std::max(clock_high, clock.now_unix_ms());
    const auto issued = generator.counters().ids_issued - issued_before;

    if (n > kMaxFetchMulti) {
      RC_ASSERT(r.outcome == Outcome::invalid_argument);
      RC_ASSERT(r.message.find("1000") != std::string::npos);
      RC_ASSERT(issued == 0u);
      continue;
    }
    const std::size_t want = std::max<std::uint32_t>(n, 1);
    if (r.outcome == Outcome::ok) {
      RC_ASSERT(leased);
      RC_ASSERT(r.count == want);
      RC_ASSERT(issued == want);
      for (std::size_t i = 0; i < r.count; ++i) {
        RC_ASSERT(out[i] > last);  // strictly increasing across every call: never twice
        RC_ASSERT(id::decode(out[i]).worker_id == kWorker);
        // Never from a millisecond the clock has not reached (set back, it
        // may read less than it did: ids stay above what was issued).
        RC_ASSERT(id::decode(out[i]).timestamp_ms + id::kEpochUnixMs <= clock_high);
        last = out[i];
      }
    } else {
      RC_ASSERT(issued == 0u);  // nothing issued that the caller was not given
      if (r.outcome == Outcome::unavailable) {
        // Only a dropped lease or a clock further behind than the generator waits for.
        RC_ASSERT(!leased || behind_before >= 1000);
      } else {
        RC_ASSERT(r.outcome == Outcome::cancelled);
        RC_ASSERT(cancel);
      }
    }
    RC_ASSERT(counters.cmd_get.load() == counters.get_hits.load() + counters.get_misses.load());
    RC_ASSERT(counters.get_hits.load() == generator.counters().ids_issued);
  }
}

RC_GTEST_PROP(GrpcProperties, StatsReadsBackWhatTheStatsListSays, ()) {
  const auto pid = *rc::gen::inRange<std::int32_t>(0, std::numeric_limits<std::int32_t>::max());
  const auto version = *rc::gen::container<std::string>(rc::gen::inRange('!', '~'));
  const auto numbers = *rc::gen::container<std::vector<std::uint64_t>>(7, rc::gen::arbitrary<std::uint64_t>());
  static constexpr const char* kNames[] = {"uptime",   "time",     "curr_connections",
                                           "total_connections", "cmd_get", "get_hits",
                                           "get_misses"};
  katsubushi::service::StatList stats{{"pid", std::to_string(pid)}, {"version", version}};
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    stats.emplace_back(kNames[i], std::to_string(numbers[i]));
  }
  stats.emplace_back("worker_id", "1");  // ours, after the nine: ignored
  const auto f = stats_figures(stats);
  RC_ASSERT(f.has_value());
  const auto sat = [](std::uint64_t v) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
  };
  RC_ASSERT(f->pid == pid);
  RC_ASSERT(f->version == version);
  const std::int64_t read[] = {f->uptime,  f->time,     f->curr_connections, f->total_connections,
                               f->cmd_get, f->get_hits, f->get_misses};
  for (std::size_t i = 0; i < numbers.size(); ++i) RC_ASSERT(read[i] == sat(numbers[i]));
}

}  // namespace
}  // namespace katsubushi::grpcapi
