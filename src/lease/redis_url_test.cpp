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

// What raus's ParseRedisURI (url.Parse, net.SplitHostPort, u.Query()) makes
// of the same URLs, so a Go and a C++ daemon given one URL share its keys.
TEST(RedisUrl, ReadsUrlsAsRausDoes) {
  // raus's own test table.
  EXPECT_EQ(parse_redis_url("redis://localhost:6379").endpoints[0],
            (RedisEndpoint{"localhost", 6379}));
  const RedisUrl two = parse_redis_url("redis://127.0.0.1/2?ns=foo");
  EXPECT_EQ(two.db, 2);
  EXPECT_EQ(two.ns, "foo");
  const RedisUrl cluster = parse_redis_url("rediscluster://127.0.0.1/?ns=foo");
  EXPECT_TRUE(cluster.cluster);
  EXPECT_EQ(cluster.endpoints[0], (RedisEndpoint{"127.0.0.1", 6379}));
  EXPECT_EQ(cluster.ns, "foo");
  EXPECT_EQ(parse_redis_url("rediscluster://127.0.0.1:6380/?ns=foo").endpoints[0].port, 6380);
  // The first ns wins (an empty one is refused: BadUrlsNameWhatIsWrong).
  EXPECT_EQ(parse_redis_url("redis://h?ns=a&ns=b").ns, "a");
  EXPECT_EQ(parse_redis_url("redis://h?x=1&ns=b").ns, "b");
  EXPECT_EQ(parse_redis_url("redis://h?ns=a&ns=").ns, "a");
  EXPECT_EQ(parse_redis_url("redis://h?n%73=esc").ns, "esc");
  EXPECT_EQ(parse_redis_url("redis://h?ns=a;b&ns=c").ns, "c") << "Go drops pairs with ';'";
  EXPECT_EQ(parse_redis_url("redis://h?other=1").ns, "raus");
  EXPECT_EQ(parse_redis_url("redis://h/4?ns=x#frag").ns, "x");
  EXPECT_EQ(parse_redis_url("redis://h#frag").endpoints[0], (RedisEndpoint{"h", 6379}));
  // The first path segment is the database; what follows is ignored.
  EXPECT_EQ(parse_redis_url("redis://h/5/ignored").db, 5);
  EXPECT_EQ(parse_redis_url("redis://h/").db, 0);
  // A user without a password, a password without a user.
  const RedisUrl user_only = parse_redis_url("redis://app@h");
  EXPECT_EQ(user_only.user, "app");
  EXPECT_TRUE(user_only.password.empty());
  EXPECT_EQ(user_only.redacted(), "redis://app@h:6379?ns=raus");
  const RedisUrl pass_only = parse_redis_url("redis://:p%3Aw@h");
  EXPECT_TRUE(pass_only.user.empty());
  EXPECT_EQ(pass_only.password, "p:w");
  EXPECT_EQ(pass_only.redacted().find("p:w"), std::string::npos) << pass_only.redacted();
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
      {"localhost:6379", "want redis://"},
      {"redis:///var/tmp/test.sock", "no host"},
      {"rediscluster://127.0.0.1/3", "not supported"},
      {"redis://h:", "bad port"},
      {"redis://h:1x", "bad port"},
      {"redis://h//3", "bad database"},
      {"redis://h?ns=%4", "percent escape"},
      {"redis://h?ns=", "an empty namespace (ns=)"},
      {"redis://h?ns", "an empty namespace"},
      {"redis://h:6380/2?x=1&ns=&ns=b", "an empty namespace"},
      {"redis://u:pw@h?ns=", "\"redis://u:***@h:6379?ns=\""},  // the password left out
      {"rediscluster://a:7000,b:7001?ns=", "an empty namespace"},
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
