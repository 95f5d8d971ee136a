#include "state/reservations.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "config/duration.hpp"
#include "id/layout.hpp"
#include "id/timefmt.hpp"
#include "state/state_file.hpp"

namespace katsubushi::state {

namespace {

std::string time_of(std::int64_t layout_ms) {
  return id::format_rfc3339_ms(layout_ms + id::kEpochUnixMs);
}

}  // namespace

Reservations::Reservations(id::IdGenerator& generator, id::Clock& clock,
                           ReservationOptions options)
    : generator_(generator), clock_(clock), options_(std::move(options)) {
  // Marks not yet written allow nothing: the generator starts with a ceiling
  // below every timestamp (each leased id gets its own, -1, when it joins).
  if (!options_.state_file.empty()) generator_.raise_ceiling(-1);
  if (options_.leased) generator_.drop_lease();
  for (std::uint32_t k = 0; k < std::max<std::uint32_t>(options_.worker_id_count, 1); ++k) {
    slots_.push_back(std::make_unique<Slot>(*this));
  }
}

lease::LeaseListener& Reservations::slot(std::size_t k) { return *slots_.at(k); }

state::StateRecord Reservations::record_of(std::int64_t mark, bool graceful) const {
  return {.worker_id = generator_.worker_id(),
          .mark_ms = mark,
          .graceful = graceful,
          .worker_id_count = options_.leased ? 1 : options_.worker_id_count};
}

Reservations::~Reservations() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::int64_t Reservations::now_ms() const { return clock_.now_unix_ms() - id::kEpochUnixMs; }

std::int64_t Reservations::next_mark() const {
  return std::max(now_ms(), generator_.window().floor_ms) + options_.ahead.count();
}

void Reservations::load() {
  if (options_.state_file.empty()) return;
  std::optional<state::StateRecord> record;
  try {
    // Before the read: a second daemon must not even see the mark it would
    // reserve past alongside the first.
    if (!lock_) lock_.emplace(options_.state_file);
    record = state::read_state_file(options_.state_file);
    if (record && !options_.leased) {
      state::check_worker(*record, generator_.worker_id(), options_.worker_id_count,
                          options_.state_file);
    }
  } catch (const state::StateFileError& e) {
    throw StartError(e.what());
  }
  if (!record) {
    spdlog::info("no state file at {}: a fresh start; it is written before the first id",
                 options_.state_file);
    return;
  }
  const std::int64_t mark = record->mark_ms;
  const std::int64_t now = now_ms();
  // Ids must carry a timestamp above the mark: the clock has to reach mark + 1.
  const std::int64_t behind = mark + 1 - now;
  const auto wait_limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_clock_wait).count();
  if (behind > wait_limit) {
    throw StartError("the clock reads " + time_of(now) + ", " + std::to_string(behind) +
                     " ms behind the mark " + time_of(mark) + " in " + options_.state_file +
                     ", more than -max-clock-wait " +
                     config::format_duration(options_.max_clock_wait) +
                     ": ids issued before could repeat. Fix the clock (or, knowing what ids "
                     "were issued, raise -max-clock-wait)");
  }
  if (behind > 0) {
    clock_waits_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("the clock reads {}, {} ms behind the mark {} in {}: ids are refused until "
                 "it passes; everything else is served",
                 time_of(now), behind, time_of(mark), options_.state_file);
  } else {
    spdlog::info("state file {}: {} mark {}", options_.state_file,
                 record->graceful ? "clean stop," : "reservation,", time_of(mark));
  }
  generator_.raise_floor(mark);
}

void Reservations::start() {
  if (options_.state_file.empty()) return;
  const std::int64_t mark = next_mark();
  try {
    state::write_state_file(options_.state_file,
                            record_of(mark, false));
  } catch (const state::StateFileError& e) {
    throw StartError(e.what());
  }
  state_writes_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    file_mark_ = mark;
    push_ceiling_locked();
  }
  if (options_.poll.count() > 0) writer_ = std::thread([this] { run_writer(); });
}

void Reservations::tick() {
  {
    std::lock_guard lock(mu_);
    if (options_.state_file.empty() || stopping_) return;
    if (file_mark_ - now_ms() >= options_.rewrite_within.count()) return;
  }
  write_reservation(next_mark());
}

void Reservations::push_ceiling_locked() {
  if (!options_.state_file.empty()) generator_.raise_ceiling(file_mark_);
}

bool Reservations::write_reservation(std::int64_t mark) {
  try {
    state::write_state_file(options_.state_file,
                            record_of(mark, false));
  } catch (const state::StateFileError& e) {
    state_write_failures_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    if (!write_failing_) {
      spdlog::error("cannot move the reservation ahead: {}; ids stop at {} until it is written",
                    e.what(), time_of(file_mark_));
      write_failing_ = true;
    }
    return false;
  }
  state_writes_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (write_failing_) {
    spdlog::info("the state file {} is written again", options_.state_file);
    write_failing_ = false;
  }
  file_mark_ = mark;
  push_ceiling_locked();
  return true;
}

