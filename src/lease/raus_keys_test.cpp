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
  EXPECT_EQ(ours.hwm_key(7), "{k:id:7}:hwm");
  EXPECT_EQ(ours.legacy_hwm_key(7), "k:hwm:7");
  EXPECT_EQ(key_slot(ours.hwm_key(7)), key_slot(ours.id_key(7)));
  EXPECT_EQ(ours.broadcast_channel(), "k:broadcast");

  EXPECT_EQ(ours.extend(7), KeyHold::gone);
  EXPECT_TRUE(ours.claim(7));
  EXPECT_FALSE(theirs.claim(7));
  EXPECT_EQ(ours.extend(7), KeyHold::kept);
  EXPECT_EQ(theirs.extend(7), KeyHold::taken);
  EXPECT_FALSE(theirs.release(7));  // not theirs to delete
  EXPECT_EQ(redis.cli({"GET", "k:id:7"}), "u1");

  EXPECT_EQ(ours.read_fence(7).fence, -1);
  // With the fence, how long the node keeping it has been up (whole seconds).
  ASSERT_TRUE(ours.read_fence(7).store_uptime_s.has_value());
  EXPECT_LE(*ours.read_fence(7).store_uptime_s, 60);
  EXPECT_EQ(ours.hold_and_fence(7, 500, {}).hold, KeyHold::kept);
  EXPECT_EQ(ours.hold_and_fence(7, 400, {}).hold, KeyHold::kept);  // only raised
  EXPECT_EQ(theirs.read_fence(7).fence, 500);
  // Not the holder: neither the key nor the fence is touched.
  EXPECT_EQ(theirs.hold_and_fence(7, 900, {}).hold, KeyHold::taken);
  EXPECT_EQ(ours.read_fence(7).fence, 500);
  // The legacy key of earlier versions counts when it is higher.
  redis.cli({"SET", "k:hwm:7", "700"});
  EXPECT_EQ(ours.read_fence(7).fence, 700);
  redis.cli({"SET", "k:hwm:7", "garbage"});
  EXPECT_THROW(ours.read_fence(7).fence, UnfenceableId);
  redis.cli({"DEL", "k:hwm:7"});

  ours.announce(7);  // no subscriber: still a reply
  // A clean stop drops the fence to the last id issued, with the key.
  EXPECT_TRUE(ours.release(7, 450));
  EXPECT_EQ(redis.cli({"EXISTS", "k:id:7"}), "0");
  EXPECT_EQ(ours.read_fence(7).fence, 450);
  EXPECT_TRUE(theirs.claim(7));
  EXPECT_FALSE(ours.release(7, 100));  // theirs now: the fence stays
  EXPECT_EQ(ours.read_fence(7).fence, 450);
  EXPECT_EQ(theirs.hold_and_fence(7, 800, {}).hold, KeyHold::kept);
  EXPECT_EQ(redis.cli({"GET", "{k:id:7}:hwm"}), "800");
  // WAIT with no replica: the fence is raised but nobody acknowledges it.
  const FenceHold unacked = theirs.hold_and_fence(7, 900, {.replicas = 1, .timeout = 50ms});
  EXPECT_EQ(unacked.hold, KeyHold::kept);
  EXPECT_EQ(unacked.replicas_acked, 0);
  // The store's clock, against ours.
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(ours.store_time_us()), static_cast<double>(now_us), 2e6);
}

TEST(RausKeysTest, TheFenceSharesTheIdKeysSlotWhateverTheNamespace) {
  RedisClient client(parse_redis_url("redis://127.0.0.1:1/?ns=a{b}c"), 10ms);
  RausKeys keys(client, "u", 30s);
  EXPECT_EQ(keys.hwm_key(3), "a{b}c:id:3:hwm");
  EXPECT_EQ(key_slot(keys.hwm_key(3)), key_slot(keys.id_key(3)));
  RedisClient plain(parse_redis_url("redis://127.0.0.1:1/?ns=plain"), 10ms);
  RausKeys untagged(plain, "u", 30s);
  EXPECT_EQ(key_slot(untagged.hwm_key(3)), key_slot(untagged.id_key(3)));
  // "a{}c:id:3" has no hash tag, and no fence name can share its slot: a
  // cluster refuses such a namespace (LeaseTest.OptionsThatCannotWorkAreRefusedByName).
  RedisClient odd(parse_redis_url("redis://127.0.0.1:1/?ns=a{}c"), 10ms);
  EXPECT_FALSE(RausKeys(odd, "u", 30s).fence_shares_slot());
  EXPECT_TRUE(untagged.fence_shares_slot());
}

}  // namespace
}  // namespace katsubushi::lease
