// Properties of IdGenerator holding several worker ids (-worker-id-count):
// whatever the clock does (steps, rewinds, leaps), however ids are asked for
// (one at a time, batches, all-or-nothing with keep_back), whichever ids are
// lost, regained, replaced or joined mid-millisecond, and across restarts
// (the stop mark carried into the next process's floor, as the state file
// does), every id is greater than the one before, so none repeats, and
// carries a worker id that was held, with a valid lease, when it was issued.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <set>
#include <vector>

#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"

namespace katsubushi::id {
namespace {

struct Step {
  enum class Kind {
    forward,   // the clock moves on `amount` ms
    rewind,    // the clock is set back `amount` ms
    batch,     // next_batch() of `amount` ids
    all,       // next_all() of `amount` ids with keep_back `arg`
    lose,      // the lease of the `amount`-th held id is dropped
    regain,    // the lease of the `amount`-th id ever held comes back
    replace,   // the `amount`-th held id is forgotten, worker id `arg` joins
    join,      // worker id `arg` joins with a fence `amount` ms around now
    restart,   // stop(), and a new generator above the mark
  };
  Kind kind = Kind::batch;
  std::int64_t amount = 0;
  std::uint32_t arg = 0;
};

void showValue(const Step& s, std::ostream& os) {
  static constexpr const char* kNames[] = {"forward", "rewind",  "batch", "all",    "lose",
                                           "regain",  "replace", "join",  "restart"};
  os << kNames[static_cast<int>(s.kind)] << '(' << s.amount << ',' << s.arg << ')';
}

rc::Gen<Step> step_of(Step::Kind kind, std::int64_t lo, std::int64_t hi, std::uint32_t arg_hi = 1) {
  return rc::gen::map(rc::gen::pair(rc::gen::inRange<std::int64_t>(lo, hi),
                                    rc::gen::inRange<std::uint32_t>(0, arg_hi)),
                      [kind](const auto& p) { return Step{kind, p.first, p.second}; });
}

rc::Gen<Step> step() {
  using K = Step::Kind;
  return rc::gen::weightedOneOf<Step>({
      {20, step_of(K::forward, 1, 3)},
      {6, step_of(K::rewind, 1, 5)},
      {3, step_of(K::rewind, 5, 2000)},
      {30, step_of(K::batch, 1, 300)},
      {10, step_of(K::batch, 3000, 9000)},
      {10, step_of(K::all, 1, 4097, 4096)},
      {6, step_of(K::lose, 0, 8)},
      {6, step_of(K::regain, 0, 16)},
      {3, step_of(K::replace, 0, 8, 40)},
      {3, step_of(K::join, -3, 3, 40)},
      {2, step_of(K::restart, 0, 1)},
  });
}

constexpr std::int64_t kStart = kEpochUnixMs + 9'000'000'000;
constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();

// One generator and what a test knows it was told.
class Process {
 public:
  Process(ManualClock& clock, std::uint32_t first, std::uint32_t count, std::int64_t floor)
      : gen_(std::make_unique<IdGenerator>(clock, first,
                                           GeneratorOptions{.max_backward_wait_ms = 1000,
                                                            .worker_id_count = count})) {
    gen_->raise_floor(floor);
    for (std::uint32_t w = first; w < first + count; ++w) able_.insert(w);
  }
  IdGenerator& gen() { return *gen_; }
  std::set<std::uint32_t>& able() { return able_; }    // held, lease valid
  std::set<std::uint32_t>& known() { return known_; }  // ever held in this run

 private:
  std::unique_ptr<IdGenerator> gen_;
  std::set<std::uint32_t> able_;
  std::set<std::uint32_t> known_;
};

std::uint32_t nth(const std::set<std::uint32_t>& s, std::int64_t n) {
  auto it = s.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(static_cast<std::size_t>(n) % s.size()));
  return *it;
}

RC_GTEST_PROP(MultiIdProperties, IdsIncreaseAcrossLossesRegainsAndRestarts, ()) {
  const auto first = *rc::gen::inRange<std::uint32_t>(1, 20);
  const auto count = *rc::gen::inRange<std::uint32_t>(1, 6);
  const auto steps = *rc::gen::container<std::vector<Step>>(step());
  ManualClock clock(kStart);
  auto process = std::make_unique<Process>(clock, first, count, -1);
  for (std::uint32_t w = first; w < first + count; ++w) process->known().insert(w);
  std::uint64_t last = 0;
  std::int64_t reached = clock.now_unix_ms();  // the latest time the clock has read
  std::uint64_t issued = 0;
  std::vector<std::uint64_t> out;

  const auto check_ids = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const IdParts p = decode(out[i]);
      RC_ASSERT(out[i] > last);
      RC_ASSERT(process->able().count(p.worker_id) == 1u);
      RC_ASSERT(p.timestamp_ms + kEpochUnixMs <= reached);
      last = out[i];
    }
    issued += n;
  };

  for (const Step& s : steps) {
    IdGenerator& gen = process->gen();
    auto& able = process->able();
    auto& known = process->known();
    switch (s.kind) {
      case Step::Kind::forward:
        clock.advance(s.amount);
        break;
      case Step::Kind::rewind:
        clock.advance(-s.amount);
        break;
      case Step::Kind::batch:
      case Step::Kind::all: {
        out.assign(static_cast<std::size_t>(s.amount), 0);
        const auto r = s.kind == Step::Kind::batch ? gen.next_batch(out)
                                                   : gen.next_all(out, s.arg);
        check_ids(r.filled);
        if (s.kind == Step::Kind::all) RC_ASSERT(r.filled == 0 || r.filled == out.size());
        if (!able.empty() && !r.error && r.filled < out.size()) {
          // "Not before" names the millisecond after the one in use.
          RC_ASSERT(r.not_before_unix_ms > clock.now_unix_ms() - 1000);
          clock.set(std::max(clock.now_unix_ms(), r.not_before_unix_ms));
        }
        if (able.empty()) RC_ASSERT(r.filled == 0u);
        break;
      }
      case Step::Kind::lose:
        if (able.empty()) break;
        {
          const std::uint32_t w = nth(able, s.amount);
          gen.drop_lease(w);
          able.erase(w);
        }
        break;
      case Step::Kind::regain: {
        const std::uint32_t w = nth(known, s.amount);
        gen.set_lease(w, kForever);
        able.insert(w);
        break;
      }
      case Step::Kind::replace:
      case Step::Kind::join: {
        const std::uint32_t joining = 1 + s.arg;
        if (s.kind == Step::Kind::replace) {
          if (able.empty()) break;
          const std::uint32_t w = nth(able, s.amount);
          if (w == joining) break;
          gen.forget(w);
          able.erase(w);
          known.erase(w);
        }
        // A fence around now: the joining id issues only above it.
        const std::int64_t fence = clock.now_unix_ms() - kEpochUnixMs + s.amount;
        gen.set_lease(joining, kForever, {.floor_ms = fence, .ceiling_ms = kForever});
        able.insert(joining);
        known.insert(joining);
        break;
      }
      case Step::Kind::restart: {
        // The state file carries stop()'s mark into the next process.
        const std::int64_t mark = gen.stop();
        out.assign(1, 0);
        RC_ASSERT(gen.next_batch(out).error == GeneratorErrc::stopped);
        process = std::make_unique<Process>(clock, first, count, mark);
        for (std::uint32_t w = first; w < first + count; ++w) process->known().insert(w);
        break;
      }
    }
    reached = std::max(reached, clock.now_unix_ms());
  }
  RC_TAG(issued > 0 ? "issued" : "nothing issued");
}

}  // namespace
}  // namespace katsubushi::id
