#include "lease/lease_options.hpp"

#include <algorithm>

#include "id/layout.hpp"

namespace katsubushi::lease {

namespace {

using std::chrono::milliseconds;

milliseconds resolved_margin(const LeaseOptions& o) {
  if (o.margin.count() > 0) return o.margin;
  return std::chrono::duration_cast<milliseconds>(o.expiry) / kMarginDivisor;
}

milliseconds resolved_refresh(const LeaseOptions& o) {
  if (o.refresh_interval.count() > 0) return o.refresh_interval;
  return std::min<milliseconds>(
      kRausHoldInterval, std::chrono::duration_cast<milliseconds>(o.expiry) / kRefreshesPerExpiry);
}

milliseconds resolved_call_timeout(const LeaseOptions& o, milliseconds margin) {
  if (o.call_timeout.count() > 0) return o.call_timeout;
  return std::max(milliseconds(1), std::min(kDefaultCallTimeout, margin / kCallTimeoutPerMargin));
}

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

LeaseTiming resolve_timing(const LeaseOptions& o) noexcept {
  const milliseconds margin = resolved_margin(o);
  return {margin, resolved_refresh(o), resolved_call_timeout(o, margin)};
}

void check_lease_options(const LeaseOptions& o, const LeaseTiming& t, std::string_view uuid) {
  const auto bad = [](const std::string& why) { throw LeaseError("worker id lease: " + why); };
  if (o.min_worker_id < 1 || o.min_worker_id > o.max_worker_id ||
      o.max_worker_id > id::kMaxWorkerId) {
    bad("want 1 <= -min-worker-id <= -max-worker-id <= " + std::to_string(id::kMaxWorkerId) +
        ", not " + worker_range_text(o));
  }
  const auto expiry = std::chrono::duration_cast<milliseconds>(o.expiry);
  if (o.expiry.count() < 1) bad("the expiry must be at least 1 s");
  if (t.margin >= expiry) {
    bad("the margin (" + ms_text(t.margin) + ") must be under the expiry (" + ms_text(expiry) +
        ")");
  }
  if (t.refresh_interval >= expiry - t.margin) {
    bad("the refresh interval (" + ms_text(t.refresh_interval) +
        ") must be under expiry - margin (" + ms_text(expiry - t.margin) + ")");
  }
  if (t.call_timeout > t.margin / kCallTimeoutPerMargin) {
    bad("the call timeout (" + ms_text(t.call_timeout) + ") must be at most half the margin (" +
        ms_text(t.margin) + ")");
  }
  if (o.learn_time.count() < 0) bad("the learn time cannot be negative");
  if (o.max_clock_skew.count() < 1) bad("the largest clock skew must be at least 1 ms");
  if (o.wait_replicas < 0) bad("the replicas to wait for cannot be negative");
  if (o.max_backoff.count() <= 0) bad("the longest backoff must be positive");
  if (uuid.find(':') != std::string_view::npos)
    bad("a uuid cannot hold ':' (raus's payload is uuid:N)");
}

milliseconds unfenced_claim_wait(const LeaseOptions& o, const LeaseTiming& t) {
  return std::chrono::duration_cast<milliseconds>(o.expiry) - t.margin + 2 * o.max_clock_skew;
}

std::string worker_range_text(const LeaseOptions& o) {
  return std::to_string(o.min_worker_id) + ".." + std::to_string(o.max_worker_id);
}

}  // namespace katsubushi::lease
