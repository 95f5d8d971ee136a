// -etcd on the real daemon, against etcd members the tests start on free
// loopback ports: two daemons on a range of two hold different ids and a
// third is refused; a SIGKILLed holder's id is taken over with every new id
// above its last; etcd stopped means SERVER_ERROR within one TTL and ids
// again when it returns; a member killed and the leader moved under load
// cost no error; a lease revoked by hand; TLS with a client certificate and
// user/password auth; the flag errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "id/layout.hpp"
#include "testing/daemon_process.hpp"
#include "testing/etcd_server.hpp"
#include "testing/loopback_client.hpp"

namespace katsubushi::testing {
namespace {

// Every id of `n` 50-key gets, in order; stops at the first reply that is
// not ids and says what it was in `refusal`.
std::vector<std::uint64_t> pull_ids(LoopbackClient& c, int n, std::string& refusal) {
  std::string keys = "get";
  for (int k = 0; k < 50; ++k) keys += " k" + std::to_string(k);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < n; ++i) {
    const auto r = request_ids(c, keys);
    if (!r) {
      const auto one = get_one_id(c);
      refusal = std::holds_alternative<std::string>(one) ? std::get<std::string>(one)
                                                         : "a get that was not 50 ids";
      return ids;
    }
    for (const auto& v : *r) ids.push_back(v.id);
  }
  return ids;
}

class DaemonEtcd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!etcd_available()) GTEST_SKIP() << "etcd is not installed";
  }
  // A single member of the test's own, started on first use.
  EtcdCluster* etcd_for_test() {
    if (!etcd_) etcd_ = std::make_unique<EtcdCluster>();
    return etcd_.get();
  }
  std::unique_ptr<EtcdCluster> etcd_;
};

TEST_F(DaemonEtcd, TwoDaemonsOnARangeOfTwoHoldDifferentIdsAndAThirdIsRefused) {
  EtcdCluster etcd;
  const std::vector<std::string> args = {"-etcd=" + etcd.endpoints(), "-min-worker-id=1",
                                         "-max-worker-id=2", "-lease-ttl=3s", "-threads=1"};
  DaemonProcess a;
  DaemonProcess b;
  ASSERT_TRUE(a.start_tcp(args)) << a.log();
  ASSERT_TRUE(b.start_tcp(args)) << b.log();
  LoopbackClient ca;
  LoopbackClient cb;
  ASSERT_TRUE(ca.connect_tcp("127.0.0.1", a.port()));
  ASSERT_TRUE(cb.connect_tcp("127.0.0.1", b.port()));
  const auto sa = query_stats(ca);
  const auto sb = query_stats(cb);
  EXPECT_EQ(sa.at("lease_state"), "held");
  EXPECT_EQ(sa.at("lease_store"), "etcd");
  const auto wa = stat_value(sa, "worker_id");
  const auto wb = stat_value(sb, "worker_id");
  EXPECT_TRUE((wa == 1 && wb == 2) || (wa == 2 && wb == 1)) << wa << " " << wb;
  // etcd keeps what it acknowledged: the id's first use issues at once.
  const auto ida = get_one_id(ca);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(ida)) << std::get<std::string>(ida);
  EXPECT_EQ(id::decode(std::get<std::uint64_t>(ida)).worker_id, static_cast<std::uint32_t>(wa));

  const auto r = run_command(daemon_binary(), {"-etcd=" + etcd.endpoints(), "-min-worker-id=1",
                                               "-max-worker-id=2", "-port=0"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("no free worker id in 1..2"), std::string::npos) << r.err;

  const auto status = a.stop(SIGTERM);
  ASSERT_TRUE(status && status->clean()) << a.log();
  EXPECT_FALSE(etcd.get("katsubushi/id/" + std::to_string(wa))) << "not given back";
  EXPECT_TRUE(etcd.get("katsubushi/hwm/" + std::to_string(wa)));
  EXPECT_EQ(etcd.get("katsubushi/id/" + std::to_string(wb)).has_value(), true);
}

