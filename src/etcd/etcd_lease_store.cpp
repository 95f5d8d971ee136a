#include "etcd/etcd_lease_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <utility>

#include "id/layout.hpp"
#include "lease/lease_options.hpp"

namespace katsubushi::lease {

namespace {

// How much of a bad fence value an error message quotes.
constexpr std::size_t kQuotedValueBytes = 40;

}  // namespace

EtcdOptions etcd_options_from(const EtcdFlags& flags) {
  EtcdOptions o;
  try {
    o.endpoints = parse_etcd_endpoints(flags.endpoints);
  } catch (const EtcdConfigError& e) {
    throw EtcdConfigError(std::string("flag -etcd: ") + e.what());
  }
  const bool tls = o.endpoints.front().tls;
  for (const auto& [flag, value] : {std::pair{"-etcd-cacert", &flags.cacert},
                                    std::pair{"-etcd-cert", &flags.cert},
                                    std::pair{"-etcd-key", &flags.key}}) {
    if (!value->empty() && !tls) {
      throw EtcdConfigError(std::string("flag ") + flag +
                            ": only with https:// endpoints in -etcd (these are http://)");
    }
    if (!value->empty() && !std::ifstream(*value)) {
      throw EtcdConfigError(std::string("flag ") + flag + ": cannot read " + *value);
    }
  }
  if (flags.cert.empty() != flags.key.empty()) {
    throw EtcdConfigError("flags -etcd-cert and -etcd-key: give both or neither");
  }
  o.ca_file = flags.cacert;
  o.cert_file = flags.cert;
  o.key_file = flags.key;
  const std::size_t colon = flags.user.find(':');
  o.user = flags.user.substr(0, colon);
  if (colon != std::string::npos) o.password = flags.user.substr(colon + 1);
  if (!flags.user.empty() && o.user.empty()) {
    throw EtcdConfigError("flag -etcd-user: the user name is empty");
  }
  if (!flags.password_file.empty()) {
    if (o.user.empty()) throw EtcdConfigError("flag -etcd-password-file: needs -etcd-user");
    std::ifstream in(flags.password_file);
    if (!in || !std::getline(in, o.password)) {
      throw EtcdConfigError("flag -etcd-password-file: cannot read " + flags.password_file);
    }
    if (!o.password.empty() && o.password.back() == '\r') o.password.pop_back();
  }
  return o;
}

EtcdLeaseStore::EtcdLeaseStore(const EtcdOptions& options, std::string prefix, std::string uuid,
                               std::chrono::seconds expiry,
                               std::chrono::milliseconds call_timeout)
    : etcd_(options, call_timeout),
      prefix_(std::move(prefix)),
      uuid_(std::move(uuid)),
      expiry_(expiry) {
  if (options.endpoints.empty()) throw LeaseError("worker id lease: no etcd endpoint given");
  if (prefix_.empty()) throw LeaseError("worker id lease: the etcd key prefix cannot be empty");
}

std::string EtcdLeaseStore::describe() const {
  return "etcd " + etcd_.endpoints_text() + " (prefix " + prefix_ + ")";
}

std::string EtcdLeaseStore::id_key(std::uint32_t worker) const {
  return prefix_ + "id/" + std::to_string(worker);
}

std::string EtcdLeaseStore::fence_key(std::uint32_t worker) const {
  return prefix_ + "hwm/" + std::to_string(worker);
}

std::int64_t EtcdLeaseStore::lease() {
  if (lease_ == 0) {
    lease_ = etcd_.grant(expiry_);
    spdlog::info("etcd lease {:x} granted for {} s", lease_, expiry_.count());
  }
  return lease_;
}

bool EtcdLeaseStore::keep_lease_alive() {
  if (lease_ == 0) return false;
  if (etcd_.keep_alive(lease_) > 0) return true;
  spdlog::warn("etcd lease {:x} has ended (expired or revoked): its keys are gone", lease_);
  lease_ = 0;
  return false;
}

void EtcdLeaseStore::abandon_lease() noexcept {
  if (lease_ == 0) return;
  const std::int64_t abandoned = std::exchange(lease_, 0);
  try {
    etcd_.revoke(abandoned);
  } catch (const std::exception& e) {
    // Nobody keeps it alive any more: it ends within the expiry by itself.
    spdlog::warn("etcd lease {:x} not revoked ({}); it expires by itself", abandoned, e.what());
  }
}

KeyHold EtcdLeaseStore::hold_of(const std::vector<EtcdKeyValue>& found) const {
  if (found.empty()) return KeyHold::gone;
  const EtcdKeyValue& kv = found.front();
  return kv.value == uuid_ && lease_ != 0 && kv.lease == lease_ ? KeyHold::kept : KeyHold::taken;
}

std::int64_t EtcdLeaseStore::floor_of(std::uint32_t worker) const {
  const auto it = fence_read_.find(worker);
  return it == fence_read_.end() ? -1 : it->second;
}

std::vector<bool> EtcdLeaseStore::used_ids(std::chrono::milliseconds /*learn_time*/) {
  std::vector<bool> used(id::kMaxWorkerId + 1, false);
  const std::string under = prefix_ + "id/";
  try {
    std::size_t held = 0;
    for (const EtcdKeyValue& kv : etcd_.get(under, /*prefix=*/true, /*keys_only=*/true)) {
      std::uint32_t worker = 0;
      const char* first = kv.key.data() + under.size();
      const char* last = kv.key.data() + kv.key.size();
      const auto [end, ec] = std::from_chars(first, last, worker);
      if (ec == std::errc{} && end == last && worker <= id::kMaxWorkerId) {
        used[worker] = true;
        ++held;
      }
    }
    if (held > 0) spdlog::info("{} worker ids held in {}", held, describe());
  } catch (const StoreError& e) {
    spdlog::warn("cannot list the worker ids held under {}: {}", under, e.what());
  }
  return used;
}

bool EtcdLeaseStore::claim(std::uint32_t worker) {
  const std::string key = id_key(worker);
  try {
    const std::int64_t ours = lease();
    const EtcdTxnResult r = etcd_.txn({EtcdCompare::absent(key)}, {EtcdOp::put(key, uuid_, ours)},
                                      {EtcdOp::get(key)});
    if (r.succeeded) return true;
    if (r.gets.empty() || r.gets.front().empty()) return false;  // gone meanwhile: next time
    const EtcdKeyValue& kv = r.gets.front().front();
    // Ours already: an earlier attempt of this claim was applied after all.
    if (hold_of(r.gets.front()) == KeyHold::kept) return true;
    if (kv.value != uuid_) return false;
    // Our uuid on a lease we gave up on (etcd was out of reach past the
    // lease's end, and kept it, or restored it when it came back): nobody
    // else has held the id since, so the key moves to our lease now instead
    // of the id waiting for the old lease to run out. Only if it is still
    // that very key.
    EtcdCompare same;
    same.key = key;
    same.target = EtcdCompare::Target::mod_revision;
    same.number = kv.mod_revision;
    return etcd_.txn({same}, {EtcdOp::put(key, uuid_, ours)}, {}).succeeded;
  } catch (const StoreError&) {
    // The put may have been applied without our hearing of it: the lease
    // goes, and any key it carries with it, rather than hold an id unseen.
    abandon_lease();
    throw;
  }
}

KeyHold EtcdLeaseStore::extend(std::uint32_t worker) {
  if (!keep_lease_alive()) return KeyHold::gone;
  return hold_of(etcd_.get(id_key(worker)));
}

FenceRead EtcdLeaseStore::read_fence(std::uint32_t worker) {
  const std::string key = fence_key(worker);
  FenceRead out;
  const std::vector<EtcdKeyValue> found = etcd_.get(key);
  if (!found.empty()) {
    const std::string& v = found.front().value;
    std::int64_t fence = -1;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), fence);
    if (ec != std::errc{} || end != v.data() + v.size() || fence < 0) {
      throw UnfenceableId(key + " holds \"" + v.substr(0, kQuotedValueBytes) +
                          "\", not a mark (ms since 2015-01-01): worker id " +
                          std::to_string(worker) + " cannot be fenced; fix or delete that key");
    }
    out.fence = fence;
  }
  fence_read_[worker] = out.fence;
  return out;
}

