// Flags and environment variables, parsed the way Go's flag package does so
// go-katsubushi command lines and environments work unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace katsubushi::config {

struct Config {
  std::uint32_t worker_id = 0;
  std::uint16_t port = 11212;
  std::string sock;
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(600);
  std::string log_level = "info";
  std::string log_format = "text";
  int http_port = 0;
  std::string redis;
  std::uint32_t min_worker_id = 1;
  std::uint32_t max_worker_id = 1023;
  unsigned threads = 0;  // 0 until resolved: the number of cores
  std::uint32_t max_connections = 4096;
  std::size_t max_line_bytes = 64 * 1024;
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(10);

  bool show_version = false;
  bool show_help = false;
  // Flags accepted for compatibility but ignored, with a warning each.
  std::vector<std::string> warnings;
};

// A user error in flags or environment: the message names the flag.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Environment first (FLAG_NAME, then flag_name), then the command line on top.
// `args` excludes the program name. Throws ConfigError.
Config parse_config(const std::vector<std::string>& args, const EnvLookup& env);

// Checks that need the whole configuration (worker id set, features not yet
// available). Throws ConfigError.
void validate_config(const Config& config);

// The -help text.
std::string usage(std::string_view program);

// Environment lookup through getenv.
EnvLookup process_environment();

}  // namespace katsubushi::config