// A holds id 9 with its clock `a_env` ahead, serves 10,000 ids and is
// SIGKILLed; once its key has gone with its lease, B (real clock, `b_env`)
// claims 9. A's last id, and B's first 1,000 ids.
struct Takeover {
  std::uint64_t a_last = 0;
  std::vector<std::uint64_t> b_ids;
  std::string b_log;
};
Takeover take_over(const EtcdCluster& etcd, const std::vector<std::string>& a_env,
                   const std::vector<std::string>& b_env) {
  Takeover out;
  const std::vector<std::string> args = {"-etcd=" + etcd.endpoints(), "-min-worker-id=9",
                                         "-max-worker-id=9", "-lease-ttl=2s", "-threads=1"};
  DaemonProcess a;
  EXPECT_TRUE(a.start_tcp(args, a_env)) << a.log();
  LoopbackClient ca;
  EXPECT_TRUE(ca.connect_tcp("127.0.0.1", a.port()));
  std::string refusal;
  const std::vector<std::uint64_t> before = pull_ids(ca, 200, refusal);
  EXPECT_EQ(before.size(), 200u * 50) << refusal;
  if (before.empty()) return out;
  out.a_last = *std::max_element(before.begin(), before.end());
  EXPECT_TRUE(a.stop(SIGKILL));
  // Its key goes with its lease, within the TTL.
  const auto gone_by = std::chrono::steady_clock::now() + 10s;
  while (etcd.get("katsubushi/id/9") && std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(etcd.get("katsubushi/id/9")) << "the killed holder's key outlived its lease";
  DaemonProcess b;
  EXPECT_TRUE(b.start_tcp(args, b_env)) << b.log();
  LoopbackClient cb;
  EXPECT_TRUE(cb.connect_tcp("127.0.0.1", b.port()));
  const auto first = first_id(cb, 15s);
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(first)) << std::get<std::string>(first);
  out.b_ids = pull_ids(cb, 20, refusal);
  EXPECT_EQ(out.b_ids.size(), 20u * 50) << refusal;
  out.b_log = b.log();
  return out;
}

TEST_F(DaemonEtcd, AKilledHoldersIdIsTakenOverWithEveryNewIdAboveItsLast) {
  // A's clock 4 s ahead (where libfaketime can be preloaded): only the
  // fence it raised keeps B, on the real clock, above A's last id.
  const auto ahead = kSanitized ? std::vector<std::string>{} : faketime_env("+4s");
  const Takeover t = take_over(*etcd_for_test(), ahead, {});
  ASSERT_FALSE(t.b_ids.empty());
  EXPECT_GT(*std::min_element(t.b_ids.begin(), t.b_ids.end()), t.a_last);
  EXPECT_NE(t.b_log.find("fenced above"), std::string::npos) << t.b_log;
}

TEST_F(DaemonEtcd, WithoutTheFenceTheSameTakeoverIssuesBelowTheOldHoldersLast) {
  if (kSanitized) GTEST_SKIP() << "a sanitizer runtime refuses a preloaded library";
  const auto ahead = faketime_env("+4s");
  if (ahead.empty()) GTEST_SKIP() << "libfaketime is not installed";
  const Takeover t = take_over(
      *etcd_for_test(), ahead,
      {"LD_PRELOAD=" KATSUBUSHI_FAULT_SHIM, "KATSUBUSHI_FAULT=no-fence"});
  ASSERT_FALSE(t.b_ids.empty());
  EXPECT_LT(*std::min_element(t.b_ids.begin(), t.b_ids.end()), t.a_last)
      << "the control did not collide: the test above proves nothing";
}

TEST_F(DaemonEtcd, EtcdStoppedMeansServerErrorWithinOneTtlAndIdsWhenItReturns) {
  EtcdCluster etcd;
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-etcd=" + etcd.endpoints(), "-lease-ttl=3s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(get_one_id(c)));
  const std::int64_t stopped_at = now_unix_ms();
  etcd.kill(0);
  std::string refusal;
  std::int64_t refused_at = 0;
  for (int i = 0; i < 800 && refusal.empty(); ++i) {
    const auto r = get_one_id(c);
    if (const auto* id_value = std::get_if<std::uint64_t>(&r)) {
      // Nothing past the lease's end (3 s less a quarter after the last
      // refresh, which came before etcd went).
      EXPECT_LT(id::decode(*id_value).timestamp_ms + id::kEpochUnixMs, stopped_at + 2250);
      std::this_thread::sleep_for(10ms);
    } else {
      refusal = std::get<std::string>(r);
      refused_at = now_unix_ms();
    }
  }
  EXPECT_EQ(refusal.rfind("SERVER_ERROR", 0), 0u) << refusal;
  EXPECT_LE(refused_at - stopped_at, 3000) << "ids went on past one TTL";
  EXPECT_EQ(query_stats(c).at("lease_state"), "lost");
  etcd.start(0);
  const auto again = first_id(c, 20s);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(again)) << std::get<std::string>(again)
                                                            << d.log();
  EXPECT_EQ(query_stats(c).at("lease_state"), "held");
  EXPECT_TRUE(d.running());
}

