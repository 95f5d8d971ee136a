// katsubushi-bench's flags, read as Go's flag package reads them (-name
// value, -name=value, --name; a bool flag alone means true), like the
// daemon's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace katsubushi::bench {

struct BenchOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // required
  unsigned conns = 1;
  unsigned depth = 1;  // requests in flight per connection
  unsigned keys = 1;   // keys per get
  std::string key_prefix = "k";
  std::chrono::nanoseconds duration = std::chrono::seconds(5);
  std::chrono::nanoseconds warmup = std::chrono::seconds(1);
  std::uint64_t requests = 0;  // exactly this many instead of -duration; 0: not set
  bool check = false;
  int pid = 0;  // the server's, for its CPU time and RSS; 0: not set
  std::uint64_t preload = 0;
  unsigned idle_conns = 0;
  std::string proto = "text";
  bool json = false;
  bool allow_errors = false;
  bool help = false;

  bool duration_set = false;  // given on the command line
  bool warmup_set = false;

  // Whether a load run (after -preload, -idle-conns) is asked for: always,
  // unless only -preload or -idle-conns work was given.
  bool runs_load() const noexcept {
    return requests > 0 || duration_set || (preload == 0 && idle_conns == 0);
  }
};

// The options, or an error that names the flag (error non-empty).
struct OptionsResult {
  BenchOptions options;
  std::string error;
};

// `args` excludes the program name.
OptionsResult parse_options(const std::vector<std::string>& args);

std::string usage();

}  // namespace katsubushi::bench
