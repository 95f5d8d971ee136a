#include "config/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <limits>
#include <sstream>
#include <thread>
#include <utility>

#include "config/duration.hpp"
#include "config/go_flags.hpp"
#include "config/go_int.hpp"

namespace katsubushi::config {

namespace {

constexpr IntRange kWorkerIdRange{0, id::kMaxWorkerId};
constexpr IntRange kWorkerIdCountRange{1, id::kMaxWorkerId};
struct FlagSpec {
  std::string_view name;
  std::string_view type;  // as Go's -help names it
  std::string_view help;
  std::optional<IntRange> range;
  std::function<void(Config&, std::string_view)> set;
  // The value as -help shows it; "" when there is nothing to show.
  std::function<std::string(const Config&)> show;

  bool is_bool() const noexcept { return type == "bool"; }
};

// ---- other values ----

std::chrono::nanoseconds parse_duration_flag(std::string_view flag, std::string_view v) {
  auto d = parse_duration(v);
  if (!d) {
    throw ConfigError("invalid value \"" + std::string(v) + "\" for flag -" + std::string(flag) +
                      ": want a duration like 600s, 10m, 500ms or plain seconds");
  }
  return *d;
}

bool parse_bool(std::string_view flag, std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False")
    return false;
  throw ConfigError("invalid boolean value \"" + std::string(v) + "\" for flag -" +
                    std::string(flag));
}

std::string one_of(std::string_view flag, std::string_view v,
                   const std::vector<std::string_view>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return std::string(v);
  std::string msg = "invalid value \"" + std::string(v) + "\" for flag -" + std::string(flag) +
                    ": want one of";
  for (auto a : allowed) {
    msg += ' ';
    msg += a;
  }
  throw ConfigError(msg);
}

void ignored(Config& c, std::string_view flag) {
  c.warnings.push_back("flag -" + std::string(flag) + " is accepted for compatibility and ignored");
}

// ---- one builder per kind of flag: a table row each ----

template <typename T>
FlagSpec int_flag(std::string_view name, T Config::*field, IntRange range, Sign sign,
                  std::string_view help, std::string_view zero_means = {}) {
  if (range.max > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
    std::terminate();  // a table bug: the range does not fit the field
  }
  return {name,
          sign == Sign::allowed ? "int" : "uint",
          help,
          range,
          [=](Config& c, std::string_view v) {
            c.*field = static_cast<T>(parse_integer_flag(name, v, range, sign));
          },
          [=](const Config& c) {
            if (c.*field == 0 && !zero_means.empty()) return std::string(zero_means);
            return std::to_string(c.*field);
          }};
}

FlagSpec duration_flag(std::string_view name, std::chrono::nanoseconds Config::*field,
                       std::string_view help) {
  return {name, "duration", help, std::nullopt,
          [=](Config& c, std::string_view v) { c.*field = parse_duration_flag(name, v); },
          [=](const Config& c) { return format_duration(c.*field); }};
}

FlagSpec string_flag(std::string_view name, std::string Config::*field, std::string_view help) {
  return {name, "string", help, std::nullopt,
          [=](Config& c, std::string_view v) { c.*field = std::string(v); },
          [=](const Config& c) { return c.*field; }};
}

FlagSpec choice_flag(std::string_view name, std::string Config::*field,
                     const std::vector<std::string_view>& allowed, std::string_view help) {
  return {name, "string", help, std::nullopt,
          [=](Config& c, std::string_view v) { c.*field = one_of(name, v, allowed); },
          [=](const Config& c) { return c.*field; }};
}

FlagSpec bool_flag(std::string_view name, bool Config::*field, std::string_view help) {
  return {name, "bool", help, std::nullopt,
          [=](Config& c, std::string_view v) { c.*field = parse_bool(name, v); },
          // As Go's -help: false is not worth showing.
          [=](const Config& c) { return c.*field ? std::string("true") : std::string(); }};
}

std::string nothing_to_show(const Config&) { return {}; }

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> specs = {
      int_flag("worker-id", &Config::worker_id, kWorkerIdRange, Sign::refused,
               "worker id, unique among instances; required: 0 means not set"),
      int_flag("worker-id-count", &Config::worker_id_count, kWorkerIdCountRange, Sign::refused,
               "worker ids this process holds: -worker-id W holds W..W+N-1; with -redis or "
               "-etcd, N leases; each adds 4096 ids a millisecond"),
      int_flag("port", &Config::port, kPortRange, Sign::allowed,
               "TCP port to listen on (IPv4 and IPv6); 0 picks a free one"),
      string_flag("sock", &Config::sock, "unix domain socket to listen on instead of -port"),
      duration_flag("idle-timeout", &Config::idle_timeout,
                    "close a connection after this long without a complete command; 0 = never"),
      choice_flag("log-level", &Config::log_level,
                  {"debug", "info", "warn", "warning", "error", "fatal", "panic"},
                  "debug, info, warn, warning, error, fatal or panic"),
      choice_flag("log-format", &Config::log_format, {"text", "json"}, "text or json"),
      int_flag("http-port", &Config::http_port, kPortRange, Sign::allowed,
               "HTTP port (/id, /ids, /stats, /metrics, /healthz); 0 = off"),
      int_flag("grpc-port", &Config::grpc_port, kPortRange, Sign::allowed,
               "gRPC port (go-katsubushi's Generator and Stats services); 0 = off"),
      string_flag("redis", &Config::redis,
                  "Redis URL for worker ids when -worker-id is 0: "
                  "redis://[user:pass@]host[:port][/db][?ns=NS] or "
                  "rediscluster://host:port,...[?ns=NS]"),
      string_flag("etcd", &Config::etcd,
                  "etcd endpoints for worker ids when -worker-id is 0, instead of -redis: "
                  "http(s)://host[:port],..."),
      string_flag("etcd-prefix", &Config::etcd_prefix,
                  "with -etcd: keys are PREFIXid/N (holder) and PREFIXhwm/N (fence)"),
      string_flag("etcd-cacert", &Config::etcd_cacert,
                  "with https:// -etcd: PEM file of the CA that signed the members' certificates"),
      string_flag("etcd-cert", &Config::etcd_cert,
                  "with https:// -etcd: client certificate (PEM), with -etcd-key"),
      string_flag("etcd-key", &Config::etcd_key, "with -etcd-cert: its private key (PEM)"),
      string_flag("etcd-user", &Config::etcd_user,
                  "with -etcd: user name (or name:password) for etcd's auth"),
      string_flag("etcd-password-file", &Config::etcd_password_file,
                  "with -etcd-user: file holding the password (one line)"),
      int_flag("min-worker-id", &Config::min_worker_id, kWorkerIdRange, Sign::refused,
               "lowest worker id to take from Redis or etcd"),
      int_flag("max-worker-id", &Config::max_worker_id, kWorkerIdRange, Sign::refused,
               "highest worker id to take from Redis or etcd"),
      duration_flag("lease-ttl", &Config::lease_ttl,
                    "expiry of the worker id key in Redis (etcd: the lease's TTL); ids stop "
                    "1/4 of it before a lease that could not be refreshed ends"),
      duration_flag("max-clock-skew", &Config::max_clock_skew,
                    "with -redis or -etcd: claim and issue only while the clock is within "
                    "this of Redis's (TIME) and of the kernel's error bound when synchronised"),
      int_flag("redis-wait-replicas", &Config::redis_wait_replicas, kWaitReplicasRange,
               Sign::allowed,
               "with -redis: a worker id's fence counts once this many replicas have it "
               "(WAIT); set it to the replica count when a failover may promote one"),
      string_flag("state-file", &Config::state_file,
                  "file keeping the reserved-until mark, so a restart never repeats ids"),
      duration_flag("max-clock-wait", &Config::max_clock_wait,
                    "at start, wait this long at most for the clock to pass the stored mark"),
      int_flag("threads", &Config::threads, kThreadsRange, Sign::allowed,
               "threads serving connections", "number of cores"),
      choice_flag("io-engine", &Config::io_engine, {"auto", "io_uring", "epoll"},
                  "event loops: auto (io_uring where the kernel allows it, else epoll), "
                  "io_uring or epoll"),
      duration_flag("spin-wait", &Config::spin_wait,
                    "a serving thread whose recent waits for work were shorter than this "
                    "looks for work this long before it sleeps (io_uring event loops; 0 = "
                    "never, at most 1ms)"),
      int_flag("max-connections", &Config::max_connections, kMaxConnectionsRange, Sign::allowed,
               "connections served at once; more are refused"),
      int_flag("max-line-bytes", &Config::max_line_bytes, kMaxLineBytesRange, Sign::allowed,
               "longest request line; longer closes the connection"),
      int_flag("max-keys-per-get", &Config::max_keys_per_get, kMaxKeysPerGetRange,
               Sign::allowed, "most keys in one get or gets; more is a CLIENT_ERROR"),
      duration_flag("shutdown-timeout", &Config::shutdown_timeout,
                    "how long a graceful stop may take"),
      bool_flag("version", &Config::show_version, "print the version and exit"),
      bool_flag("help", &Config::show_help, "print this help and exit"),
      // go-katsubushi flags that mean nothing here.
      {"enable-pprof", "bool", "ignored (go-katsubushi compatibility)", std::nullopt,
       [](Config& c, std::string_view v) {
         if (parse_bool("enable-pprof", v)) ignored(c, "enable-pprof");
       },
       nothing_to_show},
      {"enable-stats", "bool", "ignored (go-katsubushi compatibility)", std::nullopt,
       [](Config& c, std::string_view v) {
         if (parse_bool("enable-stats", v)) ignored(c, "enable-stats");
       },
       nothing_to_show},
      {"debug-port", "int", "ignored (go-katsubushi compatibility)", kPortRange,
       [](Config& c, std::string_view v) {
         parse_integer_flag("debug-port", v, kPortRange, Sign::allowed);
         ignored(c, "debug-port");
       },
       nothing_to_show},
  };
  return specs;
}

const FlagSpec* find_flag(std::string_view name) {
  if (name == "h") name = "help";
  for (const auto& f : flag_specs()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

FlagKind flag_kind(std::string_view name) {
  const FlagSpec* f = find_flag(name);
  if (f == nullptr) return FlagKind::unknown;
  return f->is_bool() ? FlagKind::boolean : FlagKind::valued;
}

std::string env_name(std::string_view flag, bool upper) {
  std::string out;
  for (char c : flag) {
    if (c == '-') {
      out += '_';
    } else if (upper && c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Config parse_config(const std::vector<std::string>& args, const EnvLookup& env) {
  Config c;
  // A bad environment value only matters if the command line does not set
  // the same flag: keep the error until we know.
  std::vector<std::pair<std::string_view, std::string>> env_errors;
  for (const auto& f : flag_specs()) {
    if (f.name == "help" || f.name == "version") continue;
    for (bool upper : {true, false}) {
      const std::string name = env_name(f.name, upper);
      auto v = env ? env(name) : std::nullopt;
      if (v && !v->empty()) {
        try {
          f.set(c, *v);
        } catch (const ConfigError& e) {
          env_errors.emplace_back(f.name, std::string(e.what()) +
                                              " (from environment variable " + name + ")");
        }
        break;
      }
    }
  }

  const std::size_t end = walk_go_flags(args, flag_kind, [&](const GoFlag& flag) {
    const FlagSpec* f = find_flag(flag.name);
    if (f == nullptr) {
      throw ConfigError("flag provided but not defined: -" + std::string(flag.name));
    }
    if (!flag.value) throw ConfigError("flag needs an argument: -" + std::string(flag.name));
    f->set(c, *flag.value);
    std::erase_if(env_errors, [&](const auto& e) { return e.first == f->name; });
  });
  if (end < args.size()) c.warnings.push_back(ignored_arguments_warning(args, end));
  if (!env_errors.empty()) throw ConfigError(env_errors.front().second);
  if (c.threads == 0) c.threads = std::max(1u, std::thread::hardware_concurrency());
  if (c.worker_id != 0 && !c.redis.empty()) {
    c.warnings.push_back("flag -redis is ignored: -worker-id " + std::to_string(c.worker_id) +
                         " is set (as in go-katsubushi, Redis is asked only without one)");
  }
  if (c.worker_id != 0 && !c.etcd.empty()) {
    c.warnings.push_back("flag -etcd is ignored: -worker-id " + std::to_string(c.worker_id) +
                         " is set (etcd is asked only without one)");
  }
  return c;
}

bool json_logs_requested(const std::vector<std::string>& args, const EnvLookup& env) noexcept {
  try {
    std::optional<std::string_view> format;
    walk_go_flags(args, flag_kind, [&](const GoFlag& flag) {
      const FlagSpec* f = find_flag(flag.name);
      if (f != nullptr && f->name == "log-format" && flag.value) format = flag.value;
    });
    if (format) return *format == "json";
    for (const char* name : {"LOG_FORMAT", "log_format"}) {
      const auto v = env ? env(name) : std::nullopt;
      if (v && !v->empty()) return *v == "json";
    }
  } catch (const std::exception&) {
    // Bad syntax ends the scan; what was read so far decides.
  }
  return false;
}

void validate_config(const Config& c) {
  // Two listeners cannot share a port; with -sock, -port is not listened on.
  if (c.http_port != 0 && c.sock.empty() && c.http_port == c.port) {
    throw ConfigError("flags -http-port and -port: both are " + std::to_string(c.port) +
                      "; the HTTP listener needs a port of its own (the main port "
                      "answers HTTP too)");
  }
  if (c.grpc_port != 0 && c.sock.empty() && c.grpc_port == c.port) {
    throw ConfigError("flags -grpc-port and -port: both are " + std::to_string(c.port) +
                      "; the gRPC listener needs a port of its own");
  }
  if (c.grpc_port != 0 && c.grpc_port == c.http_port) {
    throw ConfigError("flags -grpc-port and -http-port: both are " + std::to_string(c.grpc_port) +
                      "; each listener needs a port of its own");
  }
  // As go-katsubushi: -redis is used only when no worker id is given.
  if (c.worker_id == 0 && c.redis.empty() && c.etcd.empty()) {
    throw ConfigError("flag -worker-id: set a worker id in 1.." +
                      std::to_string(id::kMaxWorkerId) +
                      " (or WORKER_ID in the environment), or -redis or -etcd to take one "
                      "from a store");
  }
  if (!c.redis.empty() && !c.etcd.empty()) {
    throw ConfigError("flags -etcd and -redis: both are set; worker ids come from one store");
  }
  if (!c.etcd.empty()) {
    if (c.etcd_prefix.empty()) {
      throw ConfigError("flag -etcd-prefix: cannot be empty (keys would be id/N, hwm/N at the "
                        "root of the keyspace)");
    }
    if (c.etcd_cert.empty() != c.etcd_key.empty()) {
      throw ConfigError("flags -etcd-cert and -etcd-key: give both or neither");
    }
    if (!c.etcd_password_file.empty() && c.etcd_user.empty()) {
      throw ConfigError("flag -etcd-password-file: needs -etcd-user");
    }
    if (!c.etcd_password_file.empty() && c.etcd_user.find(':') != std::string::npos) {
      throw ConfigError("flags -etcd-user and -etcd-password-file: the password is given twice");
    }
    if (c.redis_wait_replicas != 0) {
      throw ConfigError("flag -redis-wait-replicas: only with -redis (with -etcd, a quorum "
                        "acknowledges every write)");
    }
  }
  if (!id::valid_worker_id(c.worker_id) && c.worker_id != 0) {
    throw ConfigError("flag -worker-id: want 1.." + std::to_string(id::kMaxWorkerId));
  }
  if (c.lease_ttl < kMinLeaseTtl) {
    throw ConfigError("flag -lease-ttl: want at least " + format_duration(kMinLeaseTtl));
  }
  if (c.spin_wait > kMaxSpinWait) {
    throw ConfigError("flag -spin-wait: want at most " + format_duration(kMaxSpinWait) +
                      " (0 = never spin)");
  }
  if (c.max_clock_skew < std::chrono::milliseconds(1)) {
    throw ConfigError("flag -max-clock-skew: want at least 1ms");
  }
  if (c.min_worker_id == 0 || c.min_worker_id > c.max_worker_id) {
    throw ConfigError("flags -min-worker-id and -max-worker-id: want 1 <= min <= max <= " +
                      std::to_string(id::kMaxWorkerId));
  }
  if (c.worker_id != 0 && c.worker_id + c.worker_id_count - 1 > c.max_worker_id) {
    throw ConfigError("flags -worker-id " + std::to_string(c.worker_id) + " and -worker-id-count " +
                      std::to_string(c.worker_id_count) + ": worker ids " +
                      std::to_string(c.worker_id) + ".." +
                      std::to_string(c.worker_id + c.worker_id_count - 1) + " pass " +
                      (c.max_worker_id == id::kMaxWorkerId
                           ? "the layout's highest, " + std::to_string(id::kMaxWorkerId)
                           : "-max-worker-id " + std::to_string(c.max_worker_id)));
  }
  if (c.worker_id == 0 && c.worker_id_count > c.max_worker_id - c.min_worker_id + 1) {
    throw ConfigError("flag -worker-id-count " + std::to_string(c.worker_id_count) +
                      ": more leases than -min-worker-id.." + "-max-worker-id holds (" +
                      std::to_string(c.min_worker_id) + ".." + std::to_string(c.max_worker_id) +
                      ")");
  }
}

std::vector<FlagInfo> flag_infos() {
  const Config defaults;
  std::vector<FlagInfo> infos;
  for (const auto& f : flag_specs()) {
    infos.push_back({std::string(f.name), std::string(f.type), std::string(f.help),
                     f.range ? range_text(*f.range) : std::string(), f.show(defaults)});
  }
  return infos;
}

std::string usage(std::string_view program) {
  std::ostringstream out;
  out << "Usage: " << program << " [flags]\n"
      << "Hands out unique, time-ordered 64-bit ids over the memcached protocol.\n"
      << "Flags take one or two dashes and -flag=value or -flag value; each can also\n"
      << "come from the environment as FLAG_NAME or flag_name (e.g. WORKER_ID).\n"
      << "Integers may be written as Go reads them: 0x1f, 0o17 or 017, 0b101, 1_000.\n\n";
  for (const auto& f : flag_infos()) {
    out << "  -" << f.name;
    if (f.type != "bool") out << ' ' << f.type;
    out << "\n      " << f.help;
    if (!f.range.empty() || !f.default_text.empty()) {
      out << " (";
      if (!f.range.empty()) out << f.range;
      if (!f.range.empty() && !f.default_text.empty()) out << ", ";
      if (!f.default_text.empty()) out << "default " << f.default_text;
      out << ')';
    }
    out << '\n';
  }
  return out.str();
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

}  // namespace katsubushi::config
