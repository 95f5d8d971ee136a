// The Redis client against real redis-server processes (single, with AUTH,
// and a 3-node cluster) and against FakeRedis servers that answer garbage,
// cut replies short, hang or close: every failure is a RedisError within the
// call timeout, never a crash or a hang.
#include "lease/redis_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lease/redis_url.hpp"
#include "testing/redis_server.hpp"

namespace katsubushi::lease {
namespace {

using namespace std::chrono_literals;
using testing::FakeRedis;
using testing::RedisCluster;
using testing::RedisServer;
using Type = RedisReply::Type;

constexpr auto kTimeout = 300ms;
// Generous: a call may take its timeout plus scheduling on a busy machine;
// only a hang (a call that never ends) goes past this.
constexpr auto kNoHang = 3s;

std::string error_of(RedisClient& client, const std::vector<std::string>& argv) {
  try {
    const RedisReply r = client.key_command(argv);
    return "no error, a reply of type " + std::to_string(static_cast<int>(r.type));
  } catch (const RedisError& e) {
    return e.what();
  }
}

// `depth` arrays of one element, each inside the last.
std::string nested(int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += "*1\r\n";
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::redis_available()) GTEST_SKIP() << "redis-server is not installed";
  }
};

TEST(KeySlot, IsRedisClusterHashSlot) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3);  // CRC16/XMODEM's check value
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot(""), 0);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("{user1000}.followers"), key_slot("{user1000}.following"));
  EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar")) << "an empty tag hashes the whole key";
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
}

