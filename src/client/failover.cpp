#include "client/failover.hpp"

#include <algorithm>

#include "client/id_check.hpp"

namespace katsubushi::client {

Failover::Failover(std::vector<NamedTransport> servers, FailoverOptions options, const Clock& clock)
    : servers_(std::move(servers)),
      options_(options),
      clock_(clock),
      health_(servers_.size()),
      jitter_rng_(std::random_device{}()) {}

bool Failover::backing_off(std::size_t i) const {
  const std::lock_guard lock(mutex_);
  return health_[i].backing_off(clock_.now());
}

std::vector<std::size_t> Failover::plan(SteadyTime now) const {
  std::vector<std::size_t> ready;
  std::vector<std::size_t> waiting;
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < health_.size(); ++i) {
    (health_[i].backing_off(now) ? waiting : ready).push_back(i);
  }
  std::stable_sort(waiting.begin(), waiting.end(), [&](std::size_t a, std::size_t b) {
    return health_[a].retry_at() < health_[b].retry_at();
  });
  ready.insert(ready.end(), waiting.begin(), waiting.end());
  return ready;
}

SteadyTime Failover::next_retry(SteadyTime deadline) const {
  SteadyTime soonest = deadline;
  const std::lock_guard lock(mutex_);
  for (const auto& h : health_) {
    if (h.failures_in_a_row() > 0) soonest = std::min(soonest, h.retry_at());
  }
  return soonest;
}

bool Failover::ask(std::size_t i, std::size_t n, SteadyTime deadline, BatchOutcome& out,
                   std::vector<std::string>& last_reason) {
  auto& transport = *servers_[i].transport;
  bool failed = false;
  for (int attempt = 0; attempt < options_.tries_per_server; ++attempt) {
    const auto now = clock_.now();
    if (now >= deadline) break;
    std::vector<std::uint64_t> ids;
    ids.reserve(n);
    Fault fault = transport.fetch(n, std::min(deadline, now + options_.try_timeout), ids);
    if (!fault) {
      if (auto why = check_ids(ids, n, clock_.unix_ms(), options_.max_future_skew); !why.empty()) {
        out.refused_ids += ids.size();
        const auto code = ids.size() == n ? TryErrc::bad_id : TryErrc::wrong_count;
        fault = {code, std::move(why)};
      }
    }
    if (!fault) {
      {
        const std::lock_guard lock(mutex_);
        health_[i].record_success();
      }
      out.ids = std::move(ids);
      return true;
    }
    ++out.failed_tries;
    failed = true;
    last_reason[i] = fault.describe();
    // A connection kept from before is likely dead too (a restarted server):
    // the next try connects anew.
    transport.drop_idle();
  }
  if (failed) {
    const std::lock_guard lock(mutex_);
    const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_rng_);
    health_[i].record_failure(clock_.now(), options_.backoff, unit);
  }
  return false;
}

BatchOutcome Failover::fetch(std::size_t n, SteadyTime deadline) {
  BatchOutcome out;
  std::vector<std::string> last_reason(servers_.size());
  for (;;) {
    for (const std::size_t i : plan(clock_.now())) {
      if (clock_.now() >= deadline) break;
      if (ask(i, n, deadline, out, last_reason)) return out;
    }
    // Every server failed in this pass: wait for the first backoff to end.
    const auto now = clock_.now();
    if (now >= deadline) break;
    const auto resume = std::max(next_retry(deadline), now + std::chrono::milliseconds(1));
    clock_.sleep_until(std::min(resume, deadline));
  }
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    out.failures.push_back({servers_[i].name, last_reason[i].empty()
                                                  ? "not asked before the deadline"
                                                  : last_reason[i]});
  }
  return out;
}

}  // namespace katsubushi::client
