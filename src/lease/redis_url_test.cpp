#include "lease/redis_url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace katsubushi::lease {
namespace {

TEST(RedisUrl, DefaultsAreRausOnes) {
  const RedisUrl u = parse_redis_url("redis://cache");
  EXPECT_FALSE(u.cluster);
  ASSERT_EQ(u.endpoints.size(), 1u);
  EXPECT_EQ(u.endpoints[0], (RedisEndpoint{"cache", 6379}));
  EXPECT_EQ(u.db, 0);
  EXPECT_EQ(u.ns, "raus");
  EXPECT_TRUE(u.user.empty());
  EXPECT_TRUE(u.password.empty());
}

TEST(RedisUrl, EveryPartIsRead) {
  const RedisUrl u = parse_redis_url("redis://app:s%40cret@10.0.0.5:6380/3?ns=ids&x=1");
  EXPECT_EQ(u.endpoints[0], (RedisEndpoint{"10.0.0.5", 6380}));
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.password, "s@cret");
  EXPECT_EQ(u.db, 3);
  EXPECT_EQ(u.ns, "ids");
  EXPECT_EQ(u.redacted(), "redis://app:***@10.0.0.5:6380/3?ns=ids");
  EXPECT_EQ(parse_redis_url("redis://:pw@h/").password, "pw");
  EXPECT_EQ(parse_redis_url("redis://h/?ns=a+b").ns, "a b");
  EXPECT_EQ(parse_redis_url("redis://[::1]:7000").endpoints[0], (RedisEndpoint{"::1", 7000}));
}

TEST(RedisUrl, ClusterTakesSeveralSeedsAndNoDatabase) {
  const RedisUrl u = parse_redis_url("rediscluster://a:7000,b:7001,[::1]:7002?ns=k");
  EXPECT_TRUE(u.cluster);
  ASSERT_EQ(u.endpoints.size(), 3u);
  EXPECT_EQ(u.endpoints[1], (RedisEndpoint{"b", 7001}));
  EXPECT_EQ(u.endpoints[2].text(), "[::1]:7002");
  EXPECT_EQ(u.ns, "k");
  EXPECT_EQ(u.redacted(), "rediscluster://a:7000,b:7001,[::1]:7002?ns=k");
}

TEST(RedisUrl, BadUrlsNameWhatIsWrong) {
  const std::pair<const char*, const char*> bad[] = {
      {"http://h", "want redis://"},
      {"redis://", "no host"},
      {"redis://h:0", "bad port"},
      {"redis://h:99999", "bad port"},
      {"redis://h:x", "bad port"},
      {"redis://h/x", "bad database"},
      {"redis://h/-1", "bad database"},
      {"redis://a,b", "several hosts"},
      {"rediscluster://a:1/2", "not supported"},
      {"redis://u:%zz@h", "percent escape"},
      {"redis://[::1", "unclosed"},
  };
  for (const auto& [url, says] : bad) {
    try {
      parse_redis_url(url);
      ADD_FAILURE() << url << " accepted";
    } catch (const RedisUrlError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << url << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("-redis"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace katsubushi::lease
