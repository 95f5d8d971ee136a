// raus's key protocol step by step against a real redis-server started on a
// free loopback port; the payload and uuid helpers without one.
#include "lease/raus_keys.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "lease/redis_client.hpp"
#include "lease/redis_url.hpp"
#include "testing/redis_server.hpp"

namespace katsubushi::lease {
namespace {

using namespace std::chrono_literals;

TEST(RausPayload, ExactlyUuidColonDecimal) {
  const auto p = parse_raus_payload("abc:42");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->uuid, "abc");
  EXPECT_EQ(p->worker, 42u);
  for (const char* bad : {"abc", "abc:", "abc:4x", "a:b:1", "abc:-1", "abc: 1"}) {
    EXPECT_FALSE(parse_raus_payload(bad)) << bad;
  }
}

TEST(RausPayload, RandomUuidIsVersion4) {
  const std::string u = random_uuid();
  ASSERT_EQ(u.size(), 36u) << u;
  EXPECT_EQ(u[14], '4') << u;
  EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
  EXPECT_NE(random_uuid(), u);
}

TEST(RausKeysTest, ClaimExtendFenceAndReleaseOneKey) {
  if (!testing::redis_available()) GTEST_SKIP() << "redis-server is not installed";
  testing::RedisServer redis;
  RedisClient client(parse_redis_url(redis.url("k")), 1000ms);
  RausKeys ours(client, "u1", 30s);
  RedisClient other_client(parse_redis_url(redis.url("k")), 1000ms);
  RausKeys theirs(other_client, "u2", 30s);
  EXPECT_EQ(ours.id_key(7), "k:id:7");
  EXPECT_EQ(ours.hwm_key(7), "k:hwm:7");
  EXPECT_EQ(ours.broadcast_channel(), "k:broadcast");

  EXPECT_EQ(ours.extend(7), KeyHold::gone);
  EXPECT_TRUE(ours.claim(7));
  EXPECT_FALSE(theirs.claim(7));
  EXPECT_EQ(ours.extend(7), KeyHold::kept);
  EXPECT_EQ(theirs.extend(7), KeyHold::taken);
  EXPECT_FALSE(theirs.release(7));  // not theirs to delete
  EXPECT_EQ(redis.cli({"GET", "k:id:7"}), "u1");

  EXPECT_EQ(ours.read_fence(7), -1);
  ours.raise_fence(7, 500);
  ours.raise_fence(7, 400);  // only raised
  EXPECT_EQ(theirs.read_fence(7), 500);
  redis.cli({"SET", "k:hwm:7", "garbage"});
  EXPECT_THROW(ours.read_fence(7), UnfenceableId);

  ours.announce(7);  // no subscriber: still a reply
  EXPECT_TRUE(ours.release(7));
  EXPECT_TRUE(theirs.claim(7));
}

}  // namespace
}  // namespace katsubushi::lease
