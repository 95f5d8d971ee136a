// grpc:// through katsubushi::client_grpc: against real daemons on their
// -grpc-port (ids, one connection kept, failover while one is SIGKILLed and
// restarted), a listener that never answers (the deadline), and fake gRPC
// servers on unix sockets (grpc+unix:, and answers the client must refuse).
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <set>
#include <thread>

#include "id/layout.hpp"
#include "katsubushi.grpc.pb.h"
#include "katsubushi/client.hpp"
#include "katsubushi/client_grpc.hpp"
#include "testing/client_checks.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

namespace kc = katsubushi::client;

std::string grpc_at(std::uint16_t port) { return "grpc://127.0.0.1:" + std::to_string(port); }

struct GrpcDaemon {
  DaemonProcess daemon;
  std::uint16_t grpc_port = 0;

  bool start(std::uint32_t worker_id) {
    if (grpc_port == 0) grpc_port = free_tcp_port();
    return daemon.start_tcp({"-worker-id=" + std::to_string(worker_id), "-threads=1",
                             "-grpc-port=" + std::to_string(grpc_port)});
  }
  std::uint64_t total_connections() const {
    LoopbackClient c;
    if (!c.connect_tcp("127.0.0.1", daemon.port())) return 0;
    return std::stoull(query_stats(c)["total_connections"]);
  }
};

TEST(ClientGrpcDaemon, FetchAndFetchMultiOverOneKeptConnection) {
  kc::enable_grpc();
  GrpcDaemon d;
  ASSERT_TRUE(d.start(81)) << d.daemon.log();
  const auto before = d.total_connections();
  kc::Client client(grpc_at(d.grpc_port));
  EXPECT_EQ(client.servers(), std::vector<std::string>{grpc_at(d.grpc_port)});
  expect_ids_of({client.fetch()}, 1, 81);
  expect_ids_of(client.fetch_multi(1500), 1500, 81);  // FetchMulti 1000, then 500
  expect_ids_of(client.fetch_multi(2), 2, 81);
  for (int i = 0; i < 20; ++i) expect_ids_of({client.fetch()}, 1, 81);
  // One gRPC connection for all of it, and the stats connection asking.
  EXPECT_EQ(d.total_connections() - before, 2u);
  EXPECT_EQ(client.stats().server_failures, 0u);
}

TEST(ClientGrpcDaemon, FailsOverFromAKilledGrpcServerAndGoesBackAfterItsRestart) {
  kc::enable_grpc();
  GrpcDaemon a;
  GrpcDaemon b;
  ASSERT_TRUE(a.start(82)) << a.daemon.log();
  ASSERT_TRUE(b.start(83)) << b.daemon.log();
  kc::Options options;
  options.backoff_initial = std::chrono::milliseconds(20);
  options.backoff_max = std::chrono::milliseconds(100);
  kc::Client client(grpc_at(a.grpc_port) + "," + grpc_at(b.grpc_port), options);
  std::set<std::uint64_t> seen;
  EXPECT_EQ(fetch_worker(client, seen), 82u);
  ASSERT_TRUE(a.daemon.stop(SIGKILL));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(fetch_worker(client, seen), 83u);
  EXPECT_GT(client.stats().server_failures, 0u);
  ASSERT_TRUE(a.start(82)) << a.daemon.log();  // on the same gRPC port
  EXPECT_TRUE(fetch_until_worker(client, seen, 82u))
      << "the restarted first server was not asked again";
}

// A loopback listener whose connections the kernel accepts and nobody reads.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(ClientGrpcDaemon, AServerThatNeverAnswersTimesOutWithinTheDeadline) {
  kc::enable_grpc();
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  kc::Options options;
  options.deadline = std::chrono::milliseconds(400);
  options.try_timeout = std::chrono::milliseconds(100);
  kc::Client alone(grpc_at(silent.port()), options);
  const auto got = alone.try_fetch();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error, kc::Errc::no_server_answered);
  ASSERT_EQ(got.failures.size(), 1u);
  EXPECT_NE(got.failures[0].reason.find("timed out"), std::string::npos) << got.failures[0].reason;

  // Before a live one: each try gives up at try_timeout, and the live one answers.
  GrpcDaemon live;
  ASSERT_TRUE(live.start(84)) << live.daemon.log();
  options.deadline = std::chrono::seconds(10);
  kc::Client client(grpc_at(silent.port()) + "," + grpc_at(live.grpc_port), options);
  const auto next = client.try_fetch(3);
  ASSERT_TRUE(next) << next.message();
  expect_ids_of(next.ids, 3, 84);
  EXPECT_EQ(client.stats().server_failures, 2u);  // the silent one's two tries
}

