#include "bench/options.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>

#include "bench/requests.hpp"
#include "config/duration.hpp"
#include "config/limits.hpp"

namespace katsubushi::bench {

namespace {

// Upper bounds: generous, only there to turn a typo into an error instead of
// an attempt to open a million sockets.
constexpr std::uint64_t kMaxConns = 100'000;
constexpr std::uint64_t kMaxDepth = 65'536;
// The daemon's own top for -max-keys-per-get: a get of that many keys is a
// real (if rare) load, the fairness row's bulk client among them.
constexpr std::uint64_t kMaxKeys = config::kMaxKeysPerGetRange.max;
constexpr std::size_t kMaxKeyBytes = 250;  // memcached's key limit

using Setter = std::function<std::string(BenchOptions&, std::string_view)>;

struct FlagSpec {
  std::string_view name;
  std::string_view help;
  bool is_bool = false;
  Setter set;  // returns an error message, empty when the value is good
};

std::string bad_value(std::string_view flag, std::string_view v, std::string_view why) {
  return "invalid value \"" + std::string(v) + "\" for flag -" + std::string(flag) + ": " +
         std::string(why);
}

std::optional<std::uint64_t> parse_uint(std::string_view v) {
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return n;
}

template <class T>
FlagSpec uint_flag(std::string_view name, T BenchOptions::*field, std::uint64_t min,
                   std::uint64_t max, std::string_view help) {
  return {name, help, false, [=](BenchOptions& o, std::string_view v) -> std::string {
            const auto n = parse_uint(v);
            if (!n || *n < min || *n > max) {
              return bad_value(name, v,
                               "want " + std::to_string(min) + ".." + std::to_string(max));
            }
            o.*field = static_cast<T>(*n);
            return {};
          }};
}

FlagSpec duration_flag(std::string_view name, std::chrono::nanoseconds BenchOptions::*field,
                       bool BenchOptions::*set_flag, std::string_view help) {
  return {name, help, false, [=](BenchOptions& o, std::string_view v) -> std::string {
            const auto d = config::parse_duration(v);
            if (!d) return bad_value(name, v, "want a duration such as 5s or 500ms");
            o.*field = *d;
            o.*set_flag = true;
            return {};
          }};
}

FlagSpec bool_flag(std::string_view name, bool BenchOptions::*field, std::string_view help) {
  return {name, help, true, [=](BenchOptions& o, std::string_view v) -> std::string {
            // Go's strconv.ParseBool.
            for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
              if (v == t) {
                o.*field = true;
                return {};
              }
            }
            for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
              if (v == f) {
                o.*field = false;
                return {};
              }
            }
            return "invalid boolean value \"" + std::string(v) + "\" for flag -" +
                   std::string(name);
          }};
}

