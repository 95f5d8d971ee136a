// HTTP through the whole SessionCore: sniffed on the main port and fixed on
// -http-port; each input whole, split at every offset and byte by byte;
// keep-alive, pipelining, every limit and status.
#include "http/http_session.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/limits.hpp"
#include "testing/http_session_util.hpp"

namespace katsubushi::http {
namespace {

using namespace katsubushi::testing;

TEST(HttpSessionTest, GetIdOnTheMainPort) {
  Outcome o;
  const auto r = answers(kGetId, &o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200u);
  EXPECT_EQ(r[0].reason, "OK");
  EXPECT_EQ(r[0].header("Content-Type"), "text/plain");
  EXPECT_EQ(r[0].header("Cache-Control"), "no-store");
  EXPECT_EQ(r[0].header("Connection"), std::nullopt);  // HTTP/1.1 keeps the connection
  EXPECT_EQ(r[0].body, std::to_string(rig_id(0)));
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.completed, 1u);
  EXPECT_EQ(o.cmd_get, 1u);
  EXPECT_EQ(o.get_hits, 1u);
  // Byte for byte, so a change in the framing shows.
  EXPECT_EQ(escaped(o.output),
            escaped("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "Content-Length: " +
                    std::to_string(std::to_string(rig_id(0)).size()) +
                    "\r\nCache-Control: no-store\r\n\r\n" + std::to_string(rig_id(0))));
}

TEST(HttpSessionTest, IdsAsJsonWithAcceptHeader) {
  const auto r = answers(
      "GET /ids?n=5 HTTP/1.1\r\nHost: k\r\nAccept: text/html, Application/JSON;q=0.9\r\n\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200u);
  EXPECT_EQ(r[0].header("Content-Type"), "application/json");
  const auto v = boost::json::parse(r[0].body);
  const auto& ids = v.at("ids").as_array();
  ASSERT_EQ(ids.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(ids[i].as_string(), std::to_string(rig_id(i)));
}

TEST(HttpSessionTest, PipelinedRequestsAreAnsweredInOrderWithIncreasingIds) {
  const std::string input =
      "GET /id HTTP/1.1\r\nHost: k\r\n\r\n"
      "GET /ids?n=3 HTTP/1.1\r\nHost: k\r\n\r\n"
      "GET /nowhere HTTP/1.1\r\nHost: k\r\n\r\n"
      "HEAD /stats HTTP/1.1\r\nHost: k\r\n\r\n"
      "POST /id HTTP/1.1\r\nHost: k\r\nContent-Length: 4\r\n\r\nbody"
      "GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n"
      "GET /id HTTP/1.1\r\nHost: k\r\nAccept: application/json\r\n\r\n";
  Outcome o;
  const auto r = answers(input, &o, {3});
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0].body, std::to_string(rig_id(0)));
  EXPECT_EQ(r[1].body, std::to_string(rig_id(1)) + "\n" + std::to_string(rig_id(2)) + "\n" +
                           std::to_string(rig_id(3)));
  EXPECT_EQ(r[2].status, 404u);
  EXPECT_EQ(r[3].status, 200u);
  EXPECT_EQ(r[3].header("Content-Type"), "application/json");
  // The length of the GET body: {\n  "pid": 4242,\n  "uptime": 17\n}\n
  EXPECT_EQ(r[3].header("Content-Length"), "34");
  EXPECT_EQ(r[4].status, 405u);
  EXPECT_EQ(r[4].header("Allow"), "GET");
  EXPECT_EQ(r[5].status, 200u);
  EXPECT_EQ(r[5].body, "ok\n");
  EXPECT_EQ(r[6].body, "{\"id\":\"" + std::to_string(rig_id(4)) + "\"}");
  EXPECT_FALSE(o.closing);
  EXPECT_EQ(o.completed, 7u);
  EXPECT_EQ(o.ids_issued, 5u);
}

TEST(HttpSessionTest, HeadGetsTheHeadersOfGetAndNoBody) {
  SessionRig get;
  get.feed("GET /stats HTTP/1.1\r\nHost: k\r\n\r\n");
  SessionRig head;
  head.feed("HEAD /stats HTTP/1.1\r\nHost: k\r\n\r\n");
  const std::string get_headers = get.transcript.substr(0, get.transcript.find("\r\n\r\n") + 4);
  EXPECT_EQ(escaped(head.transcript), escaped(get_headers));
  EXPECT_FALSE(head.core.closing());
}

TEST(HttpSessionTest, KeepAliveServesManyRequestsOnOneConnection) {
  SessionRig rig;
  std::uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    const std::size_t before = rig.transcript.size();
    rig.feed(kGetId);
    const auto r = responses(std::string_view(rig.transcript).substr(before));
    ASSERT_EQ(r.size(), 1u);
    const std::uint64_t v = std::stoull(r[0].body);
    EXPECT_GT(v, last);
    last = v;
    EXPECT_FALSE(rig.core.closing());
    EXPECT_TRUE(rig.core.wants_input());
    if (i % 7 == 0) rig.clock.advance(1);
  }
  EXPECT_EQ(rig.core.completed_requests(), 50u);
}

