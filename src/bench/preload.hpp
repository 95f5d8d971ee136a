// -preload and -idle-conns: the work around a load run.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace katsubushi::bench {

// The value -preload stores under key i: 19 digits, as long as an id.
std::string preload_value(std::uint64_t index);

// Sets <prefix>0 .. <prefix>(count-1) to preload_value(i) on one connection,
// in pipelined batches, each answered STORED. An error message, empty on
// success.
std::string preload_keys(const std::string& host, std::uint16_t port, const std::string& prefix,
                         std::uint64_t count);

struct IdleResult {
  std::string failure;  // empty on success
  std::uint64_t errors = 0;  // error replies to the gets
  std::optional<std::uint64_t> rss_before_kb;
  std::optional<std::uint64_t> rss_after_kb;
};

// Opens `count` connections, one `get <prefix>0` answered on each, holds them
// idle for `settle`, reads the server's RSS (when `pid` is set) before the
// first and after the settle, then closes them.
IdleResult hold_idle_connections(const std::string& host, std::uint16_t port,
                                 const std::string& prefix, unsigned count, int pid,
                                 std::chrono::nanoseconds settle);

}  // namespace katsubushi::bench
