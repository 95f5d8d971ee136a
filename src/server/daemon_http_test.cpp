// HTTP against the real daemon: on the memcached port (sniffed from the
// request line) and on -http-port; with curl and, where installed, promtool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/metrics.hpp"
#include "id/layout.hpp"
#include "testing/daemon_fixture.hpp"
#include "testing/daemon_process.hpp"
#include "testing/http_wire.hpp"

namespace katsubushi::testing {
namespace {

constexpr std::uint32_t kWorkerId = 77;

// An HTTP/1.1 client on one kept-alive connection, reading one response at
// a time (bytes past it stay for the next).
class HttpClient {
 public:
  bool connect(std::uint16_t port) {
    // The -http-port listener is bound before the daemon answers on -port,
    // but a loaded machine gets a few tries.
    for (int i = 0; i < 100; ++i) {
      if (conn_.connect_tcp("127.0.0.1", port)) return true;
      std::this_thread::sleep_for(Millis(20));
    }
    return false;
  }

  bool send(std::string_view bytes) { return conn_.send_all(bytes); }

  // The next whole response; nullopt if it did not come or is malformed.
  std::optional<ParsedResponse> read(bool head = false) {
    for (;;) {
      const auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto parsed = parse_responses(buf_.substr(0, end + 4), {0});
        if (!parsed.error.empty() || parsed.responses.size() != 1) {
          ADD_FAILURE() << parsed.error << "\n" << buf_;
          return std::nullopt;
        }
        ParsedResponse r = parsed.responses[0];
        const std::size_t length = head ? 0 : std::stoul(*r.header("Content-Length"));
        if (buf_.size() >= end + 4 + length) {
          r.body = buf_.substr(end + 4, length);
          r.head = head;
          buf_.erase(0, end + 4 + length);
          return r;
        }
      }
      const RecvStatus s = conn_.recv_some(buf_, kReplyTimeout);
      if (s != RecvStatus::data) {
        ADD_FAILURE() << "connection ended before a whole response; have: " << buf_;
        return std::nullopt;
      }
    }
  }

  std::optional<ParsedResponse> get(std::string_view target, std::string_view extra = {}) {
    if (!send("GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) +
              "\r\n")) {
      return std::nullopt;
    }
    return read();
  }

  // Whether the server closed the connection (after everything was read).
  bool closed_by_server() {
    std::string rest;
    for (;;) {
      const RecvStatus s = conn_.recv_some(rest, kReplyTimeout);
      if (s == RecvStatus::closed || s == RecvStatus::error) return rest.empty();
      if (s == RecvStatus::timeout) return false;
    }
  }

 private:
  LoopbackClient conn_;
  std::string buf_;
};

std::uint64_t parse_id(const std::string& s) {
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.find_first_not_of("0123456789"), std::string::npos) << s;
  return std::stoull(s);
}

void expect_our_id(std::uint64_t v) {
  EXPECT_EQ(id::decode(v).worker_id, kWorkerId);
  const auto now_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  // Today's, not a fixed value: an hour is slack, not timing.
  EXPECT_NEAR(static_cast<double>(id::decode(v).timestamp_ms + id::kEpochUnixMs),
              static_cast<double>(now_ms), 3600.0 * 1000);
}