// A gRPC server of katsubushi's API in this process: valid ids of worker id
// 85, or a status, or one id short of what FetchMulti asked.
class FakeGenerator final : public katsubushi::Generator::Service {
 public:
  enum class Mode { ids, unavailable, one_short };
  explicit FakeGenerator(Mode mode) : mode_(mode) {}

  grpc::Status Fetch(grpc::ServerContext* /*ctx*/, const katsubushi::FetchRequest* /*req*/,
                     katsubushi::FetchResponse* res) override {
    if (mode_ == Mode::unavailable) return {grpc::StatusCode::UNAVAILABLE, "no lease"};
    res->set_id(next());
    return grpc::Status::OK;
  }
  grpc::Status FetchMulti(grpc::ServerContext* /*ctx*/, const katsubushi::FetchMultiRequest* req,
                          katsubushi::FetchMultiResponse* res) override {
    if (mode_ == Mode::unavailable) return {grpc::StatusCode::UNAVAILABLE, "no lease"};
    const std::uint32_t n = req->n() - (mode_ == Mode::one_short ? 1 : 0);
    for (std::uint32_t i = 0; i < n; ++i) res->add_ids(next());
    return grpc::Status::OK;
  }

 private:
  std::uint64_t next() {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return id::encode({.timestamp_ms = now_ms - id::kEpochUnixMs,
                       .worker_id = 85,
                       .sequence = static_cast<std::uint32_t>(sequence_++ % 4096)});
  }
  Mode mode_;
  std::atomic<std::uint64_t> sequence_{0};
};

struct FakeGrpcServer {
  FakeGenerator service;
  std::unique_ptr<grpc::Server> server;
  FakeGrpcServer(FakeGenerator::Mode mode, const std::string& unix_path) : service(mode) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + unix_path, grpc::InsecureServerCredentials());
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~FakeGrpcServer() {
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  FakeGrpcServer(const FakeGrpcServer&) = delete;
  FakeGrpcServer& operator=(const FakeGrpcServer&) = delete;
};

TEST(ClientGrpcDaemon, GrpcOverUnixSocketsAndAnswersThatFailTheirServer) {
  kc::enable_grpc();
  TempDir dir;
  const auto good = (dir.path() / "good.sock").string();
  const auto refusing = (dir.path() / "refusing.sock").string();
  const auto short_sock = (dir.path() / "short.sock").string();
  FakeGrpcServer good_server(FakeGenerator::Mode::ids, good);
  FakeGrpcServer refusing_server(FakeGenerator::Mode::unavailable, refusing);
  FakeGrpcServer short_server(FakeGenerator::Mode::one_short, short_sock);
  ASSERT_TRUE(good_server.server && refusing_server.server && short_server.server);

  kc::Client client("grpc+unix:" + good);
  expect_ids_of({client.fetch()}, 1, 85);
  expect_ids_of(client.fetch_multi(10), 10, 85);

  kc::Options options;
  options.deadline = std::chrono::milliseconds(300);
  kc::Client bad("grpc+unix:" + refusing + ",grpc+unix:" + short_sock, options);
  const auto got = bad.try_fetch(5);
  ASSERT_FALSE(got);
  ASSERT_EQ(got.failures.size(), 2u);
  EXPECT_NE(got.failures[0].reason.find("server error: UNAVAILABLE: no lease"), std::string::npos)
      << got.failures[0].reason;
  EXPECT_NE(got.failures[1].reason.find("wrong number of ids"), std::string::npos)
      << got.failures[1].reason;
  EXPECT_GT(bad.stats().ids_refused, 0u);

  kc::Client past_them("grpc+unix:" + refusing + ",grpc+unix:" + short_sock + ",grpc+unix:" + good);
  expect_ids_of(past_them.fetch_multi(5), 5, 85);
}

}  // namespace
}  // namespace katsubushi::testing
