// Which server to ask, and what to do when it fails: the servers in list
// order, skipping those backing off; each asked up to `tries_per_server`
// times (go-katsubushi's two) before the next; a server that fails starts
// (or extends) its backoff. When every server not backing off has failed,
// or every server is backing off, the ones backing off are asked too, whose
// backoff ends first first, rather than failing while the deadline allows;
// when a whole pass fails, the next starts once the first backoff ends,
// until the deadline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "client/backoff.hpp"
#include "client/clock.hpp"
#include "client/transport.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {

struct FailoverOptions {
  int tries_per_server = 2;
  std::chrono::milliseconds try_timeout{1000};
  std::chrono::milliseconds max_future_skew{5000};
  BackoffPolicy backoff;
};

struct NamedTransport {
  std::string name;
  std::unique_ptr<Transport> transport;
};

struct BatchOutcome {
  std::vector<std::uint64_t> ids;       // checked; empty on failure
  std::vector<ServerFailure> failures;  // the last failure of each server asked, list order
  std::uint64_t failed_tries = 0;
  std::uint64_t refused_ids = 0;  // ids received that failed the check
};

class Failover {
 public:
  Failover(std::vector<NamedTransport> servers, FailoverOptions options, const Clock& clock);

  // `n` (1..kMaxIdsPerRequest) checked ids from one server, before `deadline`.
  // Thread-safe; no lock is held during network I/O.
  BatchOutcome fetch(std::size_t n, SteadyTime deadline);

  std::size_t size() const noexcept { return servers_.size(); }
  const std::string& name(std::size_t i) const { return servers_[i].name; }
  // Whether server i is being skipped now (for tests and stats).
  bool backing_off(std::size_t i) const;

 private:
  // The order of one pass: servers not backing off in list order, then the
  // others by when their backoff ends.
  std::vector<std::size_t> plan(SteadyTime now) const;
  // Asks server i up to tries_per_server times; true when `out` got its ids.
  bool ask(std::size_t i, std::size_t n, SteadyTime deadline, BatchOutcome& out,
           std::vector<std::string>& last_reason);
  // The earliest end of a backoff, or `deadline`.
  SteadyTime next_retry(SteadyTime deadline) const;

  std::vector<NamedTransport> servers_;
  FailoverOptions options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::vector<ServerHealth> health_;  // guarded by mutex_
  std::minstd_rand jitter_rng_;       // guarded by mutex_
};

}  // namespace katsubushi::client
