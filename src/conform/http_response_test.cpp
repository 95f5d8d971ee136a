#include "conform/http_response.hpp"

#include <gtest/gtest.h>

#include <string>

namespace katsubushi::conform {
namespace {

HttpFrame frame(std::string_view input, HttpResponse& r, std::size_t& used, bool at_eof = false) {
  std::string error;
  return frame_http_response(input, at_eof, r, used, error);
}

HttpCheck pattern_check(HttpCheck::Kind kind, std::string_view pattern, std::string name = {}) {
  HttpCheck c;
  c.kind = kind;
  c.name = std::move(name);
  std::string error;
  EXPECT_TRUE(parse_pattern(pattern, c.pattern, error)) << error;
  return c;
}

TEST(ConformHttp, ContentLengthResponseFramesWhenWhole) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 4\r\n\r\n4097";
  HttpResponse r;
  std::size_t used = 0;
  for (std::size_t n = 0; n < response.size(); ++n) {
    EXPECT_EQ(frame(response.substr(0, n), r, used), HttpFrame::need_more) << n;
  }
  ASSERT_EQ(frame(response + "HTTP/1.1", r, used), HttpFrame::complete);
  EXPECT_EQ(used, response.size());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.body, "4097");
  ASSERT_NE(r.header("CONTENT-TYPE"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("Server"), nullptr);
}

TEST(ConformHttp, ChunkedBodyIsDecoded) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\n409\r\n1;ext=1\r\n7\r\n0\r\n\r\n";
  HttpResponse r;
  std::size_t used = 0;
  EXPECT_EQ(frame(response.substr(0, response.size() - 1), r, used), HttpFrame::need_more);
  ASSERT_EQ(frame(response, r, used), HttpFrame::complete);
  EXPECT_EQ(r.body, "4097");
  EXPECT_EQ(used, response.size());
}

TEST(ConformHttp, BodyWithoutLengthRunsToTheClose) {
  const std::string response = "HTTP/1.0 200 OK\r\n\r\n4097";
  HttpResponse r;
  std::size_t used = 0;
  EXPECT_EQ(frame(response, r, used), HttpFrame::need_eof);
  ASSERT_EQ(frame(response, r, used, true), HttpFrame::complete);
  EXPECT_EQ(r.body, "4097");
}

TEST(ConformHttp, NoBodyFor204) {
  HttpResponse r;
  std::size_t used = 0;
  ASSERT_EQ(frame("HTTP/1.1 204 No Content\r\n\r\nrest", r, used), HttpFrame::complete);
  EXPECT_EQ(used, 27u);
}

TEST(ConformHttp, NotHttpIsMalformedAtOnce) {
  HttpResponse r;
  std::size_t used = 0;
  EXPECT_EQ(frame("ERROR\r\n", r, used), HttpFrame::malformed);
  EXPECT_EQ(frame("HTTP/1.1 2x0 OK\r\n\r\n", r, used), HttpFrame::malformed);
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", r, used), HttpFrame::malformed);
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", r, used),
            HttpFrame::malformed);
  EXPECT_EQ(frame("HTT", r, used), HttpFrame::need_more);
}

TEST(ConformHttp, ChecksStatusHeadersAndBody) {
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  r.body = "4097\n4098\n";
  HttpExpectation want;
  want.status = 200;
  want.checks.push_back(pattern_check(HttpCheck::Kind::header, "text/plain{any}", "content-type"));
  want.checks.push_back(pattern_check(HttpCheck::Kind::body, "{id}\\n{id}{ws}"));
  std::vector<std::uint64_t> ids;
  std::string error;
  ASSERT_TRUE(check_http(want, r, ids, error)) << error;
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{4097, 4098}));

  want.status = 404;
  EXPECT_FALSE(check_http(want, r, ids, error));
  EXPECT_NE(error.find("status 200, expected 404"), std::string::npos) << error;
  want.status = 0;  // any
  EXPECT_TRUE(check_http(want, r, ids, error)) << error;

  want.checks.push_back(pattern_check(HttpCheck::Kind::header, "{any}", "X-Missing"));
  EXPECT_FALSE(check_http(want, r, ids, error));
  EXPECT_EQ(error, "no X-Missing header");
}

TEST(ConformHttp, JsonBodiesAreComparedCompact) {
  HttpResponse r;
  r.status = 200;
  r.body = "{\n  \"ids\": [\"4097\", \"4098\"]\n}\n";
  HttpExpectation want;
  want.status = 200;
  want.checks.push_back(pattern_check(HttpCheck::Kind::body_json, R"({"ids":["{id}","{id}"]})"));
  std::vector<std::uint64_t> ids;
  std::string error;
  ASSERT_TRUE(check_http(want, r, ids, error)) << error;
  EXPECT_EQ(ids.size(), 2u);

  r.body = "{\"ids\": [4097, 4098]}";  // numbers, not strings
  EXPECT_FALSE(check_http(want, r, ids, error));
  r.body = "not json";
  EXPECT_FALSE(check_http(want, r, ids, error));
  EXPECT_NE(error.find("not JSON"), std::string::npos) << error;
}

TEST(ConformHttp, JsonKeysInOrderAndBodyHas) {
  HttpResponse r;
  r.status = 200;
  r.body = R"({"pid":1,"uptime":2,"extra":true,"time":3})";
  HttpExpectation want;
  want.status = 200;
  HttpCheck keys;
  keys.kind = HttpCheck::Kind::json_keys;
  keys.keys = {"pid", "uptime", "time"};
  want.checks.push_back(keys);
  HttpCheck has;
  has.kind = HttpCheck::Kind::body_has;
  has.text = "\"extra\"";
  want.checks.push_back(has);
  std::vector<std::uint64_t> ids;
  std::string error;
  EXPECT_TRUE(check_http(want, r, ids, error)) << error;

  want.checks[0].keys = {"uptime", "pid"};
  EXPECT_FALSE(check_http(want, r, ids, error));
  EXPECT_NE(error.find("\"pid\" comes before"), std::string::npos) << error;
  want.checks[0].keys = {"pid", "version"};
  EXPECT_FALSE(check_http(want, r, ids, error));
  EXPECT_NE(error.find("no \"version\""), std::string::npos) << error;
  want.checks[0].keys = {"pid"};
  want.checks[1].text = "# TYPE";
  EXPECT_FALSE(check_http(want, r, ids, error));
}

}  // namespace
}  // namespace katsubushi::conform