// Every route, one connection kept alive, on `port`.
void expect_every_route(std::uint16_t port, DaemonProcess& daemon) {
  HttpClient c;
  ASSERT_TRUE(c.connect(port));

  auto r = c.get("/id");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("Content-Type"), "text/plain");
  const std::uint64_t first = parse_id(r->body);
  expect_our_id(first);

  r = c.get("/ids?n=5", "Accept: application/json\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  const auto json = boost::json::parse(r->body);
  const auto& ids = json.at("ids").as_array();
  ASSERT_EQ(ids.size(), 5u);
  std::uint64_t last = first;
  for (const auto& v : ids) {
    const std::uint64_t x = parse_id(std::string(v.as_string()));
    EXPECT_GT(x, last);
    last = x;
  }

  r = c.get("/stats");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  const auto stats = boost::json::parse(r->body).as_object();
  EXPECT_EQ(stats.at("pid").as_int64(), daemon.pid());
  EXPECT_EQ(stats.at("worker_id").as_int64(), kWorkerId);
  EXPECT_TRUE(stats.at("version").is_string());
  EXPECT_TRUE(stats.at("lease_state").is_string());
  EXPECT_GE(stats.at("ids_issued").as_int64(), 6);
  EXPECT_GE(stats.at("cmd_get").as_int64(), 6);
  EXPECT_TRUE(stats.at("rusage_user").is_double());

  r = c.get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(check_exposition(r->body), "") << r->body;
  // Every stat the daemon reports is a metric family.
  for (const auto& [name, value] : stats) {
    const http::MetricInfo* m = http::find_metric(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_NE(r->body.find("# TYPE " + std::string(m->metric) + " "), std::string::npos)
        << m->metric;
  }

  r = c.get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "ok\n");

  r = c.get("/nowhere");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  ASSERT_TRUE(c.send("DELETE /id HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405u);
  EXPECT_EQ(r->header("Allow"), "GET");
  ASSERT_TRUE(c.send("HEAD /stats HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.read(true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);

  // Still the same connection: pipelined, then closed on request.
  ASSERT_TRUE(c.send("GET /id HTTP/1.1\r\nHost: t\r\n\r\nGET /id HTTP/1.1\r\nHost: t\r\n"
                     "Connection: close\r\n\r\n"));
  const auto a = c.read();
  const auto b = c.read();
  ASSERT_TRUE(a && b);
  EXPECT_GT(parse_id(a->body), last);
  EXPECT_GT(parse_id(b->body), parse_id(a->body));
  EXPECT_FALSE(a->closes());
  EXPECT_TRUE(b->closes());
  EXPECT_TRUE(c.closed_by_server());
}

using DaemonHttpTest = DaemonFixture<kWorkerId, DaemonStart::by_test>;

TEST_F(DaemonHttpTest, EveryRouteOnTheMemcachedPort) {
  start();
  expect_every_route(daemon_.port(), daemon_);
  // The port still speaks memcached to the next client.
  LoopbackClient mc;
  ASSERT_TRUE(mc.connect_tcp("127.0.0.1", daemon_.port()));
  const auto values = request_ids(mc, "get after_http");
  ASSERT_TRUE(values);
  EXPECT_EQ(values->size(), 1u);
}

TEST_F(DaemonHttpTest, EveryRouteOnTheHttpPort) {
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port)});
  expect_every_route(http_port, daemon_);
}

TEST_F(DaemonHttpTest, IdsIncreaseAcrossThePortsAndProtocols) {
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port)});
  HttpClient on_http;
  HttpClient on_main;
  ASSERT_TRUE(on_http.connect(http_port));
  ASSERT_TRUE(on_main.connect(daemon_.port()));
  LoopbackClient mc;
  ASSERT_TRUE(mc.connect_tcp("127.0.0.1", daemon_.port()));
  std::uint64_t last = 0;
  for (int i = 0; i < 30; ++i) {
    std::uint64_t v = 0;
    if (i % 3 == 0) {
      const auto r = on_http.get("/id");
      ASSERT_TRUE(r);
      v = parse_id(r->body);
    } else if (i % 3 == 1) {
      const auto r = on_main.get("/id");
      ASSERT_TRUE(r);
      v = parse_id(r->body);
    } else {
      const auto values = request_ids(mc, "get k");
      ASSERT_TRUE(values && values->size() == 1);
      v = values->front().id;
    }
    EXPECT_GT(v, last) << i;
    last = v;
  }
}