TEST_F(DaemonEtcd, AMemberKilledAndALeaderChangeUnderLoadCostNoError) {
  EtcdCluster etcd({.members = 3});
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-etcd=" + etcd.endpoints(), "-lease-ttl=8s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  std::atomic<bool> done{false};
  std::vector<std::uint64_t> ids;
  std::string refusal;
  std::thread load([&] {
    while (!done && refusal.empty()) {
      const auto got = pull_ids(c, 1, refusal);
      ids.insert(ids.end(), got.begin(), got.end());
      std::this_thread::sleep_for(2ms);
    }
  });
  const int leader = etcd.leader();
  ASSERT_GE(leader, 0);
  etcd.kill(leader);
  std::this_thread::sleep_for(3s);
  etcd.start(leader);
  etcd.move_leader(leader);
  std::this_thread::sleep_for(3s);
  const int other = (leader + 1) % 3;
  etcd.kill(other);
  std::this_thread::sleep_for(3s);
  done = true;
  load.join();
  EXPECT_TRUE(refusal.empty()) << refusal << "\n" << d.log();
  EXPECT_GT(ids.size(), 1000u);
  std::printf("%zu ids in 50-key gets across a leader killed, restarted and moved back, and "
              "another member killed\n",
              ids.size());
  EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), [](auto x, auto y) { return x >= y; }) ==
              ids.end())
      << "ids not rising on one connection";
  LoopbackClient s;
  ASSERT_TRUE(s.connect_tcp("127.0.0.1", d.port()));
  EXPECT_EQ(query_stats(s).at("lease_state"), "held");
  EXPECT_EQ(stat_value(query_stats(s), "lease_changes"), 0);
}

TEST_F(DaemonEtcd, ALeaseRevokedByHandStopsNothingForLongAndIdsStayAbove) {
  EtcdCluster etcd;
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-etcd=" + etcd.endpoints(), "-lease-ttl=3s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  std::string refusal;
  const auto before = pull_ids(c, 20, refusal);
  ASSERT_FALSE(before.empty()) << refusal;
  const std::string list = etcd.etcdctl({"lease", "list"});
  etcd.etcdctl({"lease", "revoke", list.substr(list.rfind('\n') + 1)});
  // The daemon notices at its next refresh, claims again on a new lease.
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (stat_value(query_stats(c), "lease_changes") < 1 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(stat_value(query_stats(c), "lease_changes"), 1) << d.log();
  const auto again = first_id(c, 10s);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(again)) << std::get<std::string>(again);
  EXPECT_GT(std::get<std::uint64_t>(again), before.back());
  EXPECT_NE(d.log().find("lease lost"), std::string::npos) << d.log();
}