TEST(HttpSessionTest, ConnectionCloseIsHonoured) {
  Outcome o;
  const auto r = answers(
      "GET /id HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\nGET /id HTTP/1.1\r\n\r\n", &o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].closes());
  EXPECT_TRUE(o.closing);
  EXPECT_EQ(o.ids_issued, 1u);  // the pipelined second request is not served
}

TEST(HttpSessionTest, Http10ClosesUnlessKeepAlive) {
  Outcome o;
  auto r = answers("GET /id HTTP/1.0\r\n\r\n", &o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].closes());
  EXPECT_TRUE(o.closing);

  r = answers("GET /id HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /id HTTP/1.0\r\n\r\n", &o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].header("Connection"), "keep-alive");
  EXPECT_TRUE(r[1].closes());
  EXPECT_TRUE(o.closing);
}

TEST(HttpSessionTest, TheLastRequestAllowedOnAConnectionClosesIt) {
  std::string input;
  for (std::uint64_t i = 0; i <= config::kHttpMaxRequestsPerConnection; ++i) {
    input += "GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n";
  }
  SessionRig rig;
  rig.feed_all(input);
  const auto r = responses(rig.transcript);
  ASSERT_EQ(r.size(), config::kHttpMaxRequestsPerConnection);
  for (std::size_t i = 0; i + 1 < r.size(); ++i) ASSERT_FALSE(r[i].closes()) << i;
  EXPECT_TRUE(r.back().closes());
  EXPECT_TRUE(rig.core.closing());
  EXPECT_EQ(rig.core.completed_requests(), config::kHttpMaxRequestsPerConnection);
}

// A malformed request gets 400 and a close; nothing after it is read.
TEST(HttpSessionTest, MalformedRequestsAre400ThenClose) {
  for (const std::string_view input : {
           "GET /id HTTP/1.1\r\nHost: k\r\nno colon here\r\n\r\n"
           "GET /id HTTP/1.1\r\nHost: k\r\n\r\n",
           "GET /id HTTP/1.1\nHost: k\n\n",                  // bare LF: Beast wants CRLF
           "GET /id HTTP/1.1\r\nHost: k\r\nContent-Length: x\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "GET /id HTTP/1.2\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\n\x01: x\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\n\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy0\r\n\r\n",
       }) {
    SCOPED_TRACE(escaped(input));
    Outcome o;
    expect_bad_request_then_close(input, &o);
    EXPECT_EQ(o.completed, 1u);
  }
}

TEST(HttpSessionTest, HeaderOverTheLimitIs431ThenClose) {
  // The whole header, request line included, may not reach the limit.
  const std::string big(config::kHttpMaxHeaderBytes, 'a');
  const std::string head = "GET /id HTTP/1.1\r\nHost: k\r\nX-Big: ";
  for (const std::string& input : {head + big + "\r\n\r\n",
                                  head + big,  // never terminated
                                  "GET /" + big + " HTTP/1.1\r\nHost: k\r\n\r\n"}) {
    SessionRig rig(http_port());  // a request line this long is never sniffed as HTTP
    rig.feed(input);
    const auto r = responses(rig.transcript);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 431u);
    EXPECT_EQ(r[0].reason, "Request Header Fields Too Large");
    EXPECT_TRUE(r[0].closes());
    EXPECT_TRUE(rig.core.closing());
  }
  // Just under the limit is fine.
  const std::string fits = head + std::string(7000, 'a') + "\r\n\r\n";
  const auto r = answers(fits);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200u);
}

TEST(HttpSessionTest, BodyIsReadAndDroppedUpToTheLimit) {
  const std::string body(config::kHttpMaxBodyBytes, 'b');
  Outcome o;
  auto r = answers("GET /id HTTP/1.1\r\nHost: k\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body + std::string(kGetId),
                   &o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, std::to_string(rig_id(0)));
  EXPECT_EQ(r[1].body, std::to_string(rig_id(1)));
  // Chunked, in two chunks and a trailer.
  r = answers("GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n" + std::string(kGetId));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].status, 200u);
}

TEST(HttpSessionTest, BodyOverTheLimitIs413ThenClose) {
  const std::string over = std::to_string(config::kHttpMaxBodyBytes + 1);
  for (const std::string& input : {
           // Refused on the header alone: the body never has to arrive.
           "GET /id HTTP/1.1\r\nHost: k\r\nContent-Length: " + over + "\r\n\r\n",
           "GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n" +
               std::string(config::kHttpMaxBodyBytes > 0xFFFF ? "10001" : "FFFF") + "\r\n"}) {
    Outcome o;
    const auto r = answers(input, &o);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 413u);
    EXPECT_TRUE(r[0].closes());
    EXPECT_TRUE(o.closing);
  }
}

