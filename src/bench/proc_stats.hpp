// What /proc says about the server under load: CPU time used (utime + stime
// of /proc/PID/stat) and resident memory (VmRSS of /proc/PID/status).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace katsubushi::bench {

// utime + stime, in clock ticks, from the text of /proc/PID/stat. The command
// name (field 2) is in parentheses and may hold spaces and parentheses: the
// fields are counted from the last ')'.
std::optional<std::uint64_t> cpu_ticks_from_stat(std::string_view stat) noexcept;

// VmRSS in kB from the text of /proc/PID/status.
std::optional<std::uint64_t> rss_kb_from_status(std::string_view status) noexcept;

// The same, read from /proc for a process; nullopt when it cannot be read.
std::optional<std::chrono::microseconds> process_cpu_time(int pid);
std::optional<std::uint64_t> process_rss_kb(int pid);

}  // namespace katsubushi::bench
