// The Client over fake servers: prefetch (bounded, aged, each id once),
// errors as exceptions and as values, calls from several threads.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "client/client_impl.hpp"
#include "client/fake_server_test_support.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {
namespace {

using testing::FakeClock;
using testing::FakeFleet;
using testing::FakeServer;
using namespace std::chrono_literals;

Options prefetching(std::size_t n) {
  Options o;
  o.prefetch = n;
  o.prefetch_max_age = 100ms;
  return o;
}

TEST(Client, PrefetchAsksOnceForTheCallAndTheBufferThenHandsFromIt) {
  FakeClock clock;
  FakeFleet fleet(clock, 1);
  auto& server = *fleet.servers[0];
  auto client = make_client(std::move(fleet.transports), prefetching(10), clock);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(seen.insert(client.fetch()).second);
  EXPECT_EQ(server.calls(), 1);  // 1 + 10 ahead in one request
  ASSERT_TRUE(seen.insert(client.fetch()).second);
  EXPECT_EQ(server.calls(), 2);
  auto s = client.stats();
  EXPECT_EQ(s.ids_handed_out, 12u);
  EXPECT_EQ(s.ids_fetched, 22u);
  EXPECT_EQ(s.prefetched, 10u);
  // Too old: dropped and counted, never handed out.
  clock.advance(150ms);
  const auto fresh = client.fetch();
  EXPECT_TRUE(seen.insert(fresh).second);
  EXPECT_EQ(server.calls(), 3);
  s = client.stats();
  EXPECT_EQ(s.prefetch_expired, 10u);
  EXPECT_EQ(s.ids_handed_out + s.prefetched + s.prefetch_expired + s.ids_discarded,
            s.ids_fetched);  // every id fetched is accounted for
}

TEST(Client, WithoutPrefetchEachCallAsksForWhatItNeeds) {
  FakeClock clock;
  FakeFleet fleet(clock, 1);
  auto& server = *fleet.servers[0];
  auto client = make_client(std::move(fleet.transports), Options{}, clock);
  EXPECT_EQ(client.fetch_multi(2500).size(), 2500u);  // 1000 + 1000 + 500
  EXPECT_EQ(server.calls(), 3);
  EXPECT_EQ(client.stats().prefetched, 0u);
}

TEST(Client, ErrorsAsExceptionsAndAsValues) {
  FakeClock clock;
  FakeFleet fleet(clock, 2);
  fleet.servers[0]->set_mode(FakeServer::Mode::refuse);
  fleet.servers[1]->set_mode(FakeServer::Mode::refuse);
  Options o;
  o.deadline = 200ms;
  auto client = make_client(std::move(fleet.transports), o, clock);
  const auto got = client.try_fetch(3);
  EXPECT_FALSE(got);
  EXPECT_EQ(got.error, Errc::no_server_answered);
  ASSERT_EQ(got.failures.size(), 2u);
  EXPECT_NE(got.message().find("s1: connect failed: refused (fake)"), std::string::npos)
      << got.message();
  try {
    client.fetch();
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::no_server_answered);
    EXPECT_EQ(e.failures().size(), 2u);
    EXPECT_NE(std::string(e.what()).find("s0: connect failed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(client.try_fetch(0).error, Errc::invalid_argument);
  EXPECT_EQ(client.try_fetch(kMaxIdsPerCall + 1).error, Errc::invalid_argument);
}

TEST(Client, BadServerListsAndOptionsThrow) {
  try {
    Client c("127.0.0.1:1,redis://h:1");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bad_server_list);
    EXPECT_NE(std::string(e.what()).find("redis://h:1"), std::string::npos);
  }
  Options o;
  o.tries_per_server = 0;
  EXPECT_THROW(Client("127.0.0.1:1", o), Error);
  EXPECT_EQ(Client("127.0.0.1:1,binary://[::1]:2").servers(),
            (std::vector<std::string>{"memcached://127.0.0.1:1", "binary://[::1]:2"}));
}

// No test in this executable calls enable_grpc(): here grpc:// is what it is
// in a program linking the client library alone.
TEST(Client, GrpcWithoutTheGrpcLibraryEnabledSaysWhatToLink) {
  for (const char* list : {"127.0.0.1:1,grpc://127.0.0.1:2", "grpc+unix:/run/k.sock"}) {
    try {
      Client c(list);
      FAIL() << list << ": no exception";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.code(), Errc::bad_server_list) << list;
      EXPECT_NE(what.find("katsubushi::client_grpc"), std::string::npos) << what;
      EXPECT_NE(what.find("enable_grpc()"), std::string::npos) << what;
      EXPECT_NE(what.find(list[0] == 'g' ? "grpc+unix:/run/k.sock" : "grpc://127.0.0.1:2"),
                std::string::npos)
          << what;
    }
  }
}

TEST(Client, ThreadsSharingOneClientNeverGetTheSameId) {
  FakeClock clock;
  FakeFleet fleet(clock, 2);
  auto client = make_client(std::move(fleet.transports), prefetching(50), clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) got[static_cast<std::size_t>(t)].push_back(client.fetch());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> all;
  for (const auto& ids : got) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), std::size_t{kThreads} * kEach);
  const auto s = client.stats();
  EXPECT_EQ(s.ids_handed_out, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(s.ids_handed_out + s.prefetched + s.prefetch_expired + s.ids_discarded, s.ids_fetched);
}

}  // namespace
}  // namespace katsubushi::client