FenceRaise EtcdLeaseStore::hold_and_fence(std::uint32_t worker, std::int64_t mark) {
  if (!keep_lease_alive()) return {KeyHold::gone, {}};
  const std::string key = id_key(worker);
  // Only raised: a holder whose clock is behind the last one's writes no
  // mark below the fence it found.
  const std::int64_t fence = std::max(mark, floor_of(worker));
  const EtcdTxnResult r = etcd_.txn(
      {EtcdCompare::value_is(key, uuid_), EtcdCompare::lease_is(key, lease_)},
      {EtcdOp::put(fence_key(worker), std::to_string(fence))}, {EtcdOp::get(key)});
  if (r.succeeded) return {KeyHold::kept, {}};
  return {r.gets.empty() ? KeyHold::gone : hold_of(r.gets.front()), {}};
}

bool EtcdLeaseStore::release(std::uint32_t worker, std::optional<std::int64_t> final_mark) {
  if (lease_ == 0) return false;  // the lease ended, and every key of ours with it
  const std::string key = id_key(worker);
  std::vector<EtcdOp> ops = {EtcdOp::erase(key)};
  if (final_mark) {
    ops.push_back(
        EtcdOp::put(fence_key(worker), std::to_string(std::max(*final_mark, floor_of(worker)))));
  }
  const EtcdTxnResult r = etcd_.txn(
      {EtcdCompare::value_is(key, uuid_), EtcdCompare::lease_is(key, lease_)}, ops,
      {EtcdOp::get(key)});
  if (r.succeeded) fence_read_.erase(worker);
  // A retried attempt may find the key already deleted by the first one.
  return r.succeeded || (final_mark == std::nullopt && !r.gets.empty() && r.gets.front().empty());
}

void EtcdLeaseStore::close() noexcept { abandon_lease(); }

void EtcdLeaseStore::disconnect() noexcept {
  try {
    etcd_.disconnect();
  } catch (const std::exception& e) {
    spdlog::warn("etcd: dropping the connections: {}", e.what());
  }
}

}  // namespace katsubushi::lease
