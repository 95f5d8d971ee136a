#include "lease/redis_lease_store.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "id/layout.hpp"
#include "lease/lease_options.hpp"

namespace katsubushi::lease {

RedisLeaseStore::RedisLeaseStore(const RedisUrl& url, std::string uuid,
                                 std::chrono::seconds expiry,
                                 std::chrono::milliseconds call_timeout, int wait_replicas)
    : url_(url),
      redis_(url_, call_timeout),
      keys_(redis_, std::move(uuid), expiry),
      wait_{wait_replicas, call_timeout / 2} {
  if (url_.cluster && !keys_.fence_shares_slot()) {
    throw LeaseError("worker id lease: namespace \"" + url_.ns + "\": " + keys_.hwm_key(1) +
                     " and " + keys_.id_key(1) +
                     " fall in different hash slots, so no script can check the one and fence "
                     "the other on a Redis Cluster; use a namespace without '{' and '}'");
  }
}

std::vector<bool> RedisLeaseStore::used_ids(std::chrono::milliseconds learn_time) {
  std::vector<bool> used(id::kMaxWorkerId + 1, false);
  if (learn_time.count() == 0) return used;
  const std::string channel = keys_.broadcast_channel();
  bool duplicate = false;
  std::size_t heard = 0;
  std::size_t ignored = 0;
  try {
    const bool whole = redis_.listen(channel, learn_time, [&](std::string_view payload) {
      const std::optional<RausPayload> p = parse_raus_payload(payload);
      if (!p) {
        ++ignored;
        return;
      }
      if (p->uuid == keys_.uuid()) duplicate = true;
      if (p->worker <= id::kMaxWorkerId && !used[p->worker]) {
        used[p->worker] = true;
        ++heard;
      }
    });
    if (!whole) spdlog::warn("listening on {} ended early; claiming with what was heard", channel);
  } catch (const RedisError& e) {
    spdlog::warn("cannot listen on {}: {}", channel, e.what());
  }
  if (duplicate) {
    // raus stops here too: two keepers with one uuid could not tell their keys apart.
    throw LeaseError("another process announces our uuid " + keys_.uuid() + " on " + channel);
  }
  if (ignored > 0) spdlog::warn("{}: ignored {} messages that are not uuid:N", channel, ignored);
  if (heard > 0) spdlog::info("{} worker ids announced in use on {}", heard, channel);
  return used;
}

FenceRaise RedisLeaseStore::hold_and_fence(std::uint32_t worker, std::int64_t mark) {
  const FenceHold r = keys_.hold_and_fence(worker, mark, wait_);
  FenceRaise out{r.hold, {}};
  if (r.hold == KeyHold::kept && r.replicas_acked < wait_.replicas) {
    // Raised on this node only: a failover to a replica without it would
    // hand the id to a holder that starts below our ceiling. It counts
    // once acknowledged (the next refresh raises it again).
    out.not_counted = "WAIT: " + std::to_string(r.replicas_acked) + " of " +
                      std::to_string(wait_.replicas) + " replicas acknowledged the fence in " +
                      std::to_string(wait_.timeout.count()) + " ms";
  }
  return out;
}

}  // namespace katsubushi::lease