FlagSpec string_flag(std::string_view name, std::string BenchOptions::*field,
                     std::string_view help) {
  return {name, help, false, [=](BenchOptions& o, std::string_view v) -> std::string {
            o.*field = std::string(v);
            return {};
          }};
}

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> specs = {
      string_flag("host", &BenchOptions::host, "server address (default 127.0.0.1)"),
      uint_flag("port", &BenchOptions::port, 1, 65535, "server port (required)"),
      uint_flag("conns", &BenchOptions::conns, 1, kMaxConns, "connections (default 1)"),
      uint_flag("depth", &BenchOptions::depth, 1, kMaxDepth,
                "requests in flight per connection; 1 = one at a time (default 1)"),
      uint_flag("keys", &BenchOptions::keys, 1, kMaxKeys, "keys per get (default 1)"),
      string_flag("key-prefix", &BenchOptions::key_prefix,
                  "keys are <prefix>0, <prefix>1, ... (default k)"),
      duration_flag("duration", &BenchOptions::duration, &BenchOptions::duration_set,
                    "measured time (default 5s)"),
      duration_flag("warmup", &BenchOptions::warmup, &BenchOptions::warmup_set,
                    "load before measuring, not counted (default 1s)"),
      uint_flag("requests", &BenchOptions::requests, 1, std::numeric_limits<std::int64_t>::max(),
                "send exactly N requests, all measured, instead of -warmup and -duration"),
      bool_flag("check", &BenchOptions::check,
                "every value a decimal uint64, increasing per connection, none twice; "
                "a violation exits 1"),
      uint_flag("pid", &BenchOptions::pid, 1, std::numeric_limits<int>::max(),
                "the server's pid: its CPU time per request (and RSS with -idle-conns)"),
      uint_flag("preload", &BenchOptions::preload, 1, std::numeric_limits<std::int64_t>::max(),
                "first set <prefix>0..<prefix>N-1 to 19-digit values (for memcached)"),
      uint_flag("idle-conns", &BenchOptions::idle_conns, 1, 1'000'000,
                "open N connections, one get each, hold them idle; with -pid, server RSS per "
                "connection"),
      string_flag("proto", &BenchOptions::proto,
                  "text (default), binary (a get; getkq of each key and a noop with -keys "
                  "over 1), http (GET /id; GET /ids?n=K with -keys K, on -port: the "
                  "daemon's -http-port or its memcached port; not memcached's), or grpc "
                  "(Fetch; FetchMulti n=K with -keys K, on the daemon's -grpc-port)"),
      bool_flag("json", &BenchOptions::json, "print one JSON object of results"),
      bool_flag("allow-errors", &BenchOptions::allow_errors,
                "exit 0 even if the server answered errors"),
      bool_flag("help", &BenchOptions::help, "print this help and exit"),
  };
  return specs;
}

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& f : flag_specs()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string validate(const BenchOptions& o) {
  if (o.help) return {};
  if (o.port == 0) return "flag -port is required";
  const auto proto = proto_named(o.proto);
  if (!proto) {
    return "invalid value \"" + o.proto + "\" for flag -proto: want text, binary, http or grpc";
  }
  if (*proto == Proto::grpc) {
    if (o.keys > kGrpcMaxIdsPerCall) {
      return "-proto grpc: -keys is n of FetchMulti, at most " +
             std::to_string(kGrpcMaxIdsPerCall);
    }
    if (o.preload > 0 || o.idle_conns > 0) {
      return "-proto grpc: -preload and -idle-conns speak the text protocol";
    }
  }
  if (*proto == Proto::http) {
    if (o.keys > config::kHttpMaxIdsPerRequest) {
      return "-proto http: -keys is n of /ids, at most " +
             std::to_string(config::kHttpMaxIdsPerRequest);
    }
    if (o.preload > 0 || o.idle_conns > 0) {
      return "-proto http: -preload and -idle-conns speak the text protocol";
    }
  }
  if (o.requests > 0 && (o.duration_set || o.warmup_set)) {
    return "-requests runs exactly N requests: it takes no -duration or -warmup";
  }
  if (o.runs_load() && o.requests == 0 && o.duration.count() <= 0) {
    return "flag -duration must be more than 0";
  }
  if (o.host.empty()) return "flag -host is empty";
  for (const char c : o.key_prefix) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return "flag -key-prefix: a key holds no blank or control character";
    }
  }
  const std::uint64_t last_index =
      std::max<std::uint64_t>({o.keys, o.preload, 1}) - 1;
  if (o.key_prefix.size() + std::to_string(last_index).size() > kMaxKeyBytes) {
    return "flag -key-prefix: keys would be longer than " + std::to_string(kMaxKeyBytes) +
           " bytes";
  }
  return {};
}

}  // namespace

OptionsResult parse_options(const std::vector<std::string>& args) {
  OptionsResult r;
  std::size_t i = 0;
  while (i < args.size()) {
    std::string_view a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    a.remove_prefix(a[1] == '-' ? 2 : 1);
    if (a.empty() || a[0] == '-' || a[0] == '=') {
      r.error = "bad flag syntax: " + args[i];
      return r;
    }
    std::optional<std::string_view> value;
    if (const auto eq = a.find('='); eq != std::string_view::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    const FlagSpec* f = find_flag(a);
    if (f == nullptr) {
      r.error = "flag provided but not defined: -" + std::string(a);
      return r;
    }
    ++i;
    if (!value) {
      if (f->is_bool) {
        value = "true";
      } else if (i < args.size()) {
        value = args[i++];
      } else {
        r.error = "flag needs an argument: -" + std::string(a);
        return r;
      }
    }
    r.error = f->set(r.options, *value);
    if (!r.error.empty()) return r;
  }
  if (i < args.size()) {
    r.error = "unexpected argument \"" + args[i] + "\" (flags only)";
    return r;
  }
  r.error = validate(r.options);
  return r;
}

std::string usage() {
  std::string out =
      "Usage: katsubushi-bench -port PORT [flags]\n"
      "Load for a memcached server (katsubushi, memcached; text or binary protocol) or\n"
      "katsubushi's HTTP or gRPC: gets of <prefix>0..<prefix>K-1 (over HTTP and gRPC, K\n"
      "ids a request) on\n"
      "-conns connections, -depth in flight on each, for -duration after -warmup. Prints\n"
      "requests/s, ids/s, latency percentiles (from each request's send to its reply's\n"
      "end), errors, and with -pid the server's CPU time per request. -proto http is for\n"
      "katsubushi only (memcached has no HTTP); a response with Connection: close (the\n"
      "daemon's 1000th on a connection) is followed by a new connection, counted. -proto\n"
      "grpc keeps -depth calls in flight on each connection's channel; with -check, a\n"
      "connection's ids must increase across calls at -depth 1 only (calls in flight\n"
      "together may be answered in either order), within each call at any depth.\n"
      "Exits 1 on errors (unless -allow-errors) and on a -check violation, 2 on a bad flag.\n\nFlags:\n";
  for (const auto& f : flag_specs()) {
    out += "  -" + std::string(f.name) + "\n    \t" + std::string(f.help) + "\n";
  }
  return out;
}

}  // namespace katsubushi::bench
