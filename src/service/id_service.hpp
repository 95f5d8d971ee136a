// The one way every protocol (text, meta, binary, HTTP, later gRPC) gets ids,
// so each counts keys asked, answered and missed the same way.
//
// Nothing here waits. When the generator's current millisecond is used up,
// the answer is "not before T" and the session leaves its request pending
// until the connection's timer brings it back at T.
//
// Fair shares: one IdService per session (per connection; the gRPC front has
// one for all its calls). Once it has taken kBulkAfterIds ids of a
// millisecond, it may not take the last kKeptForOthers of that millisecond:
// a bulk client (a 2 M-key get, a GetKQ flood, /ids?n= in a loop) waits for
// the next millisecond instead, and one-id clients beside it still find ids
// in the current one rather than queueing behind it millisecond after
// millisecond. Alone, a bulk client gets (4096 - kKeptForOthers) ids a
// millisecond; callers under kBulkAfterIds a millisecond (100-key gets on a
// few connections) are not held back at all.
#pragma once

#include <atomic>
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

  // Ids for requests of one id each that are all answered in this turn, in
  // order (binary gets read together): one lock for the lot. The first
  // `filled` are hits; an error with none filled is one miss, the request
  // it answers (the others ask again); otherwise the rest are not counted.
  Issued issue_ahead(std::span<std::uint64_t> out);

  // Keys of a request that will not be answered (a many-key get cut short).
  void count_misses(std::size_t n);

  static constexpr std::uint32_t kBulkAfterIds = 1024;
  static constexpr std::uint32_t kKeptForOthers = 512;

 private:
  // The generator's keep_back for this caller's next call.
  std::uint32_t keep_back() const noexcept;
  // Counts the ids of `issued` against the millisecond they carry.
  void note_share(std::span<const std::uint64_t> issued) noexcept;

  id::IdGenerator& generator_;
  ProtocolCounters& counters_;
  // The millisecond (an id's timestamp field) of the last ids this caller
  // took, and how many it took in it. Atomic for the gRPC front's threads;
  // relaxed: a share counted a little off is still a share.
  std::atomic<std::int64_t> share_ms_{-1};
  std::atomic<std::uint32_t> share_taken_{0};
};

}  // namespace katsubushi::service
