// The routes alone: requests as values, no parsing, no session.
#include "id/issue_waiting.hpp"
#include "http/routes.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/limits.hpp"
#include "id/generator.hpp"
#include "id/layout.hpp"
#include "id/manual_clock.hpp"
#include "service/id_service.hpp"
#include "service/stats.hpp"

namespace katsubushi::http {
namespace {

constexpr std::int64_t kStartUnixMs = id::kEpochUnixMs + 777'000;
constexpr std::uint32_t kWorker = 9;

// An id written out from the layout by hand.
constexpr std::uint64_t id_at(std::int64_t unix_ms, std::uint64_t sequence) {
  return (static_cast<std::uint64_t>(unix_ms - id::kEpochUnixMs) << 22) |
         (std::uint64_t{kWorker} << 12) | sequence;
}

class ListStats final : public service::StatsSource {
 public:
  service::StatList general_stats() override { return list; }
  service::StatList settings_stats() override { return {}; }
  service::StatList list = {{"pid", "4242"},
                          {"version", "1.2.3 \"quoted\""},
                          {"cmd_get", "18446744073709551615"},
                          {"clock_drift_ms", "-1500"},
                          {"lease_state", "static"},
                          {"rusage_user", "0.004000"}};
};

struct RoutesTest : ::testing::Test {
  id::ManualClock clock{kStartUnixMs};
  id::IdGenerator generator{clock, kWorker, id::GeneratorOptions{.max_backward_wait_ms = 100}};
  service::ProtocolCounters counters;
  service::IdService ids{generator, counters};
  ListStats stats;
  RouteContext context{ids, generator, &stats};

  Response get(std::string_view target, bool json = false, Method m = Method::get) {
    return route(Request{.method = m, .target = target, .wants_json = json}, context);
  }

  // Used up kStartUnixMs's ids, then the clock steps back past the limit.
  void make_generator_refuse() {
    std::vector<std::uint64_t> all(id::kSequencePerMs);
    ASSERT_FALSE(katsubushi::id::issue_waiting(generator, all).error);
    clock.set(kStartUnixMs - 500);
  }
};

TEST_F(RoutesTest, IdIsTheDecimalIdWithoutNewline) {
  const Response r = get("/id");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_EQ(r.body, std::to_string(id_at(kStartUnixMs, 0)));
  EXPECT_EQ(get("/id").body, std::to_string(id_at(kStartUnixMs, 1)));
  EXPECT_EQ(counters.cmd_get.load(), 2u);
  EXPECT_EQ(counters.get_hits.load(), 2u);
}

TEST_F(RoutesTest, IdAsJsonIsAStringAsGoWritesIt) {
  const Response r = get("/id", true);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"id\":\"" + std::to_string(id_at(kStartUnixMs, 0)) + "\"}");
}

TEST_F(RoutesTest, IdsAreOnePerLineWithoutTrailingNewline) {
  const Response r = get("/ids?n=3");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, std::to_string(id_at(kStartUnixMs, 0)) + "\n" +
                        std::to_string(id_at(kStartUnixMs, 1)) + "\n" +
                        std::to_string(id_at(kStartUnixMs, 2)));
  EXPECT_EQ(counters.cmd_get.load(), 3u);  // ids asked, as get counts keys
}

TEST_F(RoutesTest, IdsAsJsonAreStringsThenANewline) {
  const Response r = get("/ids?n=2", true);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"ids\":[\"" + std::to_string(id_at(kStartUnixMs, 0)) + "\",\"" +
                        std::to_string(id_at(kStartUnixMs, 1)) + "\"]}\n");
}

TEST_F(RoutesTest, IdsWithoutNOrEmptyNGiveOneAsGoDoes) {
  for (const char* target : {"/ids", "/ids?", "/ids?n=", "/ids?x=1", "/ids?n"}) {
    SCOPED_TRACE(target);
    const Response r = get(target);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body.find('\n'), std::string::npos) << r.body;
    EXPECT_FALSE(r.body.empty());
  }
}

TEST_F(RoutesTest, IdsTakeNFromTheQueryDecoded) {
  for (const auto& [target, n] : std::vector<std::pair<std::string, std::size_t>>{
           {"/ids?n=5", 5},
           {"/ids?x=1&n=4", 4},
           {"/ids?n=%32", 2},
           {"/ids?n=1000", 1000},
           {"/ids?n=007", 7},
           {"/ids?n=2&n=9", 2},           // the first value, as url.Values.Get
           {"http://h:1/ids?n=6", 6}}) {  // absolute form
    SCOPED_TRACE(target);
    const Response r = get(target, true);
    ASSERT_EQ(r.status, 200u) << r.body;
    const auto v = boost::json::parse(r.body);
    EXPECT_EQ(v.at("ids").as_array().size(), n);
  }
}

