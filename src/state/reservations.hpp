// What keeps ids unique across processes: the reserved-until mark in the
// state file (restarts, crashes, clocks set back) and in Redis's
// {ns}:hwm:{N} (a worker id handed to another host), and the worker-id lease.
//
// Both marks are written before the generator may issue ids below them: the
// generator's ceiling is the lowest mark written (state file, Redis), its
// floor the highest mark found (state file at start, hwm at a claim). A
// thread of its own rewrites the state file; the lease keeper's thread writes
// the hwm through each slot's LeaseListener calls. Neither runs on an I/O
// thread, and the generator never waits for them: past the ceiling it
// refuses with a reason (not_reserved) until the next mark is written.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <memory>
#include <vector>

#include "id/clock.hpp"
#include "id/generator.hpp"
#include "lease/lease_listener.hpp"
#include "state/id_safety.hpp"
#include "state/state_file.hpp"
#include "state/state_lock.hpp"

namespace katsubushi::state {

struct ReservationOptions {
  std::string state_file;  // empty: no state file
  std::chrono::nanoseconds max_clock_wait{};
  // The worker ids come from leases: the state file's worker id is not
  // checked (it names the lowest id held, and its mark holds for any id), and
  // each id's fence ({ns}:hwm:{N}) is a second mark its ids stay below.
  bool leased = false;
  // Static worker ids held (worker_id..worker_id+count-1), or leases kept:
  // one LeaseListener each (slot()).
  std::uint32_t worker_id_count = 1;
  std::chrono::milliseconds ahead{};           // how far ahead marks are set
  std::chrono::milliseconds rewrite_within{};  // rewrite once less is left
  // How often the writer looks; 0: no writer thread, the owner calls tick()
  // (tests and properties on a simulated clock).
  std::chrono::milliseconds poll{};
};

// A start the stored mark forbids: the clock is further behind it than
// -max-clock-wait, or the state file cannot be read, trusted or written.
class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Reservations final {
 public:
  Reservations(id::IdGenerator& generator, id::Clock& clock, ReservationOptions options);
  ~Reservations();

  Reservations(const Reservations&) = delete;
  Reservations& operator=(const Reservations&) = delete;

  // Locks the state file for this object's life (state::StateFileLock),
  // then reads it and raises the generator's floor to its mark. Missing: a
  // fresh start, logged. Throws StartError when another daemon holds the
  // lock (naming its pid), when the file is unreadable, corrupt or another
  // worker id's, or when the clock is more than max_clock_wait behind the
  // mark (the message names both times).
  // A clock a little behind is logged and counted; ids are refused until
  // it passes the mark, while everything else is served.
  void load();

  // Writes the first reservation (throws StartError if it cannot), then
  // starts the writer thread. Without a state file, does nothing.
  void start();

  // A graceful stop, after the last request: the generator issues nothing
  // more, the writer stops, and the state file gets the exact last issued
  // timestamp so a clean restart waits for nothing. Logs a failure to write
  // (the last reservation still holds). Idempotent. Returns that mark (the
  // last issued timestamp, or the floor), which a lease's fence may drop to
  // when the worker id is given back.
  std::int64_t finish();

  // One pass of the writer: rewrites the state file when less than
  // rewrite_within is left. What the writer thread does every `poll`.
  void tick();

  IdSafetyFigures figures() const;  // the reservations' part

  // The listener for lease `k` (0 <= k < worker_id_count), called from its
  // lease keeper's thread: each keeper its own, so each worker id has its
  // own lease, fence and mark.
  lease::LeaseListener& slot(std::size_t k);

 private:
  std::int64_t now_ms() const;  // ms since the id epoch, as the generator reads it
  // The next mark to write: kept `ahead` of the clock, or of the floor while
  // the clock is behind it.
  std::int64_t next_mark() const;
  // Pushes the state file's mark to the generator's ceiling; mu_ held.
  void push_ceiling_locked();
  // A lease keeper's view: the worker id it holds and the mark written in
  // that id's fence.
  class Slot final : public lease::LeaseListener {
   public:
    explicit Slot(Reservations& owner) : owner_(owner) {}
    void lease_held(std::uint32_t worker_id, std::int64_t valid_until_unix_ms,
                    std::int64_t fence_ts) override;
    void lease_lost(std::string_view why) override;
    void ids_paused(std::string_view why) override;
    std::int64_t hwm_to_write(std::int64_t lease_end_unix_ms) override;
    void hwm_written(std::int64_t mark) override;

    std::uint32_t worker = 0;  // guarded by owner_.mu_: the id held, or last held
    std::int64_t hwm = -1;     // guarded by owner_.mu_: last mark written for `worker`

   private:
    Reservations& owner_;
  };
  // The state file record of now: the lowest held id and, with static ids, their count.
  state::StateRecord record_of(std::int64_t mark, bool graceful) const;
  bool write_reservation(std::int64_t mark);  // false (logged, counted) on failure
  void run_writer();

  id::IdGenerator& generator_;
  id::Clock& clock_;
  const ReservationOptions options_;
  // Held from load() on: one daemon per state file.
  std::optional<state::StateFileLock> lock_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                   // guarded by mu_
  bool finished_ = false;                   // guarded by mu_
  std::int64_t final_mark_ = -1;            // guarded by mu_: what finish() returned
  std::int64_t file_mark_ = -1;             // guarded by mu_: last mark written to the file
  std::vector<std::unique_ptr<Slot>> slots_;  // one per lease; fixed after construction
  bool write_failing_ = false;              // guarded by mu_: log failures once, and recovery
  std::thread writer_;

  std::atomic<std::uint64_t> state_writes_{0};
  std::atomic<std::uint64_t> state_write_failures_{0};
  std::atomic<std::uint64_t> clock_waits_{0};
};

}  // namespace katsubushi::state
