#include "bench/http_reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "bench/requests.hpp"
#include "testing/reply_feed.hpp"

namespace katsubushi::bench {
namespace {

using testing::Recorder;
using testing::reply;

// The parser under test, as testing::feed() calls it.
const auto kParse = [](std::string_view in, Recorder& r) { return parse_http_replies(in, r); };

std::string response(std::string_view status, std::string_view body,
                     std::string_view extra_fields = "") {
  return "HTTP/1.1 " + std::string(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nCache-Control: no-store\r\n" + std::string(extra_fields) + "\r\n" + std::string(body);
}

std::string wire() {
  return response("200 OK", "6830153034829824001") +
         response("200 OK", "1000000000000000000\n1000000000000000001\n1000000000000000002") +
         response("400 Bad Request", "n must be a number from 1 to 1000\n") +
         response("503 Service Unavailable", "clock moved back\n") + response("200 OK", "") +
         "HTTP/1.0 200\r\ncontent-length:  3 \r\n\r\n123" +
         response("200 OK", "42", "Connection: keep-alive, Close\r\n");
}

std::vector<std::string> expected_events() {
  return {"value 6830153034829824001",   reply(ReplyEnd::end),
          "value 1000000000000000000",   "value 1000000000000000001",
          "value 1000000000000000002",   reply(ReplyEnd::end),
          reply(ReplyEnd::client_error), reply(ReplyEnd::server_error),
          reply(ReplyEnd::end),          "value 123",
          reply(ReplyEnd::end),          "value 42",
          reply(ReplyEnd::end),          "close"};
}

TEST(HttpReplyTest, ReadsEveryKindOfResponseInOnePiece) {
  testing::expect_events_whole(kParse, wire(), expected_events());
}

TEST(HttpReplyTest, SameEventsWhereverTheBytesAreCut) {
  testing::expect_events_wherever_cut(kParse, wire(), expected_events());
}

TEST(HttpReplyTest, SameEventsByteByByte) {
  testing::expect_events_byte_by_byte(kParse, wire(), expected_events());
}

TEST(HttpReplyTest, AResponseIsConsumedOnlyWithItsWholeBody) {
  const std::string first = response("200 OK", "1");
  Recorder r;
  const std::string bytes = first + response("200 OK", "12345").substr(0, 90);
  const ParseResult res = parse_http_replies(bytes, r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, first.size());
  EXPECT_EQ(r.events, (std::vector<std::string>{"value 1", reply(ReplyEnd::end)}));
}

TEST(HttpReplyTest, NothingAfterConnectionCloseIsConsumed) {
  const std::string last = response("200 OK", "7", "Connection: close\r\n");
  Recorder r;
  const ParseResult res = parse_http_replies(last + response("200 OK", "8"), r);
  EXPECT_EQ(res.status, ParseStatus::ok);
  EXPECT_EQ(res.consumed, last.size());
  EXPECT_EQ(r.events, (std::vector<std::string>{"value 7", reply(ReplyEnd::end), "close"}));
}

TEST(HttpReplyTest, MalformedResponsesAreReported) {
  const std::vector<std::pair<std::string, std::string_view>> cases = {
      {"VALUE k 0 1\r\n1\r\nEND\r\n\r\n", "VALUE k 0 1"},
      {"HTTP/1.1 20 OK\r\nContent-Length: 1\r\n\r\n1", "HTTP/1.1 20 OK"},
      {"HTTP/1.1 200OK\r\nContent-Length: 1\r\n\r\n1", "HTTP/1.1 200OK"},
      {"HTTP/2 200 OK\r\nContent-Length: 1\r\n\r\n1", "HTTP/2 200 OK"},
      {"\r\n\r\n", "an empty status line"},
      {"HTTP/1.1 200 OK\r\n\r\n", "a response without Content-Length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "Content-Length: x"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length: -1"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "Content-Length: 99999999"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n1", "Content-Length: 1"},
      {"HTTP/1.1 200 OK\r\nno colon\r\nContent-Length: 1\r\n\r\n1", "no colon"},
      {"HTTP/1.1 200 OK\r\n" + std::string(9000, 'x'), "a response head over 8 KiB"},
  };
  for (const auto& [bytes, bad] : cases) {
    Recorder r;
    const std::string first = response("200 OK", "5");
    // bad_line is a view into the input: the input must outlive it.
    const std::string input = first + bytes;
    const ParseResult res = parse_http_replies(input, r);
    EXPECT_EQ(res.status, ParseStatus::malformed) << bytes;
    EXPECT_EQ(res.bad_line, bad) << bytes;
    EXPECT_EQ(res.consumed, first.size()) << bytes;
    EXPECT_EQ(r.events, (std::vector<std::string>{"value 5", reply(ReplyEnd::end)})) << bytes;
  }
}

TEST(HttpRequestTest, IdOrIdsKeptAlive) {
  EXPECT_EQ(get_request(Proto::http, "k", 1, "127.0.0.1"),
            "GET /id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(get_request(Proto::http, "k", 100, "::1"),
            "GET /ids?n=100 HTTP/1.1\r\nHost: [::1]\r\n\r\n");
  EXPECT_EQ(get_request(Proto::text, "k", 2, "h"), "get k0 k1\r\n");
}

}  // namespace
}  // namespace katsubushi::bench