TEST_F(RedisClientTest, RepliesOfEveryTypeAreOwnedValues) {
  RedisServer redis;
  RedisClient client(parse_redis_url(redis.url()), kTimeout);
  EXPECT_TRUE(client.key_command({"SET", "k", std::string("a\0b\r\nc", 6)}).is_status("OK"));
  const RedisReply got = client.key_command({"GET", "k"});
  EXPECT_EQ(got.type, Type::string);
  EXPECT_EQ(got.str, std::string("a\0b\r\nc", 6));
  EXPECT_TRUE(client.key_command({"GET", "missing"}).is_nil());
  const RedisReply n = client.key_command({"INCR", "n"});
  EXPECT_EQ(n.type, Type::integer);
  EXPECT_EQ(n.integer, 1);
  const RedisReply wrong = client.key_command({"INCR", "k"});
  EXPECT_TRUE(wrong.is_error()) << "an error reply is a reply, not an exception";
  EXPECT_TRUE(contains(wrong.str, "not an integer")) << wrong.str;
  const RedisReply nested =
      client.key_command({"EVAL", "return {1, {'x', 2}, false, 'y'}", "0"}, 2);
  ASSERT_EQ(nested.type, Type::array);
  ASSERT_EQ(nested.elements.size(), 4u);
  EXPECT_EQ(nested.elements[0].integer, 1);
  ASSERT_EQ(nested.elements[1].elements.size(), 2u);
  EXPECT_EQ(nested.elements[1].elements[0].str, "x");
  EXPECT_TRUE(nested.elements[2].is_nil()) << "a nil element keeps its place";
  EXPECT_EQ(nested.elements[3].str, "y");
  EXPECT_EQ(client.any_command({"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, AuthenticatesAndSelectsTheDatabase) {
  RedisServer redis(testing::RedisServerOptions{.extra_args = {"--requirepass", "s3cret"},
                                                .cli_password = "s3cret"});
  redis.cli({"ACL", "SETUSER", "app", "on", ">app-pw", "~*", "+@all"});

  RedisClient anonymous(parse_redis_url(redis.url()), kTimeout);
  EXPECT_TRUE(anonymous.key_command({"GET", "k"}).is_error()) << "NOAUTH is an error reply";

  RedisClient with_password(parse_redis_url("redis://:s3cret@" + redis.address() + "/2"), kTimeout);
  EXPECT_TRUE(with_password.key_command({"SET", "k", "in-2"}).is_status("OK"));
  EXPECT_EQ(redis.cli({"-n", "2", "GET", "k"}), "in-2");
  EXPECT_EQ(redis.cli({"-n", "0", "EXISTS", "k"}), "0");

  RedisClient user(parse_redis_url("redis://app:app-pw@" + redis.address() + "/3"), kTimeout);
  EXPECT_TRUE(user.key_command({"SET", "k", "in-3"}).is_status("OK"));
  EXPECT_EQ(redis.cli({"-n", "3", "GET", "k"}), "in-3");

  RedisClient wrong(parse_redis_url("redis://app:not-it@" + redis.address()), kTimeout);
  const std::string why = error_of(wrong, {"GET", "k"});
  EXPECT_TRUE(contains(why, "AUTH refused")) << why;
  EXPECT_TRUE(contains(why, redis.address())) << why;
  EXPECT_FALSE(contains(why, "not-it")) << "the password is in the message: " << why;
}

TEST_F(RedisClientTest, AServerGoneIsAnErrorAndBackIsAReconnect) {
  RedisServer redis;
  RedisClient client(parse_redis_url(redis.url()), kTimeout);
  EXPECT_TRUE(client.key_command({"SET", "k", "v"}).is_status("OK"));
  // The server closes our idle connection: the next call connects again.
  redis.cli({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  EXPECT_EQ(client.key_command({"GET", "k"}).str, "v");

  redis.stop();
  const std::string why = error_of(client, {"GET", "k"});
  EXPECT_TRUE(contains(why, redis.address())) << why;
  EXPECT_TRUE(contains(why, "cannot connect")) << why;
  redis.start();
  EXPECT_TRUE(client.key_command({"GET", "k"}).is_nil()) << "back, and empty";
}

TEST_F(RedisClientTest, AHangingServerTimesOut) {
  RedisServer redis;
  RedisClient client(parse_redis_url(redis.url()), kTimeout);
  EXPECT_TRUE(client.key_command({"SET", "k", "v"}).is_status("OK"));
  redis.pause();
  for (int i = 0; i < 2; ++i) {  // on the open connection, then on a new one
    const auto t0 = std::chrono::steady_clock::now();
    const std::string why = error_of(client, {"GET", "k"});
    EXPECT_LT(std::chrono::steady_clock::now() - t0, kNoHang);
    EXPECT_TRUE(contains(why, redis.address())) << why;
  }
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(client.listen("ch", 5s, [](std::string_view) {}), RedisError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kNoHang) << "SUBSCRIBE waited past its timeout";
  redis.resume();
  EXPECT_EQ(client.key_command({"GET", "k"}).str, "v");
}

// Waits until every connection but redis-cli's own is gone: Redis has then
// run whatever was queued on them (it reads what was sent before a close).
// False only if that never happens (bounded: hang protection).
bool only_the_cli_left(const RedisServer& redis) {
  for (int i = 0; i < 250; ++i) {
    const std::string list = redis.cli({"CLIENT", "LIST"});
    if (list.starts_with("id=") && list.find("\nid=") == std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A call given up on a stopped Redis still runs when it resumes; with an
// undo, the undo runs right behind it. The first key is the control: without
// an undo, the SET NX given up on is there after the resume.
TEST_F(RedisClientTest, AnUndoQueuedBehindACallGivenUpOnRunsRightAfterIt) {
  RedisServer redis;
  RedisClient client(parse_redis_url(redis.url()), kTimeout);
  redis.pause();
  EXPECT_THROW(client.key_command({"SET", "plain", "v", "NX"}), RedisError);
  try {
    client.key_command_or_undo({"SET", "undone", "v", "NX"}, {"DEL", "undone"});
    ADD_FAILURE() << "a reply from a stopped Redis";
  } catch (const RedisError& e) {
    EXPECT_TRUE(contains(e.what(), "no reply within")) << e.what();
    EXPECT_TRUE(contains(e.what(), "DEL undo queued behind it")) << e.what();
  }
  redis.resume();
  ASSERT_TRUE(only_the_cli_left(redis)) << redis.cli({"CLIENT", "LIST"});
  EXPECT_EQ(redis.cli({"GET", "plain"}), "v") << "the control: a call given up on still ran";
  EXPECT_EQ(redis.cli({"EXISTS", "undone"}), "0");
  // A call that got its reply queues nothing: the connection is kept.
  EXPECT_TRUE(
      client.key_command_or_undo({"SET", "kept", "v", "NX"}, {"DEL", "kept"}).is_status("OK"));
  EXPECT_EQ(client.key_command({"GET", "kept"}).str, "v");
}

TEST_F(RedisClientTest, GarbageAndCutRepliesAreErrorsNeverCrashes) {
  struct Case {
    FakeRedis::Mode mode;
    std::string bytes;
    std::string says;
  };
  const std::vector<Case> cases = {
      {FakeRedis::Mode::reply, "hello, not redis\r\n", "not Redis protocol"},
      {FakeRedis::Mode::reply_then_close, "$10\r\nabc", "closed"},
      {FakeRedis::Mode::reply_then_close, "*3\r\n:1\r\n", "closed"},
      {FakeRedis::Mode::reply, nested(9) + ":1\r\n", "not Redis protocol"},  // too deep
      {FakeRedis::Mode::reply_then_close, "*16777216\r\n:1\r\n", "closed"},
      {FakeRedis::Mode::reply_then_close, "$2147483647\r\nabc", "closed"},
      {FakeRedis::Mode::reply, ":12x\r\n", ""},  // hiredis reads what it can: any outcome, no crash
      {FakeRedis::Mode::silent, "", "no reply within"},
      {FakeRedis::Mode::close_at_once, "", ""},
  };
  for (const Case& c : cases) {
    FakeRedis fake(c.mode, c.bytes);
    RedisClient client(parse_redis_url(fake.url()), kTimeout);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string why = error_of(client, {"GET", "k"});
    EXPECT_LT(std::chrono::steady_clock::now() - t0, kNoHang) << c.bytes;
    if (!c.says.empty()) {
      EXPECT_TRUE(contains(why, c.says)) << ::testing::PrintToString(c.bytes) << ": " << why;
      EXPECT_TRUE(contains(why, "127.0.0.1:" + std::to_string(fake.port()))) << why;
    }
    // A SUBSCRIBE answered the same way fails the same way.
    EXPECT_THROW(client.listen("ch", 200ms, [](std::string_view) {}), RedisError) << c.bytes;
  }
}

TEST_F(RedisClientTest, AfterGarbageTheNextCallConnectsAgain) {
  FakeRedis fake(FakeRedis::Mode::reply, "garbage\r\n");
  RedisClient client(parse_redis_url(fake.url()), kTimeout);
  EXPECT_THROW(client.key_command({"GET", "k"}), RedisError);
  fake.set(FakeRedis::Mode::reply, "-ERR boom\r\n");
  const RedisReply r = client.key_command({"GET", "k"});
  EXPECT_TRUE(r.is_error());
  EXPECT_EQ(r.str, "ERR boom");
  EXPECT_EQ(fake.connections(), 2);
}

TEST_F(RedisClientTest, APeerThatClosesMidWriteIsAnError) {
  // With the default SIGPIPE action a write to a closed peer could end the
  // process: it must end in a RedisError. (Linux reports ECONNRESET here, so
  // this does not prove the SIGPIPE guard itself; it proves the path.)
  const auto before = std::signal(SIGPIPE, SIG_DFL);
  FakeRedis fake(FakeRedis::Mode::reply_then_close, "-ERR no\r\n");
  RedisClient client(parse_redis_url(fake.url()), kTimeout);
  const std::string big(8 << 20, 'x');  // more than the socket buffers take at once
  int errors = 0;
  for (int i = 0; i < 3; ++i) {
    try {
      client.key_command({"SET", "k", big});
    } catch (const RedisError&) {
      ++errors;
    }
  }
  std::signal(SIGPIPE, before);
  EXPECT_GE(errors, 2);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE left pending";
}

TEST_F(RedisClientTest, ListenHearsPublishesUntilItsTimeIsUp) {
  RedisServer redis;
  RedisClient client(parse_redis_url(redis.url()), kTimeout);
  std::thread publisher([&] {
    for (int i = 0; i < 8; ++i) {
      redis.cli({"PUBLISH", "ns:broadcast", "u-" + std::to_string(i) + ":" + std::to_string(i)});
      std::this_thread::sleep_for(50ms);
    }
  });
  std::vector<std::string> heard;
  const auto t0 = std::chrono::steady_clock::now();
  const bool whole =
      client.listen("ns:broadcast", 1500ms, [&](std::string_view m) { heard.emplace_back(m); });
  const auto took = std::chrono::steady_clock::now() - t0;
  publisher.join();
  EXPECT_TRUE(whole);
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 1500ms + kNoHang);
  ASSERT_FALSE(heard.empty());
  EXPECT_EQ(heard.back(), "u-7:7");

  // The server going away mid-listen ends it early, without an exception.
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    redis.stop();
  });
  EXPECT_FALSE(client.listen("ns:broadcast", 5s, [](std::string_view) {}));
  stopper.join();
  EXPECT_THROW(client.listen("ns:broadcast", 100ms, [](std::string_view) {}), RedisError)
      << "nothing to subscribe to";
}

// One cluster for the cluster cases (it takes seconds to form).
class RedisClusterClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::redis_available()) cluster_ = std::make_unique<RedisCluster>();
  }
  static void TearDownTestSuite() { cluster_.reset(); }
  void SetUp() override {
    if (!cluster_) GTEST_SKIP() << "redis-server is not installed";
  }
  static std::string node_id(std::size_t i) { return cluster_->node(i).cli({"CLUSTER", "MYID"}); }
  // Starts moving `slot` from `from` to `to`, as redis-cli --cluster does.
  static void start_migration(long slot, std::size_t from, std::size_t to) {
    const std::string s = std::to_string(slot);
    cluster_->node(to).cli({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
    cluster_->node(from).cli({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
  }
  // Ends it: `to` first (it bumps its config epoch, so the others take its
  // word over `from`'s), then `from`, then the rest; returns once every node
  // redirects `key` to `to`.
  static bool finish_migration(long slot, std::size_t from, std::size_t to,
                               const std::string& key) {
    const std::string s = std::to_string(slot);
    cluster_->node(to).cli({"CLUSTER", "SETSLOT", s, "NODE", node_id(to)});
    cluster_->node(from).cli({"CLUSTER", "SETSLOT", s, "NODE", node_id(to)});
    for (std::size_t i = 0; i < cluster_->size(); ++i) {
      if (i != to && i != from)
        cluster_->node(i).cli({"CLUSTER", "SETSLOT", s, "NODE", node_id(to)});
    }
    const std::string moved = std::to_string(cluster_->node(to).port());
    for (int tries = 0; tries < 200; ++tries) {
      bool agreed = true;
      for (std::size_t i = 0; i < cluster_->size() && agreed; ++i) {
        const std::string r = cluster_->node(i).cli({"GET", key});
        agreed = i == to
                     ? r.find("MOVED") == std::string::npos
                     : r.find("MOVED") != std::string::npos && r.find(moved) != std::string::npos;
      }
      if (agreed) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  static std::unique_ptr<RedisCluster> cluster_;
};
std::unique_ptr<RedisCluster> RedisClusterClientTest::cluster_;

TEST_F(RedisClusterClientTest, KeySlotAgreesWithRedis) {
  for (const std::string key : {"raus:id:1", "raus:id:1023", "raus:hwm:7", "{a}b", "x{}y", "{{x}}",
                                "ns:id:42", "\xff\x01"}) {
    EXPECT_EQ(std::to_string(key_slot(key)), cluster_->node(0).cli({"CLUSTER", "KEYSLOT", key}))
        << key;
  }
}

TEST_F(RedisClusterClientTest, KeysGoToTheirOwnersFromTheSlotTable) {
  RedisClient client(parse_redis_url(cluster_->url()), kTimeout);
  std::vector<int> per_node(cluster_->size(), 0);
  for (int i = 1; i <= 30; ++i) {
    const std::string key = "t:id:" + std::to_string(i);
    ASSERT_TRUE(client.key_command({"SET", key, "v" + std::to_string(i)}).is_status("OK")) << key;
    const std::size_t owner = cluster_->owner_of(key);
    ++per_node[owner];
    EXPECT_EQ(cluster_->node(owner).cli({"GET", key}), "v" + std::to_string(i));
  }
  EXPECT_EQ(client.known_slots(), kClusterSlots) << "CLUSTER SLOTS not learnt";
  for (const int n : per_node) EXPECT_GT(n, 0) << "some node got no key";
  EXPECT_TRUE(client.any_command({"PUBLISH", "t:broadcast", "x"}).type == Type::integer);
}

TEST_F(RedisClusterClientTest, MovedIsFollowedAndLearnt) {
  RedisClient client(parse_redis_url(cluster_->url()), kTimeout);
  const std::string key = "moved:key";
  ASSERT_TRUE(client.key_command({"GET", key}).is_nil());  // the table is learnt
  const long slot = key_slot(key);
  const std::size_t from = cluster_->owner_of(key);
  const std::size_t to = (from + 1) % cluster_->size();
  start_migration(slot, from, to);
  ASSERT_TRUE(finish_migration(slot, from, to, key)) << "the nodes do not agree on the slot";
  // The client still thinks `from` owns it: MOVED, followed.
  EXPECT_TRUE(client.key_command({"SET", key, "moved"}).is_status("OK"));
  EXPECT_EQ(cluster_->node(to).cli({"GET", key}), "moved");
  EXPECT_EQ(client.key_command({"GET", key}).str, "moved");
}

TEST_F(RedisClusterClientTest, AskIsFollowedWithAsking) {
  RedisClient client(parse_redis_url(cluster_->url()), kTimeout);
  const std::string key = "ask:key";
  ASSERT_TRUE(client.key_command({"GET", key}).is_nil());
  const long slot = key_slot(key);
  const std::size_t from = cluster_->owner_of(key);
  const std::size_t to = (from + 1) % cluster_->size();
  const std::string s = std::to_string(slot);
  start_migration(slot, from, to);
  // `from` owns the slot but not the (new) key: ASK `to`, which takes it
  // only after ASKING.
  EXPECT_TRUE(client.key_command({"SET", key, "asked"}).is_status("OK"));
  EXPECT_EQ(cluster_->node(to).cli({"CLUSTER", "COUNTKEYSINSLOT", s}), "1");
  EXPECT_EQ(cluster_->node(from).cli({"CLUSTER", "COUNTKEYSINSLOT", s}), "0");
  EXPECT_EQ(client.key_command({"GET", key}).str, "asked");
  EXPECT_TRUE(finish_migration(slot, from, to, key));
}

TEST_F(RedisClusterClientTest, ListenOnOneNodeHearsPublishesOnAnother) {
  RedisClient client(parse_redis_url(cluster_->url()), kTimeout);
  std::thread publisher([&] {
    for (int i = 0; i < 10; ++i) {
      for (std::size_t n = 0; n < cluster_->size(); ++n) {
        cluster_->node(n).cli({"PUBLISH", "c:broadcast", "from-" + std::to_string(n) + ":1"});
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  std::set<std::string> heard;
  EXPECT_TRUE(client.listen("c:broadcast", 1s, [&](std::string_view m) { heard.emplace(m); }));
  publisher.join();
  EXPECT_EQ(heard, (std::set<std::string>{"from-0:1", "from-1:1", "from-2:1"}));
}

}  // namespace
}  // namespace katsubushi::lease
