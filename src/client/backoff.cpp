#include "client/backoff.hpp"

#include <algorithm>

namespace katsubushi::client {

void ServerHealth::record_failure(SteadyTime now, const BackoffPolicy& policy, double unit) {
  failures_in_a_row_ = std::min(failures_in_a_row_ + 1, 62);
  using Ms = std::chrono::duration<double, std::milli>;
  // Doubling past the cap is pointless (and would overflow): stop at 2^30.
  const int doublings = std::min(failures_in_a_row_ - 1, 30);
  const double base = std::min(static_cast<double>(policy.initial.count()) *
                                   static_cast<double>(1LL << doublings),
                               static_cast<double>(policy.max.count()));
  const double factor = 1.0 - policy.jitter + 2.0 * policy.jitter * std::clamp(unit, 0.0, 1.0);
  retry_at_ = now + std::chrono::duration_cast<SteadyTime::duration>(Ms(base * factor));
}

}  // namespace katsubushi::client
