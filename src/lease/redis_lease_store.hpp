// Worker-id leases in Redis, in raus's key scheme (raus_keys.hpp): the
// LeaseStore steps over one RedisClient. Redis acknowledges writes it can
// lose, so a claim that finds no fence waits (LeaseKeeper::took), and with
// `wait_replicas` a fence counts only once that many replicas have it.
#pragma once

#include <chrono>
#include <string>

#include "lease/lease_store.hpp"
#include "lease/raus_keys.hpp"
#include "lease/redis_client.hpp"
#include "lease/redis_url.hpp"

namespace katsubushi::lease {

class RedisLeaseStore final : public LeaseStore {
 public:
  // Throws LeaseError when a Redis Cluster namespace cannot keep an id key
  // and its fence in one hash slot.
  RedisLeaseStore(const RedisUrl& url, std::string uuid, std::chrono::seconds expiry,
                  std::chrono::milliseconds call_timeout, int wait_replicas);

  std::string_view kind() const noexcept override { return "redis"; }
  const std::string& uuid() const noexcept override { return keys_.uuid(); }
  std::string describe() const override { return url_.redacted(); }
  std::string id_key(std::uint32_t worker) const override { return keys_.id_key(worker); }
  std::string fence_key(std::uint32_t worker) const override { return keys_.hwm_key(worker); }
  bool may_lose_acknowledged_writes() const override { return true; }
  std::vector<bool> used_ids(std::chrono::milliseconds learn_time) override;
  bool claim(std::uint32_t worker) override { return keys_.claim(worker); }
  KeyHold extend(std::uint32_t worker) override { return keys_.extend(worker); }
  FenceRead read_fence(std::uint32_t worker) override { return keys_.read_fence(worker); }
  FenceRaise hold_and_fence(std::uint32_t worker, std::int64_t mark) override;
  std::optional<std::int64_t> store_time_us() override { return keys_.store_time_us(); }
  void announce(std::uint32_t worker) override { keys_.announce(worker); }
  bool release(std::uint32_t worker, std::optional<std::int64_t> final_mark) override {
    return keys_.release(worker, final_mark);
  }
  void close() noexcept override {}
  void disconnect() noexcept override { redis_.disconnect(); }

 private:
  const RedisUrl url_;
  RedisClient redis_;
  RausKeys keys_;  // over redis_
  const ReplicaWait wait_;
};

}  // namespace katsubushi::lease
