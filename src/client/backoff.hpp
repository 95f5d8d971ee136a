// How long a server that failed is skipped: an exponential backoff per
// server, capped and jittered so that many clients do not come back to a
// restarted server in step.
#pragma once

#include <algorithm>
#include <chrono>

#include "client/clock.hpp"

namespace katsubushi::client {

struct BackoffPolicy {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{5000};
  // Each backoff is scaled by a factor in [1 - jitter, 1 + jitter].
  double jitter = 0.2;
};

// The health of one server as the client sees it. Not thread-safe: the
// client holds its lock around it.
class ServerHealth {
 public:
  // A failed try: skip the server for initial × 2^(failures in a row - 1),
  // capped at max, times the jitter factor picked by `unit` (in [0, 1)).
  void record_failure(SteadyTime now, const BackoffPolicy& policy, double unit);
  void record_success() noexcept { failures_in_a_row_ = 0; }
  bool backing_off(SteadyTime now) const noexcept {
    return failures_in_a_row_ > 0 && now < retry_at_;
  }
  SteadyTime retry_at() const noexcept { return retry_at_; }
  int failures_in_a_row() const noexcept { return failures_in_a_row_; }

 private:
  int failures_in_a_row_ = 0;
  SteadyTime retry_at_{};
};

inline void ServerHealth::record_failure(SteadyTime now, const BackoffPolicy& policy, double unit) {
  failures_in_a_row_ = std::min(failures_in_a_row_ + 1, 62);
  using Ms = std::chrono::duration<double, std::milli>;
  // Doubling past the cap is pointless (and would overflow): stop at 2^30.
  const int doublings = std::min(failures_in_a_row_ - 1, 30);
  const double base =
      std::min(static_cast<double>(policy.initial.count()) * static_cast<double>(1LL << doublings),
               static_cast<double>(policy.max.count()));
  const double factor = 1.0 - policy.jitter + 2.0 * policy.jitter * std::clamp(unit, 0.0, 1.0);
  retry_at_ = now + std::chrono::duration_cast<SteadyTime::duration>(Ms(base * factor));
}

}  // namespace katsubushi::client