TEST(HttpSessionTest, ChunkLinesAreBoundedToo) {
  // Beast bounds the header but not a chunk's size line: the session does.
  SessionRig rig(http_port());
  rig.feed("GET /id HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n1;");
  for (int i = 0; i < 64 && !rig.core.closing(); ++i) {
    rig.feed(std::string(1024, 'e'));
    ASSERT_LE(rig.core.buffered_bytes(), 2 * config::kHttpMaxHeaderBytes + 4096);
  }
  const auto r = responses(rig.transcript);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 400u);
  EXPECT_TRUE(rig.core.closing());
}

TEST(HttpSessionTest, MemoryStaysBoundedWhateverArrives) {
  // A header that never ends, sent in pieces, is cut at the limit.
  SessionRig rig(http_port());
  rig.feed("GET /id HTTP/1.1\r\nHost: k\r\n");
  std::size_t most = 0;
  for (int i = 0; i < 1024 && !rig.core.closing(); ++i) {
    rig.feed("X-A: " + std::string(1000, 'a') + "\r\n");
    most = std::max(most, rig.core.buffered_bytes());
  }
  EXPECT_TRUE(rig.core.closing());
  EXPECT_LE(most, 2 * config::kHttpMaxHeaderBytes + 1024);
  EXPECT_EQ(responses(rig.transcript).at(0).status, 431u);
}

TEST(HttpSessionTest, OutputBackpressureStopsAndResumes) {
  RigOptions small;
  small.limits.max_output_bytes = 512;
  SessionRig rig(small);
  std::string input;
  for (int i = 0; i < 40; ++i) input += "GET /ids?n=10 HTTP/1.1\r\nHost: k\r\n\r\n";
  rig.core.receive(input);
  rig.core.process();
  // Stopped once over the limit: not everything is answered yet.
  EXPECT_GE(rig.core.output().size(), 512u);
  EXPECT_LT(rig.core.output().size(), 512u + 400u);
  EXPECT_FALSE(rig.core.wants_input());
  EXPECT_LT(rig.core.completed_requests(), 40u);
  rig.feed_all({});
  const auto r = responses(rig.transcript);
  ASSERT_EQ(r.size(), 40u);
  std::uint64_t next = 0;
  for (const auto& one : r) {
    std::size_t from = 0;
    for (int k = 0; k < 10; ++k) {
      const std::size_t nl = one.body.find('\n', from);
      EXPECT_EQ(std::stoull(one.body.substr(from, nl - from)), rig_id(next++));
      from = nl + 1;
    }
  }
}

TEST(HttpSessionTest, GeneratorThatCannotIssueIs503AndTheConnectionStays) {
  SessionRig rig;
  rig.clock.set(id::kEpochUnixMs - 1);
  rig.feed("GET /id HTTP/1.1\r\nHost: k\r\n\r\nGET /healthz HTTP/1.1\r\nHost: k\r\n\r\n");
  auto r = responses(rig.transcript);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 503u);
  EXPECT_EQ(r[0].body, "clock is before the id epoch\n");
  EXPECT_EQ(r[1].status, 503u);
  EXPECT_FALSE(rig.core.closing());
  rig.clock.set(kStartUnixMs);
  rig.transcript.clear();
  rig.feed("GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n");
  r = responses(rig.transcript);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200u);
}

TEST(HttpSessionTest, HttpPortAnswersHttpAndRefusesAnythingElse) {
  SessionRig http(http_port());
  http.feed(kGetId);
  auto r = responses(http.transcript);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].body, std::to_string(rig_id(0)));

  for (const std::string& input : {std::string("get a\r\n"), std::string("\x80\x00\x00\x00", 4),
                                  std::string("\r\n\r\n"),
                                  std::string("\r\nGET /id HTTP/1.1\r\nHost: k\r\n\r\n")}) {
    SessionRig other(http_port());
    other.feed(input);
    r = responses(other.transcript);
    ASSERT_EQ(r.size(), 1u) << escaped(input);
    EXPECT_EQ(r[0].status, 400u);
    EXPECT_TRUE(other.core.closing());
  }
}

TEST(HttpSessionTest, NothingIsReadOrWrittenAfterClosing) {
  SessionRig rig;
  rig.feed("GET /id HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(rig.core.closing());
  const std::string before = rig.transcript;
  rig.feed(kGetId);
  EXPECT_EQ(rig.transcript, before);
  EXPECT_EQ(rig.core.completed_requests(), 1u);
  EXPECT_FALSE(rig.core.wants_input());
}

TEST(HttpSessionTest, CompletedRequestsCountsEveryAnswer) {
  SessionRig rig;
  rig.feed("GET /x HTTP/1.1\r\nHost: k\r\n\r\nDELETE /id HTTP/1.1\r\nHost: k\r\n\r\nGET /id");
  EXPECT_EQ(rig.core.completed_requests(), 2u);  // a request in progress does not count
  rig.feed(" HTTP/1.1\r\nHost: k\r\n\r\n");
  EXPECT_EQ(rig.core.completed_requests(), 3u);
}

}  // namespace
}  // namespace katsubushi::http
