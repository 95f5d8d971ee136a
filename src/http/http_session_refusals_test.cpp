// HTTP requests that must be refused, redirected or answered though odd
// (RFC 9110, RFC 9112), through the whole SessionCore: each input whole,
// split at every offset and byte by byte.
#include "http/http_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "testing/http_session_util.hpp"

namespace katsubushi::http {
namespace {

using namespace katsubushi::testing;

// RFC 9112 §6.1, §6.3: a body whose end is not given by chunked framing
// alone is refused, and nothing after it is read; a second request in the
// same bytes would otherwise be read from wherever the server guessed.
TEST(HttpSessionTest, AmbiguousFramingIs400ThenClose) {
  for (const std::string_view input : {
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
           "GET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"
           "GET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: gzip\r\n\r\n"
           "GET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
           "GET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
           "0\r\n\r\n",
       }) {
    SCOPED_TRACE(escaped(input));
    expect_bad_request_then_close(input);
  }
  // Codings over several lines are one list: "gzip, chunked" ends in chunked.
  const auto r = answers(
      "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
      "\r\n1\r\nx\r\n0\r\n\r\n" + std::string(kGetId));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200u);
  EXPECT_EQ(r[1].status, 200u);
}

// RFC 9112 §3.2: an HTTP/1.1 request names its host, exactly once.
TEST(HttpSessionTest, HostMissingRepeatedOrInvalidIs400ThenClose) {
  for (const std::string_view input : {
           "GET /id HTTP/1.1\r\n\r\nGET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
           "GET /id HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: a/b\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: a b\r\n\r\n",
       }) {
    SCOPED_TRACE(escaped(input));
    expect_bad_request_then_close(input);
  }
  // HTTP/1.0 needs none; an empty Host, a port and an IP literal are hosts.
  for (const std::string_view input : {"GET /id HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                                       "GET /id HTTP/1.1\r\nHost:\r\n\r\n",
                                       "GET /id HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
                                       "GET /id HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"}) {
    SCOPED_TRACE(escaped(input));
    const auto r = answers(input);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 200u);
    EXPECT_FALSE(r[0].closes());
  }
}

// A target the routes refuse or redirect is still a well-framed request:
// the connection goes on.
TEST(HttpSessionTest, BadEscapesRedirectsAndOptionsKeepTheConnection) {
  Outcome o;
  const auto r = answers(
      "GET /ids?n=%zz HTTP/1.1\r\nHost: k\r\n\r\n"
      "GET /ids?n=%3 HTTP/1.1\r\nHost: k\r\n\r\n"
      "GET /x/../ids?n=2 HTTP/1.1\r\nHost: k\r\n\r\n"
      "OPTIONS * HTTP/1.1\r\nHost: k\r\n\r\n" + std::string(kGetId), &o);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].status, 400u);
  EXPECT_EQ(r[1].status, 400u);
  EXPECT_EQ(r[2].status, 301u);
  EXPECT_EQ(r[2].reason, "Moved Permanently");
  EXPECT_EQ(r[2].header("Location"), "/ids?n=2");
  EXPECT_EQ(r[3].status, 200u);
  EXPECT_EQ(r[3].header("Content-Length"), "0");
  EXPECT_EQ(r[4].body, std::to_string(rig_id(0)));
  for (const auto& one : r) EXPECT_FALSE(one.closes());
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.ids_issued, 1u);
}

// Methods are case-sensitive (RFC 9110 §9.1): "get" is a method we do not
// have, 405 on a known path, and the connection stays, as with go-katsubushi.
// Only on a connection that is HTTP already: as the first line on the main
// port it is a memcached `get` of two keys.
TEST(HttpSessionTest, LowerCaseMethodIs405OnAnHttpConnection) {
  for (const std::string& first : {std::string(), std::string(kGetId)}) {
    SessionRig rig(first.empty() ? http_port() : RigOptions{});
    rig.feed(first + "get /id HTTP/1.1\r\nHost: k\r\n\r\n" + std::string(kGetId));
    const auto r = responses(rig.transcript);
    ASSERT_EQ(r.size(), first.empty() ? 2u : 3u);
    const auto& lower = r[r.size() - 2];
    EXPECT_EQ(lower.status, 405u);
    EXPECT_EQ(lower.header("Allow"), "GET");
    EXPECT_FALSE(lower.closes());
    EXPECT_EQ(r.back().status, 200u);
    EXPECT_FALSE(rig.core.closing());
  }
  SessionRig main_port;
  main_port.feed("get /id HTTP/1.1\r\n");
  EXPECT_EQ(main_port.core.protocol(), Protocol::text);
  EXPECT_TRUE(main_port.transcript.starts_with("VALUE /id 0 ")) << escaped(main_port.transcript);
}

}  // namespace
}  // namespace katsubushi::http
