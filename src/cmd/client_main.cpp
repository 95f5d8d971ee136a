// katsubushi-client: ids from katsubushi servers on stdout, one per line,
// through the client library's failover (src/client).
//
//   katsubushi-client -servers host:port,grpc://host:port,... [-n N] [-timeout 5s] [-check]
//
// Exit status: 0 ids printed; 1 no server gave them within -timeout (the
// reason per server on stderr); 2 a bad command line; 3 -check found ids
// repeated, or not increasing from one worker id.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/duration.hpp"
#include "config/go_flags.hpp"
#include "config/go_int.hpp"
#include "id/layout.hpp"
#include "katsubushi/client.hpp"
#include "katsubushi/client_grpc.hpp"

namespace {

namespace kc = katsubushi::client;

constexpr int kExitNoServer = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCheckFailed = 3;

constexpr const char* kUsage =
    "usage: katsubushi-client -servers LIST [-n N] [-timeout DURATION] [-check]\n"
    "  -servers LIST      comma-separated servers, tried in order: host:port (memcached\n"
    "                     text), binary://host:port, http://host:port, grpc://host:port,\n"
    "                     unix:/path, binary+unix:/path, http+unix:/path, grpc+unix:/path\n"
    "  -n N               how many ids (1..100000; default 1)\n"
    "  -timeout DURATION  give up after this (Go duration: 500ms, 5s; default 5s)\n"
    "  -check             also check the ids printed: none repeated, increasing per worker id\n"
    "exit status: 0 ok, 1 no server answered, 2 bad usage, 3 -check failed\n";

struct Args {
  std::string servers;
  std::size_t n = 1;
  std::chrono::milliseconds timeout{5000};
  bool check = false;
  bool help = false;
};

Args parse_args(int argc, char** argv) {
  using katsubushi::config::ConfigError;
  using katsubushi::config::FlagKind;
  const std::vector<std::string> args(argv + 1, argv + argc);
  Args out;
  const auto kind_of = [](std::string_view name) {
    if (name == "check" || name == "help" || name == "h") return FlagKind::boolean;
    if (name == "servers" || name == "n" || name == "timeout") return FlagKind::valued;
    return FlagKind::unknown;
  };
  const auto rest = katsubushi::config::walk_go_flags(args, kind_of, [&](const auto& flag) {
    const std::string name(flag.name);
    if (flag.kind == FlagKind::unknown) throw ConfigError("unknown flag -" + name);
    if (!flag.value) throw ConfigError("flag -" + name + " needs a value");
    const std::string value(*flag.value);
    if (name == "servers") {
      out.servers = value;
    } else if (name == "n") {
      const auto n = katsubushi::config::parse_go_uint(value);
      if (n.error != katsubushi::config::GoIntError::none || n.value < 1 ||
          n.value > kc::kMaxIdsPerCall) {
        throw ConfigError("-n must be from 1 to " + std::to_string(kc::kMaxIdsPerCall));
      }
      out.n = static_cast<std::size_t>(n.value);
    } else if (name == "timeout") {
      const auto d = katsubushi::config::parse_duration(value);
      if (!d || *d < std::chrono::milliseconds(1)) {
        throw ConfigError("-timeout: want a duration of at least 1ms, like 500ms or 5s");
      }
      out.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else if (name == "check") {
      out.check = value == "true" || value == "1";
    } else {
      out.help = true;
    }
  });
  if (rest != args.size()) throw ConfigError("unexpected argument '" + args[rest] + "'");
  if (!out.help && out.servers.empty()) throw ConfigError("-servers is required");
  return out;
}

// Every id once; from one worker id, increasing (one server's ids are).
bool check_ids(const std::vector<std::uint64_t>& ids) {
  std::set<std::uint64_t> seen;
  std::map<std::uint32_t, std::uint64_t> last_by_worker;
  bool ok = true;
  for (const auto id : ids) {
    if (!seen.insert(id).second) {
      std::cerr << "katsubushi-client: -check: id " << id << " twice\n";
      ok = false;
    }
    const auto worker = katsubushi::id::decode(id).worker_id;
    auto [it, fresh] = last_by_worker.try_emplace(worker, id);
    if (!fresh) {
      if (id <= it->second) {
        std::cerr << "katsubushi-client: -check: id " << id << " after " << it->second
                  << " from worker id " << worker << "\n";
        ok = false;
      }
      it->second = id;
    }
  }
  if (ok) {
    std::cerr << "katsubushi-client: -check: " << ids.size() << " ids, all different, from "
              << last_by_worker.size() << " worker id(s)\n";
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse_args(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "katsubushi-client: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  }
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  kc::enable_grpc();
  kc::Options options;
  options.deadline = args.timeout;
  options.try_timeout = std::min(options.try_timeout, args.timeout);
  options.connect_timeout = std::min(options.connect_timeout, args.timeout);
  try {
    kc::Client client(args.servers, options);
    const auto got = client.try_fetch(args.n);
    if (!got) {
      std::cerr << "katsubushi-client: " << got.error.message() << "\n";
      for (const auto& f : got.failures) {
        std::cerr << "katsubushi-client:   " << f.server << ": " << f.reason << "\n";
      }
      return kExitNoServer;
    }
    std::string out;
    for (const auto id : got.ids) {
      out += std::to_string(id);
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (std::fflush(stdout) != 0) return kExitNoServer;
    if (args.check && !check_ids(got.ids)) return kExitCheckFailed;
    return 0;
  } catch (const kc::Error& e) {
    std::cerr << "katsubushi-client: " << e.what() << "\n";
    return kExitUsage;
  }
}
