// The reply a connection over -max-connections gets, per listener.
#include "session/refusal.hpp"

#include <gtest/gtest.h>

#include "testing/http_wire.hpp"

namespace katsubushi::session {
namespace {

TEST(RefusalTest, HttpListenerGetsA503ThatClosesAndSaysWhenToRetry) {
  const auto stream =
      testing::parse_responses(session::too_many_connections_reply(session::Protocol::http));
  ASSERT_EQ(stream.error, "");
  ASSERT_EQ(stream.responses.size(), 1u);
  const auto& r = stream.responses[0];
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.reason, "Service Unavailable");
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_TRUE(r.closes());
  EXPECT_EQ(r.body, "too many open connections\n");
}

TEST(RefusalTest, MainPortKeepsTheMemcachedLine) {
  // Nothing is read before the refusal, so the client's protocol is unknown.
  EXPECT_EQ(session::too_many_connections_reply(session::Protocol::undecided),
            "SERVER_ERROR too many open connections\r\n");
  EXPECT_EQ(session::too_many_connections_reply(session::Protocol::text),
            "SERVER_ERROR too many open connections\r\n");
}

}  // namespace
}  // namespace katsubushi::session
