// When a serving thread looks for work a little longer before it sleeps
// (-spin-wait), and for how long.
//
// Sleeping and being woken costs a thread more than the work of a request:
// on a virtual machine, an idle vCPU halts and its wake-up goes through the
// host. A thread whose next request usually comes within the spin saves that
// (at 1 connection, one request at a time, on the 2-core VM the benchmarks
// ran on: 30,000 requests/s at 30 us of CPU each, against 8,300 at 52 us
// sleeping every time). A thread whose requests come further apart would
// only burn the spin. So the policy keeps score of its recent spins: it
// spins while at least half of them ended with work (each spin moves the
// score an eighth of the way), or when the last one did; otherwise it
// sleeps at once, and spins every eighth wait only (a wait that found work
// at once counts, but a probe lands on a real wait), to see whether work
// comes closer together again. An idle daemon wakes about once a second
// (the idle sweep): one spin in eight of those is all it costs.
//
// Pure arithmetic: the loop (uring_loop.cpp) does the waiting and the
// clock reading.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace katsubushi::server {

// What a loop is told: the limit (0: never spin) and where it counts its
// spins, a wait that ended within the spin (hit) or not (miss). The counters
// may be null.
struct SpinWaitOptions {
  std::chrono::nanoseconds limit{0};
  std::atomic<std::uint64_t>* hits = nullptr;
  std::atomic<std::uint64_t>* misses = nullptr;
};

class SpinWaitPolicy {
 public:
  using Duration = std::chrono::nanoseconds;

  explicit SpinWaitPolicy(Duration limit) : limit_(std::max(limit, Duration::zero())) {}

  // Whether the next wait that could sleep spins first: after a hit, while
  // half the recent spins hit, or when a probe is due. Asking changes
  // nothing: a wait that then finds work at once (a reply's completion) is
  // neither a spin nor a sleep, and a probe it does not use stays due. The
  // loop asks before it submits, so a wait that will not spin costs no
  // submission of its own.
  bool wants_spin() const {
    return limit_ != Duration::zero() &&
           (last_hit_ || score_ >= kScale / 2 || since_spin_ >= kProbeEvery - 1);
  }

  // A wait went to sleep without spinning (wants_spin() said no).
  void slept() {
    if (since_spin_ < kProbeEvery) ++since_spin_;
  }

  // A spin wants_spin() allowed ended with work (`hit`) or ran out.
  void spun(bool hit) {
    last_hit_ = hit;
    score_ += ((hit ? kScale : 0) - score_) / kWeight;
    since_spin_ = 0;
  }

  Duration limit() const { return limit_; }
  // Of kScale: the recent spins that ended with work.
  int score() const { return score_; }
  static constexpr int kScale = 1024;
  static constexpr int kWeight = 8;
  static constexpr int kProbeEvery = 8;

 private:
  Duration limit_;
  int score_ = 0;  // starts as if the thread had been idle
  bool last_hit_ = false;
  int since_spin_ = 0;  // waits slept through since the last spin
};

}  // namespace katsubushi::server