TEST_F(DaemonHttpTest, CurlGetsAnIdFromBothPorts) {
  const auto curl = program_on_path("curl");
  if (!curl) GTEST_SKIP() << "curl is not installed (ci/deps.sh installs it)";
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port)});
  for (const std::uint16_t port : {daemon_.port(), http_port}) {
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    auto r = run_command(*curl, {"-s", "--max-time", "10", base + "/id"});
    ASSERT_TRUE(r.status && r.status->clean()) << r.err;
    expect_our_id(parse_id(r.out));

    r = run_command(*curl, {"-s", "--max-time", "10", "-H", "Accept: application/json",
                            base + "/ids?n=3"});
    ASSERT_TRUE(r.status && r.status->clean()) << r.err;
    EXPECT_EQ(boost::json::parse(r.out).at("ids").as_array().size(), 3u) << r.out;

    r = run_command(*curl, {"-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                            base + "/ids?n=1001"});
    ASSERT_TRUE(r.status && r.status->clean()) << r.err;
    EXPECT_EQ(r.out, "400");
  }
}

TEST_F(DaemonHttpTest, PromtoolAcceptsTheMetrics) {
  const auto promtool = program_on_path("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  start();
  HttpClient c;
  ASSERT_TRUE(c.connect(daemon_.port()));
  ASSERT_TRUE(c.get("/id"));  // some counters above zero
  const auto r = c.get("/metrics");
  ASSERT_TRUE(r);
  TempDir dir;
  const auto file = dir.path() / "metrics.txt";
  std::ofstream(file) << r->body;
  // promtool reads stdin; run_command's stdin is /dev/null, so a shell redirects.
  const auto check = run_command("/bin/sh", {"-c", *promtool + " check metrics < " + file.string()});
  ASSERT_TRUE(check.status);
  EXPECT_TRUE(check.status->clean()) << check.out << check.err << "\n" << r->body;
}

// What outside testing found answered 200: each refused on the wire, on
// both ports. A refusal of the framing or of Host closes the connection (a
// smuggled second request is never answered); a bad target does not.
TEST_F(DaemonHttpTest, RefusesWhatRfc9112RefusesOnBothPorts) {
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port)});
  for (const std::uint16_t port : {daemon_.port(), http_port}) {
    SCOPED_TRACE(port);
    HttpClient c;
    ASSERT_TRUE(c.connect(port));
    for (const char* target : {"/ids?n=%zz", "/ids?n=%3"}) {
      const auto r = c.get(target);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400u) << target;
      EXPECT_FALSE(r->closes());
    }
    auto r = c.get("/x/../id");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 301u);
    EXPECT_EQ(r->header("Location"), "/id");
    ASSERT_TRUE(c.send("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    ASSERT_TRUE(c.send("get /id HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405u);
    r = c.get("/id");  // the connection went on
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);

    for (const char* request : {
             "GET /id HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
             "GET /id HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n",
             "GET /id HTTP/1.1\r\n\r\n",
             "GET /id HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n"}) {
      SCOPED_TRACE(request);
      HttpClient one;
      ASSERT_TRUE(one.connect(port));
      ASSERT_TRUE(one.send(std::string(request) + "GET /id HTTP/1.1\r\nHost: t\r\n\r\n"));
      r = one.read();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400u);
      EXPECT_TRUE(r->closes());
      EXPECT_TRUE(one.closed_by_server()) << "the second request was answered";
    }
  }
}

// Over -max-connections, an HTTP client on -http-port is told so in HTTP;
// the main port, where nothing is read before the refusal, keeps the
// memcached line.
TEST_F(DaemonHttpTest, OverMaxConnectionsTheHttpPortAnswers503) {
  const std::uint16_t http_port = free_tcp_port();
  start({"-http-port=" + std::to_string(http_port), "-max-connections=1"});
  // The one slot is the holder's once it is served: until the start-up
  // probe's slot is given back, the holder itself is refused (and retried).
  LoopbackClient holder;
  std::int64_t rejected = -1;
  for (int i = 0; i < 500 && rejected < 0; ++i) {
    if (i > 0) std::this_thread::sleep_for(Millis(20));
    holder.close();
    if (!holder.connect_tcp("127.0.0.1", daemon_.port())) continue;
    const auto stats = query_stats(holder);
    if (stat_value(stats, "curr_connections") == 1) {
      rejected = stat_value(stats, "rejected_connections");
    }
  }
  ASSERT_GE(rejected, 0) << "no connection was served";

  LoopbackClient http;
  ASSERT_TRUE(http.connect_tcp("127.0.0.1", http_port));
  const auto reply = http.read_until_closed();
  ASSERT_TRUE(reply) << "the connection over the limit was not closed";
  const auto parsed = parse_responses(*reply);
  ASSERT_EQ(parsed.error, "") << *reply;
  ASSERT_EQ(parsed.responses.size(), 1u);
  EXPECT_EQ(parsed.responses[0].status, 503u);
  EXPECT_EQ(parsed.responses[0].header("Retry-After"), "1");
  EXPECT_TRUE(parsed.responses[0].closes());

  LoopbackClient memcached;
  ASSERT_TRUE(memcached.connect_tcp("127.0.0.1", daemon_.port()));
  EXPECT_EQ(memcached.read_until_closed(), "SERVER_ERROR too many open connections\r\n");
  EXPECT_EQ(stat_value(query_stats(holder), "rejected_connections"), rejected + 2);
}

TEST(DaemonHttpFlags, HttpPortEqualToThePortIsAFlagError) {
  const std::uint16_t port = free_tcp_port();
  const auto r = run_command(daemon_binary(), {"-worker-id=1", "-port=" + std::to_string(port),
                                               "-http-port=" + std::to_string(port)});
  ASSERT_TRUE(r.status);
  EXPECT_TRUE(r.status->exited);
  EXPECT_EQ(r.status->code, 2) << r.err;
  EXPECT_NE(r.err.find("-http-port"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace katsubushi::testing