TEST_F(RoutesTest, BadNIsA400AndIssuesNothing) {
  for (const char* target : {"/ids?n=0", "/ids?n=1001", "/ids?n=abc", "/ids?n=-1", "/ids?n=+5",
                             "/ids?n=5x", "/ids?n=1.0", "/ids?n=99999999999999999999",
                             "/ids?n=%205", "/ids?n=5%00"}) {
    SCOPED_TRACE(target);
    const Response r = get(target);
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(r.body, "n must be a number from 1 to 1000\n");
  }
  EXPECT_EQ(generator.counters().ids_issued, 0u);
  EXPECT_EQ(counters.cmd_get.load(), 0u);
}

// A malformed escape anywhere in the target refuses the request: read as
// "no n", `n=%zz` would quietly give one id (go-katsubushi does so).
TEST_F(RoutesTest, MalformedEscapeAnywhereIsA400AndIssuesNothing) {
  for (const char* target : {"/ids?n=%zz", "/ids?n=%3", "/ids?n=%", "/ids?n=%zz&n=3",
                             "/ids?x=%g1&n=2", "/ids?%=1", "/i%d", "/id%", "/id%2", "/stats?x=%",
                             "/nope%zz"}) {
    SCOPED_TRACE(target);
    for (Method m : {Method::get, Method::head, Method::other}) {
      const Response r = get(target, false, m);
      EXPECT_EQ(r.status, 400u);
      EXPECT_TRUE(r.body.starts_with("bad request: ")) << r.body;
    }
  }
  EXPECT_EQ(get("/ids?n=%32&x=%7e%7E").status, 200u);  // well-formed, either case
  EXPECT_EQ(generator.counters().ids_issued, 2u);
}

// As Go's ServeMux: a path with dot-segments or empty segments is redirected
// to its clean form, the query kept; nothing is issued on the way.
TEST_F(RoutesTest, UncleanPathsAre301ToTheCleanPath) {
  for (const auto& [target, location] : std::vector<std::pair<std::string, std::string>>{
           {"/x/../id", "/id"},
           {"/./ids?n=2", "/ids?n=2"},
           {"//id", "/id"},
           {"/id/.", "/id"},
           {"/../../stats", "/stats"},
           {"/x/..", "/"},
           {"/nope/../nope2/", "/nope2/"},
           {"http://h:1/a/../id", "/id"},
           {"/\xc3\xa9/../id", "/id"},
           {"/\xc3\xa9//", "/%C3%A9/"}}) {
    SCOPED_TRACE(target);
    for (Method m : {Method::get, Method::head, Method::other}) {
      const Response r = get(target, false, m);
      EXPECT_EQ(r.status, 301u);
      EXPECT_EQ(r.location, location);
    }
  }
  EXPECT_EQ(generator.counters().ids_issued, 0u);
  EXPECT_EQ(get("/id/").status, 404u);  // a trailing slash is kept, as Go keeps it
}

// RFC 9110 §9.3.7: `OPTIONS *` asks about the server as a whole; RFC 9112
// §3.2.4: the asterisk form is for nothing else.
TEST_F(RoutesTest, OptionsAsteriskIs200AndAsteriskOtherwise400) {
  const Response ok = get("*", false, Method::options);
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, "");
  for (Method m : {Method::get, Method::head, Method::other}) {
    EXPECT_EQ(get("*", false, m).status, 400u);
  }
  const Response on_path = get("/id", false, Method::options);
  EXPECT_EQ(on_path.status, 405u);
  EXPECT_EQ(on_path.allow, "GET");
  EXPECT_EQ(generator.counters().ids_issued, 0u);
}

