// The lease keeper with etcd as its store, against real etcd members the
// tests start on free loopback ports: claims, fences, a holder that lost its
// key, a lease revoked by hand, etcd gone past the lease and back, a member
// killed and the leader moved while a lease is held. Expiries are short
// (3 s) so losses happen within a test; the system clock is the lease clock.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "id/clock.hpp"
#include "id/layout.hpp"
#include "etcd/etcd_lease_store.hpp"
#include "lease/raus_keys.hpp"
#include "lease/lease_keeper.hpp"
#include "testing/etcd_server.hpp"
#include "testing/lease_recorder.hpp"

namespace katsubushi::lease {
namespace {

using namespace std::chrono_literals;
using testing::EtcdCluster;
using testing::eventually;
using testing::Recorder;

constexpr std::int64_t kExpiryMs = 3000;
constexpr std::int64_t kMarginMs = kExpiryMs / 4;

LeaseOptions options(std::uint32_t lo = 1, std::uint32_t hi = 1023) {
  LeaseOptions o;
  o.min_worker_id = lo;
  o.max_worker_id = hi;
  o.expiry = std::chrono::seconds(kExpiryMs / 1000);
  o.call_timeout = 300ms;
  o.learn_time = 0ms;
  o.max_backoff = 500ms;
  return o;
}

// A keeper over etcd, as the daemon makes it: an EtcdLeaseStore with the
// keeper's expiry and call timeout, keys under `prefix`.
class EtcdKeeper : public LeaseKeeper {
 public:
  EtcdKeeper(const EtcdCluster& etcd, const std::string& prefix, const LeaseOptions& o,
             id::Clock& clock, LeaseListener& listener)
      : LeaseKeeper(o,
                    std::make_unique<EtcdLeaseStore>(
                        etcd_options_from({.endpoints = etcd.endpoints()}), prefix,
                        random_uuid(), o.expiry, resolve_timing(o).call_timeout),
                    clock, listener) {}
};

std::optional<std::int64_t> fence_in(const EtcdCluster& etcd, const std::string& key) {
  const auto v = etcd.get(key);
  if (!v) return std::nullopt;
  return std::stoll(*v);
}

class EtcdLeaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::etcd_available()) etcd_ = new EtcdCluster();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }
  void SetUp() override {
    if (etcd_ == nullptr) GTEST_SKIP() << "etcd is not installed";
    // One prefix per test: the tests share the member.
    prefix_ = std::string("t/") + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
              "/";
  }
  EtcdCluster& etcd() { return *etcd_; }

  static EtcdCluster* etcd_;
  std::string prefix_;
  id::SystemClock clock_;
};

EtcdCluster* EtcdLeaseTest::etcd_ = nullptr;

TEST_F(EtcdLeaseTest, AClaimPutsTheKeyOnALeaseRaisesTheFenceAndAStopGivesItBack) {
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd(), prefix_, options(5, 5), clock_, rec);
  const std::int64_t before = clock_.now_unix_ms();
  EXPECT_EQ(keeper.claim_at_start(), 5u);
  EXPECT_EQ(etcd().get(prefix_ + "id/5"), keeper.uuid());
  ASSERT_EQ(rec.held().size(), 1u);
  // The id's first use in a store that keeps acknowledged writes: no wait.
  EXPECT_EQ(rec.held()[0].fence, -1);
  ASSERT_EQ(rec.hwm().size(), 1u);
  const auto fence = fence_in(etcd(), prefix_ + "hwm/5");
  ASSERT_TRUE(fence);
  EXPECT_EQ(*fence, rec.hwm()[0]);
  EXPECT_GE(*fence + id::kEpochUnixMs, before + kExpiryMs - kMarginMs);
  // The key lives on the keeper's lease.
  const std::string leases = etcd().etcdctl({"lease", "list"});
  EXPECT_NE(leases.find("found 1 leases"), std::string::npos) << leases;

  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 3; }, 10s));
  const std::int64_t last = rec.hwm().back() - 500;
  keeper.stop_and_release(last);
  EXPECT_FALSE(etcd().get(prefix_ + "id/5"));
  EXPECT_EQ(fence_in(etcd(), prefix_ + "hwm/5"), last);
  // The lease is revoked with it.
  EXPECT_NE(etcd().etcdctl({"lease", "list"}).find("found 0 leases"), std::string::npos);
}

