// Flags and environment variables, parsed the way Go's flag package does so
// go-katsubushi command lines and environments work unchanged.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.hpp"
#include "id/layout.hpp"

namespace katsubushi::config {

// Defaults here are what -help and the README's Flags table show.
struct Config {
  std::uint32_t worker_id = 0;
  // Worker ids held: worker_id..worker_id+count-1, or this many leases.
  std::uint32_t worker_id_count = 1;
  std::uint16_t port = kDefaultPort;
  std::string sock;
  std::chrono::nanoseconds idle_timeout = kDefaultIdleTimeout;
  std::string log_level = "info";
  std::string log_format = "text";
  int http_port = 0;
  int grpc_port = 0;
  std::string redis;
  // Worker ids from etcd instead (src/etcd/etcd_lease_store.hpp).
  std::string etcd;
  std::string etcd_prefix = "katsubushi/";
  std::string etcd_cacert;
  std::string etcd_cert;
  std::string etcd_key;
  std::string etcd_user;
  std::string etcd_password_file;
  std::uint32_t min_worker_id = 1;
  std::uint32_t max_worker_id = id::kMaxWorkerId;
  std::chrono::nanoseconds lease_ttl = kDefaultLeaseTtl;
  std::chrono::nanoseconds max_clock_skew = kDefaultMaxClockSkew;
  int redis_wait_replicas = 0;
  std::string state_file;
  std::chrono::nanoseconds max_clock_wait = kDefaultMaxClockWait;
  unsigned threads = 0;  // 0 until resolved: the number of cores
  // The serving threads' event loop: auto (io_uring where the kernel allows it,
  // else epoll), io_uring or epoll.
  std::string io_engine = "auto";
  std::chrono::nanoseconds spin_wait = kDefaultSpinWait;
  std::uint32_t max_connections = kDefaultMaxConnections;
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
  std::chrono::nanoseconds shutdown_timeout = kDefaultShutdownTimeout;

  // Not flags: fixed limits, carried here so everything the server sets up
  // comes from one Config.
  std::size_t max_output_bytes = kMaxOutputBytes;
  std::size_t max_keys_per_get = kDefaultMaxKeysPerGet;
  std::size_t max_data_block_bytes = kMaxDataBlockBytes;

  bool show_version = false;
  bool show_help = false;
  // Flags accepted for compatibility but ignored, and arguments after the
  // flags (which Go's flag package leaves unread): one warning each.
  std::vector<std::string> warnings;
};

// A user error in flags or environment: the message names the flag.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Environment first (FLAG_NAME, then flag_name), then the command line on top.
// As Go's flag.Parse, flags end at the first non-flag argument ("-" is one)
// or after "--"; what follows is ignored with a warning. Integers are read as
// Go's strconv with base 0 reads them: 010 is octal, 0x10, 0o17, 0b101, 1_000.
// `args` excludes the program name. Throws ConfigError.
Config parse_config(const std::vector<std::string>& args, const EnvLookup& env);

// Whether -log-format json was asked for, on the command line or in the
// environment, even if parse_config rejects the arguments: so that error can
// be logged as JSON too. Never throws.
bool json_logs_requested(const std::vector<std::string>& args, const EnvLookup& env) noexcept;

// Checks that need the whole configuration (worker id set, features not yet
// available). Throws ConfigError.
void validate_config(const Config& config);

// One flag as -help describes it.
struct FlagInfo {
  std::string name;  // without the dash
  std::string type;  // as Go's -help names it: int, uint, string, duration, bool
  std::string help;
  std::string range;         // "512..16777216" for numbers, else ""
  std::string default_text;  // from a default Config; "" when there is nothing to show
};

// Every flag, in -help order.
std::vector<FlagInfo> flag_infos();

// The -help text.
std::string usage(std::string_view program);

// Environment lookup through getenv.
EnvLookup process_environment();

}  // namespace katsubushi::config