void Reservations::run_writer() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    tick();
    lock.lock();
    wake_.wait_for(lock, options_.poll, [this] { return stopping_; });
  }
}

std::int64_t Reservations::finish() {
  {
    std::lock_guard lock(mu_);
    if (finished_) return final_mark_;
    finished_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  // Nothing issued and no mark before (a fresh start): 0, which every id is above.
  const std::int64_t last = std::max<std::int64_t>(generator_.stop(), 0);
  {
    std::lock_guard lock(mu_);
    final_mark_ = last;
  }
  if (options_.state_file.empty()) return last;
  try {
    state::write_state_file(options_.state_file,
                            record_of(last, true));
    state_writes_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("state file {}: last issued {}", options_.state_file, time_of(last));
  } catch (const state::StateFileError& e) {
    state_write_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("cannot write the last mark: {}; the reservation {} still holds", e.what(),
                  time_of(file_mark_));
  }
  return last;
}

IdSafetyFigures Reservations::figures() const {
  IdSafetyFigures f;
  std::int64_t until = std::numeric_limits<std::int64_t>::max();
  {
    std::lock_guard lock(mu_);
    if (!options_.state_file.empty()) until = file_mark_;
    if (options_.leased) {
      // The lowest mark of the ids held: what every id stays below.
      for (const auto& s : slots_) {
        if (s->worker != 0) until = std::min(until, s->hwm);
      }
    }
  }
  if (until > 0 && until != std::numeric_limits<std::int64_t>::max()) f.reserved_until_ms = until;
  f.state_writes = state_writes_.load(std::memory_order_relaxed);
  f.state_write_failures = state_write_failures_.load(std::memory_order_relaxed);
  f.clock_waits = clock_waits_.load(std::memory_order_relaxed);
  return f;
}

void Reservations::Slot::lease_held(std::uint32_t worker_id, std::int64_t valid_until_unix_ms,
                                    std::int64_t fence_ts) {
  std::lock_guard lock(owner_.mu_);
  id::IdGenerator& generator = owner_.generator_;
  if (worker_id != worker) {
    // Another id's mark says nothing about this one; the id given up (or
    // lost and not taken back) leaves the generator, unless another lease
    // of ours holds it now.
    const auto held_elsewhere = [&](std::uint32_t w) {
      return std::any_of(owner_.slots_.begin(), owner_.slots_.end(),
                         [&](const auto& s) { return s.get() != this && s->worker == w; });
    };
    if (worker != 0 && !held_elsewhere(worker)) generator.forget(worker);
    for (const auto& s : owner_.slots_) {
      // A lease of ours that lost this id to this one: it no longer holds it.
      if (s.get() != this && s->worker == worker_id) {
        s->worker = 0;
        s->hwm = -1;
      }
    }
    generator.forget(worker_id);
    worker = worker_id;
    hwm = -1;
  }
  // New to the generator: above its fence, and below a mark not yet written.
  generator.set_lease(worker_id, valid_until_unix_ms, {.floor_ms = fence_ts, .ceiling_ms = -1});
  if (hwm >= 0) generator.raise_ceiling(worker_id, hwm);
}

void Reservations::Slot::lease_lost(std::string_view why) {
  std::uint32_t w = 0;
  {
    std::lock_guard lock(owner_.mu_);
    w = worker;
    if (w != 0) owner_.generator_.drop_lease(w);
  }
  spdlog::error("worker id {} lease lost ({}): none of its ids until it is held again", w, why);
}

void Reservations::Slot::ids_paused(std::string_view why) {
  std::uint32_t w = 0;
  {
    std::lock_guard lock(owner_.mu_);
    w = worker;
    if (w != 0) owner_.generator_.drop_lease(w, id::GeneratorErrc::clock_untrusted);
  }
  spdlog::error("worker id {}: ids paused ({}): none until the clock is trusted again", w, why);
}

std::int64_t Reservations::Slot::hwm_to_write(std::int64_t lease_end_unix_ms) {
  // Exactly the lease's end, never beyond it: while the lease is valid,
  // Redis being away does not stop ids sooner, and no id of ours carries a
  // timestamp past the end of the lease that proved it. That bound is what
  // a later holder that finds no fence (the store lost it) waits out. A
  // holder that finds the fence starts above it: after a crash the key
  // expires only once it is in the past (expiry > lease end), and a clean
  // stop drops it to the last id issued (LeaseKeeper::stop_and_release).
  return lease_end_unix_ms - id::kEpochUnixMs;
}

void Reservations::Slot::hwm_written(std::int64_t mark) {
  std::lock_guard lock(owner_.mu_);
  hwm = std::max(hwm, mark);
  if (worker != 0) owner_.generator_.raise_ceiling(worker, hwm);
}

}  // namespace katsubushi::state
