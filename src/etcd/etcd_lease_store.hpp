// Worker-id leases in etcd (etcd_client.hpp), the LeaseStore steps as etcd
// transactions:
//   {prefix}id/{N}  = our uuid, attached to one etcd lease of ours (granted
//                     with the expiry, kept alive at every refresh): claimed
//                     in a transaction that puts it only if it is absent
//   {prefix}hwm/{N} = the holder's fence (a decimal mark, no lease), raised
//                     in a transaction that first compares the id key's
//                     value and lease with ours, so a holder that lost the
//                     key can never raise it
// etcd keeps what a quorum acknowledged: a claim that finds no fence is the
// id's first use, and starts at once. One lease carries every key of this
// process; a lease etcd no longer knows is granted again at the next claim.
// A layer of its own above src/lease (the daemon hands the keeper this store),
// so only the daemon and the lease tests build gRPC's etcd stubs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "etcd/etcd_client.hpp"
#include "lease/lease_store.hpp"

namespace katsubushi::lease {

// The -etcd flags as given.
struct EtcdFlags {
  std::string endpoints{};      // -etcd
  std::string cacert{};         // -etcd-cacert
  std::string cert{};           // -etcd-cert
  std::string key{};            // -etcd-key
  std::string user{};           // -etcd-user: name, or name:password
  std::string password_file{};  // -etcd-password-file
};

// The client's options from the flags: endpoints parsed, TLS files only with
// https:// endpoints, the password split from the user or read from its file
// (its first line). Throws EtcdConfigError naming the flag.
EtcdOptions etcd_options_from(const EtcdFlags& flags);

class EtcdLeaseStore final : public LeaseStore {
 public:
  // Throws EtcdConfigError for TLS files that cannot be read, LeaseError for
  // an empty prefix or no endpoint.
  EtcdLeaseStore(const EtcdOptions& options, std::string prefix, std::string uuid,
                 std::chrono::seconds expiry, std::chrono::milliseconds call_timeout);

  std::string_view kind() const noexcept override { return "etcd"; }
  const std::string& uuid() const noexcept override { return uuid_; }
  std::string describe() const override;
  std::string id_key(std::uint32_t worker) const override;
  std::string fence_key(std::uint32_t worker) const override;
  bool may_lose_acknowledged_writes() const override { return false; }
  // Every {prefix}id/N key present (learn_time is not needed: etcd lists them).
  std::vector<bool> used_ids(std::chrono::milliseconds learn_time) override;
  bool claim(std::uint32_t worker) override;
  KeyHold extend(std::uint32_t worker) override;
  FenceRead read_fence(std::uint32_t worker) override;
  FenceRaise hold_and_fence(std::uint32_t worker, std::int64_t mark) override;
  std::optional<std::int64_t> store_time_us() override { return std::nullopt; }
  void announce(std::uint32_t /*worker*/) override {}
  bool release(std::uint32_t worker, std::optional<std::int64_t> final_mark) override;
  // Revokes our lease: any key of ours left goes with it.
  void close() noexcept override;
  void disconnect() noexcept override;

  // The etcd lease our keys are attached to; 0 when none is held.
  std::int64_t lease_id() const noexcept { return lease_; }

 private:
  // Our lease, granted now if none is held.
  std::int64_t lease();
  // After a keep-alive: false (and the lease forgotten) when etcd no longer
  // knows it.
  bool keep_lease_alive();
  // Abandons the lease (revoked if etcd answers): after a claim that may or
  // may not have been applied, any key it put goes with it.
  void abandon_lease() noexcept;
  // What the id key holds, as a KeyHold against ours.
  KeyHold hold_of(const std::vector<EtcdKeyValue>& found) const;
  // The fence a new mark must not go below: the one read at the claim.
  std::int64_t floor_of(std::uint32_t worker) const;

  EtcdClient etcd_;
  const std::string prefix_;
  const std::string uuid_;
  const std::chrono::seconds expiry_;
  std::int64_t lease_ = 0;
  std::map<std::uint32_t, std::int64_t> fence_read_;  // worker -> fence read at its claim
};

}  // namespace katsubushi::lease
