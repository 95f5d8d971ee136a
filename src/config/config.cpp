#include "config/config.hpp"

#include <charconv>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "config/duration.hpp"
#include "id/layout.hpp"

namespace katsubushi::config {

namespace {

struct FlagSpec {
  std::string_view name;
  bool is_bool;
  std::string_view default_text;
  std::string_view help;
  std::function<void(Config&, std::string_view)> set;
};

template <typename T>
T parse_number(std::string_view flag, std::string_view v, std::uint64_t min, std::uint64_t max) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < min || n > max) {
    std::ostringstream msg;
    msg << "invalid value \"" << v << "\" for flag -" << flag << ": want an integer in " << min
        << ".." << max;
    throw ConfigError(msg.str());
  }
  return static_cast<T>(n);
}

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
                   std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (v == a) return std::string(v);
  }
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

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> specs = {
      {"worker-id", false, "0", "worker id, 1..1023; must be unique among instances",
       [](Config& c, std::string_view v) {
         c.worker_id = parse_number<std::uint32_t>("worker-id", v, 0, id::kMaxWorkerId);
       }},
      {"port", false, "11212", "TCP port to listen on (IPv4 and IPv6); 0 picks a free one",
       [](Config& c, std::string_view v) {
         c.port = parse_number<std::uint16_t>("port", v, 0, 65535);
       }},
      {"sock", false, "", "unix domain socket to listen on instead of -port",
       [](Config& c, std::string_view v) { c.sock = std::string(v); }},
      {"idle-timeout", false, "600s",
       "close a connection after this long without a complete command; 0 = never",
       [](Config& c, std::string_view v) { c.idle_timeout = parse_duration_flag("idle-timeout", v); }},
      {"log-level", false, "info", "debug, info, warn, warning, error, fatal or panic",
       [](Config& c, std::string_view v) {
         c.log_level = one_of("log-level", v,
                              {"debug", "info", "warn", "warning", "error", "fatal", "panic"});
       }},
      {"log-format", false, "text", "text or json",
       [](Config& c, std::string_view v) { c.log_format = one_of("log-format", v, {"text", "json"}); }},
      {"http-port", false, "0", "HTTP port; 0 = off (not yet supported)",
       [](Config& c, std::string_view v) {
         c.http_port = parse_number<int>("http-port", v, 0, 65535);
       }},
      {"redis", false, "", "Redis URL for automatic worker ids (not yet supported)",
       [](Config& c, std::string_view v) { c.redis = std::string(v); }},
      {"min-worker-id", false, "1", "lowest worker id to take from Redis",
       [](Config& c, std::string_view v) {
         c.min_worker_id = parse_number<std::uint32_t>("min-worker-id", v, 0, id::kMaxWorkerId);
       }},
      {"max-worker-id", false, "1023", "highest worker id to take from Redis",
       [](Config& c, std::string_view v) {
         c.max_worker_id = parse_number<std::uint32_t>("max-worker-id", v, 0, id::kMaxWorkerId);
       }},
      {"threads", false, "cores", "threads serving connections",
       [](Config& c, std::string_view v) {
         c.threads = parse_number<unsigned>("threads", v, 1, 1024);
       }},
      {"max-connections", false, "4096", "connections served at once; more are refused",
       [](Config& c, std::string_view v) {
         c.max_connections = parse_number<std::uint32_t>("max-connections", v, 1, 1'000'000);
       }},
      {"max-line-bytes", false, "65536", "longest request line; longer closes the connection",
       [](Config& c, std::string_view v) {
         c.max_line_bytes = parse_number<std::size_t>("max-line-bytes", v, 512, 16 << 20);
       }},
      {"shutdown-timeout", false, "10s", "how long a graceful stop may take",
       [](Config& c, std::string_view v) {
         c.shutdown_timeout = parse_duration_flag("shutdown-timeout", v);
       }},
      {"version", true, "false", "print the version and exit",
       [](Config& c, std::string_view v) { c.show_version = parse_bool("version", v); }},
      {"help", true, "false", "print this help and exit",
       [](Config& c, std::string_view v) { c.show_help = parse_bool("help", v); }},
      // go-katsubushi flags that mean nothing here.
      {"enable-pprof", true, "false", "ignored (go-katsubushi compatibility)",
       [](Config& c, std::string_view v) {
         if (parse_bool("enable-pprof", v)) ignored(c, "enable-pprof");
       }},
      {"enable-stats", true, "false", "ignored (go-katsubushi compatibility)",
       [](Config& c, std::string_view v) {
         if (parse_bool("enable-stats", v)) ignored(c, "enable-stats");
       }},
      {"debug-port", false, "8080", "ignored (go-katsubushi compatibility)",
       [](Config& c, std::string_view v) {
         parse_number<int>("debug-port", v, 0, 65535);
         ignored(c, "debug-port");
       }},
      {"grpc-port", false, "0", "ignored (go-katsubushi compatibility; no gRPC here)",
       [](Config& c, std::string_view v) {
         if (parse_number<int>("grpc-port", v, 0, 65535) != 0) ignored(c, "grpc-port");
       }},
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

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      if (i + 1 < args.size()) throw ConfigError("unexpected argument \"" + args[i + 1] + "\"");
      break;
    }
    if (a.size() < 2 || a[0] != '-') throw ConfigError("unexpected argument \"" + args[i] + "\"");
    a.remove_prefix(a[1] == '-' ? 2 : 1);
    if (a.empty() || a[0] == '-' || a[0] == '=') {
      throw ConfigError("bad flag syntax: " + args[i]);
    }
    std::string_view name = a;
    std::optional<std::string_view> value;
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const FlagSpec* f = find_flag(name);
    if (f == nullptr) {
      throw ConfigError("flag provided but not defined: -" + std::string(name));
    }
    if (!value) {
      if (f->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        throw ConfigError("flag needs an argument: -" + std::string(name));
      }
    }
    f->set(c, *value);
    std::erase_if(env_errors, [&](const auto& e) { return e.first == f->name; });
  }
  if (!env_errors.empty()) throw ConfigError(env_errors.front().second);
  if (c.threads == 0) c.threads = std::max(1u, std::thread::hardware_concurrency());
  return c;
}

void validate_config(const Config& c) {
  if (!c.redis.empty()) {
    throw ConfigError("flag -redis: worker ids from Redis are not yet supported; set -worker-id");
  }
  if (c.http_port != 0) {
    throw ConfigError("flag -http-port: the HTTP listener is not yet supported; leave it at 0");
  }
  if (!id::valid_worker_id(c.worker_id)) {
    throw ConfigError("flag -worker-id: set a worker id in 1.." +
                      std::to_string(id::kMaxWorkerId) + " (or WORKER_ID in the environment)");
  }
  if (c.min_worker_id == 0 || c.min_worker_id > c.max_worker_id) {
    throw ConfigError("flags -min-worker-id and -max-worker-id: want 1 <= min <= max <= 1023");
  }
}

std::string usage(std::string_view program) {
  std::ostringstream out;
  out << "Usage: " << program << " [flags]\n"
      << "Hands out unique, time-ordered 64-bit ids over the memcached protocol.\n"
      << "Flags take one or two dashes and -flag=value or -flag value; each can also\n"
      << "come from the environment as FLAG_NAME or flag_name (e.g. WORKER_ID).\n\n";
  for (const auto& f : flag_specs()) {
    out << "  -" << f.name;
    if (!f.is_bool) out << " value";
    out << "\n      " << f.help;
    if (!f.default_text.empty()) out << " (default " << f.default_text << ")";
    out << "\n";
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
