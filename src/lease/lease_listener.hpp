// What a worker-id lease tells the rest of the daemon. The lease keeper runs
// on a thread of its own and calls these from it; the daemon's side turns them
// into the generator's issue window (worker id, lease end, fence floor) and
// the reserved-until mark that is written to {ns}:hwm:{N}.
#pragma once

#include <cstdint>
#include <string_view>

namespace katsubushi::lease {

enum class LeaseState : std::uint8_t {
  static_id,  // -worker-id given: no lease
  claiming,   // no worker id held yet (start, or after a loss)
  held,       // a lease is held and was refreshed in time
  lost,       // the last lease ended (expired, taken or unprovable); claiming again
  paused,     // a lease is held, but the clock cannot be trusted: no ids until it can
};

// "static", "claiming", "held", "lost", "paused": the lease_state stat.
std::string_view to_string(LeaseState s) noexcept;

class LeaseListener {
 public:
  virtual ~LeaseListener() = default;

  // A lease on `worker_id` is held. Ids may be issued until
  // `valid_until_unix_ms` (on the daemon's id::Clock): the start of the last
  // successful refresh + expiry - margin. `fence_ts` is the value found in
  // {ns}:hwm:{N} when the id was claimed (ms since the id epoch), -1 if none:
  // nothing at or below it may be issued. Called on every claim and refresh.
  virtual void lease_held(std::uint32_t worker_id, std::int64_t valid_until_unix_ms,
                          std::int64_t fence_ts) = 0;

  // The lease can no longer be proved (refreshes failed past its end, or the
  // key holds another uuid). No id may be issued until lease_held() again.
  virtual void lease_lost(std::string_view why) = 0;

  // The lease is still held, but our clock cannot be trusted (`why`): no id
  // may be issued until lease_held() again.
  virtual void ids_paused(std::string_view why) = 0;

  // The reserved-until mark (ms since the id epoch) to store in the fence
  // on a refresh whose lease would end at `lease_end_unix_ms`: ids stay
  // below the last one confirmed.
  virtual std::int64_t hwm_to_write(std::int64_t lease_end_unix_ms) = 0;

  // `mark` is stored in {ns}:hwm:{N}: ids below it may be issued.
  virtual void hwm_written(std::int64_t mark) = 0;
};

}  // namespace katsubushi::lease