TEST_F(RoutesTest, IdsAreStrictlyIncreasingAcrossRequestsAndMilliseconds) {
  std::uint64_t last = 0;
  int waits = 0;
  for (int round = 0; round < 12; ++round) {
    Response r = get("/ids?n=1000");
    if (r.not_before_unix_ms != 0) {
      // 4096 ids a millisecond: the fifth 1000 does not fit. Nothing is
      // issued or counted; the same request is answered once the clock moves.
      ++waits;
      EXPECT_EQ(r.not_before_unix_ms, clock.now_unix_ms() + 1);
      EXPECT_TRUE(r.body.empty());
      EXPECT_EQ(generator.counters().ids_issued, static_cast<std::uint64_t>(round) * 1000);
      EXPECT_EQ(counters.cmd_get.load(), static_cast<std::uint64_t>(round) * 1000);
      clock.set(r.not_before_unix_ms);
      r = get("/ids?n=1000");
    }
    ASSERT_EQ(r.status, 200u);
    std::size_t from = 0;
    for (;;) {
      const std::size_t nl = r.body.find('\n', from);
      const std::uint64_t v = std::stoull(r.body.substr(from, nl - from));
      ASSERT_GT(v, last);
      last = v;
      if (nl == std::string::npos) break;
      from = nl + 1;
    }
  }
  EXPECT_EQ(waits, 2);  // after 4 requests in each of the first two milliseconds
  EXPECT_EQ(generator.counters().ids_issued, 12'000u);
}

TEST_F(RoutesTest, GeneratorThatCannotIssueIs503WithTheReason) {
  make_generator_refuse();
  const std::string reason = "clock is behind the last issued id\n";
  for (const char* target : {"/id", "/ids?n=3", "/healthz"}) {
    SCOPED_TRACE(target);
    const Response r = get(target, true);
    EXPECT_EQ(r.status, 503u);
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(r.body, reason);
  }
  EXPECT_EQ(counters.get_misses.load(), 4u);
  // The clock catches up: all three answer again.
  clock.set(kStartUnixMs + 1);
  EXPECT_EQ(get("/healthz").status, 200u);
  EXPECT_EQ(get("/id").body, std::to_string(id_at(kStartUnixMs + 1, 0)));
}

// What the issue window refuses (a stored mark not yet passed, no lease, the
// reserved-until mark reached) is a 503 with the reason on every route that
// issues, and on /healthz, so a load balancer takes the daemon out meanwhile.
TEST_F(RoutesTest, TheIssueWindowRefusingIs503WithTheReason) {
  const std::int64_t now_ms = kStartUnixMs - id::kEpochUnixMs;
  struct Case {
    std::function<void()> close;
    std::string reason;
    std::function<void()> reopen;
  };
  const std::vector<Case> cases = {
      {[&] { generator.raise_floor(now_ms + 50); },
       "clock has not yet passed the last reserved mark\n", [&] { clock.advance(51); }},
      {[&] { generator.drop_lease(); }, "no valid worker id lease\n",
       [&] { generator.set_lease(kWorker, clock.now_unix_ms() + 1000); }},
      {[&] { generator.raise_ceiling(clock.now_unix_ms() - id::kEpochUnixMs); },
       "clock has reached the reserved-until mark, which is not yet written ahead\n",
       [&] { generator.raise_ceiling(clock.now_unix_ms() - id::kEpochUnixMs + 1000); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    c.close();
    for (const char* target : {"/id", "/ids?n=3", "/healthz"}) {
      const Response r = get(target);
      EXPECT_EQ(r.status, 503u) << target;
      EXPECT_EQ(r.body, c.reason) << target;
    }
    c.reopen();
    EXPECT_EQ(get("/healthz").status, 200u);
    EXPECT_EQ(get("/id").status, 200u);
  }
}

TEST_F(RoutesTest, HealthzIsOkWithoutIssuing) {
  const Response r = get("/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "ok\n");
  clock.set(id::kEpochUnixMs - 1);
  EXPECT_EQ(get("/healthz").status, 503u);
  EXPECT_EQ(get("/healthz").body, "clock is before the id epoch\n");
  EXPECT_EQ(generator.counters().ids_issued, 0u);
  EXPECT_EQ(counters.cmd_get.load(), 0u);
}

TEST_F(RoutesTest, StatsAreJsonNumbersAndStringsIndentedAsGo) {
  const Response r = get("/stats");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\n"
            "  \"pid\": 4242,\n"
            "  \"version\": \"1.2.3 \\\"quoted\\\"\",\n"
            "  \"cmd_get\": 18446744073709551615,\n"
            "  \"clock_drift_ms\": -1500,\n"
            "  \"lease_state\": \"static\",\n"
            "  \"rusage_user\": 0.004000\n"
            "}\n");
  const auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("cmd_get").as_uint64(), 18446744073709551615u);
  EXPECT_EQ(v.at("version").as_string(), "1.2.3 \"quoted\"");
}

TEST_F(RoutesTest, StatsWithoutASourceIsAnEmptyObject) {
  context.stats = nullptr;
  EXPECT_EQ(get("/stats").body, "{}\n");
  EXPECT_EQ(get("/metrics").body, "");
  EXPECT_EQ(get("/metrics").status, 200u);
}

TEST_F(RoutesTest, MetricsAreThePrometheusTextFormat) {
  const Response r = get("/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("\nkatsubushi_cmd_get_total 18446744073709551615\n"), std::string::npos)
      << r.body;
}

TEST_F(RoutesTest, UnknownPathsAre404WhateverTheMethod) {
  for (const char* target : {"/", "/id/", "/ids/", "/ID", "/idx", "/stats/x", "example.com:80",
                             "/metrics2", ""}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(get(target).status, 404u);
    EXPECT_EQ(get(target, false, Method::other).status, 404u);
  }
  EXPECT_EQ(generator.counters().ids_issued, 0u);
}

TEST_F(RoutesTest, OtherMethodsAre405WithAllow) {
  for (const char* target : {"/id", "/ids?n=2"}) {
    for (Method m : {Method::head, Method::options, Method::other}) {
      const Response r = get(target, false, m);
      EXPECT_EQ(r.status, 405u) << target;
      EXPECT_EQ(r.allow, "GET") << target;
    }
  }
  for (const char* target : {"/stats", "/metrics", "/healthz"}) {
    const Response r = get(target, false, Method::other);
    EXPECT_EQ(r.status, 405u) << target;
    EXPECT_EQ(r.allow, "GET, HEAD") << target;
    EXPECT_EQ(get(target, false, Method::head).status, 200u) << target;
  }
  EXPECT_EQ(generator.counters().ids_issued, 0u);
}

}  // namespace
}  // namespace katsubushi::http