TEST_F(EtcdLeaseTest, TwoKeepersOnARangeOfTwoHoldBothIdsAndAThirdIsRefused) {
  Recorder ra(clock_);
  Recorder rb(clock_);
  Recorder rc(clock_);
  EtcdKeeper a(etcd(), prefix_, options(1, 2), clock_, ra);
  EtcdKeeper b(etcd(), prefix_, options(1, 2), clock_, rb);
  EtcdKeeper c(etcd(), prefix_, options(1, 2), clock_, rc);
  const std::set<std::uint32_t> held = {a.claim_at_start(), b.claim_at_start()};
  EXPECT_EQ(held, (std::set<std::uint32_t>{1, 2}));
  try {
    c.claim_at_start();
    ADD_FAILURE() << "a third keeper claimed an id";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find("no free worker id in 1..2"), std::string::npos)
        << e.what();
  }
}

TEST_F(EtcdLeaseTest, ANewHolderStartsAboveTheFenceItFinds) {
  const std::int64_t ahead = clock_.now_unix_ms() - id::kEpochUnixMs + 60'000;
  etcd().put(prefix_ + "hwm/7", std::to_string(ahead));
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd(), prefix_, options(7, 7), clock_, rec);
  keeper.claim_at_start();
  ASSERT_EQ(rec.held().size(), 1u);
  EXPECT_EQ(rec.held()[0].fence, ahead);
  // Its own mark (the lease's end) is below the fence: the fence stays.
  EXPECT_EQ(fence_in(etcd(), prefix_ + "hwm/7"), ahead);
}

TEST_F(EtcdLeaseTest, AFenceThatIsNotAMarkIsRefusedAndTheIdLeftAlone) {
  etcd().put(prefix_ + "hwm/8", "soon");
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd(), prefix_, options(8, 8), clock_, rec);
  try {
    keeper.claim_at_start();
    ADD_FAILURE() << "claimed an id whose fence is not a mark";
  } catch (const LeaseError& e) {
    EXPECT_NE(std::string(e.what()).find(prefix_ + "hwm/8"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(etcd().get(prefix_ + "id/8")) << "the key was not given back";
}

TEST_F(EtcdLeaseTest, AHolderWhoseKeyWasTakenLosesTheLeaseAndCannotRaiseTheFence) {
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd(), prefix_, options(3, 3), clock_, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }, 10s));
  // Someone else's now (an operator's put, with no lease).
  etcd().put(prefix_ + "id/3", "someone-else");
  ASSERT_TRUE(eventually([&] { return !rec.losses().empty(); }, 10s));
  EXPECT_NE(rec.losses()[0].find("holds another uuid"), std::string::npos) << rec.losses()[0];
  const auto fence = fence_in(etcd(), prefix_ + "hwm/3");
  const std::size_t raised = rec.hwm().size();
  std::this_thread::sleep_for(1500ms);  // several refresh intervals
  EXPECT_EQ(fence_in(etcd(), prefix_ + "hwm/3"), fence) << "raised by a holder without the key";
  EXPECT_EQ(rec.hwm().size(), raised);
  EXPECT_EQ(etcd().get(prefix_ + "id/3"), "someone-else");
  EXPECT_EQ(keeper.stats().state, LeaseState::lost);
}

TEST_F(EtcdLeaseTest, ALeaseRevokedByHandIsLostThenTheIdIsClaimedAgainAboveItsFence) {
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd(), prefix_, options(4, 4), clock_, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }, 10s));
  const std::string list = etcd().etcdctl({"lease", "list"});
  // "found N leases" then one id (hex) per line; ours is the only one.
  const std::string id = list.substr(list.rfind('\n') + 1);
  etcd().etcdctl({"lease", "revoke", id});
  ASSERT_TRUE(eventually([&] { return !rec.losses().empty(); }, 10s));
  // Claimed again on a new lease, above the fence the old one raised: awaited
  // as the listener hears it (the keeper changes its stats first).
  ASSERT_TRUE(eventually(
      [&] {
        const auto h = rec.held();
        return keeper.stats().state == LeaseState::held && !h.empty() &&
               h.back().at >= rec.lost_at().at(0);
      },
      10s));
  const auto held = rec.held();
  EXPECT_GE(held.back().fence, rec.hwm().front());
  EXPECT_EQ(keeper.stats().lease_changes, 1u);
  EXPECT_EQ(etcd().get(prefix_ + "id/4"), keeper.uuid());
}

