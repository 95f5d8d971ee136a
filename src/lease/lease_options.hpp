// What a LeaseKeeper is given, its defaults (raus's where raus has one),
// and the timing it derives: checked before any Redis call is made.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "id/kernel_clock.hpp"

#include "lease/redis_url.hpp"

namespace katsubushi::lease {

// raus's constants, and ours. go-katsubushi sets raus.LockExpires to 600 s
// (raus's own default is 60 s); here the expiry also bounds how long a claim
// without a fence waits, so the daemon's -lease-ttl default is 30 s.
inline constexpr std::chrono::seconds kDefaultExpiry{30};
inline constexpr std::chrono::milliseconds kRausHoldInterval{1000};      // raus's ticker
inline constexpr std::chrono::milliseconds kRausSubscribeTimeout{3000};  // raus.SubscribeTimeout
inline constexpr std::size_t kRausMaxCandidates = 10;                    // raus.MaxCandidate
// Beyond raus.
inline constexpr int kMarginDivisor = 4;         // margin = expiry / 4
inline constexpr int kRefreshesPerExpiry = 3;    // refresh at least 3 times an expiry
inline constexpr int kCallTimeoutPerMargin = 2;  // call timeout <= margin / 2
inline constexpr std::chrono::milliseconds kDefaultCallTimeout{1000};
inline constexpr std::chrono::milliseconds kDefaultMaxBackoff{5000};
// -max-clock-skew: how far the daemon's clock may be from the store's (and
// the kernel's error bound may reach) while ids are issued.
inline constexpr std::chrono::milliseconds kDefaultMaxClockSkew{1000};

struct LeaseOptions {
  // Redis, unless the keeper is handed a store of another kind.
  RedisUrl url{};
  std::uint32_t min_worker_id = 1;
  std::uint32_t max_worker_id = 1023;
  // The key's expiry (Redis's SET EX / EXPIRE; etcd's lease TTL), whole seconds.
  std::chrono::seconds expiry = kDefaultExpiry;
  // Every store call's timeout. 0: min(1 s, margin / 2). At most margin / 2.
  std::chrono::milliseconds call_timeout{0};
  // 0: min(1 s, expiry / 3), raus's one second unless the expiry is short.
  std::chrono::milliseconds refresh_interval{0};
  // valid_until = start of the last successful refresh + expiry - margin.
  // 0: expiry / 4.
  std::chrono::milliseconds margin{0};
  // How long to listen on {ns}:broadcast before the first claim; 0 skips it
  // (as raus with SubscribeTimeout <= 0).
  std::chrono::milliseconds learn_time = kRausSubscribeTimeout;
  // The longest wait between attempts while no lease is held.
  std::chrono::milliseconds max_backoff = kDefaultMaxBackoff;
  // Seeds the candidate order; nullopt: std::random_device.
  std::optional<std::uint64_t> seed{};
  // The value stored in {ns}:id:{N}; empty: a random (version 4) uuid.
  std::string uuid{};
  // Ids are issued only while our clock is within this of the store's
  // (Redis's TIME, at every claim and refresh) and, when the kernel says it is
  // synchronised, its error bound is within it too. Every daemon of a fleet
  // being within it of the store, two are within twice it of each other:
  // what a claim that finds no fence adds to its wait.
  std::chrono::milliseconds max_clock_skew = kDefaultMaxClockSkew;
  // A fence raise counts (extends what may be issued) only once this many
  // replicas acknowledged it (WAIT, within half the call timeout); 0: none
  // asked. Set it to the number of replicas when a failover may promote one.
  // Redis only (LeaseKeeper refuses it with another store).
  int wait_replicas = 0;
  // The kernel's clock health; empty: id::read_kernel_clock.
  id::KernelClockSource kernel_clock{};
};

// Options that cannot work, no free id in the range, or Redis unreachable at
// start; the message names the option, the range or the address.
class LeaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The zeros of LeaseOptions resolved.
struct LeaseTiming {
  std::chrono::milliseconds margin;
  std::chrono::milliseconds refresh_interval;
  std::chrono::milliseconds call_timeout;
};
LeaseTiming resolve_timing(const LeaseOptions& o) noexcept;

// Throws LeaseError naming the option when `o` (with its timing, and the
// uuid in use) cannot work.
// How long a claim that finds no fence waits before its first id: any
// earlier holder's lease ends at most expiry - margin after it was last
// proven, on a clock at most 2 * max_clock_skew from ours.
std::chrono::milliseconds unfenced_claim_wait(const LeaseOptions& o, const LeaseTiming& t);

void check_lease_options(const LeaseOptions& o, const LeaseTiming& t, std::string_view uuid);

// "1..1023": the worker ids `o` may take.
std::string worker_range_text(const LeaseOptions& o);

}  // namespace katsubushi::lease
