// The one way every protocol (text, meta, binary, HTTP, later gRPC) gets ids,
// so each counts keys asked, answered and missed the same way.
//
// Nothing here waits. When the generator's current millisecond is used up,
// the answer is "not before T" and the session leaves its request pending
// until the connection's timer brings it back at T.
#pragma once

#include <cstdint>
#include <span>
#include <system_error>

#include "id/generator.hpp"
#include "service/stats.hpp"

namespace katsubushi::service {

class IdService {
 public:
  IdService(id::IdGenerator& generator, ProtocolCounters& counters)
      : generator_(generator), counters_(counters) {}

  using Issued = id::IdGenerator::BatchResult;

  // All of `out` (at most a millisecond's worth of ids), or none: an error,
  // then no entry of `out` is to be sent, or not_before_unix_ms, then ask
  // again at that time. Keys are counted once answered: in cmd_get, and as
  // hits, or as misses on an error.
  Issued issue_all(std::span<std::uint64_t> out);

  // As many of `out` as can be issued now (at most a millisecond's worth):
  // the first `filled`, counted as hits. On an error the rest of `out` is
  // counted as misses; with not_before_unix_ms the rest is not counted yet.
  Issued issue_some(std::span<std::uint64_t> out);

  // Keys of a request that will not be answered (a many-key get cut short).
  void count_misses(std::size_t n);

 private:
  id::IdGenerator& generator_;
  ProtocolCounters& counters_;
};

}  // namespace katsubushi::service