TEST_F(EtcdLeaseTest, OurKeyOnALeaseWeGaveUpOnMovesToOurNewLeaseAtTheNextClaim) {
  // Two stores with one uuid stand for one process before and after it gave
  // its lease up (etcd out of reach past the lease's end, then back with
  // the old lease still running).
  const EtcdOptions o = etcd_options_from({.endpoints = etcd().endpoints()});
  EtcdLeaseStore before(o, prefix_, "same-uuid", 3s, 300ms);
  EtcdLeaseStore after(o, prefix_, "same-uuid", 3s, 300ms);
  EtcdLeaseStore other(o, prefix_, "other-uuid", 3s, 300ms);
  ASSERT_TRUE(before.claim(1));
  EXPECT_FALSE(other.claim(1));
  ASSERT_TRUE(after.claim(1));
  EXPECT_NE(after.lease_id(), before.lease_id());
  EXPECT_EQ(after.extend(1), KeyHold::kept);
  // The old lease no longer carries the key: it can neither keep nor fence it.
  EXPECT_EQ(before.hold_and_fence(1, 100).hold, KeyHold::taken);
  EXPECT_FALSE(etcd().get(prefix_ + "hwm/1"));
  EXPECT_EQ(after.hold_and_fence(1, 100).hold, KeyHold::kept);
  EXPECT_EQ(fence_in(etcd(), prefix_ + "hwm/1"), 100);
  before.close();
  EXPECT_EQ(etcd().get(prefix_ + "id/1"), "same-uuid") << "went with the old lease";
  after.close();
  EXPECT_FALSE(etcd().get(prefix_ + "id/1"));
}

// A cluster of its own per test from here: members are killed.
class EtcdLeaseClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::etcd_available()) GTEST_SKIP() << "etcd is not installed";
  }
  id::SystemClock clock_;
};

TEST_F(EtcdLeaseClusterTest, EtcdGonePastTheLeaseLosesItThenTheSameIdIsHeldAgain) {
  EtcdCluster etcd;
  Recorder rec(clock_);
  EtcdKeeper keeper(etcd, "k/", options(6, 6), clock_, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }, 10s));
  const std::int64_t killed_at = clock_.now_unix_ms();
  etcd.kill(0);
  ASSERT_TRUE(eventually([&] { return !rec.losses().empty(); }, 10s));
  // Lost at the lease's end: after the last refresh before the kill, plus
  // expiry - margin; not long after.
  EXPECT_LE(rec.lost_at()[0], killed_at + kExpiryMs - kMarginMs + 1000);
  EXPECT_GT(keeper.stats().refresh_failures, 0u);
  etcd.start(0);
  ASSERT_TRUE(eventually([&] { return keeper.stats().state == LeaseState::held; }, 15s));
  EXPECT_EQ(keeper.stats().worker_id, 6u);
  // Every fence it raised after is above every one before.
  EXPECT_GE(*fence_in(etcd, "k/hwm/6"), rec.hwm().front());
}

TEST_F(EtcdLeaseClusterTest, AMemberKilledAndTheLeaderMovedCostNoFailedRefresh) {
  EtcdCluster etcd({.members = 3});
  Recorder rec(clock_);
  LeaseOptions o = options(2, 2);
  // Elections take up to a second here: calls may take that long.
  o.expiry = 8s;
  o.call_timeout = 1000ms;
  EtcdKeeper keeper(etcd, "k/", o, clock_, rec);
  keeper.claim_at_start();
  keeper.start();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= 2; }, 10s));
  const int leader = etcd.leader();
  ASSERT_GE(leader, 0);
  etcd.kill(leader);
  std::size_t seen = rec.hwm().size();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= seen + 3; }, 15s));
  etcd.start(leader);
  etcd.move_leader(leader);
  seen = rec.hwm().size();
  ASSERT_TRUE(eventually([&] { return rec.hwm().size() >= seen + 3; }, 15s));
  EXPECT_TRUE(rec.losses().empty()) << rec.losses().front();
  EXPECT_EQ(keeper.stats().state, LeaseState::held);
  // A refresh may fail while a new leader is elected; the lease never
  // comes near its end.
  const auto held = rec.held();
  for (std::size_t i = 1; i < held.size(); ++i) {
    EXPECT_LT(held[i].at, held[i - 1].valid_until);
  }
}

}  // namespace
}  // namespace katsubushi::lease
