// katsubushi-bench: load for a memcached server (this daemon or memcached;
// text or binary protocol) or this daemon's HTTP or gRPC, and the figures to compare
// them: requests/s, ids/s, latency
// percentiles, errors, the server's CPU time per request and RSS per idle
// connection. The work is in src/bench/; this file reads flags and prints.
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/json_object.hpp"
#include "bench/load_run.hpp"
#include "bench/options.hpp"
#include "bench/preload.hpp"

namespace {

using katsubushi::bench::BenchOptions;
using katsubushi::bench::JsonObject;

// Settle time for -idle-conns when no -duration is given: long enough for
// the server to finish with the connections' first request.
constexpr std::chrono::seconds kDefaultIdleSettle{1};

void complain(const std::string& message) {
  std::fprintf(stderr, "katsubushi-bench: %s\n", message.c_str());
}

// -idle-conns and -conns need file descriptors: as many as the hard limit allows.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

// The load run's figures; false when it must exit 1.
bool report_load(const BenchOptions& o, JsonObject& json) {
  using namespace katsubushi::bench;
  const LoadSummary s = run_load(o);
  for (const auto& f : s.failures) complain(f);
  if (!s.ran) return false;
  bool ok = s.failures.empty();

  const double p50 = us(s.latency->percentile(0.50));
  const double p99 = us(s.latency->percentile(0.99));
  const double p999 = us(s.latency->percentile(0.999));
  json.add("proto", o.proto);
  json.add("conns", std::uint64_t{o.conns});
  json.add("depth", std::uint64_t{o.depth});
  json.add("keys", std::uint64_t{o.keys});
  json.add("seconds", s.seconds);
  json.add("requests", s.requests);
  json.add("ids", s.ids);
  json.add("requests_per_s", per_second(s.requests, s.seconds));
  json.add("ids_per_s", per_second(s.ids, s.seconds));
  json.add("p50_us", p50);
  json.add("p99_us", p99);
  json.add("p999_us", p999);
  json.add("max_us", us(s.latency->max()));
  json.add("errors", s.errors);
  json.add("misses", s.misses);
  json.add("failed_conns", std::uint64_t{s.failures.size()});
  if (o.proto == "http") json.add("reconnects", s.reconnects);

  if (!o.json) {
    std::printf("workload      %s, %u conn%s x depth %u x %u %s a request, ", o.proto.c_str(),
                o.conns, o.conns == 1 ? "" : "s", o.depth, o.keys,
                o.proto == "http" || o.proto == "grpc" ? (o.keys == 1 ? "id" : "ids")
                                                       : (o.keys == 1 ? "key" : "keys"));
    if (o.requests > 0) {
      std::printf("%llu requests\n", static_cast<unsigned long long>(o.requests));
    } else {
      std::printf("%.2f s after %.2f s warm-up\n", s.seconds,
                  std::chrono::duration<double>(o.warmup).count());
    }
    std::printf("requests/s    %.0f  (%llu in %.2f s)\n", per_second(s.requests, s.seconds),
                static_cast<unsigned long long>(s.requests), s.seconds);
    std::printf("ids/s         %.0f\n", per_second(s.ids, s.seconds));
    std::printf("latency us    p50 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", p50, p99, p999,
                us(s.latency->max()));
    std::printf("errors        %llu\n", static_cast<unsigned long long>(s.errors));
    if (s.misses > 0) std::printf("misses        %llu\n", static_cast<unsigned long long>(s.misses));
    if (o.proto == "http") {
      std::printf("reconnects    %llu  (after Connection: close)\n",
                  static_cast<unsigned long long>(s.reconnects));
    }
  }
  if (s.errors > 0 && !o.allow_errors) {
    complain(std::to_string(s.errors) + " error replies (-allow-errors to accept them)");
    ok = false;
  }

  if (o.pid > 0) {
    if (s.server_cpu && s.requests > 0) {
      const auto cpu_us = static_cast<double>(s.server_cpu->count());
      const double per_request = cpu_us / static_cast<double>(s.requests);
      const double per_id = s.ids > 0 ? cpu_us / static_cast<double>(s.ids) : 0.0;
      json.add("server_cpu_us", cpu_us);
      json.add("server_cpu_us_per_request", per_request);
      json.add("server_cpu_us_per_id", per_id);
      if (!o.json) {
        std::printf("server CPU    %.2f us/request, %.3f us/id  (%.0f ms in the window, pid %d)\n",
                    per_request, per_id, cpu_us / 1000.0, o.pid);
      }
    } else {
      complain("cannot read the CPU time of pid " + std::to_string(o.pid));
      ok = false;
    }
  }

  if (o.check) {
    json.add("check", s.check_violations.empty());
    json.add("ids_checked", s.ids_checked);
    for (const auto& v : s.check_violations) complain("check: " + v);
    if (s.check_violations.empty()) {
      if (!o.json) {
        // gRPC calls in flight together may be answered in either order.
        const bool per_call = o.proto == "grpc" && o.depth > 1;
        std::printf("check         %llu ids: %s, increasing per %s, none twice\n",
                    static_cast<unsigned long long>(s.ids_checked),
                    o.proto == "grpc" ? "uint64s" : "decimal uint64s",
                    per_call ? "call" : "connection");
      }
    } else {
      ok = false;
    }
  }
  return ok;
}

bool report_idle(const BenchOptions& o, JsonObject& json) {
  using namespace katsubushi::bench;
  const auto settle =
      o.duration_set ? o.duration : std::chrono::nanoseconds(kDefaultIdleSettle);
  const IdleResult r =
      hold_idle_connections(o.host, o.port, o.key_prefix, o.idle_conns, o.pid, settle);
  if (!r.failure.empty()) {
    complain(r.failure);
    return false;
  }
  json.add("idle_conns", std::uint64_t{o.idle_conns});
  json.add("idle_errors", r.errors);
  bool ok = true;
  if (r.errors > 0 && !o.allow_errors) {
    complain(std::to_string(r.errors) + " error replies to the idle connections' gets");
    ok = false;
  }
  if (r.rss_before_kb && r.rss_after_kb) {
    const auto before = static_cast<double>(*r.rss_before_kb);
    const auto after = static_cast<double>(*r.rss_after_kb);
    const double per_conn = (after - before) * 1024.0 / o.idle_conns;
    json.add("rss_before_kb", *r.rss_before_kb);
    json.add("rss_after_kb", *r.rss_after_kb);
    json.add("rss_per_idle_conn_bytes", per_conn);
    if (!o.json) {
      std::printf("idle conns    %u\n", o.idle_conns);
      std::printf("server RSS    %.0f kB before, %.0f kB with them open\n", before, after);
      std::printf("RSS per idle connection  %.0f bytes\n", per_conn);
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace katsubushi::bench;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const OptionsResult parsed = parse_options(args);
  if (!parsed.error.empty()) {
    complain(parsed.error);
    std::fputs("Run katsubushi-bench -help for the flags.\n", stderr);
    return 2;
  }
  const BenchOptions& o = parsed.options;
  if (o.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  raise_fd_limit();
  JsonObject json;
  bool ok = true;
  if (o.preload > 0) {
    if (const std::string error = preload_keys(o.host, o.port, o.key_prefix, o.preload);
        !error.empty()) {
      complain("preload: " + error);
      return 1;
    }
    json.add("preloaded", o.preload);
    if (!o.json) {
      std::printf("preloaded     %llu keys (%s0..%s%llu)\n",
                  static_cast<unsigned long long>(o.preload), o.key_prefix.c_str(),
                  o.key_prefix.c_str(), static_cast<unsigned long long>(o.preload - 1));
    }
  }
  if (o.idle_conns > 0) ok = report_idle(o, json) && ok;
  if (o.runs_load()) ok = report_load(o, json) && ok;
  if (o.json) std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}