// -worker-id-count 3 from etcd: three keys, each on a lease of its own. The
// lease of the id in use revoked by hand costs that id until it is claimed
// again; the others serve on meanwhile (no get refused), and ids keep
// increasing across both switches.
TEST_F(DaemonEtcd, OneLeaseRevokedAmongThreeLeavesTheOthersServing) {
  EtcdCluster etcd;
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp({"-etcd=" + etcd.endpoints(), "-worker-id-count=3", "-min-worker-id=3",
                           "-max-worker-id=5", "-lease-ttl=3s", "-threads=1"}))
      << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  const auto serving = [&] { return stat_value(query_stats(c), "worker_ids_serving"); };
  auto until = std::chrono::steady_clock::now() + 20s;
  while (serving() < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(serving(), 3) << d.log();
  for (const char* w : {"3", "4", "5"}) {
    EXPECT_TRUE(etcd.get(std::string("katsubushi/id/") + w)) << w;
  }
  std::string refusal;
  std::vector<std::uint64_t> ids = pull_ids(c, 20, refusal);
  ASSERT_FALSE(ids.empty()) << refusal;

  // The lease of worker id 3, the one the ids come from (a 50-key get
  // takes no millisecond's 4096): the ids must move on to 4.
  const std::string fields = etcd.etcdctl({"get", "katsubushi/id/3", "--write-out=fields"});
  const auto at = fields.find("\"Lease\" : ");
  ASSERT_NE(at, std::string::npos) << fields;
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", std::stoull(fields.substr(at + 10)));
  etcd.etcdctl({"lease", "revoke", hex});
  until = std::chrono::steady_clock::now() + 15s;
  while (stat_value(query_stats(c), "lease_changes") < 1 &&
         std::chrono::steady_clock::now() < until) {
    const auto more = pull_ids(c, 1, refusal);
    ASSERT_FALSE(more.empty()) << "a get refused while two leases held: " << refusal;
    ids.insert(ids.end(), more.begin(), more.end());
  }
  EXPECT_EQ(stat_value(query_stats(c), "lease_changes"), 1) << d.log();
  until = std::chrono::steady_clock::now() + 15s;
  while (serving() < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(serving(), 3) << "the revoked id was not claimed again\n" << d.log();
  const auto after = pull_ids(c, 20, refusal);
  ASSERT_FALSE(after.empty()) << refusal;
  ids.insert(ids.end(), after.begin(), after.end());
  std::set<std::uint32_t> workers;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) {
      ASSERT_GT(ids[i], ids[i - 1]) << "at " << i;
    }
    workers.insert(id::decode(ids[i]).worker_id);
  }
  EXPECT_TRUE(workers.contains(3) && workers.contains(4)) << "worker id 4 never served";
  EXPECT_FALSE(workers.contains(0) || workers.contains(6) || workers.contains(2));
  const auto status = d.stop(SIGTERM);
  ASSERT_TRUE(status && status->clean()) << d.log();
}

TEST_F(DaemonEtcd, TlsWithAClientCertificateAndUserAuth) {
  EtcdCluster etcd({.tls = true});
  ASSERT_NE(etcd.tls(), nullptr);
  etcd.enable_auth("kb", "kb-secret", "katsubushi/");
  TempDir dir;
  const std::string password_file = (dir.path() / "password").string();
  std::ofstream(password_file) << "kb-secret\n";
  const std::vector<std::string> tls = {"-etcd=" + etcd.endpoints(),
                                        "-etcd-cacert=" + etcd.tls()->ca,
                                        "-etcd-cert=" + etcd.tls()->client_cert,
                                        "-etcd-key=" + etcd.tls()->client_key, "-threads=1"};
  std::vector<std::string> args = tls;
  args.insert(args.end(), {"-etcd-user=kb", "-etcd-password-file=" + password_file});
  DaemonProcess d;
  ASSERT_TRUE(d.start_tcp(args)) << d.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", d.port()));
  EXPECT_EQ(query_stats(c).at("lease_state"), "held");
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(get_one_id(c)));

  // A wrong password, no client certificate: refused at start (exit 1).
  std::vector<std::string> wrong = tls;
  wrong.insert(wrong.end(), {"-etcd-user=kb:not-it", "-port=0"});
  auto r = run_command(daemon_binary(), wrong);
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  r = run_command(daemon_binary(), {"-etcd=" + etcd.endpoints(), "-etcd-cacert=" + etcd.tls()->ca,
                                    "-etcd-user=kb:kb-secret", "-port=0"});
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("etcd"), std::string::npos) << r.err;
}

TEST_F(DaemonEtcd, FlagErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"-etcd=http://127.0.0.1:1", "-redis=redis://127.0.0.1:1"},
      {"-etcd=ftp://127.0.0.1:1"},
      {"-etcd=http://127.0.0.1:1", "-etcd-cacert=/nonexistent"},
      {"-etcd=https://127.0.0.1:1", "-etcd-cacert=/nonexistent/ca.pem"},
      {"-etcd=https://127.0.0.1:1", "-etcd-cert=/etc/hostname"},
      {"-etcd=http://127.0.0.1:1", "-redis-wait-replicas=1"},
      {"-etcd=http://127.0.0.1:1", "-etcd-prefix="},
      {"-etcd=http://127.0.0.1:1", "-etcd-password-file=/etc/hostname"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> with_port = args;
    with_port.emplace_back("-port=0");
    const auto r = run_command(daemon_binary(), with_port);
    ASSERT_TRUE(r.status);
    EXPECT_EQ(r.status->code, 2) << args.front() << " " << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("-etcd"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace katsubushi::testing
