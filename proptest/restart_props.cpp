// The restart property: across any sequence of restarts (clean, or crashes
// with the latest reservation written or not), clock moves (rewinds of any
// size, leaps, stalls) and worker-id lease losses and handoffs, no id is ever
// issued at or below one issued before.
//
// The pieces are the daemon's own: IdGenerator under a ManualClock, and
// Reservations with a real state file (its writer driven by tick(), as the
// writer thread drives it every 100 ms). Redis's {ns}:hwm:{N} is a map here,
// written through the same LeaseListener calls the lease keeper makes.
//
// - With a state file, ids increase across every restart, whatever worker id
//   each run holds (the file's mark is a floor for any id).
// - Leased without a state file, ids of one worker id increase across the
//   runs that hold it (the hwm is the fence), and none is issued at or after
//   the lease's end.
// - A start is refused only when the clock is more than -max-clock-wait
//   behind the stored mark; the "operator" then sets the clock right.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <spdlog/spdlog.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "id/issue_waiting.hpp"
#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "state/reservations.hpp"
#include "state/state_file.hpp"

namespace katsubushi::state {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kStartUnixMs = id::kEpochUnixMs + 300'000'000'000;  // 2024
constexpr auto kMaxClockWait = 10s;

struct Step {
  enum class Kind {
    issue,        // next_batch of `amount` ids
    forward,      // the clock moves on `amount` ms
    rewind,       // the clock is set back `amount` ms
    tick,         // the reservation writer's pass
    clean_stop,   // finish(), then a new run
    crash,        // the process dies: nothing more is written; a new run
    lease_lost,   // (leased) the lease cannot be proved any more
    lease_claim,  // (leased) a lease on worker id `amount`, fenced by its hwm
    lease_refresh,  // (leased) the held lease is refreshed and its hwm written
  };
  Kind kind = Kind::issue;
  std::int64_t amount = 0;
};

void showValue(const Step& s, std::ostream& os) {
  static constexpr const char* kNames[] = {"issue",    "forward",    "rewind",
                                           "tick",     "clean_stop", "crash",
                                           "lease_lost", "lease_claim", "lease_refresh"};
  os << kNames[static_cast<int>(s.kind)] << '(' << s.amount << ')';
}

rc::Gen<Step> step_of(Step::Kind kind, std::int64_t lo, std::int64_t hi) {
  return rc::gen::map(rc::gen::inRange<std::int64_t>(lo, hi),
                      [kind](std::int64_t a) { return Step{kind, a}; });
}

rc::Gen<Step> any_step(bool leased) {
  using K = Step::Kind;
  // Lease steps are no-ops without a lease; their weights are zero then.
  const std::size_t lease = leased ? 1 : 0;
  return rc::gen::weightedOneOf<Step>({
      {20, step_of(K::issue, 1, 3)},
      {6, step_of(K::issue, 3, 9000)},
      {16, step_of(K::forward, 1, 800)},
      {3, step_of(K::forward, 800, 30'000)},
      {6, step_of(K::rewind, 1, 3000)},
      {3, step_of(K::rewind, 3000, 60'000)},
      {12, step_of(K::tick, 0, 1)},
      {4, step_of(K::clean_stop, 0, 1)},
      {5, step_of(K::crash, 0, 1)},
      {3 * lease, step_of(K::lease_lost, 0, 1)},
      {5 * lease, step_of(K::lease_claim, 1, 4)},  // few ids: handoffs happen
      {10 * lease, step_of(K::lease_refresh, 0, 1)},
  });
}

// A state file in a directory of its own (tmpfs when there is one: the
// property writes thousands of files and fsync there costs nothing).
class TempDir {
 public:
  TempDir() {
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string templ = base + "/katsubushi-restart-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One daemon process: its generator and reservations.
struct Run {
  std::unique_ptr<id::IdGenerator> generator;
  std::unique_ptr<Reservations> reservations;
  std::uint32_t worker = 0;
  std::int64_t lease_until_unix_ms = 0;
  bool lease_held = false;
};

class World {
 public:
  World(bool leased, bool state_file)
      : leased_(leased), clock_(kStartUnixMs) {
    if (state_file) state_path_ = dir_.path() + "/katsubushi.state";
  }

  void start_run() {
    for (;;) {
      auto run = std::make_unique<Run>();
      run->worker = leased_ ? 0 : 7;
      run->generator = std::make_unique<id::IdGenerator>(clock_, run->worker);
      run->reservations = std::make_unique<Reservations>(
          *run->generator, clock_,
          ReservationOptions{.state_file = state_path_,
                             .max_clock_wait = kMaxClockWait,
                             .leased = leased_,
                             .ahead = 2000ms,
                             .rewrite_within = 1000ms,
                             .poll = 0ms});
      const bool too_far_behind = stored_mark_too_far_ahead();
      try {
        run->reservations->load();
      } catch (const StartError&) {
        // Refused: only a clock further behind the mark than the wait allows.
        RC_ASSERT(too_far_behind);
        clock_.set(clock_.now_unix_ms() + 60'000);  // the operator fixes the clock
        continue;
      }
      RC_ASSERT(!too_far_behind);
      run->reservations->start();
      run_ = std::move(run);
      if (leased_ && last_worker_ != 0) claim(last_worker_);
      return;
    }
  }

  void apply(const Step& step) {
    using K = Step::Kind;
    switch (step.kind) {
      case K::issue:
        issue(static_cast<std::size_t>(step.amount));
        break;
      case K::forward:
        clock_.advance(step.amount);
        break;
      case K::rewind:
        clock_.advance(-step.amount);
        break;
      case K::tick:
        run_->reservations->tick();
        break;
      case K::clean_stop:
        run_->reservations->finish();
        run_.reset();
        start_run();
        break;
      case K::crash:
        // Destroyed without finish(): the writer stops, nothing more is written.
        run_.reset();
        start_run();
        break;
      case K::lease_lost:
        if (!leased_) break;
        run_->reservations->slot(0).lease_lost("property");
        run_->lease_held = false;
        break;
      case K::lease_claim:
        if (!leased_) break;
        claim(static_cast<std::uint32_t>(step.amount));
        break;
      case K::lease_refresh:
        if (!leased_ || !run_->lease_held) break;
        refresh();
        break;
    }
  }

 private:
  // Whether the mark on disk is further ahead of the clock than a start may
  // wait; ids must carry a timestamp above it.
  bool stored_mark_too_far_ahead() {
    if (state_path_.empty()) return false;
    const auto record = state::read_state_file(state_path_);
    if (!record) return false;
    RC_ASSERT(record->mark_ms >= max_issued_ts_);  // the file covers every id issued
    return record->mark_ms + 1 - (clock_.now_unix_ms() - id::kEpochUnixMs) >
           std::chrono::milliseconds(kMaxClockWait).count();
  }

  // A lease on `worker`: fenced by its hwm, then the hwm written, as the
  // lease keeper does at a claim.
  void claim(std::uint32_t worker) {
    run_->worker = worker;
    run_->lease_held = true;
    run_->lease_until_unix_ms = clock_.now_unix_ms() + 3000;
    const auto it = hwm_.find(worker);
    run_->reservations->slot(0).lease_held(worker, run_->lease_until_unix_ms,
                                   it == hwm_.end() ? -1 : it->second);
    write_hwm();
    last_worker_ = worker;
  }

  void refresh() {
    run_->lease_until_unix_ms = clock_.now_unix_ms() + 3000;
    run_->reservations->slot(0).lease_held(run_->worker, run_->lease_until_unix_ms, -1);
    write_hwm();
  }

  void write_hwm() {
    const std::int64_t mark = run_->reservations->slot(0).hwm_to_write(run_->lease_until_unix_ms);
    auto& stored = hwm_[run_->worker];
    stored = std::max(stored, mark);
    run_->reservations->slot(0).hwm_written(mark);
  }

  void issue(std::size_t n) {
    std::vector<std::uint64_t> ids(n);
    const auto result = katsubushi::id::issue_waiting(*run_->generator, ids);
    RC_ASSERT(result.filled <= n);
    for (std::size_t i = 0; i < result.filled; ++i) check(ids[i]);
  }

  void check(std::uint64_t id_value) {
    const id::IdParts p = id::decode(id_value);
    if (leased_) {
      RC_ASSERT(run_->lease_held);
      RC_ASSERT(clock_.now_unix_ms() < run_->lease_until_unix_ms);
      RC_ASSERT(p.worker_id == run_->worker);
    }
    if (!state_path_.empty()) {
      // The state file's mark holds for every worker id: ids only increase.
      RC_ASSERT(id_value > last_any_);
      last_any_ = id_value;
    }
    auto& last = last_of_worker_[p.worker_id];
    RC_ASSERT(id_value > last);
    last = id_value;
    max_issued_ts_ = std::max(max_issued_ts_, p.timestamp_ms);
  }

  const bool leased_;
  TempDir dir_;
  std::string state_path_;
  id::ManualClock clock_;
  std::unique_ptr<Run> run_;
  std::map<std::uint32_t, std::int64_t> hwm_;  // Redis's {ns}:hwm:{N}
  std::uint32_t last_worker_ = 0;
  std::map<std::uint32_t, std::uint64_t> last_of_worker_;
  std::uint64_t last_any_ = 0;
  std::int64_t max_issued_ts_ = -1;
};

void check_restarts(bool leased, bool state_file) {
  // Lease losses and clock waits are logged as errors and warnings: expected here.
  spdlog::set_level(spdlog::level::off);
  const auto steps = *rc::gen::container<std::vector<Step>>(any_step(leased));
  World world(leased, state_file);
  world.start_run();
  for (const auto& step : steps) world.apply(step);
}

RC_GTEST_PROP(RestartProperties, NoIdRepeatsAcrossRestartsWithAStateFile, ()) {
  check_restarts(false, true);
}

RC_GTEST_PROP(RestartProperties, NoIdRepeatsAcrossRestartsLeasedWithAStateFile, ()) {
  check_restarts(true, true);
}

RC_GTEST_PROP(RestartProperties, NoIdOfAWorkerIdRepeatsAcrossHandoffsLeasedAlone, ()) {
  check_restarts(true, false);
}

}  // namespace
}  // namespace katsubushi::state
